/* Room internals used by the peer code (worker thread only). */
#ifndef ML_SFU_ROUTER_INTERNAL_H
#define ML_SFU_ROUTER_INTERNAL_H

#include "sfu/peer_internal.h"
#include "sfu/router.h"
#include "sfu/vp8.h"

/* Membership. */
void sfu__router_add(sfu_router *r, sfu_peer *p);
/* Something that decides who receives what changed (a member, a track's
 * role, binding, SSRC, or the tracks array itself): the forwarding lists
 * are rebuilt at their next packet. Call before returning to the loop. */
void sfu__router_changed(sfu_router *r);
void sfu__router_remove(sfu_router *r, sfu_peer *p);

/* A publisher's RTP packet of producer track `track`, layer `layer`
 * (decrypted, in p->pkt; may be modified). */
void sfu__router_on_rtp(sfu_router *r, sfu_peer *pub, int track, int layer, uint8_t *pkt,
                        size_t len, const sfu_rtp_packet *rp);

/* A viewer asks for a keyframe on its consume track. */
void sfu__router_keyframe_request(sfu_router *r, sfu_peer *viewer, int track);

/* p's ICE connected again (after a restart or a consent blip): ask the
 * publishers of everything it watches for keyframes. */
void sfu__router_reconnected(sfu_router *r, sfu_peer *p);

/* After a negotiation of p: announce new/removed producer tracks, start
 * consumers of new bindings, recompute the layers publishers must encode. */
void sfu__router_after_negotiation(sfu_router *r, sfu_peer *p);

/* Viewer v's layer preference for its consume track k: pin 0..2, or -1
 * with max_height > 0, or automatic (-1, 0). Sets the target layer (the
 * switch happens at its next keyframe, requested here). The router owns
 * the layer choice: this and the automatic choice in its timer. */
void sfu__router_set_layer_pref(sfu_router *r, sfu_peer *v, int k, int pin, int max_height);

/* Recompute which layers of every producer track are watched; notify. */
void sfu__router_update_layers(sfu_router *r);

/* Find the publisher track "<peer id>:<mid>"; NULL when absent. */
sfu_peer_track *sfu__router_find_track(sfu_router *r, uint64_t peer, const char *mid,
                                       sfu_peer **owner);

/* Producer track `track` of pub was unmuted: its viewers resume without a
 * gap (video at a keyframe, requested here). */
void sfu__router_unmuted(sfu_router *r, sfu_peer *pub, int track);

/* Withdraw every producer track of p (floor taken back, leaving). */
void sfu__router_withdraw(sfu_router *r, sfu_peer *p);

/* Recording tap (router_tap.c). A publisher packet of track t, layer
 * `layer`, keyframe start `key`, before anything of it is rewritten. */
void sfu__router_tap_rtp(sfu_router *r, sfu_peer *pub, sfu_peer_track *t, int layer, int key,
                         const uint8_t *pkt, size_t len, uint64_t now);
/* An RTCP SR or RR packet received from p (room mode). */
void sfu__router_tap_rtcp(sfu_router *r, sfu_peer *p, const sfu_rtcp_pkt *pkt);
/* Layers of t a tap needs encoded (bit per layer), 0 when untapped. */
uint8_t sfu__router_tap_mask(sfu_router *r, const sfu_peer *pub, const sfu_peer_track *t);
/* Free the room's taps (room destroyed; detached is reported for each). */
void sfu__router_tap_free(sfu_router *r);
/* The taps of a room (opaque; owned by the room, worker only). */
typedef struct sfu__router_taps sfu__router_taps;
sfu__router_taps **sfu__router_taps_of(sfu_router *r);
/* A (throttled) keyframe request for a layer of a publisher track. */
void sfu__router_pli_layer(sfu_peer *pub, sfu_peer_track *t, int layer);
/* Peers of the room (for notices). */
GPtrArray *sfu__router_peers(sfu_router *r);
/* The room's generation (sfu__router_changed), speaker detector (NULL
 * before the first member) and name. */
uint64_t sfu__router_gen(const sfu_router *r);
struct sfu_speaker *sfu__router_speaker(sfu_router *r);
const char *sfu__router_name(const sfu_router *r);
/* router_fwd.c: send the calling thread's pending burst now (before any
 * change to who receives what; sfu__router_changed does it). */
void sfu__router_burst_send(void);
/* router_rtx.c: resends rebuilt from one copy per publisher. */
/* Keep a copy of publisher packet pkt (video, as every viewer gets it
 * before its own rewrite) of layer `layer` (SSRC ssrc) of t. */
void sfu__router_rtx_keep(sfu_peer_track *t, int layer, const uint8_t *pkt, size_t len,
                          uint32_t ssrc, uint64_t now);
/* Would keeping a packet of this SSRC start layer's copies over (a new
 * SSRC)? Viewers' notes of the old ones must be made before. */
bool sfu__router_rtx_renews(const sfu_peer_track *t, int layer, uint32_t ssrc);
/* Viewer track c (with a ledger) was sent packet rp of t's layer `layer`
 * rewritten as o; twcc > 0: its transport-wide element got twcc_seq, < 0:
 * blanked, 0: none. */
void sfu__router_rtx_note(sfu_peer_track *c, const sfu_peer_track *t, int layer,
                          const sfu_rtp_packet *rp, const sfu_consumer_out *o, bool vp8, int twcc,
                          uint16_t twcc_seq, size_t len, uint64_t now);
/* Rebuild viewer track c's packet seq from its ledger reference into out
 * (plain RTP as first sent). Its length, or -1 when the copy is gone. */
int sfu__router_rtx_rebuild(const sfu_peer_track *c, uint16_t seq, const void *ref, uint8_t *out,
                            size_t cap);
/* Viewer track c's RTT: the publisher copies it reads are kept for at
 * least three of the longest RTT seen among their viewers. */
void sfu__router_rtx_viewer_rtt(sfu_peer_track *c, uint64_t rtt_us);
/* Drop a track's shared copies (its own, the ones it reads). */
void sfu__router_rtx_release(sfu_peer_track *t);
/* A viewer's header rewrite (header_len: RTP header; d: VP8 descriptor). */
void sfu__router_rewrite(uint8_t *pkt, size_t header_len, const sfu_peer_track *c,
                         const sfu_vp8_desc *d, uint16_t seq, uint32_t ts, uint16_t pid,
                         uint8_t tl0);
/* Blank every header extension element with this id. */
void sfu__router_blank_ext(uint8_t *pkt, size_t len, uint8_t id);
/* router_rtcp.c: sender/receiver reports and round-trip times. */
/* Send p's due reports (SR per stream it receives, RR to it as publisher). */
void sfu__router_reports(sfu_router *r, sfu_peer *p, uint64_t now);
/* A packet went out on consumer track c (timestamp as sent). */
void sfu__router_on_sent(sfu_peer_track *c, uint32_t ts, size_t payload_len, uint64_t now);
/* A publisher packet (not RTX) of layer `layer` of producer track t arrived. */
void sfu__router_on_received(sfu_peer_track *t, int layer, const sfu_rtp_packet *rp, uint64_t now);
/* An SR or RR from p. */
void sfu__router_on_report(sfu_router *r, sfu_peer *p, const sfu_rtcp_pkt *pkt);
/* An XR from p (DLRR answering our RRTR: the RTT to a publisher). */
void sfu__router_on_xr(sfu_router *r, sfu_peer *p, const sfu_rtcp_pkt *pkt);

#endif
