/* Room mode helpers of a peer (peer_room.c); worker thread only. */
#ifndef ML_SFU_PEER_ROOM_H
#define ML_SFU_PEER_ROOM_H

#include "sfu/peer_internal.h"

/* Our action for an offer m-line of a room peer (receive what it may
 * publish, else reject; send on what it receives); changes nothing. */
sfu_neg_action sfu__peer_room_action(const sfu_peer *p, const sfu_sdp_media *m);

/* Choose our action for offer m-line i of a room peer (fills l->action[i]
 * and the msid of l->track[i]); applies the offer's bindings. */
void sfu__peer_room_local(sfu_peer *p, const sfu_sdp_media *m, int i, const char *bindings,
                          sfu_neg_local *l);

/* After apply_result(): producer layers, consumer state, announcements. */
void sfu__peer_room_apply(sfu_peer *p, const sfu_neg_result *r);

/* Layer index of a packet of producer track t by its rid (0 without
 * simulcast). Returns -1 when the packet names no layer, -2 when it names
 * a rid the offer did not declare. */
int sfu__peer_room_layer(sfu_peer *p, uint8_t *layer, const sfu_peer_track *t,
                         const sfu_rtp_packet *rp, int rtx);

/* Free what room mode allocated for track i (before it is reset) and for
 * every track (peer freed). */
void sfu__peer_room_track_free(sfu_peer_track *t);
void sfu__peer_room_free(sfu_peer *p);

/* Room-mode RTP of producer track t: upstream loss bookkeeping and RTX
 * recovery. Returns 1 to forward (the packet may have been rewritten in
 * place: *len and *rp updated), 0 to drop. */
int sfu__peer_room_upstream(sfu_peer *p, sfu_peer_track *t, int layer, int rtx, uint8_t *pkt,
                            size_t *len, sfu_rtp_packet *rp);

/* Transport-wide feedback or REMB from the viewer (bandwidth estimate). */
void sfu__peer_room_on_twcc(sfu_peer *p, const sfu_rtcp_fb *fb);
void sfu__peer_room_on_remb(sfu_peer *p, const sfu_rtcp_fb *fb);

/* The viewer shows it receives (TWCC, REMB, or a report block whose
 * highest sequence number advanced): a stalled viewer resumes its video
 * (router.c pauses it after a while without feedback). */
void sfu__peer_room_feedback(sfu_peer *p);

/* A NACK from the viewer for one of our consume SSRCs. */
void sfu__peer_room_on_nack(sfu_peer *p, const sfu_rtcp_fb *fb);

#endif
