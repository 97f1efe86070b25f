/*
 * test_sup_restore.c - a supervisor restored from an older backup (issue 17
 * row 9): a controller reporting a version this supervisor never published
 * (or the same version with another root) makes it draw a new history id and
 * continue above that version; nothing else does; both survive a restart,
 * and the next snapshot carries the history in its signed header. A claim
 * counts only with a header this supervisor signed for it (applied_header):
 * none, or one signed by another key, moves nothing (KSE-711).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sup_restore.h"
#include "sup.h"
#include "sup_util.h"

static sup_ctx S;
static char dir[64];

static void enrol(uint32_t scope)
{
    uint8_t pk[32], id[16];
    randombytes_buf(pk, sizeof pk);
    ks_key_id(&S.crypto, id, pk);
    sup_dbv p[4] = {sup_dbv_blob(id, 16), sup_dbv_blob(pk, 32), sup_dbv_int(1), sup_dbv_int(scope)};
    pthread_mutex_lock(&S.lock);
    assert_int_equal(sup_db_exec(S.db, "INSERT INTO keys(key_id, public_key, privileges,"
                                      " holder_id, valid_from, valid_until, state, scope,"
                                      " form_factor, key_format, created_at, updated_at)"
                                      " VALUES (?,?,?,NULL,0,0,0,?,1,1,0,0)", p, 4, NULL, NULL),
                     0);
    assert_int_equal(sup_pub_mark(&S, scope), 0);
    pthread_mutex_unlock(&S.lock);
    assert_true(sup_pub_run_once(&S) >= 0);
}

/* The hex of a header for scope 1 at version av with root and history,
 * signed by sk (the supervisor's own when NULL), made from the published
 * one: the proof a controller sends. */
static void signed_header(uint64_t av, const uint8_t *root, uint32_t hist, const uint8_t *sk,
                          char out[2 * KS_SNAP_HEADER_SIZE + 1])
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t v;
    ks_snap_header h;
    uint8_t raw[KS_SNAP_HEADER_SIZE];
    assert_int_equal(sup_pub_snapshot(&S, 1, &buf, &len, &v), KS_OK);
    assert_int_equal(ks_snap_header_decode(&h, buf, NULL), KS_OK);
    free(buf);
    h.version = av;
    memcpy(h.root, root, KS_HASH_SIZE);
    h.history = hist;
    ks_snap_header_encode(&h, raw);
    assert_int_equal(ks_snap_header_sign(&S.crypto, raw, sk ? sk : S.sk), KS_OK);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* hdr: 1 the supervisor's signed header, 0 none, -1 one signed by another key */
static int check_h(uint64_t av, const uint8_t *root, int has_hist, uint32_t hist, int proof,
                   int hdr)
{
    uint8_t proot[KS_HASH_SIZE], pk[32], sk[64];
    char hex[2 * KS_SNAP_HEADER_SIZE + 1];
    uint64_t pv = sup_pub_version(&S, 1, proot);
    if (hdr && root) {
        crypto_sign_keypair(pk, sk);
        signed_header(av, root, hist, hdr < 0 ? sk : NULL, hex);
    }
    pthread_mutex_lock(&S.lock);
    int rc = sup_restore_check(&S, 1, 1, av, root, has_hist, hist, pv, proot, proof,
                               hdr && root ? hex : NULL);
    pthread_mutex_unlock(&S.lock);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

static int check_p(uint64_t av, const uint8_t *root, int has_hist, uint32_t hist, int proof)
{
    return check_h(av, root, has_hist, hist, proof, 1);
}

static int check(uint64_t av, const uint8_t *root, int has_hist, uint32_t hist)
{
    return check_p(av, root, has_hist, hist, 0);
}

static uint32_t published_history(uint64_t *version)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ks_snap_header h;
    assert_int_equal(sup_pub_snapshot(&S, 1, &buf, &len, version), KS_OK);
    assert_int_equal(ks_snap_header_decode(&h, buf, NULL), KS_OK);
    assert_int_equal(h.version, *version);
    free(buf);
    return h.history;
}

static void reopen(void)
{
    assert_int_equal(sup_fixture_reopen(&S, dir), 0);
}

static void test_restore_detection(void **state)
{
    uint8_t root[KS_HASH_SIZE], other[KS_HASH_SIZE];
    uint64_t v, pv;
    (void)state;
    enrol(1);
    enrol(1);
    v = sup_pub_version(&S, 1, root);
    assert_true(v >= 2);
    assert_int_equal(sup_restore_history(&S), 0);

    /* In step, behind, or no root: not a restore. */
    assert_int_equal(check(v, root, 1, 0), 0);
    assert_int_equal(check(v - 1, root, 1, 0), 0);
    assert_int_equal(check(v, NULL, 0, 0), 0);
    assert_int_equal(sup_restore_history(&S), 0);

    /* A controller claims v + 3 without our signature on it: nothing. */
    randombytes_buf(other, sizeof other);
    assert_int_equal(check_h(v + 3, other, 1, 0, 0, 0), 0);
    assert_int_equal(check_h(v + 3, other, 1, 0, 0, -1), 0);
    assert_int_equal(check_h(UINT64_MAX, other, 1, 0, 0, -1), 0);
    assert_int_equal(sup_restore_history(&S), 0);
    assert_int_equal(sup_restore_floor(&S), 0);

    /* A controller holds v + 3, which we signed and no longer know: restored. */
    assert_int_equal(check(v + 3, other, 1, 0), 1);
    uint32_t h1 = sup_restore_history(&S);
    assert_true(h1 != 0);
    assert_int_equal(sup_restore_floor(&S), v + 3);
    /* The same report again (before the publisher ran) changes nothing. */
    assert_int_equal(check(v + 3, other, 1, 0), 0);
    assert_int_equal(sup_restore_history(&S), h1);

    /* Every scope republishes, above the floor, under the new history (by
     * this round or by the publisher thread the mark woke, which may take
     * the round first: the checks below hold either way). */
    assert_true(sup_pub_run_once(&S) >= 0);
    assert_int_equal(published_history(&pv), h1);
    assert_int_equal(pv, v + 4);
    enrol(1);
    assert_int_equal(published_history(&pv), h1);
    assert_int_equal(pv, v + 5);

    /* A restart keeps the history and the floor, and the chain reloads. */
    reopen();
    assert_int_equal(sup_restore_history(&S), h1);
    assert_int_equal(sup_restore_floor(&S), v + 3);
    assert_int_equal(sup_pub_version(&S, 1, root), v + 5);
    enrol(1);
    assert_int_equal(published_history(&pv), h1);
    assert_int_equal(pv, v + 6);

    /* Same version, another root, in our current history: published twice. */
    assert_int_equal(check(v + 6, other, 1, h1), 1);
    assert_true(sup_restore_history(&S) != h1 && sup_restore_history(&S) != 0);
    /* ...but not when the controller is on another history (it waits for
     * initialize; the diagnosis says so). */
    uint32_t h2 = sup_restore_history(&S);
    /* The new history is published: by this round, or by the publisher
     * thread the mark woke, if it took the round first (run_once then finds
     * nothing dirty; it waits for the thread's round to end either way). */
    assert_true(sup_pub_run_once(&S) >= 0);
    assert_int_equal(published_history(&pv), h2);
    assert_true(pv > v + 6);
    pv = sup_pub_version(&S, 1, root);
    assert_int_equal(check(pv, other, 1, h1), 0);
    assert_int_equal(sup_restore_history(&S), h2);

    /* A lost revocation from a controller holding exactly what we publish
     * is false: nothing can be lost. */
    assert_int_equal(check_p(pv, root, 1, h2, 1), 0);
    assert_int_equal(sup_restore_history(&S), h2);
    /* A controller behind us, on our history, that refused our database
     * because it would undo a revocation: proof enough. */
    assert_int_equal(check_p(pv - 1, other, 1, h2, 0), 0);
    assert_int_equal(check_p(pv - 1, other, 1, h2, 1), 1);
    uint32_t h3 = sup_restore_history(&S);
    assert_true(h3 != h2 && h3 != 0);
    /* The same refusal reported by a controller still on the old history
     * (it now waits for initialize) changes nothing again. */
    assert_int_equal(check_p(pv - 1, other, 1, h2, 1), 0);
    assert_int_equal(sup_restore_history(&S), h3);
}

static int64_t claim_audits(void)
{
    int64_t n = -1;
    pthread_mutex_lock(&S.lock);
    assert_int_equal(sup_db_int(S.db, "SELECT COUNT(*) FROM audit WHERE action ="
                                      " 'supervisor.version_claim_refused'", NULL, 0, &n), 0);
    pthread_mutex_unlock(&S.lock);
    return n;
}

/* Unproved claims (KSE-711) are audited once a minute per supervisor, not
 * per process: a context opened afresh audits its first one. */
static void test_unproved_audit_clock(void **state)
{
    uint8_t root[KS_HASH_SIZE], other[KS_HASH_SIZE];
    uint64_t v;
    (void)state;
    enrol(1);
    v = sup_pub_version(&S, 1, root);
    randombytes_buf(other, sizeof other);
    assert_int_equal(claim_audits(), 0);
    assert_int_equal(check_h(v + 3, other, 1, 0, 0, 0), 0);
    assert_int_equal(claim_audits(), 1);
    assert_int_equal(check_h(v + 4, other, 1, 0, 0, -1), 0);
    assert_int_equal(claim_audits(), 1); /* within the minute */
    reopen();
    assert_int_equal(check_h(v + 3, other, 1, 0, 0, 0), 0);
    assert_int_equal(claim_audits(), 2);
    assert_int_equal(sup_restore_floor(&S), 0);
}

static int setup(void **state)
{
    (void)state;
    return sup_fixture_start(&S, dir, sizeof dir, "restore");
}

static int teardown(void **state)
{
    (void)state;
    return sup_fixture_close(&S, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_detection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unproved_audit_clock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
