/* Building email messages: headers, RFC 2047 subjects and names, MIME
 * structure, quoted-printable and base64 bodies, line lengths. */
#include "control/mailer.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

static ctl_mail_msg base(void)
{
    ctl_mail_msg m = {
        .from = "no-reply@example.org",
        .from_name = "MentorLink",
        .to = "ann@example.com",
        .subject = "Your code",
        .text = "Hello Ann,\nyour code is 123456.\n",
        .message_id = "ml.abc@example.org",
        .date = 1700000000, /* Tue, 14 Nov 2023 22:13:20 +0000 */
        .boundary_seed = "ml.abc",
    };
    return m;
}

/* Every line ends with CRLF and is at most 78 characters (we wrap at 76). */
static int lines_ok(const char *s, size_t len)
{
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n') {
            if (i == 0 || s[i - 1] != '\r')
                return 0;
            col = 0;
            continue;
        }
        if (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n'))
            return 0;
        if (s[i] != '\r' && ++col > 78)
            return 0;
        if ((unsigned char)s[i] >= 0x80)
            return 0; /* 7-bit clean */
    }
    return len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n';
}

TEST(mail_text_only_message)
{
    ctl_mail_msg m = base();
    char *out, err[128];
    size_t len;
    REQUIRE(ctl_mail_build(&m, &out, &len, err, sizeof err) == 0);
    CHECK(lines_ok(out, len));
    CHECK(strstr(out, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") == out);
    CHECK(strstr(out, "\r\nFrom: \"MentorLink\" <no-reply@example.org>\r\n") != NULL);
    CHECK(strstr(out, "\r\nTo: ann@example.com\r\n") != NULL);
    CHECK(strstr(out, "\r\nSubject: Your code\r\n") != NULL);
    CHECK(strstr(out, "\r\nMessage-ID: <ml.abc@example.org>\r\n") != NULL);
    CHECK(strstr(out, "\r\nMIME-Version: 1.0\r\n") != NULL);
    CHECK(strstr(out, "Content-Type: text/plain; charset=utf-8\r\n") != NULL);
    CHECK(strstr(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\nHello Ann,\r\nyour code "
                      "is 123456.\r\n") != NULL);
    CHECK(strstr(out, "multipart") == NULL);
    free(out);
}

TEST(mail_utf8_subject_and_names_are_encoded_words)
{
    ctl_mail_msg m = base();
    m.subject = "R\xc3\xa9servation confirm\xc3\xa9" "e \xe2\x9c\x85 avec Zo\xc3\xab et une tr\xc3\xa8s "
                "longue suite de mots pour d\xc3\xa9passer une ligne";
    m.to_name = "Zo\xc3\xab";
    char *out, err[128];
    size_t len;
    REQUIRE(ctl_mail_build(&m, &out, &len, err, sizeof err) == 0);
    CHECK(lines_ok(out, len));
    CHECK(strstr(out, "Subject: =?UTF-8?B?") != NULL);
    CHECK(strstr(out, "?=\r\n =?UTF-8?B?") != NULL); /* folded into several words */
    CHECK(strstr(out, "To: =?UTF-8?B?Wm/Dqw==?= <ann@example.com>\r\n") != NULL);
    free(out);

    char *h;
    REQUIRE(ctl_mail_encode_header("plain ascii", &h) == 0);
    CHECK_STR_EQ(h, "plain ascii");
    free(h);
    REQUIRE(ctl_mail_encode_header("\xe2\x82\xac", &h) == 0);
    CHECK_STR_EQ(h, "=?UTF-8?B?4oKs?=");
    free(h);
    /* 26 euro signs (78 bytes): words hold 39 bytes = 13 whole characters. */
    char many[79] = "";
    for (int i = 0; i < 26; i++)
        strcat(many, "\xe2\x82\xac");
    REQUIRE(ctl_mail_encode_header(many, &h) == 0);
    const char *second = strstr(h, "\r\n ");
    REQUIRE(second != NULL);
    CHECK(strstr(second + 3, "\r\n ") == NULL);
    CHECK(second - h <= 75);
    free(h);
}

TEST(mail_quoted_printable_body)
{
    ctl_mail_msg m = base();
    char longline[300];
    memset(longline, 'x', 200);
    strcpy(longline + 200, " =end \t\n\xc3\xa9t\xc3\xa9\r\n.dot\n");
    m.text = longline;
    char *out, err[128];
    size_t len;
    REQUIRE(ctl_mail_build(&m, &out, &len, err, sizeof err) == 0);
    CHECK(lines_ok(out, len));
    CHECK(strstr(out, "=\r\nxxx") != NULL);  /* soft line break */
    CHECK(strstr(out, " =3Dend =09\r\n") != NULL || strstr(out, " =3Dend=20=09\r\n") != NULL);
    CHECK(strstr(out, "\r\n=C3=A9t=C3=A9\r\n.dot\r\n") != NULL);
    free(out);
}

TEST(mail_html_alternative_and_attachments_mixed)
{
    ctl_mail_msg m = base();
    m.html = "<p>Hello <b>Ann</b></p>";
    unsigned char ics[200];
    for (size_t i = 0; i < sizeof ics; i++)
        ics[i] = (unsigned char)i;
    ctl_email_attachment a = {"invite.ics", "text/calendar; method=REQUEST; charset=utf-8", ics,
                              sizeof ics};
    m.attachments = &a;
    m.nattachments = 1;
    char *out, err[128];
    size_t len;
    REQUIRE(ctl_mail_build(&m, &out, &len, err, sizeof err) == 0);
    CHECK(lines_ok(out, len));
    const char *mixed = strstr(out, "Content-Type: multipart/mixed; boundary=\"=_mix_ml.abc\"");
    const char *alt = strstr(out, "Content-Type: multipart/alternative; boundary=\"=_alt_ml.abc\"");
    const char *plain = strstr(out, "Content-Type: text/plain");
    const char *html = strstr(out, "Content-Type: text/html");
    const char *att = strstr(out, "Content-Type: text/calendar; method=REQUEST; charset=utf-8; "
                                  "name=\"invite.ics\"");
    REQUIRE(mixed && alt && plain && html && att);
    CHECK(mixed < alt && alt < plain && plain < html && html < att);
    CHECK(strstr(out, "--=_alt_ml.abc--\r\n") != NULL);
    CHECK(strstr(out, "--=_mix_ml.abc--\r\n") != NULL);
    CHECK(strstr(out, "Content-Disposition: attachment; filename=\"invite.ics\"") != NULL);
    CHECK(strstr(out, "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoL") != NULL);
    /* 200 bytes -> 3 full lines of 76 plus one of 20 (with padding). */
    CHECK(strstr(out, "x8vP09fb3+Dh4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/AAECAwQF") == NULL);
    free(out);
}

TEST(mail_header_injection_is_refused)
{
    ctl_mail_msg m = base();
    char *out = NULL, err[128];
    size_t len;
    m.subject = "hi\r\nBcc: victim@example.com";
    CHECK(ctl_mail_build(&m, &out, &len, err, sizeof err) != 0);
    m = base();
    m.to_name = "x\nBcc: y";
    CHECK(ctl_mail_build(&m, &out, &len, err, sizeof err) != 0);
    m = base();
    ctl_email_attachment a = {"a\"b.txt", "text/plain", (const unsigned char *)"x", 1};
    m.attachments = &a;
    m.nattachments = 1;
    CHECK(ctl_mail_build(&m, &out, &len, err, sizeof err) != 0);
    CHECK(out == NULL);
}

TEST(mail_display_name_quoting)
{
    ctl_mail_msg m = base();
    m.from_name = "Mentor \"Link\" \\ Team";
    char *out, err[128];
    size_t len;
    REQUIRE(ctl_mail_build(&m, &out, &len, err, sizeof err) == 0);
    CHECK(strstr(out, "From: \"Mentor \\\"Link\\\" \\\\ Team\" <no-reply@example.org>\r\n") != NULL);
    free(out);
}

TEST(mail_parse_from)
{
    char name[64], addr[64];
    REQUIRE(ctl_mail_parse_from("MentorLink <no-reply@example.org>", name, sizeof name, addr,
                                sizeof addr) == 0);
    CHECK_STR_EQ(name, "MentorLink");
    CHECK_STR_EQ(addr, "no-reply@example.org");
    REQUIRE(ctl_mail_parse_from("\"Support Team\" <help@example.org>", name, sizeof name, addr,
                                sizeof addr) == 0);
    CHECK_STR_EQ(name, "Support Team");
    REQUIRE(ctl_mail_parse_from("  bare@example.org ", name, sizeof name, addr, sizeof addr) == 0);
    CHECK_STR_EQ(name, "");
    CHECK_STR_EQ(addr, "bare@example.org");
    CHECK(ctl_mail_parse_from("Name <>", name, sizeof name, addr, sizeof addr) != 0);
    CHECK(ctl_mail_parse_from("not an address", name, sizeof name, addr, sizeof addr) != 0);
}
