/*
 * mlrec upload / presign: store a file in the configured recording
 * storage (local folder or S3) and print a JSON line about it, or print a
 * presigned download URL. Configuration is the daemon's: defaults, then
 * --config FILE (or MENTORLINK_CONFIG), then MENTORLINK_* variables.
 */
#include "common/config.h"
#include "recorder/storage.h"
#include "tools/recording/mlrec.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

static int load_config(const char *file, rec_storage *st)
{
    ml_config c;
    char err[1024];
    ml_config_defaults(&c);
    if (!file)
        file = getenv("MENTORLINK_CONFIG");
    if (file && ml_config_load_file(&c, file, err, sizeof err) != 0)
        goto fail;
    if (ml_config_load_env(&c, environ, err, sizeof err) != 0 ||
        rec_storage_from_config(&c, st, err, sizeof err) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "mlrec: configuration: %s\n", err);
    return -1;
}

int mlrec_cmd_upload(int argc, char **argv)
{
    const char *cfg = NULL;
    if (argc < 2)
        return 2;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfg = argv[++i];
        else
            return 2;
    }
    rec_storage st;
    if (load_config(cfg, &st) != 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rec_put_info info;
    char err[2048];
    int rc = rec_storage_put(&st, argv[0], argv[1], &info, err, sizeof err);
    curl_global_cleanup();
    if (rc != 0) {
        fprintf(stderr, "mlrec: upload of %s failed: %s (local file kept)\n", argv[0], err);
        return 1;
    }
    printf("{\"location\": \"%s\", \"bytes\": %llu, \"md5\": \"%s\", \"parts\": %u, "
           "\"requests\": %u, \"retries\": %u}\n",
           info.location, (unsigned long long)info.bytes, info.md5_hex, info.parts, info.requests,
           info.retries);
    return 0;
}

int mlrec_cmd_presign(int argc, char **argv)
{
    const char *cfg = NULL;
    int ttl = 0;
    if (argc < 1)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfg = argv[++i];
        else if (!strcmp(argv[i], "--ttl") && i + 1 < argc)
            ttl = atoi(argv[++i]);
        else
            return 2;
    }
    rec_storage st;
    if (load_config(cfg, &st) != 0)
        return 1;
    char url[4096], err[512];
    if (rec_storage_presign(&st, argv[0], ttl, time(NULL), url, sizeof url, err, sizeof err) != 0) {
        fprintf(stderr, "mlrec: %s\n", err);
        return 1;
    }
    printf("%s\n", url);
    return 0;
}
