/*
 * test_auth.c - the decision: every refusal in its order with its exact KSE
 * code, the granted paths, replayed and re-bound responses, the action
 * catalogue, seal switch, pending transactions, sessions and two-supervisor
 * actions. Every outcome must also be the newest audit record.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, popen */
#endif
#include <unistd.h>

#include "auth_util.h"
#include "ks_keyfile.h"

static at_fix F;

/* Presents key n and checks the code, the check named and the audit record. */
static void expect(const uint8_t reader[16], uint16_t action, uint32_t n, int want,
                   const char *what)
{
    ks_auth_result res;
    ks_audit_rec ar;
    uint8_t id[16];
    int got = at_present(&F, reader, action, n, 0, &res);
    assert_int_equal(got, want);
    assert_int_equal(res.err, want);
    if (what)
        assert_string_equal(res.what, what);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.event, KS_EV_DECISION);
    assert_int_equal(ar.err, want);
    assert_int_equal(ar.action, action);
    at_key_id(&F, n, id);
    assert_memory_equal(ar.key_id, id, 16);
    assert_memory_equal(ar.reader, reader, 16);
    assert_int_equal(ar.time, res.time);
}

static void test_catalogue(void **state)
{
    (void)state;
    const ks_action_def *d;
    for (uint32_t i = 0; i < KS_ACT_COUNT - 1; i++) {
        d = ks_action_at(i);
        assert_non_null(d);
        assert_int_equal(d->id, i + 1);
        assert_ptr_equal(ks_action_find(d->id), d);
        assert_ptr_equal(ks_action_by_name(d->name, strlen(d->name)), d);
    }
    assert_null(ks_action_find(0));
    assert_null(ks_action_find(KS_ACT_COUNT));
    d = ks_action_by_name("CAL_C05", 7);
    assert_non_null(d);
    assert_int_equal(d->id, KS_ACT_CAL_C05);
    assert_true(d->flags & KS_ACT_F_SEALED);
    assert_true(ks_action_find(KS_ACT_FIRMWARE)->flags & KS_ACT_F_TWO_SUPERVISORS);
    assert_true(ks_action_find(KS_ACT_Z_REPORT)->flags & KS_ACT_F_TRANSACTION);
    assert_true(ks_action_needs_supervisor(ks_action_find(KS_ACT_VOID)));
    assert_false(ks_action_needs_supervisor(ks_action_find(KS_ACT_ACCESS)));
    assert_null(ks_action_by_name("void2", 5));
}

static void test_granted(void **state)
{
    (void)state;
    ks_auth_result res;
    expect(RA, KS_ACT_ACCESS, K_OP, KS_OK, NULL);
    expect(RA, KS_ACT_VOID, K_SUP1, KS_OK, NULL);
    expect(RB, KS_ACT_REFUND, K_SUP2, KS_OK, NULL);
    expect(RA, KS_ACT_CAL_C01, K_SUP1, KS_OK, NULL);
    expect(RA, KS_ACT_DOOR_OVERRIDE, K_SUP1, KS_OK, NULL);
    /* expired 30 s ago: inside the documented 60 s validity skew */
    expect(RA, KS_ACT_VOID, K_EDGE, KS_OK, NULL);
    assert_int_equal(at_present(&F, RA, KS_ACT_PRICE_OVERRIDE, K_SUP1, 0, &res), 0);
    assert_true(res.key_known);
    assert_int_equal(res.record.holder_id, K_SUP1);
    assert_int_equal(res.action, KS_ACT_PRICE_OVERRIDE);
    assert_int_equal(res.session, 0);
    assert_true(res.audit_seq > 0);
    /* counter floor: the first counter above it is accepted */
    expect(RA, KS_ACT_VOID, K_FLOOR, KS_OK, NULL);
}

static void test_refusals_in_order(void **state)
{
    (void)state;
    expect(RA, KS_ACT_ACCESS, K_UNKNOWN, KS_E_KEY_UNKNOWN, "auth.key");
    expect(RB, KS_ACT_VOID, K_REVOKED, KS_E_KEY_REVOKED, "auth.state");
    expect(RA, KS_ACT_VOID, K_SUSPENDED, KS_E_KEY_REVOKED, "auth.state");
    expect(RB, KS_ACT_VOID, K_EXPIRED, KS_E_KEY_EXPIRED, "auth.validity");
    expect(RA, KS_ACT_VOID, K_FUTURE, KS_E_KEY_EXPIRED, "auth.validity");
    expect(RB, KS_ACT_VOID, K_OLDFMT, KS_E_PROTOCOL_MISMATCH, "auth.key_format");
    expect(RA, KS_ACT_VOID, K_SCOPE, KS_E_KEY_UNKNOWN, "auth.scope");
    expect(RB, KS_ACT_VOID, K_STRIPPED, KS_E_NOT_SUPERVISOR, "auth.privileges");
    expect(RA, KS_ACT_VOID, K_OP, KS_E_NOT_SUPERVISOR, "auth.privileges");
}

static void test_unreadable(void **state)
{
    (void)state;
    uint8_t ch[32], resp[KS_RESPONSE_SIZE];
    ks_auth_result res;
    ks_audit_rec ar;
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 5, resp);
    resp[5] = 1; /* reserved byte */
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_KEY_UNREADABLE);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, 17, 0, &res), KS_E_KEY_UNREADABLE);
    assert_int_equal(ks_auth_respond(&F.a, RA, NULL, 0, 0, &res), KS_E_KEY_UNREADABLE);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.err, KS_E_KEY_UNREADABLE);
}

static void test_signature_and_binding(void **state)
{
    (void)state;
    uint8_t ch[32], chb[32], resp[KS_RESPONSE_SIZE];
    ks_auth_result res;

    /* forged signature */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 10, resp);
    resp[100] ^= 1;
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);
    assert_string_equal(res.what, "auth.signature");

    /* signed by another key under this key's id */
    {
        uint8_t pk[32], sk[64], id[16];
        assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
        kt_keypair(777, pk, sk);
        assert_int_equal(ks_response_make(&F.c, ch, 11, pk, sk, resp), 0);
        at_key_id(&F, K_SUP1, id);
        memcpy(resp + 8, id, 16); /* claims to be K_SUP1: signature covers the id */
        assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                         KS_E_SIGNATURE_INVALID);
    }

    /* a good answer, then the same bytes again: replay */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 12, resp);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res), KS_OK);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);
    assert_string_equal(res.what, "auth.challenge");
    /* replay while a new challenge is outstanding at the reader */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);

    /* re-bound: answer to reader A's challenge presented at reader B */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    assert_int_equal(ks_auth_challenge(&F.a, RB, KS_ACT_VOID, chb), 0);
    assert_memory_not_equal(ch, chb, 32);
    at_answer(&F, K_SUP1, ch, 20, resp);
    assert_int_equal(ks_auth_respond(&F.a, RB, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);
    /* reader B's challenge was consumed by that attempt; A's still works */
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res), KS_OK);

    /* re-bound to another action: challenge for ACCESS, then a new one for
     * VOID replaces it; the old answer does not fit */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_ACCESS, ch), 0);
    at_answer(&F, K_SUP1, ch, 30, resp);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, chb), 0);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);

    /* re-bound to another controller: same reader name, other controller id */
    {
        at_fix *g = malloc(sizeof *g);
        at_setup(g);
        memcpy(g->acfg.controller_id, "controller-0002", 16);
        assert_int_equal(ks_auth_init(&g->a, &g->acfg), 0);
        assert_int_equal(ks_auth_challenge(&g->a, RA, KS_ACT_VOID, chb), 0);
        assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
        at_answer(&F, K_SUP1, ch, 40, resp);
        assert_int_equal(ks_auth_respond(&g->a, RA, resp, sizeof resp, 0, &res),
                         KS_E_SIGNATURE_INVALID);
        at_teardown(g);
        free(g);
    }

    /* no challenge at all */
    assert_int_equal(ks_auth_respond(&F.a, RB, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);

    /* too late: past the challenge's time to live */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 50, resp);
    F.rtc += F.acfg.challenge_ttl + 1;
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);
    assert_string_equal(res.what, "auth.challenge_ttl");
}

static void test_use_counter(void **state)
{
    (void)state;
    uint8_t ch[32], resp[KS_RESPONSE_SIZE];
    ks_auth_result res;
    ks_audit_rec ar;

    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 100, resp);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res), KS_OK);
    /* a clone answering a fresh challenge with a counter not above 100 */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 100, resp);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_CLONE_SUSPECTED);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.err, KS_E_CLONE_SUSPECTED);
    assert_int_equal(ar.detail, 100);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 7, resp);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_CLONE_SUSPECTED);
    /* the counter survives a power cut */
    at_reboot(&F);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 100, resp);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_CLONE_SUSPECTED);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_SUP1, ch, 101, resp);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res), KS_OK);
    /* the supervisor's floor in the record: at or below it is a clone */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    at_answer(&F, K_FLOOR, ch, 1000, resp);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_CLONE_SUSPECTED);
}

static void test_no_supervisor(void **state)
{
    (void)state;
    ks_auth_result res;
    assert_int_equal(ks_auth_session_action(&F.a, 0, RA, KS_ACT_VOID, &res),
                     KS_E_PRIVILEGE_REQUIRED);
    assert_string_equal(res.what, "auth.no_supervisor");
    assert_int_equal(ks_auth_challenge(&F.a, RA, 999, (uint8_t[32]){0}), KS_E_INVAL);
}

static void test_seal(void **state)
{
    (void)state;
    F.seal = 1;
    for (uint16_t act = KS_ACT_CAL_C01; act <= KS_ACT_CAL_C07; act++)
        expect(RA, act, K_SUP1, KS_E_SEAL_ENGAGED, "auth.seal");
    /* other actions are not affected */
    expect(RA, KS_ACT_VOID, K_SUP1, KS_OK, NULL);
    /* privilege is checked before the seal */
    expect(RA, KS_ACT_CAL_C02, K_OP, KS_E_NOT_SUPERVISOR, NULL);
    F.seal = 0;
    expect(RA, KS_ACT_CAL_C03, K_SUP1, KS_OK, NULL);
}

static void test_pending_transaction(void **state)
{
    (void)state;
    ks_audit_rec ar;

    /* a completed Z-report leaves nothing pending */
    expect(RA, KS_ACT_Z_REPORT, K_SUP1, KS_OK, NULL);
    assert_true(ks_auth_txn_pending(&F.a));
    assert_int_equal(ks_auth_txn_done(&F.a), 0);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.event, KS_EV_TXN_DONE);
    assert_false(ks_auth_txn_pending(&F.a));
    expect(RA, KS_ACT_VOID, K_SUP1, KS_OK, NULL);

    /* an interrupted one: power cut during the Z-report */
    expect(RA, KS_ACT_Z_REPORT, K_SUP1, KS_OK, NULL);
    at_reboot(&F);
    assert_true(ks_auth_txn_pending(&F.a));
    expect(RA, KS_ACT_VOID, K_SUP1, KS_E_PENDING_TRANSACTION, "auth.pending");
    expect(RA, KS_ACT_Z_REPORT, K_SUP2, KS_E_PENDING_TRANSACTION, "auth.pending");
    expect(RA, KS_ACT_CAL_C01, K_SUP2, KS_E_PENDING_TRANSACTION, "auth.pending");
    /* clearing needs supervisor authority */
    expect(RA, KS_ACT_CLEAR_PENDING, K_OP, KS_E_NOT_SUPERVISOR, NULL);
    assert_true(ks_auth_txn_pending(&F.a));
    expect(RA, KS_ACT_CLEAR_PENDING, K_SUP2, KS_OK, NULL);
    assert_false(ks_auth_txn_pending(&F.a));
    at_reboot(&F);
    assert_false(ks_auth_txn_pending(&F.a));
    expect(RA, KS_ACT_VOID, K_SUP1, KS_OK, NULL);
}

static void test_sessions(void **state)
{
    (void)state;
    ks_auth_result res;
    ks_audit_rec ar;
    uint32_t s;

    /* an operator key opens no session */
    assert_int_equal(at_present(&F, RA, KS_ACT_ACCESS, K_OP, KS_AUTH_F_SESSION, &res), 0);
    assert_int_equal(res.session, 0);

    assert_int_equal(at_present(&F, RA, KS_ACT_SESSION, K_SUP1, KS_AUTH_F_SESSION, &res), 0);
    s = res.session;
    assert_true(s != 0);
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_VOID, &res), KS_OK);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.err, 0);
    assert_int_equal(ar.session, s);
    assert_int_equal(ar.action, KS_ACT_VOID);
    /* bound to its reader */
    assert_int_equal(ks_auth_session_action(&F.a, s, RB, KS_ACT_VOID, &res),
                     KS_E_PRIVILEGE_REQUIRED);
    /* actions that always want a fresh key, or two supervisors */
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_FIRMWARE, &res),
                     KS_E_PRIVILEGE_REQUIRED);
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_UNLOCK, &res),
                     KS_E_PRIVILEGE_REQUIRED);
    /* seal and pending gates apply under a session too */
    F.seal = 1;
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_CAL_C04, &res),
                     KS_E_SEAL_ENGAGED);
    F.seal = 0;
    /* door override may be done 60 s after sign-on, void 300 s */
    F.rtc += 61;
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_DOOR_OVERRIDE, &res),
                     KS_E_SESSION_EXPIRED);
    assert_string_equal(res.what, "auth.session_timeout");
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_REFUND, &res), KS_OK);
    F.rtc += 240;
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_VOID, &res),
                     KS_E_SESSION_EXPIRED);
    /* the session as such lasts session_max */
    F.rtc = AT_T0 + F.acfg.session_max + 1;
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_CLEAR_PENDING, &res),
                     KS_E_SESSION_EXPIRED);
    assert_string_equal(res.what, "auth.session_max");
    at_last_audit(&F, &ar);
    assert_int_equal(ar.err, KS_E_SESSION_EXPIRED);
    /* and is gone afterwards */
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_VOID, &res),
                     KS_E_SESSION_EXPIRED);
    assert_string_equal(res.what, "auth.session");

    /* close */
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP2, KS_AUTH_F_SESSION, &res), 0);
    s = res.session;
    assert_true(s != 0);
    assert_int_equal(ks_auth_session_close(&F.a, s), 0);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.event, KS_EV_SESSION_END);
    assert_int_equal(ks_auth_session_close(&F.a, s), KS_E_NOTFOUND);
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_VOID, &res),
                     KS_E_SESSION_EXPIRED);

    /* a stripped profile cannot use a session it never got; a session's
     * privileges are the key's */
    assert_int_equal(at_present(&F, RA, KS_ACT_SESSION, K_SUP1, KS_AUTH_F_SESSION, &res), 0);
    s = res.session;
    for (int i = 0; i < 4; i++)
        F.sessions[i].privileges &= ~(uint64_t)KS_PRIV_REFUND;
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_REFUND, &res),
                     KS_E_NOT_SUPERVISOR);
    /* a power cut ends every session */
    at_reboot(&F);
    assert_int_equal(ks_auth_session_action(&F.a, s, RA, KS_ACT_VOID, &res),
                     KS_E_SESSION_EXPIRED);
}

static void test_two_supervisors(void **state)
{
    (void)state;
    ks_auth_result res;
    ks_audit_rec ar;

    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP1, 0, &res), KS_AUTH_SECOND);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.event, KS_EV_FIRST_OF_TWO);
    /* the same supervisor again, with a fresh challenge and counter */
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP1, 0, &res),
                     KS_E_PRIVILEGE_REQUIRED);
    assert_string_equal(res.what, "auth.same_supervisor");
    at_last_audit(&F, &ar);
    assert_int_equal(ar.err, KS_E_PRIVILEGE_REQUIRED);
    /* and again: still refused, the first supervisor is remembered */
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP1, 0, &res),
                     KS_E_PRIVILEGE_REQUIRED);
    /* an operator as the second: lacks the privilege */
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_OP, 0, &res),
                     KS_E_NOT_SUPERVISOR);
    /* a different supervisor completes it */
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP2, KS_AUTH_F_SESSION, &res), 0);
    assert_int_equal(res.session, 0); /* two-supervisor grants open no session */
    /* the next one starts over */
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP2, 0, &res), KS_AUTH_SECOND);
    /* the second must come within the window */
    F.rtc += F.acfg.two_man_window + 1;
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP1, 0, &res), KS_AUTH_SECOND);
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP2, 0, &res), 0);
    /* the first at one reader does not count at another */
    assert_int_equal(at_present(&F, RA, KS_ACT_USER_MGMT, K_SUP1, 0, &res), KS_AUTH_SECOND);
    assert_int_equal(at_present(&F, RB, KS_ACT_USER_MGMT, K_SUP2, 0, &res), KS_AUTH_SECOND);
}

/* The key's side from the CLI: `keysup key present` answers a real challenge. */
static void test_cli_present(void **state)
{
    (void)state;
    const char *bin = getenv("KS_BIN");
    uint8_t ch[32], seed[32] = {0}, resp[KS_RESPONSE_SIZE];
    char path[] = "/tmp/ks-auth-present-XXXXXX", cmd[1024], hex[65], line[600];
    ks_auth_result res;
    FILE *p;
    int fd, got = 0;

    if (!bin)
        skip();
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    memcpy(seed, "keysup-test-seed", 16);
    ks_st32(seed + 16, K_SUP1);
    assert_int_equal(ks_keyfile_write(path, seed, NULL, 0, NULL, 0), 0);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", ch[i]);
    snprintf(cmd, sizeof cmd, "%s/keysup key present %s --challenge %s --counter 77", bin, path,
             hex);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, "response:", 9) == 0) {
            const char *h = line + 9;
            while (*h == ' ')
                h++;
            for (int i = 0; i < KS_RESPONSE_SIZE; i++) {
                unsigned v;
                assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
                resp[i] = (uint8_t)v;
            }
            got = 1;
        }
    }
    assert_int_equal(pclose(p), 0);
    unlink(path);
    assert_true(got);
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res), KS_OK);
    assert_int_equal(res.record.holder_id, K_SUP1);
    /* the same answer again is a replay */
    assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, &res),
                     KS_E_SIGNATURE_INVALID);
}

static void test_init_refusals(void **state)
{
    (void)state;
    ks_auth b;
    ks_auth_cfg c = F.acfg;
    c.hal.rtc = NULL;
    assert_int_equal(ks_auth_init(&b, &c), KS_E_INVAL);
    c = F.acfg;
    c.validity_skew = c.clock_tolerance + 1;
    assert_int_equal(ks_auth_init(&b, &c), KS_E_INVAL);
    c = F.acfg;
    c.session_cap = 0;
    assert_int_equal(ks_auth_init(&b, &c), KS_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        AT_TEST(test_catalogue, at_cm_setup_nolock, &F),
        AT_TEST(test_granted, at_cm_setup_nolock, &F),
        AT_TEST(test_refusals_in_order, at_cm_setup_nolock, &F),
        AT_TEST(test_unreadable, at_cm_setup_nolock, &F),
        AT_TEST(test_signature_and_binding, at_cm_setup_nolock, &F),
        AT_TEST(test_use_counter, at_cm_setup_nolock, &F),
        AT_TEST(test_no_supervisor, at_cm_setup_nolock, &F),
        AT_TEST(test_seal, at_cm_setup_nolock, &F),
        AT_TEST(test_pending_transaction, at_cm_setup_nolock, &F),
        AT_TEST(test_sessions, at_cm_setup_nolock, &F),
        AT_TEST(test_two_supervisors, at_cm_setup_nolock, &F),
        AT_TEST(test_cli_present, at_cm_setup_nolock, &F),
        AT_TEST(test_init_refusals, at_cm_setup_nolock, &F),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
