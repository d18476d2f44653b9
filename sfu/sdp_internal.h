/*
 * Internals shared by the SDP files: a bounded cursor over one line of text
 * (never reads past `end`, never needs a NUL) and the per-attribute parsers
 * that sdp_parse.c dispatches to. Not part of the public API.
 */
#ifndef ML_SFU_SDP_INTERNAL_H
#define ML_SFU_SDP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sfu/sdp.h"

typedef struct sfu__cur {
    const char *p;
    const char *end;
} sfu__cur;

/* A view into the input. */
typedef struct sfu__slice {
    const char *p;
    size_t n;
} sfu__slice;

static inline int sfu__cur_eof(const sfu__cur *c)
{
    return c->p >= c->end;
}

static inline void sfu__cur_skip_sp(sfu__cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Next run of characters up to a space/tab (or end); may be empty. */
static inline sfu__slice sfu__cur_token(sfu__cur *c)
{
    sfu__slice s = {c->p, 0};
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        c->p++;
    s.n = (size_t)(c->p - s.p);
    return s;
}

/* Skip spaces, then the next token. */
static inline sfu__slice sfu__cur_word(sfu__cur *c)
{
    sfu__cur_skip_sp(c);
    return sfu__cur_token(c);
}

/* The rest of the line with spaces trimmed at both ends. */
static inline sfu__slice sfu__cur_rest(sfu__cur *c)
{
    sfu__cur_skip_sp(c);
    sfu__slice s = {c->p, (size_t)(c->end - c->p)};
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    c->p = c->end;
    return s;
}

/* Consume one expected character. */
static inline int sfu__cur_char(sfu__cur *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static inline int sfu__slice_eq(sfu__slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

int sfu__slice_ieq(sfu__slice s, const char *lit);
/* Copy into dst (cap bytes incl. NUL); -1 when it does not fit. */
int sfu__slice_copy(sfu__slice s, char *dst, size_t cap);
/* Unsigned decimal, 1..20 digits, no sign, value <= max. */
int sfu__slice_u64(sfu__slice s, uint64_t max, uint64_t *out);
int sfu__slice_u32(sfu__slice s, uint32_t max, uint32_t *out);
/* 1 if every byte is a printable, non-space ASCII character. */
int sfu__slice_visible(sfu__slice s);
/* Case-insensitive compare of NUL-terminated strings. */
int sfu__ieq(const char *a, const char *b);

/* Attribute parsers: value is the text after "a=<name>:"; return 0 or -1
 * with a short static message in *why. */
int sfu__attr_rtpmap(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_fmtp(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_rtcp_fb(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_extmap(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_ssrc(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_ssrc_group(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_rid(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_simulcast(sfu_sdp_media *m, sfu__cur *v, const char **why);
int sfu__attr_fingerprint(sfu_sdp_fingerprint *fp, sfu__cur *v, const char **why);
int sfu__attr_ice_str(char *dst, sfu__cur *v, const char **why);
/* Candidate body after "candidate:"; *why gets a message on error. */
int sfu__candidate_parse(sfu__cur *v, sfu_sdp_candidate *out, const char **why);

#endif
