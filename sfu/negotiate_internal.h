/*
 * Internals shared by negotiate.c (answers) and negotiate_offer.c (offers):
 * the tables of what we support and the writers of answer/offer m-lines.
 * Not part of the public API.
 */
#ifndef ML_SFU_NEGOTIATE_INTERNAL_H
#define ML_SFU_NEGOTIATE_INTERNAL_H

#include <string.h>
#include <strings.h>

#include "sfu/negotiate.h"

/* Validate our ICE credentials and SHA-256 fingerprint. */
int sfu__neg_check_local(const sfu_neg_local *l, char *err, size_t errlen);
/* Our preferred codec among those the offer lists, or NULL. */
const sfu_sdp_codec *sfu__neg_choose_codec(const sfu_sdp_media *om, const sfu_neg_local *l);
/* Start a session description of ours: origin, "WMS *". */
void sfu__neg_session(sfu_sdp *s, const sfu_neg_local *l, int extmap_allow_mixed);
/* Add codec c (and RTX rtx_pt >= 0 with apt=c->pt) to m with the rtcp-fb we
 * support, intersected with those the offer om lists for c (om NULL: all).
 * Records the choice in r. */
int sfu__neg_add_codec(sfu_sdp_media *m, const sfu_sdp_codec *c, int rtx_pt,
                       const sfu_sdp_media *om, sfu_neg_media *r);
/* Add the header extensions we support for m->kind: those in om with om's
 * ids, or (om NULL) ours with SFU_NEG_EXTID_*; recv adds rid/rrid. */
int sfu__neg_add_extmaps(sfu_sdp_media *m, const sfu_sdp_media *om, sfu_neg_media *r);
/* Offers only: our own ids for m->kind; with_rid adds rid/rrid. */
int sfu__neg_add_our_extmaps(sfu_sdp_media *m, int with_rid, sfu_neg_media *r);
/* a=msid and a=ssrc cname/msid (+ RTX and FID group) for our track. */
int sfu__neg_add_track(sfu_sdp_media *m, const sfu_neg_track *t, const char *cname, int with_rtx,
                       sfu_neg_media *r);
/* Turn am into a rejected (port 0, inactive) copy of the offered m-line om. */
void sfu__neg_rejected_media(sfu_sdp *s, sfu_sdp_media *am, const sfu_sdp_media *om);
/* Transport attributes on every m-line, BUNDLE group of accepted mids,
 * SCTP parameters, candidates on the first accepted m-line. */
int sfu__neg_finish(sfu_sdp *s, const sfu_neg_local *l, const sfu_neg_result *res,
                    sfu_sdp_setup setup, char *err, size_t errlen);

#endif
