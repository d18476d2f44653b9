/*
 * SigV4 query-string signing (presigned URLs) and S3 URL building; see
 * s3_sign.h. Steps, from the AWS documentation "Authenticating Requests:
 * Using Query Parameters (AWS Signature Version 4)":
 *
 *   canonical request = METHOD \n encoded path \n sorted query \n
 *                       "host:" host \n \n "host" \n "UNSIGNED-PAYLOAD"
 *   string to sign    = "AWS4-HMAC-SHA256" \n timestamp \n scope \n
 *                       hex(sha256(canonical request))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), "s3"), "aws4_request")
 *   signature         = hex(HMAC(signing key, string to sign))
 */
#include "recorder/s3_sign.h"
#include "common/hex.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

void rec_s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    ml_hex_encode(md, sizeof md, out);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

int rec_s3_uri_encode(const char *s, bool keep_slash, char *out, size_t cap)
{
    static const char d[] = "0123456789ABCDEF";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
                    *p == '~' || (keep_slash && *p == '/');
        if (j + (keep ? 1 : 3) >= cap)
            return -1;
        if (keep) {
            out[j++] = (char)*p;
        } else {
            out[j++] = '%';
            out[j++] = d[*p >> 4];
            out[j++] = d[*p & 15];
        }
    }
    if (j >= cap)
        return -1;
    out[j] = '\0';
    return (int)j;
}

int rec_s3_object_url(const rec_s3_target *t, const char *key, char *url, size_t ucap, char *host,
                      size_t hcap)
{
    const char *sep = strstr(t->endpoint, "://");
    if (!sep || !t->bucket[0] || !key[0])
        return -1;
    size_t slen = (size_t)(sep - t->endpoint);
    const char *h = sep + 3;
    size_t hlen = strcspn(h, "/");
    if (hlen == 0)
        return -1;
    char ekey[2048];
    if (rec_s3_uri_encode(key[0] == '/' ? key + 1 : key, true, ekey, sizeof ekey) < 0)
        return -1;
    int n, m;
    if (t->path_style) {
        m = snprintf(host, hcap, "%.*s", (int)hlen, h);
        n = snprintf(url, ucap, "%.*s://%s/%s/%s", (int)slen, t->endpoint, host, t->bucket, ekey);
    } else {
        m = snprintf(host, hcap, "%s.%.*s", t->bucket, (int)hlen, h);
        n = snprintf(url, ucap, "%.*s://%s/%s", (int)slen, t->endpoint, host, ekey);
    }
    return (n < 0 || (size_t)n >= ucap || m < 0 || (size_t)m >= hcap) ? -1 : 0;
}

int rec_s3_presign_get(const rec_s3_target *t, const char *access_key, const char *secret_key,
                       const char *key, int ttl_s, time_t now, char *url, size_t cap)
{
    char base[2400], host[512], stamp[17], date[9], cred[512], ecred[768];
    if (ttl_s < 1 || ttl_s > 604800 ||
        rec_s3_object_url(t, key, base, sizeof base, host, sizeof host) != 0)
        return -1;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);
    snprintf(cred, sizeof cred, "%s/%s/%s/s3/aws4_request", access_key, date, t->region);
    if (rec_s3_uri_encode(cred, false, ecred, sizeof ecred) < 0)
        return -1;
    char query[1200];
    int qn = snprintf(query, sizeof query,
                      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s"
                      "&X-Amz-Expires=%d&X-Amz-SignedHeaders=host",
                      ecred, stamp, ttl_s);
    if (qn < 0 || (size_t)qn >= sizeof query)
        return -1;
    /* The canonical URI is the path part of the object URL (already encoded). */
    const char *path = strstr(base, "://");
    path = strchr(path + 3, '/');
    char canon[4096], hash[65];
    int cn = snprintf(canon, sizeof canon, "GET\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", path,
                      query, host);
    if (cn < 0 || (size_t)cn >= sizeof canon)
        return -1;
    rec_s3_sha256_hex(canon, (size_t)cn, hash);
    char sts[512];
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", stamp, date,
             t->region, hash);
    char k0[300];
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    int kn = snprintf(k0, sizeof k0, "AWS4%s", secret_key);
    if (kn < 0 || (size_t)kn >= sizeof k0)
        return -1;
    hmac(k0, (size_t)kn, date, k1);
    hmac(k1, 32, t->region, k2);
    hmac(k2, 32, "s3", k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, sig);
    char sighex[65];
    ml_hex_encode(sig, 32, sighex);
    OPENSSL_cleanse(k0, sizeof k0);
    int n = snprintf(url, cap, "%s?%s&X-Amz-Signature=%s", base, query, sighex);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}
