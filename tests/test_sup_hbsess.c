/*
 * test_sup_hbsess.c - the heartbeat session (issue 13; docs/protocol.md,
 * "Heartbeat session"): both sides derive the same keys; a steady
 * heartbeat's MAC is taken once per counter; a forged MAC, a replayed or
 * lower counter, another controller, another device key, an expired or
 * replaced session and a restarted keysupd (a new table) are refused, each
 * with its own outcome (only a replay is a replay: unknown sessions make the
 * agent re-open, never an alarm); the answer's MAC binds the challenge, the
 * counter, the status and the body.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "ks_hbmac.h"
#include "sup_hbsess.h"

#define HB "/v1/device/heartbeat"
static const uint8_t KEY_A[16] = {1}, KEY_B[16] = {2};
static const char BODY[] = "{\"time\":1700000000,\"store\":{\"records\":12}}";

typedef struct client {
    uint8_t cpk[32], csk[32], c2s[32], s2c[32], sid[16];
} client;

/* A controller offers cpk; keysupd opens; the controller derives its keys. */
static void open_session(sup_hbsess *t, int64_t id, const uint8_t *key_id, uint64_t now, client *c)
{
    uint8_t spk[32], sid[16];
    crypto_kx_keypair(c->cpk, c->csk);
    assert_int_equal(sup_hbsess_open(t, id, key_id, c->cpk, now, spk, sid), 0);
    assert_int_equal(ks_hbs_client_keys(c->c2s, c->s2c, c->sid, c->cpk, c->csk, spk), 0);
    assert_memory_equal(c->sid, sid, 16); /* the answer's id is the one the keys give */
}

static int send_hb_el(sup_hbsess *t, int64_t id, const uint8_t *key_id, const client *c,
                      uint64_t counter, uint64_t elapsed_ms, uint64_t now)
{
    uint8_t mac[32];
    ks_hbs_req_mac(mac, c->c2s, c->sid, (uint64_t)id, counter, elapsed_ms, "POST", HB,
                   (const uint8_t *)BODY, strlen(BODY));
    return sup_hbsess_check(t, id, key_id, c->sid, counter, elapsed_ms, now, "POST", HB,
                            (const uint8_t *)BODY, strlen(BODY), mac);
}

static int send_hb(sup_hbsess *t, int64_t id, const uint8_t *key_id, const client *c,
                   uint64_t counter, uint64_t now)
{
    return send_hb_el(t, id, key_id, c, counter, 0, now);
}

static void test_keys_agree_and_counter(void **st)
{
    (void)st;
    sup_hbsess *t = sup_hbsess_new(64, 3600);
    client c;
    assert_non_null(t);
    open_session(t, 7, KEY_A, 1000, &c);
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(send_hb(t, 7, KEY_A, &c, i, 1000 + i), SUP_HBS_OK);
    /* the same counter again, and a lower one: replays */
    assert_int_equal(sup_hbsess_peek(t, 7, KEY_A, c.sid, 5, 1010), SUP_HBS_REPLAY);
    assert_int_equal(send_hb(t, 7, KEY_A, &c, 5, 1010), SUP_HBS_REPLAY);
    assert_int_equal(send_hb(t, 7, KEY_A, &c, 3, 1010), SUP_HBS_REPLAY);
    /* a gap is fine (a request lost on the way) */
    assert_int_equal(sup_hbsess_peek(t, 7, KEY_A, c.sid, 9, 1010), SUP_HBS_OK);
    assert_int_equal(send_hb(t, 7, KEY_A, &c, 9, 1010), SUP_HBS_OK);
    sup_hbsess_stats s;
    sup_hbsess_stats_get(t, &s);
    assert_int_equal(s.opened, 1);
    assert_int_equal(s.live, 1);
    assert_int_equal(s.mac_ok, 6);
    assert_int_equal(s.replays, 2);
    sup_hbsess_free(t);
}

static void test_forged(void **st)
{
    (void)st;
    sup_hbsess *t = sup_hbsess_new(64, 3600);
    client c, other;
    uint8_t mac[32];
    open_session(t, 7, KEY_A, 1000, &c);
    /* a MAC over another body, under another key, with a flipped bit */
    ks_hbs_req_mac(mac, c.c2s, c.sid, 7, 1, 0, "POST", HB, (const uint8_t *)"{}", 2);
    assert_int_equal(sup_hbsess_check(t, 7, KEY_A, c.sid, 1, 0, 1000, "POST", HB,
                                      (const uint8_t *)BODY, strlen(BODY), mac), SUP_HBS_BADMAC);
    ks_hbs_req_mac(mac, c.s2c, c.sid, 7, 1, 0, "POST", HB, (const uint8_t *)BODY, strlen(BODY));
    assert_int_equal(sup_hbsess_check(t, 7, KEY_A, c.sid, 1, 0, 1000, "POST", HB,
                                      (const uint8_t *)BODY, strlen(BODY), mac), SUP_HBS_BADMAC);
    ks_hbs_req_mac(mac, c.c2s, c.sid, 7, 1, 0, "POST", HB, (const uint8_t *)BODY, strlen(BODY));
    mac[5] ^= 1;
    assert_int_equal(sup_hbsess_check(t, 7, KEY_A, c.sid, 1, 0, 1000, "POST", HB,
                                      (const uint8_t *)BODY, strlen(BODY), mac), SUP_HBS_BADMAC);
    /* the MAC binds the counter: counter 1's MAC sent as counter 2 */
    mac[5] ^= 1;
    assert_int_equal(sup_hbsess_check(t, 7, KEY_A, c.sid, 2, 0, 1000, "POST", HB,
                                      (const uint8_t *)BODY, strlen(BODY), mac), SUP_HBS_BADMAC);
    /* a forged MAC does not burn the counter: the real request still goes */
    assert_int_equal(send_hb(t, 7, KEY_A, &c, 1, 1000), SUP_HBS_OK);
    /* another controller's session sent under controller 7's id */
    open_session(t, 8, KEY_B, 1000, &other);
    assert_int_equal(send_hb(t, 7, KEY_A, &other, 2, 1000), SUP_HBS_UNKNOWN); /* not 7's sid */
    ks_hbs_req_mac(mac, other.c2s, c.sid, 7, 2, 0, "POST", HB, (const uint8_t *)BODY, strlen(BODY));
    assert_int_equal(sup_hbsess_check(t, 7, KEY_A, c.sid, 2, 0, 1000, "POST", HB,
                                      (const uint8_t *)BODY, strlen(BODY), mac), SUP_HBS_BADMAC);
    /* a MAC is bound to its controller id: 7's request claimed by 8 */
    assert_int_equal(send_hb(t, 8, KEY_B, &c, 2, 1000), SUP_HBS_UNKNOWN);
    sup_hbsess_free(t);
}

static void test_key_expiry_replace_restart(void **st)
{
    (void)st;
    sup_hbsess *t = sup_hbsess_new(64, 100);
    client c, c2;
    open_session(t, 7, KEY_A, 1000, &c);
    /* a re-provisioned device key (another key id) never inherits it */
    assert_int_equal(send_hb(t, 7, KEY_B, &c, 1, 1001), SUP_HBS_UNKNOWN);
    assert_int_equal(send_hb_el(t, 7, KEY_A, &c, 1, 99000, 1099), SUP_HBS_OK);
    /* expired at 1000 + 100 */
    assert_int_equal(sup_hbsess_peek(t, 7, KEY_A, c.sid, 2, 1100), SUP_HBS_UNKNOWN);
    assert_int_equal(send_hb(t, 7, KEY_A, &c, 2, 1100), SUP_HBS_UNKNOWN);
    sup_hbsess_stats s;
    sup_hbsess_stats_get(t, &s);
    assert_int_equal(s.live, 0); /* wiped on the way */
    /* a new session replaces the old: the old one's requests are unknown */
    open_session(t, 7, KEY_A, 2000, &c);
    open_session(t, 7, KEY_A, 2001, &c2);
    assert_int_equal(send_hb(t, 7, KEY_A, &c, 1, 2002), SUP_HBS_UNKNOWN);
    assert_int_equal(send_hb(t, 7, KEY_A, &c2, 1, 2002), SUP_HBS_OK);
    sup_hbsess_stats_get(t, &s);
    assert_int_equal(s.live, 1);
    /* keysupd restarted: a new, empty table knows no session */
    sup_hbsess_free(t);
    t = sup_hbsess_new(64, 100);
    assert_int_equal(send_hb(t, 7, KEY_A, &c2, 2, 2003), SUP_HBS_UNKNOWN);
    sup_hbsess_stats_get(t, &s);
    assert_int_equal(s.replays, 0);
    assert_int_equal(s.unknown, 1);
    sup_hbsess_free(t);
}

static void test_answer_mac(void **st)
{
    (void)st;
    sup_hbsess *t = sup_hbsess_new(64, 3600);
    client c;
    uint8_t chal[32], chal2[32], mac[32], want[32];
    const uint8_t ans[] = "{\"version\":3}";
    open_session(t, 7, KEY_A, 1000, &c);
    randombytes_buf(chal, sizeof chal);
    randombytes_buf(chal2, sizeof chal2);
    assert_int_equal(sup_hbsess_answer(t, 7, c.sid, 4, chal, 200, "POST", HB, ans,
                                       sizeof ans - 1, mac), 0);
    ks_hbs_ans_mac(want, c.s2c, c.sid, 7, 4, chal, 200, "POST", HB, ans, sizeof ans - 1);
    assert_true(ks_hbs_mac_eq(mac, want));
    /* an old answer (another counter, another challenge), another status or
     * body, or one under the request direction's key: never equal */
    ks_hbs_ans_mac(want, c.s2c, c.sid, 7, 3, chal, 200, "POST", HB, ans, sizeof ans - 1);
    assert_false(ks_hbs_mac_eq(mac, want));
    ks_hbs_ans_mac(want, c.s2c, c.sid, 7, 4, chal2, 200, "POST", HB, ans, sizeof ans - 1);
    assert_false(ks_hbs_mac_eq(mac, want));
    ks_hbs_ans_mac(want, c.s2c, c.sid, 7, 4, chal, 401, "POST", HB, ans, sizeof ans - 1);
    assert_false(ks_hbs_mac_eq(mac, want));
    ks_hbs_ans_mac(want, c.s2c, c.sid, 7, 4, chal, 200, "POST", HB, ans, sizeof ans - 2);
    assert_false(ks_hbs_mac_eq(mac, want));
    ks_hbs_ans_mac(want, c.c2s, c.sid, 7, 4, chal, 200, "POST", HB, ans, sizeof ans - 1);
    assert_false(ks_hbs_mac_eq(mac, want));
    /* a request MAC is never an answer MAC (labels differ) */
    ks_hbs_req_mac(want, c.s2c, c.sid, 7, 4, 0, "POST", HB, ans, sizeof ans - 1);
    assert_false(ks_hbs_mac_eq(mac, want));
    /* no session: no MAC */
    assert_int_equal(sup_hbsess_answer(t, 9, c.sid, 4, chal, 200, "POST", HB, ans,
                                       sizeof ans - 1, mac), -1);
    sup_hbsess_free(t);
}

/* No nonce bounds a MAC'd request's age: the controller's elapsed time
 * since its last answer does (a request held on the way is old news). */
static void test_stale(void **st)
{
    (void)st;
    sup_hbsess *t = sup_hbsess_new(64, 3600);
    client c;
    uint8_t mac[32];
    open_session(t, 7, KEY_A, 1000, &c);
    assert_int_equal(send_hb_el(t, 7, KEY_A, &c, 1, 30000, 1030), SUP_HBS_OK);
    /* sent 1 s after that answer, arriving 170 s later */
    assert_int_equal(send_hb_el(t, 7, KEY_A, &c, 2, 1000, 1200), SUP_HBS_STALE);
    assert_int_equal(send_hb_el(t, 7, KEY_A, &c, 2, 1000, 1200), SUP_HBS_REPLAY); /* taken */
    /* a controller that really waited 171 s */
    assert_int_equal(send_hb_el(t, 7, KEY_A, &c, 3, 171000, 1201), SUP_HBS_OK);
    /* within the lag is fine */
    assert_int_equal(send_hb_el(t, 7, KEY_A, &c, 4, 0, 1201 + SUP_HBSESS_LAG), SUP_HBS_OK);
    /* the MAC binds elapsed: a lie about it does not verify */
    ks_hbs_req_mac(mac, c.c2s, c.sid, 7, 5, 1000, "POST", HB, (const uint8_t *)BODY, strlen(BODY));
    assert_int_equal(sup_hbsess_check(t, 7, KEY_A, c.sid, 5, 500000, 1400, "POST", HB,
                                      (const uint8_t *)BODY, strlen(BODY), mac), SUP_HBS_BADMAC);
    sup_hbsess_stats s;
    sup_hbsess_stats_get(t, &s);
    assert_int_equal(s.stale, 1);
    sup_hbsess_free(t);
}

static void test_bounded(void **st)
{
    (void)st;
    /* 8 slots: ids 1..8 fill them; 9 probes 8 live slots of others: refused */
    sup_hbsess *t = sup_hbsess_new(8, 100);
    uint8_t cpk[32], csk[32], spk[32], sid[16];
    crypto_kx_keypair(cpk, csk);
    for (int64_t id = 1; id <= 8; id++)
        assert_int_equal(sup_hbsess_open(t, id, KEY_A, cpk, 1000, spk, sid), 0);
    assert_int_equal(sup_hbsess_open(t, 9, KEY_A, cpk, 1000, spk, sid), -1);
    /* once they expire the slots are free again */
    assert_int_equal(sup_hbsess_open(t, 9, KEY_A, cpk, 1100, spk, sid), 0);
    /* a low-order public key gives no session */
    uint8_t zero[32] = {0};
    assert_int_equal(sup_hbsess_open(t, 10, KEY_A, zero, 1100, spk, sid), -1);
    assert_null(sup_hbsess_new(12, 100)); /* not a power of two */
    sup_hbsess_stats s;
    sup_hbsess_stats_get(t, &s);
    assert_int_equal(s.full, 1);
    assert_int_equal(s.live, 8); /* expired sessions are held until their slot is reused */
    sup_hbsess_free(t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_agree_and_counter),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_key_expiry_replace_restart),
        cmocka_unit_test(test_answer_mac),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
