/*
 * Unit tests for recorder/s3_sign.c: the presigned GET URL of AWS's
 * published example ("Authenticating Requests: Using Query Parameters",
 * GET examplebucket/test.txt, 20130524T000000Z, 86400 s), URI encoding and
 * path/virtual-hosted object URLs.
 */
#include "recorder/s3_sign.h"
#include "tests/unit/harness.h"

TEST(presigned_url_matches_aws_published_example)
{
    rec_s3_target t = {"https://s3.amazonaws.com", "us-east-1", "examplebucket", false};
    char url[2048];
    /* 2013-05-24T00:00:00Z */
    REQUIRE(rec_s3_presign_get(&t, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                               "test.txt", 86400, (time_t)1369353600, url, sizeof url) == 0);
    CHECK_STR_EQ(url, "https://examplebucket.s3.amazonaws.com/test.txt"
                      "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                      "&X-Amz-Signature="
                      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* Out-of-range lifetimes are refused. */
    CHECK(rec_s3_presign_get(&t, "a", "b", "k", 0, 0, url, sizeof url) == -1);
    CHECK(rec_s3_presign_get(&t, "a", "b", "k", 604801, 0, url, sizeof url) == -1);
    CHECK(rec_s3_presign_get(&t, "a", "b", "k", 60, 0, url, 20) == -1);
}

TEST(uri_encoding_and_object_urls)
{
    char out[128], url[512], host[128];
    CHECK(rec_s3_uri_encode("a b/c~d+é", true, out, sizeof out) > 0);
    CHECK_STR_EQ(out, "a%20b/c~d%2B%C3%A9");
    CHECK(rec_s3_uri_encode("a/b", false, out, sizeof out) > 0);
    CHECK_STR_EQ(out, "a%2Fb");
    CHECK(rec_s3_uri_encode("abc", false, out, 3) == -1);
    rec_s3_target p = {"http://127.0.0.1:4569", "us-east-1", "rec", true};
    REQUIRE(rec_s3_object_url(&p, "s1/recording.mp4", url, sizeof url, host, sizeof host) == 0);
    CHECK_STR_EQ(url, "http://127.0.0.1:4569/rec/s1/recording.mp4");
    CHECK_STR_EQ(host, "127.0.0.1:4569");
    rec_s3_target v = {"https://s3.eu-west-1.amazonaws.com", "eu-west-1", "rec", false};
    REQUIRE(rec_s3_object_url(&v, "/a b.mp4", url, sizeof url, host, sizeof host) == 0);
    CHECK_STR_EQ(url, "https://rec.s3.eu-west-1.amazonaws.com/a%20b.mp4");
    rec_s3_target bad = {"127.0.0.1:4569", "r", "b", true};
    CHECK(rec_s3_object_url(&bad, "k", url, sizeof url, host, sizeof host) == -1);
}
