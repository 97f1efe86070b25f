/*
 * test_sup_guard.c - the pure parts of keysupd's hardening: escaping of
 * logged values (no control character, no invalid UTF-8 survives; valid
 * text is unchanged; truncation is marked), the request-target check (NUL,
 * control characters, invalid or overlong UTF-8 after percent-decoding) and
 * the owner-tagged nonce table (a flooding owner displaces only its own
 * nonces).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sup_guard.h"

static void esc(const char *in, size_t n, const char *want)
{
    char out[256];
    sup_esc(out, sizeof out, in, n);
    assert_string_equal(out, want);
}

static void escaping(void **state)
{
    (void)state;
    esc("plain text", 10, "plain text");
    esc("caf\xc3\xa9 \xe2\x82\xac", 9, "caf\xc3\xa9 \xe2\x82\xac"); /* valid UTF-8 kept */
    esc("a\nb\rc\td\\e", 9, "a\\nb\\rc\\td\\\\e");
    esc("x\x1b[2J\x7f", 6, "x\\x1b[2J\\x7f");
    esc("\x00z", 2, "\\x00z");
    esc("\xff\xfe", 2, "\\xff\\xfe");                 /* invalid bytes */
    esc("\xc0\x80", 2, "\\xc0\\x80");                 /* overlong NUL */
    esc("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");        /* surrogate */
    esc("\xc2\x85", 2, "\\xc2\\x85");                 /* C1 NEL */
    esc("\xe2\x80\xa8", 3, "\\xe2\\x80\\xa8");        /* U+2028 */
    esc("\xe2\x82", 2, "\\xe2\\x82");                 /* truncated sequence */
}

static void truncation(void **state)
{
    char out[8];
    (void)state;
    sup_esc(out, sizeof out, "abcdefghij", 10);
    assert_string_equal(out, "abcd...");
    sup_esc(out, sizeof out, "\n\n\n\n", 4);
    assert_string_equal(out, "\\n\\n...");
    sup_esc(out, 1, "abc", 3);
    assert_string_equal(out, "");
}

static int bad(const char *t)
{
    char why[160] = "";
    int r = sup_target_check(t, why, sizeof why);
    if (r)
        assert_true(why[0] != '\0');
    return r != 0;
}

static void targets(void **state)
{
    (void)state;
    assert_false(bad("/v1/keys"));
    assert_false(bad("/v1/keys?state=active&limit=10"));
    assert_false(bad("/v1/keys/caf%C3%A9"));
    assert_false(bad("/v1/keys/100%25"));
    assert_false(bad("/v1/keys/%zz"));           /* not an escape: literal */
    assert_true(bad("/v1/tokens/4%00/x"));
    assert_true(bad("/v1/keys/x%0Ay"));
    assert_true(bad("/v1/keys/x%0d"));
    assert_true(bad("/v1/keys/x%09"));
    assert_true(bad("/v1/keys/x%7F"));
    assert_true(bad("/v1/keys/%ff"));
    assert_true(bad("/v1/keys/%c0%80"));
    assert_true(bad("/v1/keys/%ed%a0%80"));
    assert_true(bad("/v1/keys/%c2%85"));
    assert_true(bad("/v1/keys/%e2%82"));
    assert_true(bad("/v1/keys?q=%00"));
    assert_true(bad("/v1/keys/\x01"));
}

static void nonce_owners(void **state)
{
    /* A tiny table: 16 slots, one probe window. */
    sup_nonces *n = sup_nonces_new(60, 16);
    uint8_t honest[32], x[32];
    int refused = 0;
    (void)state;
    assert_non_null(n);
    assert_int_equal(sup_nonces_issue_for(n, 1, honest, 1000), 0);
    for (int i = 0; i < 200; i++)
        refused += sup_nonces_issue_for(n, 2, x, 1000) != 0;
    assert_int_equal(refused, 0); /* the flooder recycles its own slots */
    assert_int_equal(sup_nonces_live(n, honest, 1001), 1);
    assert_int_equal(sup_nonces_consume(n, honest, 1001), 1);
    assert_int_equal(sup_nonces_live(n, honest, 1001), 0);
    assert_int_equal(sup_nonces_consume(n, honest, 1001), 0); /* replay */
    /* Full of owner 2's live nonces: owner 3 is refused, not evicting. */
    for (int i = 0; i < 16; i++)
        sup_nonces_issue_for(n, 2, x, 1000);
    assert_int_equal(sup_nonces_issue_for(n, 3, x, 1000), -1);
    /* Expired slots are free again. */
    assert_int_equal(sup_nonces_issue_for(n, 3, x, 2000), 0);
    sup_nonces_free(n);
}

/* A heartbeat answer's next nonce (issue 13): only its controller may spend
 * it, another's try neither succeeds nor spends it, it works once, and a
 * nonce this table never issued (another process's) is told apart. */
static void nonce_bound(void **state)
{
    sup_nonces *n = sup_nonces_new(60, 1024), *other = sup_nonces_new(60, 1024);
    uint8_t a[32], any[32], old[32];
    (void)state;
    assert_non_null(n);
    assert_non_null(other);
    assert_int_equal(sup_nonces_issue_dev(n, 1, 7, a, 1000), 0);
    assert_int_equal(sup_nonces_live_dev(n, a, 1001, 8), 0);
    assert_int_equal(sup_nonces_consume_dev(n, a, 1001, 8), 0); /* B: refused */
    assert_int_equal(sup_nonces_consume(n, a, 1001), 0);        /* nobody: refused */
    assert_int_equal(sup_nonces_live_dev(n, a, 1001, 7), 1);    /* still A's */
    assert_int_equal(sup_nonces_consume_dev(n, a, 1001, 7), 1);
    assert_int_equal(sup_nonces_consume_dev(n, a, 1001, 7), 0); /* once */
    /* a fetched nonce (no controller) is anyone's, once */
    assert_int_equal(sup_nonces_issue_for(n, 1, any, 1000), 0);
    assert_int_equal(sup_nonces_consume_dev(n, any, 1001, 8), 1);
    assert_int_equal(sup_nonces_consume_dev(n, any, 1001, 7), 0);
    /* expiry as before */
    assert_int_equal(sup_nonces_issue_dev(n, 1, 7, a, 1000), 0);
    assert_int_equal(sup_nonces_consume_dev(n, a, 1060, 7), 0);
    /* issued here: not foreign; from another process (a restart): foreign */
    assert_int_equal(sup_nonces_foreign(n, any), 0);
    assert_int_equal(sup_nonces_issue_dev(other, 1, 7, old, 1000), 0);
    assert_int_equal(sup_nonces_foreign(n, old), 1);
    assert_int_equal(sup_nonces_consume_dev(n, old, 1001, 7), 0);
    sup_nonces_free(n);
    sup_nonces_free(other);
}

/* The absolute deadlines. A connection stamped while the reaper read the
 * clock starts after `now`: it is new, never overdue (a wrapped subtraction
 * once shut down keysup-sim's fresh connection in CI). */
static void deadlines(void **state)
{
    (void)state;
    const uint64_t hdr = 10000000u, body = 60000000u, t = 5000000000u;
    assert_int_equal(sup_guard_overdue(t + hdr, t, 0, hdr, body), 0);
    assert_int_equal(sup_guard_overdue(t + hdr + 1, t, 0, hdr, body), 1);
    assert_int_equal(sup_guard_overdue(t + hdr + 1, t, 1, hdr, body), 0);
    assert_int_equal(sup_guard_overdue(t + body + 1, t, 1, hdr, body), 1);
    assert_int_equal(sup_guard_overdue(t + 10 * body, t, 2, hdr, body), 0);
    assert_int_equal(sup_guard_overdue(t, t + 1, 0, hdr, body), 0);
    assert_int_equal(sup_guard_overdue(t, t + 1, 1, hdr, body), 0);
    assert_int_equal(sup_guard_overdue(t, t, 0, hdr, body), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escaping),
        cmocka_unit_test(truncation),
        cmocka_unit_test(targets),
        cmocka_unit_test(nonce_owners),
        cmocka_unit_test(nonce_bound),
        cmocka_unit_test(deadlines),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
