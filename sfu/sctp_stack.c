/*
 * The process-global usrsctp stack.
 *
 * usrsctp keeps all its state in globals, so it is initialised exactly once
 * (pthread_once) with usrsctp_init_nothreads(): that opens no raw or UDP
 * sockets (usrsctp_init() would open raw SCTP sockets when run as root) and
 * starts no threads. One detached timer thread of ours then calls
 * usrsctp_handle_timers() every 10 ms for all associations of all media
 * workers; retransmissions and other timer work therefore happen on that
 * thread, which is why sctp.c only queues packets from callbacks.
 *
 * usrsctp identifies an AF_CONN "address" by the pointer we registered, and
 * may call conn_output or the socket upcall with it from the timer thread at
 * any time -- even while the owner destroys the association. So every
 * callback first looks the pointer up in a registry of live associations
 * under one mutex, and keeps holding it while it touches the association;
 * sfu_sctp_destroy() removes the association from the registry before
 * freeing it. (If a freed address is reused by a new association a late
 * packet could be queued to it; the peer drops it for its wrong
 * verification tag.)
 *
 * Checksums: DTLS already protects integrity, so CRC32c verification of
 * incoming packets is switched off (crc32c "offload"); outgoing packets
 * still get a correct CRC32c, computed here, because browsers check it.
 * ECN is off, as are ASCONF and AUTH (RFC 8831 section 6.2 uses only the
 * supported-extensions parameter to signal stream reset support).
 */
#include "sfu/sctp_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <usrsctp.h>

#include <glib.h>

#include "sfu/clock.h"

#define SCTP_TICK_MS 10

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_status = -1;
static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *g_live; /* sfu_sctp * -> itself; under g_reg_lock */

static void *timer_thread(void *arg)
{
    uint64_t last = sfu_now_us();
    (void)arg;
    for (;;) {
        struct timespec ts = {0, SCTP_TICK_MS * 1000 * 1000};
        nanosleep(&ts, NULL);
        uint64_t now = sfu_now_us();
        uint64_t elapsed_ms = (now - last) / 1000;
        if (elapsed_ms == 0)
            continue;
        last += elapsed_ms * 1000;
        usrsctp_handle_timers((uint32_t)elapsed_ms);
    }
    return NULL;
}

/* usrsctp's output callback: `addr` is the sconn_addr we connected to, i.e.
 * the association itself. May run on any thread. */
static int conn_output(void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df)
{
    sfu__sctp_pkt *pkt;
    uint32_t crc;
    (void)tos;
    (void)set_df;

    if (length < 12)
        return 0;
    pkt = malloc(sizeof *pkt + length);
    if (!pkt)
        return 0; /* SCTP retransmits */
    pkt->next = NULL;
    pkt->len = length;
    memcpy(pkt->data, buffer, length);
    memset(pkt->data + 8, 0, 4);
    crc = usrsctp_crc32c(pkt->data, length);
    memcpy(pkt->data + 8, &crc, 4);

    pthread_mutex_lock(&g_reg_lock);
    if (g_live && g_hash_table_contains(g_live, addr)) {
        sfu__sctp_queue_packet(addr, pkt); /* takes ownership */
        pkt = NULL;
    }
    pthread_mutex_unlock(&g_reg_lock);
    free(pkt);
    return 0;
}

void sfu__sctp_upcall(struct socket *sock, void *arg, int flags)
{
    (void)sock;
    (void)flags;
    pthread_mutex_lock(&g_reg_lock);
    if (g_live && g_hash_table_contains(g_live, arg))
        sfu__sctp_signal(arg);
    pthread_mutex_unlock(&g_reg_lock);
}

static void stack_init_once(void)
{
    pthread_t tid;
    pthread_attr_t attr;

    g_live = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (!g_live)
        return;
    usrsctp_init_nothreads(0, conn_output, NULL);
    usrsctp_enable_crc32c_offload();
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_asconf_enable(0);
    usrsctp_sysctl_set_sctp_auth_enable(0);
    usrsctp_sysctl_set_sctp_pr_enable(1);
    usrsctp_sysctl_set_sctp_reconfig_enable(1);

    if (pthread_attr_init(&attr) != 0)
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, timer_thread, NULL) != 0) {
        pthread_attr_destroy(&attr);
        return;
    }
    pthread_attr_destroy(&attr);
    g_init_status = 0;
}

int sfu__sctp_stack_init(void)
{
    pthread_once(&g_once, stack_init_once);
    return g_init_status;
}

int sfu__sctp_registry_add(sfu_sctp *s)
{
    if (sfu__sctp_stack_init() != 0)
        return -1;
    pthread_mutex_lock(&g_reg_lock);
    g_hash_table_add(g_live, s);
    pthread_mutex_unlock(&g_reg_lock);
    return 0;
}

void sfu__sctp_registry_remove(sfu_sctp *s)
{
    pthread_mutex_lock(&g_reg_lock);
    if (g_live)
        g_hash_table_remove(g_live, s);
    pthread_mutex_unlock(&g_reg_lock);
}
