/*
 * Dominant speaker detection (see speaker.h). Each participant keeps two
 * exponentially smoothed activity values updated with the exact elapsed
 * time (alpha = 1 - exp(-dt / tau)), so irregular packet spacing does not
 * bias them. A participant whose levels stop arriving is fed silence for
 * the gap. The decision step compares the strongest challenger's medium
 * activity with the dominant speaker's; the challenger must also be
 * speaking right now (short activity above the margin) and lead by the
 * ratio and the margin without interruption for switch_hold_us.
 */
#include "sfu/speaker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct participant {
    bool used;
    uint32_t id;
    double short_act, medium_act;
    uint64_t t_us;     /* time the smoothed values refer to */
    uint64_t level_us; /* last level received */
    bool have_t;
} participant;

struct sfu_speaker {
    sfu_speaker_config cfg;
    participant *p;
    bool have_dominant;
    uint32_t dominant;
    bool have_pending;
    uint32_t pending;
    uint64_t pending_since_us;
};

void sfu_speaker_config_default(sfu_speaker_config *c)
{
    c->max_participants = 64;
    c->noise_floor = 70;
    c->short_tau_us = 300000;
    c->medium_tau_us = 1500000;
    c->switch_hold_us = 1000000;
    c->switch_ratio = 1.5;
    c->switch_margin = 3.0;
    c->silence_timeout_us = 500000;
}

sfu_speaker *sfu_speaker_create(const sfu_speaker_config *c)
{
    sfu_speaker_config d;
    sfu_speaker_config_default(&d);
    if (c) {
        if (c->max_participants)
            d.max_participants = c->max_participants;
        if (c->noise_floor)
            d.noise_floor = c->noise_floor > 127 ? 127 : c->noise_floor;
        if (c->short_tau_us)
            d.short_tau_us = c->short_tau_us;
        if (c->medium_tau_us)
            d.medium_tau_us = c->medium_tau_us;
        if (c->switch_hold_us)
            d.switch_hold_us = c->switch_hold_us;
        if (c->switch_ratio > 0)
            d.switch_ratio = c->switch_ratio;
        if (c->switch_margin > 0)
            d.switch_margin = c->switch_margin;
        if (c->silence_timeout_us)
            d.silence_timeout_us = c->silence_timeout_us;
    }
    sfu_speaker *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = calloc(d.max_participants, sizeof *s->p);
    if (!s->p) {
        free(s);
        return NULL;
    }
    s->cfg = d;
    return s;
}

void sfu_speaker_destroy(sfu_speaker *s)
{
    if (!s)
        return;
    free(s->p);
    free(s);
}

static participant *find(const sfu_speaker *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->cfg.max_participants; i++)
        if (s->p[i].used && s->p[i].id == id)
            return &s->p[i];
    return NULL;
}

int sfu_speaker_add(sfu_speaker *s, uint32_t id)
{
    if (find(s, id))
        return -1;
    for (uint32_t i = 0; i < s->cfg.max_participants; i++) {
        if (!s->p[i].used) {
            memset(&s->p[i], 0, sizeof s->p[i]);
            s->p[i].used = true;
            s->p[i].id = id;
            return 0;
        }
    }
    return -1;
}

int sfu_speaker_remove(sfu_speaker *s, uint32_t id)
{
    participant *p = find(s, id);
    if (!p)
        return -1;
    p->used = false;
    if (s->have_dominant && s->dominant == id)
        s->have_dominant = false;
    if (s->have_pending && s->pending == id)
        s->have_pending = false;
    return 0;
}

/* Move p's smoothed values to now_us with input x held over the gap. */
static void advance(const sfu_speaker *s, participant *p, uint64_t now_us, double x)
{
    if (!p->have_t) {
        p->have_t = true;
        p->t_us = now_us;
    }
    if (now_us <= p->t_us) {
        /* Same instant: nudge with a minimal step so every sample counts. */
        now_us = p->t_us + 1;
    }
    double dt = (double)(now_us - p->t_us);
    double as = 1.0 - exp(-dt / (double)s->cfg.short_tau_us);
    double am = 1.0 - exp(-dt / (double)s->cfg.medium_tau_us);
    p->short_act += as * (x - p->short_act);
    p->medium_act += am * (x - p->medium_act);
    p->t_us = now_us;
}

void sfu_speaker_on_level(sfu_speaker *s, uint32_t id, uint8_t level, bool voice, uint64_t now_us)
{
    participant *p = find(s, id);
    if (!p)
        return;
    if (level > 127)
        level = 127;
    double x = 0;
    if (voice && level < s->cfg.noise_floor)
        x = (double)(s->cfg.noise_floor - level);
    /* A long gap before this sample was silence. */
    if (p->have_t && now_us > p->level_us + s->cfg.silence_timeout_us && now_us > p->t_us)
        advance(s, p, now_us, 0);
    advance(s, p, now_us, x);
    p->level_us = now_us;
}

int sfu_speaker_update(sfu_speaker *s, uint64_t now_us, uint32_t *dominant)
{
    participant *dom = NULL, *best = NULL;
    for (uint32_t i = 0; i < s->cfg.max_participants; i++) {
        participant *p = &s->p[i];
        if (!p->used)
            continue;
        if (p->have_t && now_us > p->level_us + s->cfg.silence_timeout_us && now_us > p->t_us)
            advance(s, p, now_us, 0);
        if (s->have_dominant && p->id == s->dominant) {
            dom = p;
            continue;
        }
        if (!best || p->medium_act > best->medium_act)
            best = p;
    }
    int changed = 0;
    if (!dom) {
        /* No dominant yet (or it left): the first clearly active participant. */
        s->have_dominant = false;
        if (best && best->medium_act > s->cfg.switch_margin &&
            best->short_act > s->cfg.switch_margin) {
            s->have_dominant = true;
            s->dominant = best->id;
            s->have_pending = false;
            changed = 1;
        }
    } else if (best && best->short_act > s->cfg.switch_margin &&
               best->medium_act > dom->medium_act * s->cfg.switch_ratio &&
               best->medium_act - dom->medium_act > s->cfg.switch_margin) {
        if (!s->have_pending || s->pending != best->id) {
            s->have_pending = true;
            s->pending = best->id;
            s->pending_since_us = now_us;
        } else if (now_us - s->pending_since_us >= s->cfg.switch_hold_us) {
            s->dominant = best->id;
            s->have_pending = false;
            changed = 1;
        }
    } else {
        s->have_pending = false;
    }
    if (dominant && s->have_dominant)
        *dominant = s->dominant;
    return changed;
}

bool sfu_speaker_dominant(const sfu_speaker *s, uint32_t *id)
{
    if (s->have_dominant && id)
        *id = s->dominant;
    return s->have_dominant;
}

double sfu_speaker_activity(const sfu_speaker *s, uint32_t id)
{
    const participant *p = find(s, id);
    return p ? p->medium_act : 0;
}
