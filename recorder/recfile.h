/*
 * Raw recording files: one file per recorded track, written while the
 * session runs and read back by post-processing. The layout (all integers
 * big-endian) is specified in docs/recording-format.md:
 *
 *   file   = header record*
 *   header = "MLRAWREC" version:u16 header_len:u16 fields... crc32:u32
 *   record = sync:u32 ("MLR1") len:u32 type:u8 reserved:u8[3]
 *            t_us:u64 payload[len] crc32:u32   (CRC over sync..payload)
 *
 * Every record stands alone and carries its own CRC, so after a crash
 * (kill -9, power loss) every complete record is readable, a torn last
 * record is recognised and ignored, and a damaged record in the middle is
 * skipped: the scanner resynchronises on the next sync word that starts a
 * record with a valid CRC.
 *
 * This file holds the pure codec (encode/decode of the header and of each
 * record type) and the scanner over a byte buffer; recfile_scan.c maps a
 * file and scans it. Nothing here logs; errors come back as text.
 */
#ifndef ML_RECORDER_RECFILE_H
#define ML_RECORDER_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_MAGIC "MLRAWREC"
#define REC_VERSION 1
#define REC_HEADER_LEN 328
#define REC_SYNC 0x4D4C5231u /* "MLR1" */
#define REC_RECORD_HEAD 20   /* sync, len, type, reserved, t_us */
#define REC_RECORD_OVERHEAD 24
#define REC_RECORD_MAX 65536 /* largest payload accepted */
#define REC_MAX_LAYERS 4
#define REC_RID_MAX 16

enum rec_kind { REC_KIND_AUDIO = 1, REC_KIND_VIDEO = 2 };

enum rec_type {
    REC_T_RTP = 1,   /* an RTP packet after SRTP decryption */
    REC_T_SR = 2,    /* sender-report timing of one SSRC (rec_sr) */
    REC_T_LAYER = 3, /* a simulcast layer learned late: SSRC <-> rid */
    REC_T_END = 4,   /* clean close: totals (rec_end) */
};

/* A simulcast layer (or the only stream): its SSRC and rid ("" if none). */
typedef struct rec_layer {
    uint32_t ssrc;
    char rid[REC_RID_MAX + 1];
} rec_layer;

/* What the file header says about the track. Strings are NUL-terminated. */
typedef struct rec_file_info {
    uint8_t kind; /* rec_kind */
    uint8_t payload_type;
    uint8_t channels;
    uint32_t clock_rate;
    char codec[16];      /* "VP8", "opus" */
    char room_id[64];
    char session_id[64];
    char track_id[64];
    uint64_t start_wall_us; /* Unix time (µs) when the file was opened */
    uint64_t start_mono_us; /* CLOCK_MONOTONIC (µs) at the same moment */
    uint8_t layer_count;
    rec_layer layers[REC_MAX_LAYERS];
} rec_file_info;

/* RTCP sender-report timing (RFC 3550 6.4.1) for one SSRC. */
typedef struct rec_sr {
    uint32_t ssrc;
    uint64_t ntp; /* 32.32 fixed point, seconds since 1900 */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
} rec_sr;

/* Totals written by a clean close. */
typedef struct rec_end {
    uint64_t records; /* records written before this one */
    uint64_t drops;   /* records the media worker could not hand over (ring full) */
} rec_end;

/* One record as seen by the scanner; data points into the scanned buffer. */
typedef struct rec_record {
    uint8_t type;
    uint64_t t_us; /* monotonic arrival time, same clock as start_mono_us */
    const uint8_t *data;
    size_t len;
    uint64_t offset; /* of the record in the file */
} rec_record;

/* What a scan found. */
typedef struct rec_scan_stats {
    uint64_t records;  /* valid records */
    uint64_t bytes;    /* bytes of valid records, header included */
    uint64_t rtp, sr, layer, end;
    bool clean_end;       /* the last valid record is REC_T_END */
    bool torn_tail;       /* the file ends inside an incomplete record (ignored) */
    uint64_t torn_bytes;  /* length of that incomplete record */
    uint64_t bad_records; /* damaged regions skipped (bad CRC, sync or length) */
    uint64_t skipped_bytes;
    uint64_t first_bad_offset; /* 0 when none */
    rec_end totals;            /* of the END record, if any */
} rec_scan_stats;

/* ---- Codec (pure) ---- */

/*
 * Encode the header into buf (cap >= REC_HEADER_LEN). Strings longer than
 * their field are refused. Returns REC_HEADER_LEN or -1.
 */
int rec_header_encode(const rec_file_info *info, uint8_t *buf, size_t cap);
/*
 * Decode and check the header at buf[0..len): magic, version, length, CRC,
 * known kind, NUL-terminated strings. Returns the header length (where the
 * records start) or -1 with a reason in err.
 */
int rec_header_decode(const uint8_t *buf, size_t len, rec_file_info *info, char *err,
                      size_t errlen);
/*
 * Frame one record into buf (cap >= REC_RECORD_OVERHEAD + len). Returns the
 * record length, or -1 (len > REC_RECORD_MAX, cap too small).
 */
long rec_record_encode(uint8_t *buf, size_t cap, uint8_t type, uint64_t t_us, const void *payload,
                       size_t len);
/*
 * Check the record starting at buf[0..avail). Returns 1 with *rec filled
 * (offset 0) and *total set, 0 when it is a valid but incomplete prefix
 * (the file ends inside it), or -1 when it is damaged.
 */
int rec_record_check(const uint8_t *buf, size_t avail, rec_record *rec, size_t *total);

/* Encode/decode the payloads of the typed records. Encoders return the length. */
size_t rec_sr_encode(uint8_t out[24], const rec_sr *sr);
int rec_sr_decode(const uint8_t *p, size_t len, rec_sr *sr);
size_t rec_layer_encode(uint8_t out[4 + REC_RID_MAX], const rec_layer *l);
int rec_layer_decode(const uint8_t *p, size_t len, rec_layer *l);
size_t rec_end_encode(uint8_t out[16], const rec_end *e);
int rec_end_decode(const uint8_t *p, size_t len, rec_end *e);

/* ---- Scanner ---- */

/* Called for each valid record in file order; return 0 to go on, -1 to stop. */
typedef int (*rec_record_fn)(void *ctx, const rec_record *rec);

/*
 * Scan a whole file image buf[0..len): decode the header into *info, then
 * call fn (may be NULL) for every valid record and fill *st. A damaged
 * record is skipped and counted, and scanning resumes at the next sync word
 * that starts a valid record; an incomplete last record is a torn tail.
 * Returns 0, or -1 with err for a bad header or when fn stopped the scan.
 */
int rec_scan_buffer(const uint8_t *buf, size_t len, rec_file_info *info, rec_record_fn fn,
                    void *ctx, rec_scan_stats *st, char *err, size_t errlen);

/* A read-only mapping of a raw file; see rec_file_map(). */
typedef struct rec_map {
    const uint8_t *data;
    size_t len;
} rec_map;

/* Map path read-only (an empty file maps to len 0). Returns 0 or -1 + err. */
int rec_file_map(const char *path, rec_map *m, char *err, size_t errlen);
/* Unmap (safe on a zeroed rec_map). */
void rec_file_unmap(rec_map *m);
/* Map path, rec_scan_buffer() it, unmap. Same return as rec_scan_buffer(). */
int rec_scan_file(const char *path, rec_file_info *info, rec_record_fn fn, void *ctx,
                  rec_scan_stats *st, char *err, size_t errlen);

#endif
