/*
 * Recordings in the REST API (recording_routes.c): listing a session's
 * recordings, one recording with a playback link, and serving local files
 * through signed, expiring links. Only the session's mentor, its booked
 * (confirmed) attendees and admins see a recording; each access is written
 * to the audit log.
 *
 * Links: with S3 storage a presigned GET URL (SigV4) made by a function
 * the daemon installs at start-up (control does not depend on recorder/);
 * with local storage a daemon URL /api/v1/recordings/{id}/media?file=..
 * &exp=..&sig=.. where sig is an HMAC-SHA256 (key in
 * data_dir/recording_url.key) over id, file and expiry.
 */
#ifndef ML_CONTROL_RECORDING_H
#define ML_CONTROL_RECORDING_H

#include <stddef.h>

#include "common/config.h"

/* Presign a GET of object `key` valid ttl_s seconds. 0 or -1 + err. */
typedef int (*ctl_recording_presign_fn)(const ml_config *cfg, const char *key, int ttl_s, char *url,
                                        size_t cap, char *err, size_t errlen);

/* Install the S3 presigner (at start-up, before requests are served). */
void ctl_recording_set_presigner(ctl_recording_presign_fn fn);

#endif
