/*
 * ICE transport of one peer, on top of libnice: one NiceAgent in full mode
 * (RFC 8445, not lite), controlled role (the browser offers and controls),
 * one stream with one component (BUNDLE + rtcp-mux), trickle in both
 * directions, consent checks (see consent_freshness below) and ICE restart.
 *
 * Everything runs on the thread that iterates the GMainContext given to
 * sfu_ice_create() (a media worker's). When that thread has an ice_loop
 * for it (sfu/ice_loop.h, the media workers and mlload do), the agent gets
 * its own small context driven from there; callbacks then fire from inside
 * the worker context's dispatch, on the same thread. Candidates travel as the SDP
 * attribute value without "a=" ("candidate:1 1 udp 2130706431 ...").
 *
 * sfu_ice_options is built once from the configuration (names resolved to
 * IP addresses) and shared read-only by every agent.
 */
#ifndef ML_SFU_ICE_H
#define ML_SFU_ICE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define SFU_ICE_MAX_ADDRS 16
#define SFU_ICE_ADDR_LEN 64
#define SFU_ICE_CAND_LEN 512

typedef struct sfu_ice_options {
    /* Local IP addresses to gather host candidates on; none = all. */
    char addrs[SFU_ICE_MAX_ADDRS][SFU_ICE_ADDR_LEN];
    int n_addrs;
    /* Public IPv4 for 1:1 NAT: each IPv4 host candidate is also announced
     * with this address and the same port (empty: off). */
    char public_ip[SFU_ICE_ADDR_LEN];
    int port_min, port_max;
    /* STUN server the agent uses for server-reflexive candidates. */
    char stun_ip[SFU_ICE_ADDR_LEN];
    int stun_port;
    /* TURN server for relay candidates; credentials are per peer. */
    char turn_ip[SFU_ICE_ADDR_LEN];
    int turn_port;
    int turn_tcp; /* 1: transport=tcp, else udp */
    /* 1: consent checks: a STUN binding request on the selected pair every
     * 4-6 s; the pair fails after 50 s without a response, and nothing more
     * is sent on it. RFC 7675 says 30 s; libnice's own consent-freshness
     * option gives up after 10 s without retransmitting a check, so one
     * lost response on a lossy link could end a session, and its keepalive
     * connectivity checks (fixed 50 s) are used instead. Unlike the
     * consent option they take any answer as consent, a 403 included. A
     * peer with media that sends nothing authenticated is also freed after
     * ice_consent_timeout_ms (sfu/peer.c). */
    int consent_freshness;
    /* 1: controlling role (a client such as the load tool); 0 (default,
     * the server): controlled. */
    int controlling;
} sfu_ice_options;

typedef enum {
    SFU_ICE_NEW = 0,
    SFU_ICE_CHECKING,
    SFU_ICE_CONNECTED,
    SFU_ICE_FAILED,
    SFU_ICE_CLOSED,
} sfu_ice_state;

typedef struct sfu_ice_callbacks {
    /* A local candidate was gathered after sfu_ice_gather() returned. */
    void (*on_candidate)(void *user, const char *candidate);
    /* Local gathering finished (end-of-candidates). */
    void (*on_gathering_done)(void *user);
    /* The component state changed. */
    void (*on_state)(void *user, sfu_ice_state state);
    /* A non-STUN datagram arrived (DTLS, SRTP, SRTCP). buf may be modified. */
    void (*on_packet)(void *user, uint8_t *buf, size_t len);
    /* A (new) pair was selected; descriptions like "host 127.0.0.1:5000". */
    void (*on_selected_pair)(void *user, const char *local, const char *remote);
} sfu_ice_callbacks;

typedef struct sfu_ice sfu_ice;

/* Build options from the configuration: interface names and host names are
 * resolved to addresses. Returns 0, or -1 with a message in err. */
int sfu_ice_options_from_config(const ml_config *cfg, sfu_ice_options *out, char *err,
                                size_t errlen);

/* Create an agent on ctx (must be the calling thread's context). turn_user
 * and turn_pass may be NULL when no TURN server is configured. */
sfu_ice *sfu_ice_create(GMainContext *ctx, const sfu_ice_options *opt, const char *turn_user,
                        const char *turn_pass, const sfu_ice_callbacks *cb, void *user);

/* Start gathering. Candidates known when it returns are listed by
 * sfu_ice_local_candidates(); later ones go to on_candidate. */
int sfu_ice_gather(sfu_ice *ice);

/* Local ufrag and password (valid until the next restart). */
int sfu_ice_local_credentials(sfu_ice *ice, char *ufrag, size_t ufrag_len, char *pwd,
                              size_t pwd_len);

/* Call fn for each local candidate gathered so far (including the extra
 * public-IP ones). Returns the number listed. */
int sfu_ice_local_candidates(sfu_ice *ice, void (*fn)(void *arg, const char *candidate), void *arg);

/* True once local gathering finished. */
int sfu_ice_gathering_done(const sfu_ice *ice);

/* Set the browser's credentials (from the offer). */
int sfu_ice_set_remote_credentials(sfu_ice *ice, const char *ufrag, const char *pwd);

/* Add one remote candidate ("candidate:..." with or without "a="). Returns
 * 0 when added, 1 when ignored on purpose (TCP, mDNS name, other component),
 * -1 when it does not parse. */
int sfu_ice_add_remote_candidate(sfu_ice *ice, const char *candidate);

/* The browser signalled end-of-candidates. */
int sfu_ice_remote_gathering_done(sfu_ice *ice);

/* ICE restart: new local credentials, remote candidates cleared, local
 * consent restored. Set the new remote credentials afterwards. */
int sfu_ice_restart(sfu_ice *ice);

/* Send one datagram on the selected pair. Returns 0 or -1. */
int sfu_ice_send(sfu_ice *ice, const uint8_t *buf, size_t len);

/* When the datagram last handed to on_packet reached its socket, on the
 * sfu_now_us() clock: the kernel's receive stamp (SIOCGSTAMPNS), so that a
 * load tool can time a packet's arrival apart from its own queueing. Call it
 * from inside on_packet. Returns 0, or -1 when unknown (a relayed pair).
 * The first call turns stamping on, for the whole host; until a packet has
 * a stamp the kernel answers with the current time. */
int sfu_ice_last_rx_time_us(sfu_ice *ice, uint64_t *out);

/* Put SO_MARK `mark` on the socket of the selected pair (needs
 * CAP_NET_ADMIN), so that a test's firewall can single out this peer's
 * traffic (the load tool's --mark). 0, or -1 without a connected direct
 * socket or when the kernel refuses. */
int sfu_ice_set_mark(sfu_ice *ice, uint32_t mark);

/* Turn UDP_GRO on for the socket of the selected pair (Linux 5.0): a
 * segmented send (UDP GSO) then arrives as one datagram, as it left the
 * sender, and on_packet gets the packets back to back in one buffer (all
 * but the last of one size; libnice passes on no segment size, so the
 * caller must split them). For a load tool that wants the sender's side
 * of a NIC with segmentation offload over the loopback; not for the
 * server. 0, or -1 without a connected direct socket or when refused. */
int sfu_ice_set_gro(sfu_ice *ice);

/* Current state. */
sfu_ice_state sfu_ice_get_state(const sfu_ice *ice);

/* Name of a state ("new", "checking", "connected", "failed", "closed"). */
const char *sfu_ice_state_name(sfu_ice_state s);

/* Local UDP ports in use (for tests/diagnostics); returns how many written. */
int sfu_ice_local_ports(sfu_ice *ice, int *ports, int max);

/* Stop callbacks, close the agent asynchronously on its context and free.
 * Safe with NULL. Must run on the agent's context thread. */
void sfu_ice_destroy(sfu_ice *ice);

#endif
