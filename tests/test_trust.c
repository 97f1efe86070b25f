/*
 * test_trust.c - pinned supervisor keys and rotation chains.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ks_test_util.h"

static ks_crypto C;
static uint8_t PK[12][32], SK[12][64];

static void rot(uint32_t from, uint32_t to, uint64_t seq, uint8_t out[KS_ROTATION_SIZE])
{
    ks_rotation r = {seq, 1800000000u, {0}, {0}};
    memcpy(r.old_pk, PK[from], 32);
    memcpy(r.new_pk, PK[to], 32);
    assert_int_equal(ks_rotation_make(&C, &r, SK[from], SK[to], out), KS_OK);
}

static void test_pin(void **state)
{
    (void)state;
    ks_trust t;
    ks_trust_init(&t);
    for (int i = 0; i < KS_TRUST_MAX; i++)
        assert_int_equal(ks_trust_add(&t, &C, PK[i]), KS_OK);
    assert_int_equal(ks_trust_add(&t, &C, PK[0]), KS_OK); /* already pinned */
    assert_int_equal(ks_trust_add(&t, &C, PK[KS_TRUST_MAX]), KS_E_NOSPC);
    uint8_t id[16];
    ks_key_id(&C, id, PK[2]);
    assert_memory_equal(ks_trust_find(&t, id), PK[2], 32);
    ks_key_id(&C, id, PK[9]);
    assert_null(ks_trust_find(&t, id));
}

static void test_chain_follow_and_snapshot(void **state)
{
    (void)state;
    uint8_t chain[3 * KS_ROTATION_SIZE];
    rot(0, 1, 1, chain);
    rot(1, 2, 2, chain + KS_ROTATION_SIZE);
    rot(2, 3, 3, chain + 2 * KS_ROTATION_SIZE);
    ks_trust t;
    ks_trust_init(&t);
    ks_trust_add(&t, &C, PK[0]);

    /* A snapshot signed by key 3 is refused until the chain is followed. */
    uint8_t snap[KS_SNAP_HEADER_SIZE];
    ks_snap_header h = {0};
    h.version = 1;
    assert_int_equal(ks_snapshot_write(&C, &h, NULL, 0, SK[3], snap, sizeof snap), KS_OK);
    ks_policy p = {&t, 0, 0, 0};
    assert_int_equal(ks_snapshot_verify(&C, snap, sizeof snap, &p, NULL, NULL), KS_E_SUPERVISOR_UNTRUSTED);

    ks_diag d = {0};
    assert_int_equal(ks_trust_follow(&t, &C, chain, sizeof chain, &d), KS_OK);
    assert_int_equal(t.count, 1);
    assert_int_equal(t.rotation_seq, 3);
    assert_memory_equal(t.keys[0], PK[3], 32);
    assert_int_equal(ks_snapshot_verify(&C, snap, sizeof snap, &p, NULL, NULL), KS_OK);
    /* The retired key no longer signs anything the controller accepts. */
    assert_int_equal(ks_snapshot_write(&C, &h, NULL, 0, SK[0], snap, sizeof snap), KS_OK);
    assert_int_equal(ks_snapshot_verify(&C, snap, sizeof snap, &p, NULL, NULL), KS_E_SUPERVISOR_UNTRUSTED);
    /* Following the same chain again is a no-op (history is skipped). */
    assert_int_equal(ks_trust_follow(&t, &C, chain, sizeof chain, &d), KS_OK);
    assert_memory_equal(t.keys[0], PK[3], 32);
}

static void test_chain_refusals(void **state)
{
    (void)state;
    ks_trust t, before;
    ks_diag d;
    uint8_t chain[(KS_ROTATION_CHAIN_MAX + 1) * KS_ROTATION_SIZE];
    ks_trust_init(&t);
    ks_trust_add(&t, &C, PK[0]);
    before = t;

    /* Not signed by a trusted key: 5 -> 6 when only 0 is pinned. */
    rot(5, 6, 1, chain);
    assert_int_equal(ks_trust_follow(&t, &C, chain, KS_ROTATION_SIZE, &d), KS_E_SUPERVISOR_UNTRUSTED);
    assert_string_equal(d.what, "rotation.old_pk is not a trusted supervisor key");
    assert_memory_equal(&t, &before, sizeof t);

    /* Valid first link, broken second: nothing changes (all or nothing). */
    rot(0, 1, 1, chain);
    rot(1, 2, 2, chain + KS_ROTATION_SIZE);
    chain[KS_ROTATION_SIZE + 100] ^= 1; /* sig_old of the second record */
    assert_int_equal(ks_trust_follow(&t, &C, chain, 2 * KS_ROTATION_SIZE, &d), KS_E_SIGNATURE);
    assert_int_equal(d.offset, KS_ROTATION_SIZE + 88);
    assert_memory_equal(&t, &before, sizeof t);

    /* The new key must sign too. */
    rot(0, 1, 1, chain);
    chain[200] ^= 1;
    assert_int_equal(ks_trust_follow(&t, &C, chain, KS_ROTATION_SIZE, &d), KS_E_SIGNATURE);
    assert_string_equal(d.what, "rotation.sig_new does not verify");

    /* Sequence must increase. */
    rot(0, 1, 2, chain);
    rot(1, 2, 2, chain + KS_ROTATION_SIZE);
    assert_int_equal(ks_trust_follow(&t, &C, chain, 2 * KS_ROTATION_SIZE, &d), KS_E_FORMAT);
    assert_string_equal(d.what, "rotation.seq does not increase along the chain");

    /* Longer than the cap. */
    for (uint32_t i = 0; i <= KS_ROTATION_CHAIN_MAX; i++)
        rot(i, i + 1, i + 1, chain + (size_t)i * KS_ROTATION_SIZE);
    assert_int_equal(ks_trust_follow(&t, &C, chain, sizeof chain, &d), KS_E_CHAIN);
    assert_int_equal(d.offset, KS_ROTATION_CHAIN_MAX * KS_ROTATION_SIZE);
    assert_memory_equal(&t, &before, sizeof t);
    /* Exactly the cap is fine. */
    assert_int_equal(ks_trust_follow(&t, &C, chain, sizeof chain - KS_ROTATION_SIZE, &d), KS_OK);
    assert_memory_equal(t.keys[0], PK[KS_ROTATION_CHAIN_MAX], 32);

    /* A controller provisioned at key 2 is handed the whole history 0->1->2->3:
     * the records before its key are skipped, the rest followed. */
    {
        ks_trust mid;
        uint8_t hist[3 * KS_ROTATION_SIZE];
        rot(0, 1, 1, hist);
        rot(1, 2, 2, hist + KS_ROTATION_SIZE);
        rot(2, 3, 3, hist + 2 * KS_ROTATION_SIZE);
        ks_trust_init(&mid);
        ks_trust_add(&mid, &C, PK[2]);
        assert_int_equal(ks_trust_follow(&mid, &C, hist, sizeof hist, &d), KS_OK);
        assert_int_equal(mid.count, 1);
        assert_memory_equal(mid.keys[0], PK[3], 32);
        assert_int_equal(mid.rotation_seq, 3);
        /* ...but a break after the chain reached a pinned key is refused. */
        ks_trust_init(&mid);
        ks_trust_add(&mid, &C, PK[1]);
        rot(5, 6, 3, hist + 2 * KS_ROTATION_SIZE);
        assert_int_equal(ks_trust_follow(&mid, &C, hist, sizeof hist, &d), KS_E_SUPERVISOR_UNTRUSTED);
        assert_int_equal(d.offset, 2 * KS_ROTATION_SIZE + 24);
        assert_memory_equal(mid.keys[0], PK[1], 32);
    }

    /* Structure. */
    assert_int_equal(ks_trust_follow(&before, &C, chain, 100, &d), KS_E_FORMAT);
    rot(0, 1, 1, chain);
    chain[0] = 'X';
    assert_int_equal(ks_trust_follow(&before, &C, chain, KS_ROTATION_SIZE, &d), KS_E_FORMAT);
    assert_string_equal(d.what, "rotation.magic is not KSRT");
}

int main(void)
{
    if (ks_sodium_crypto(&C) != KS_OK)
        return 1;
    for (uint32_t i = 0; i < 12; i++)
        kt_keypair(100 + i, PK[i], SK[i]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin),
        cmocka_unit_test(test_chain_follow_and_snapshot),
        cmocka_unit_test(test_chain_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
