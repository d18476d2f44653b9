/*
 * The state file: one JSON document {"version":1, "intents", "refunds",
 * "events", "idempotency"} rewritten after every change that was answered
 * or happened on a timer (temp file in the same folder, then rename), so a
 * process crash at any point leaves either the old or the new state, never
 * a torn one. With --fsync the file and its folder are also fsync'd, which
 * survives a power loss too but costs tens of milliseconds per request on
 * a busy disk. Without --state-file the state lives in memory only.
 */
#include "tools/fakepay/fakepay.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fp_state_init(void)
{
    fp.intents = json_object();
    fp.refunds = json_object();
    fp.events = json_array();
    fp.idem = json_object();
    fp.webhook_urls = json_array();
    fp.webhook_secrets = json_array();
    return fp.intents && fp.refunds && fp.events && fp.idem && fp.webhook_urls && fp.webhook_secrets
               ? 0
               : -1;
}

void fp_state_free(void)
{
    json_decref(fp.intents);
    json_decref(fp.refunds);
    json_decref(fp.events);
    json_decref(fp.idem);
    json_decref(fp.webhook_urls);
    json_decref(fp.webhook_secrets);
    fp.intents = fp.refunds = fp.events = fp.idem = fp.webhook_urls = fp.webhook_secrets = NULL;
}

static void take(json_t *doc, const char *key, json_t **slot, int array)
{
    json_t *v = json_object_get(doc, key);
    if (array ? json_is_array(v) : json_is_object(v)) {
        json_decref(*slot);
        *slot = json_incref(v);
    }
}

int fp_state_load(char *err, size_t errlen)
{
    if (!fp.state_file[0])
        return 0;
    if (access(fp.state_file, F_OK) != 0)
        return 0; /* first start */
    json_error_t jerr;
    json_t *doc = json_load_file(fp.state_file, 0, &jerr);
    if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) != 1) {
        snprintf(err, errlen, "state file %s is not a mlfakepay state: %s", fp.state_file,
                 doc ? "wrong version" : jerr.text);
        json_decref(doc);
        return -1;
    }
    take(doc, "intents", &fp.intents, 0);
    take(doc, "refunds", &fp.refunds, 0);
    take(doc, "events", &fp.events, 1);
    take(doc, "idempotency", &fp.idem, 0);
    json_decref(doc);
    /* a request that was running when we died never finished */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(fp.idem, tmp, k, v)
    {
        if (json_is_true(json_object_get(v, "busy")))
            json_object_del(fp.idem, k);
    }
    return 0;
}

int fp_state_save(void)
{
    if (!fp.dirty)
        return 0;
    fp.dirty = 0;
    if (!fp.state_file[0])
        return 0;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", fp.state_file);
    json_t *doc = json_pack("{s:i, s:O, s:O, s:O, s:O}", "version", 1, "intents", fp.intents,
                            "refunds", fp.refunds, "events", fp.events, "idempotency", fp.idem);
    if (!doc)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        json_decref(doc);
        fprintf(stderr, "mlfakepay: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    /* one buffer, few write(2)s: json_dumpfd writes token by token */
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int rc = text ? 0 : -1;
    size_t len = text ? strlen(text) : 0, off = 0;
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            off += (size_t)n;
    }
    free(text);
    if (rc == 0 && fp.state_fsync)
        rc = fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, fp.state_file);
    if (rc != 0) {
        fprintf(stderr, "mlfakepay: cannot save the state to %s: %s\n", fp.state_file,
                strerror(errno));
        unlink(tmp);
        fp.dirty = 1;
        return -1;
    }
    if (!fp.state_fsync)
        return 0;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", fp.state_file);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
