/*
 * Dominant speaker detection over RFC 6464 audio levels (0 = loudest,
 * 127 = silence, in -dBov). Each participant's level becomes an activity
 * value (0 below a noise floor, rising with loudness), smoothed over a
 * short window (~0.3 s) and a medium window (~1.5 s). Speaker changes use
 * hysteresis: another participant replaces the dominant speaker only when
 * its medium activity is clearly above the dominant's (ratio and margin)
 * continuously for switch_hold_us (~1 s). Silence never makes the
 * dominant speaker "nobody"; the last speaker stays until someone else
 * speaks. A participant that sends no audio for a while decays to silent.
 *
 * Allocation in sfu_speaker_create() only (fixed participant table), time
 * passed in (microseconds), no logging. One per room.
 */
#ifndef ML_SFU_SPEAKER_H
#define ML_SFU_SPEAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sfu_speaker_config {
    uint32_t max_participants;   /* default 64 */
    uint8_t noise_floor;         /* levels >= this (quieter) count as silence; default 70 */
    uint64_t short_tau_us;       /* short smoothing time constant; default 300 ms */
    uint64_t medium_tau_us;      /* medium smoothing time constant; default 1.5 s */
    uint64_t switch_hold_us;     /* challenger must lead this long; default 1 s */
    double switch_ratio;         /* challenger medium > dominant medium x this; default 1.5 */
    double switch_margin;        /* ... and by at least this activity; default 3.0 */
    uint64_t silence_timeout_us; /* no level for this long = silent; default 500 ms */
} sfu_speaker_config;

typedef struct sfu_speaker sfu_speaker;

/* Fill *c with the defaults listed in sfu_speaker_config. */
void sfu_speaker_config_default(sfu_speaker_config *c);

/* Create a detector (c NULL = defaults; zero fields take defaults). NULL on OOM. */
sfu_speaker *sfu_speaker_create(const sfu_speaker_config *c);

/* Free a detector (NULL is fine). */
void sfu_speaker_destroy(sfu_speaker *s);

/* Add participant id (any value). Returns 0, or -1 when full or already present. */
int sfu_speaker_add(sfu_speaker *s, uint32_t id);

/* Remove participant id. If it was dominant there is no dominant until the next change. */
int sfu_speaker_remove(sfu_speaker *s, uint32_t id);

/*
 * One audio level from participant id's packet (level 0..127 -dBov; the
 * RFC 6464 V flag as voice, used only as a hint: a non-voice packet counts
 * as silence). Unknown ids are ignored.
 */
void sfu_speaker_on_level(sfu_speaker *s, uint32_t id, uint8_t level, bool voice, uint64_t now_us);

/*
 * Re-evaluate at now_us (call every ~100-300 ms). Returns 1 when the
 * dominant speaker changed (*dominant gets the new id), 0 otherwise
 * (*dominant gets the current one if any). dominant may be NULL.
 */
int sfu_speaker_update(sfu_speaker *s, uint64_t now_us, uint32_t *dominant);

/* The dominant speaker's id in *id; returns false when there is none yet. */
bool sfu_speaker_dominant(const sfu_speaker *s, uint32_t *id);

/* Participant id's smoothed medium-window activity (0 when silent or unknown). */
double sfu_speaker_activity(const sfu_speaker *s, uint32_t id);

#endif
