/*
 * test_auth_audit.c - the hash-chained audit records: a chain of real
 * decisions verifies; removing, altering, inserting or reordering a record
 * is detected; the chain continues across a power cut and restarts
 * explicitly when its head was acknowledged.
 */
#include "auth_util.h"

static at_fix F;

#define CAP 64
static uint8_t recs[CAP * KS_AUDIT_PAYLOAD];

static size_t some_decisions(void)
{
    (void)at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, NULL);
    (void)at_present(&F, RA, KS_ACT_VOID, K_UNKNOWN, 0, NULL);
    (void)at_present(&F, RB, KS_ACT_VOID, K_REVOKED, 0, NULL);
    (void)at_present(&F, RA, KS_ACT_REFUND, K_SUP1, 0, NULL);
    (void)at_present(&F, RB, KS_ACT_USER_MGMT, K_SUP2, 0, NULL);
    (void)at_present(&F, RA, KS_ACT_VOID, K_STRIPPED, 0, NULL);
    return at_all_audit(&F, recs, CAP);
}

static void test_chain_verifies(void **state)
{
    (void)state;
    uint8_t head[32];
    uint64_t index;
    size_t n = some_decisions(), bad = 99;
    ks_audit_rec r;
    assert_int_equal(n, 6);
    ks_auth_audit_head(&F.a, head, &index);
    assert_int_equal(index, 6);
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, head, &bad), 0);
    /* the outcomes are all there, in order */
    assert_int_equal(ks_audit_decode(&r, recs + 1 * KS_AUDIT_PAYLOAD, NULL), 0);
    assert_int_equal(r.err, KS_E_KEY_UNKNOWN);
    assert_int_equal(ks_audit_decode(&r, recs + 4 * KS_AUDIT_PAYLOAD, NULL), 0);
    assert_int_equal(r.event, KS_EV_FIRST_OF_TWO);
    /* a suffix verifies from the hash of what came before */
    {
        uint8_t prev[32];
        ks_audit_hash(&F.c, prev, recs + 2 * KS_AUDIT_PAYLOAD);
        assert_int_equal(ks_audit_verify(&F.c, recs + 3 * KS_AUDIT_PAYLOAD, 3, prev, head, NULL),
                         0);
        prev[0] ^= 1;
        assert_int_equal(ks_audit_verify(&F.c, recs + 3 * KS_AUDIT_PAYLOAD, 3, prev, head, NULL),
                         KS_E_ROOT);
    }
}

static void test_removal_detected(void **state)
{
    (void)state;
    uint8_t head[32];
    size_t n = some_decisions(), bad = 99;
    ks_auth_audit_head(&F.a, head, NULL);
    /* drop record 2 */
    memmove(recs + 2 * KS_AUDIT_PAYLOAD, recs + 3 * KS_AUDIT_PAYLOAD,
            (n - 3) * KS_AUDIT_PAYLOAD);
    assert_int_equal(ks_audit_verify(&F.c, recs, n - 1, NULL, head, &bad), KS_E_ROOT);
    assert_int_equal(bad, 2);
}

static void test_tail_cut_detected(void **state)
{
    (void)state;
    uint8_t head[32];
    size_t n = some_decisions(), bad = 99;
    ks_auth_audit_head(&F.a, head, NULL);
    assert_int_equal(ks_audit_verify(&F.c, recs, n - 1, NULL, NULL, NULL), 0);
    assert_int_equal(ks_audit_verify(&F.c, recs, n - 1, NULL, head, &bad), KS_E_ROOT);
}

static void test_alteration_detected(void **state)
{
    (void)state;
    uint8_t head[32];
    size_t n = some_decisions(), bad = 99;
    ks_auth_audit_head(&F.a, head, NULL);
    /* a refusal rewritten as a grant */
    assert_int_equal(ks_audit_decode(&(ks_audit_rec){0}, recs + 1 * KS_AUDIT_PAYLOAD, NULL), 0);
    memset(recs + 1 * KS_AUDIT_PAYLOAD + 4, 0, 4);
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, head, &bad), KS_E_ROOT);
    assert_int_equal(bad, 2);
    memset(recs + 1 * KS_AUDIT_PAYLOAD + 4, 0xFF, 1);
    /* the last record altered: only the head catches it */
    n = some_decisions();
    ks_auth_audit_head(&F.a, head, NULL);
    recs[(n - 1) * KS_AUDIT_PAYLOAD + 20] ^= 1;
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, NULL, NULL), 0);
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, head, &bad), KS_E_ROOT);
    assert_int_equal(bad, n - 1);
    /* swapped records */
    n = some_decisions();
    {
        uint8_t tmp[KS_AUDIT_PAYLOAD];
        memcpy(tmp, recs + 3 * KS_AUDIT_PAYLOAD, KS_AUDIT_PAYLOAD);
        memcpy(recs + 3 * KS_AUDIT_PAYLOAD, recs + 4 * KS_AUDIT_PAYLOAD, KS_AUDIT_PAYLOAD);
        memcpy(recs + 4 * KS_AUDIT_PAYLOAD, tmp, KS_AUDIT_PAYLOAD);
    }
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, NULL, &bad), KS_E_ROOT);
    assert_int_equal(bad, 3);
    /* malformed */
    recs[0] = 9;
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, NULL, &bad), KS_E_FORMAT);
    assert_int_equal(bad, 0);
}

static void test_chain_across_power_cut(void **state)
{
    (void)state;
    uint8_t head[32];
    size_t n;
    uint64_t seq, idx;
    ks_audit_rec r;
    ks_store_info info;

    (void)some_decisions();
    at_reboot(&F);
    (void)at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, NULL);
    n = at_all_audit(&F, recs, CAP);
    assert_int_equal(n, 7);
    ks_auth_audit_head(&F.a, head, &idx);
    assert_int_equal(idx, 7);
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, head, NULL), 0);

    /* everything uploaded and acknowledged: the next boot cannot read the
     * head back, so it starts a new chain naming the store sequence */
    ks_store_get_info(&F.st, &info);
    seq = info.audit_last;
    assert_int_equal(ks_store_audit_ack(&F.st, seq), 0);
    at_reboot(&F);
    at_last_audit(&F, &r);
    assert_int_equal(r.event, KS_EV_CHAIN_START);
    assert_int_equal(r.index, 1);
    assert_int_equal(r.detail, seq);
    (void)at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, NULL);
    n = at_all_audit(&F, recs, CAP);
    assert_int_equal(n, 2);
    ks_auth_audit_head(&F.a, head, &idx);
    assert_int_equal(idx, 2);
    assert_int_equal(ks_audit_verify(&F.c, recs, n, NULL, head, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        AT_TEST(test_chain_verifies, at_cm_setup_nolock, &F),
        AT_TEST(test_removal_detected, at_cm_setup_nolock, &F),
        AT_TEST(test_tail_cut_detected, at_cm_setup_nolock, &F),
        AT_TEST(test_alteration_detected, at_cm_setup_nolock, &F),
        AT_TEST(test_chain_across_power_cut, at_cm_setup_nolock, &F),
    };
    return cmocka_run_group_tests_name("auth_audit", tests, NULL, NULL);
}
