/*
 * Layer selection and the per-layer bitrate meter (see layer_select.h).
 *
 * The candidate layers for a viewer are the active (spatial, temporal)
 * pairs its preference allows, ordered spatial-major: (0,0) (0,1) ...
 * (1,0) (1,1) ... Moving one step down this order sheds a temporal layer
 * before a spatial one. Downswitches are immediate; upswitches wait until
 * the estimate has covered up_ratio x the next candidate's bitrate for
 * up_hold_us, then jump to the highest candidate so covered. An active
 * layer whose bitrate is still 0 (not measured yet) is taken to fit.
 */
#include "sfu/layer_select.h"

#include <string.h>

/* ---- Bitrate meter ---- */

void sfu_rate_meter_init(sfu_rate_meter *m, uint64_t window_us)
{
    memset(m, 0, sizeof *m);
    if (window_us == 0)
        window_us = 1000000;
    m->bucket_us = window_us / SFU_RATE_BUCKETS;
    if (m->bucket_us == 0)
        m->bucket_us = 1;
    m->window_us = m->bucket_us * SFU_RATE_BUCKETS;
    for (unsigned i = 0; i < SFU_RATE_BUCKETS; i++)
        m->bucket_start[i] = UINT64_MAX;
    m->first_us = UINT64_MAX;
}

void sfu_rate_meter_add(sfu_rate_meter *m, size_t bytes, uint64_t now_us)
{
    uint64_t start = now_us / m->bucket_us * m->bucket_us;
    unsigned i = (unsigned)((now_us / m->bucket_us) % SFU_RATE_BUCKETS);
    if (m->bucket_start[i] != start) {
        m->bucket_start[i] = start;
        m->bytes[i] = 0;
    }
    m->bytes[i] += bytes;
    if (m->first_us == UINT64_MAX)
        m->first_us = now_us;
    m->last_us = now_us;
    m->total_bytes += bytes;
}

uint64_t sfu_rate_meter_bps(const sfu_rate_meter *m, uint64_t now_us)
{
    if (m->first_us == UINT64_MAX || now_us < m->first_us)
        return 0;
    uint64_t cur = now_us / m->bucket_us * m->bucket_us;
    uint64_t oldest = cur + m->bucket_us > m->window_us ? cur + m->bucket_us - m->window_us : 0;
    uint64_t sum = 0;
    for (unsigned i = 0; i < SFU_RATE_BUCKETS; i++) {
        uint64_t s = m->bucket_start[i];
        if (s != UINT64_MAX && s >= oldest && s <= cur)
            sum += m->bytes[i];
    }
    uint64_t from = m->first_us > oldest ? m->first_us : oldest;
    uint64_t span = now_us - from;
    if (span < m->bucket_us)
        span = m->bucket_us;
    return sum * 8ull * 1000000ull / span;
}

bool sfu_rate_meter_active(const sfu_rate_meter *m, uint64_t now_us, uint64_t within_us)
{
    return m->first_us != UINT64_MAX && now_us - m->last_us <= within_us;
}

/* ---- Layer selection ---- */

#define MAX_CANDIDATES (SFU_LAYER_MAX_SPATIAL * SFU_LAYER_MAX_TEMPORAL)

typedef struct candidates {
    unsigned n;
    sfu_layer layer[MAX_CANDIDATES];
    uint64_t bps[MAX_CANDIDATES];
} candidates;

void sfu_layer_pref_default(sfu_layer_pref *p)
{
    p->max_height = 0;
    p->max_spatial = -1;
    p->max_temporal = -1;
    p->pin_spatial = -1;
    p->pin_temporal = -1;
}

void sfu_layer_select_init(sfu_layer_select *ls, const sfu_layer_select_config *c)
{
    memset(ls, 0, sizeof *ls);
    ls->cfg.up_ratio = 1.2;
    ls->cfg.down_ratio = 0.9;
    ls->cfg.up_hold_us = 2000000;
    if (c) {
        if (c->up_ratio > 0)
            ls->cfg.up_ratio = c->up_ratio;
        if (c->down_ratio > 0)
            ls->cfg.down_ratio = c->down_ratio;
        if (c->min_temporal_upper > 0)
            ls->cfg.min_temporal_upper = c->min_temporal_upper;
        if (c->up_hold_us)
            ls->cfg.up_hold_us = c->up_hold_us;
    }
    ls->current = (sfu_layer){-1, -1};
    ls->up_candidate = (sfu_layer){-1, -1};
}

/* Highest spatial layer the preference allows (at least the lowest active one). */
static int spatial_limit(const sfu_layer_info *info, const sfu_layer_pref *p, unsigned scount)
{
    int smax = (int)scount - 1;
    if (p->max_spatial >= 0 && p->max_spatial < smax)
        smax = p->max_spatial;
    if (p->max_height) {
        int best = -1;
        for (int s = 0; s <= smax; s++)
            if (info->height[s] == 0 || info->height[s] <= p->max_height)
                best = s;
        smax = best;
    }
    if (smax < 0) { /* nothing small enough: the lowest active layer */
        for (unsigned s = 0; s < scount; s++)
            if (info->active[s])
                return (int)s;
    }
    return smax;
}

static void build_candidates(const sfu_layer_info *info, const sfu_layer_pref *p, int min_upper,
                             candidates *c)
{
    unsigned scount = info->spatial_count;
    unsigned tcount = info->temporal_count ? info->temporal_count : 1;
    if (scount > SFU_LAYER_MAX_SPATIAL)
        scount = SFU_LAYER_MAX_SPATIAL;
    if (tcount > SFU_LAYER_MAX_TEMPORAL)
        tcount = SFU_LAYER_MAX_TEMPORAL;
    int tmax = (int)tcount - 1;
    if (p->max_temporal >= 0 && p->max_temporal < tmax)
        tmax = p->max_temporal;
    int smin = 0, smax = spatial_limit(info, p, scount);
    int tmin = 0;
    if (p->pin_spatial >= 0 && (unsigned)p->pin_spatial < scount && info->active[p->pin_spatial]) {
        smin = smax = p->pin_spatial;
        if (p->pin_temporal >= 0) {
            tmin = tmax = p->pin_temporal < (int)tcount ? p->pin_temporal : (int)tcount - 1;
        }
    }
    c->n = 0;
    int lowest = -1;
    for (int s = smin; s <= smax; s++) {
        if (!info->active[s])
            continue;
        if (lowest < 0)
            lowest = s;
        int t0 = tmin;
        if (s > lowest && min_upper > t0)
            t0 = min_upper < tmax ? min_upper : tmax;
        for (int t = t0; t <= tmax; t++) {
            c->layer[c->n] = (sfu_layer){(int8_t)s, (int8_t)t};
            c->bps[c->n] = info->bps[s][t];
            c->n++;
        }
    }
}

static int find_layer(const candidates *c, sfu_layer l)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->layer[i].spatial == l.spatial && c->layer[i].temporal == l.temporal)
            return (int)i;
    return -1;
}

/* Highest candidate at or below `below` whose bitrate x ratio fits the estimate; 0 if none. */
static unsigned best_fit(const candidates *c, unsigned below, double ratio, uint64_t est)
{
    for (int i = (int)below; i >= 0; i--)
        if ((double)c->bps[i] * ratio <= (double)est)
            return (unsigned)i;
    return 0;
}

static void set_current(sfu_layer_select *ls, sfu_layer l)
{
    if (l.spatial != ls->current.spatial || l.temporal != ls->current.temporal)
        ls->switches++;
    ls->current = l;
    ls->up_pending = false;
}

sfu_layer sfu_layer_select_update(sfu_layer_select *ls, const sfu_layer_info *info,
                                  const sfu_layer_pref *pref, uint64_t estimate_bps,
                                  uint64_t now_us)
{
    sfu_layer_pref none;
    if (!pref) {
        sfu_layer_pref_default(&none);
        pref = &none;
    }
    candidates c;
    build_candidates(info, pref, ls->cfg.min_temporal_upper, &c);
    if (c.n == 0) {
        set_current(ls, (sfu_layer){-1, -1});
        return ls->current;
    }
    int cur = find_layer(&c, ls->current);
    if (cur < 0) {
        /* Nothing forwarded yet, the layer stopped, or the preference changed. */
        set_current(ls, c.layer[best_fit(&c, c.n - 1, 1.0, estimate_bps)]);
        return ls->current;
    }
    if (cur > 0 && (double)estimate_bps < ls->cfg.down_ratio * (double)c.bps[cur]) {
        set_current(ls, c.layer[best_fit(&c, (unsigned)cur - 1, 1.0, estimate_bps)]);
        return ls->current;
    }
    if ((unsigned)cur + 1 < c.n &&
        (double)estimate_bps >= ls->cfg.up_ratio * (double)c.bps[cur + 1]) {
        if (!ls->up_pending) {
            ls->up_pending = true;
            ls->up_since_us = now_us;
            ls->up_candidate = c.layer[cur + 1];
        } else if (now_us - ls->up_since_us >= ls->cfg.up_hold_us) {
            set_current(ls, c.layer[best_fit(&c, c.n - 1, ls->cfg.up_ratio, estimate_bps)]);
        }
    } else {
        ls->up_pending = false;
    }
    return ls->current;
}

sfu_layer sfu_layer_select_current(const sfu_layer_select *ls)
{
    return ls->current;
}
