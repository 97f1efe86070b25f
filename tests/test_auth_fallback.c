/*
 * test_auth_fallback.c - the auth engine consults the store's fallback
 * policy (issue 17 row 1). v1 holds every test key; v2 (a delta that folds
 * into the other area) revokes K_OP and removes VOID from K_SUP2. With v2's
 * area damaged the store answers from v1: K_OP and K_SUP2 are refused with
 * KSE-303 (not granted from their v1 records), K_SUP1 (unchanged) is
 * granted; a full install of v2 restores normal decisions.
 */
#include "auth_util.h"

static at_fix F;
static uint8_t snap2[KS_SNAP_HEADER_SIZE + 16 * KS_RECORD_SIZE];
static uint8_t dl[KS_DELTA_PREFIX + 32 * KS_RECORD_SIZE];

static void change(uint8_t *recs, uint32_t n, uint32_t key, int revoke, uint64_t drop)
{
    uint8_t id[16];
    at_key_id(&F, key, id);
    for (uint32_t i = 0; i < n; i++) {
        ks_record r;
        if (memcmp(recs + (size_t)i * KS_RECORD_SIZE, id, 16) != 0)
            continue;
        assert_int_equal(ks_record_decode(&r, recs + (size_t)i * KS_RECORD_SIZE, NULL), 0);
        if (revoke)
            r.state = KS_STATE_REVOKED;
        r.privileges &= ~drop;
        ks_record_encode(&r, recs + (size_t)i * KS_RECORD_SIZE);
        return;
    }
    fail_msg("key %u not in the snapshot", key);
}

static void test_fallback_decisions(void **state)
{
    (void)state;
    ks_auth_result res;
    ks_snap_header h1, h2;
    ks_recsrc a, b;
    size_t len;

    at_setup(&F);
    /* v2: K_OP revoked, K_SUP2 loses VOID */
    memcpy(snap2, F.snap, sizeof snap2);
    change(snap2 + KS_SNAP_HEADER_SIZE, F.nrec, K_OP, 1, 0);
    change(snap2 + KS_SNAP_HEADER_SIZE, F.nrec, K_SUP2, 0, KS_PRIV_VOID);
    memset(&h2, 0, sizeof h2);
    h2.version = 2;
    h2.created_at = AT_T0 - 50;
    assert_int_equal(ks_snapshot_write(&F.c, &h2, snap2 + KS_SNAP_HEADER_SIZE, F.nrec, F.ssk,
                                       snap2, KS_SNAP_HEADER_SIZE + (size_t)F.nrec * KS_RECORD_SIZE),
                     0);
    assert_int_equal(ks_snap_header_decode(&h1, F.snap, NULL), 0);
    ks_recsrc_mem(&a, F.snap + KS_SNAP_HEADER_SIZE, F.nrec);
    ks_recsrc_mem(&b, snap2 + KS_SNAP_HEADER_SIZE, F.nrec);
    assert_int_equal(ks_delta_write(&a, &h1, &b, snap2, dl, sizeof dl, &len), 0);
    assert_int_equal(ks_store_apply_delta(&F.st, dl, len, AT_T0, NULL, NULL), 0);
    assert_int_equal(F.st.cur.area, 1);
    assert_int_equal(at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, &res), KS_E_KEY_REVOKED);

    /* a stray write into v2's area; reboot: the store falls back to v1 */
    F.emu.mem[F.st.area_first[1] * AT_SECTOR + 50] ^= 0x40;
    at_reboot(&F);
    assert_true(F.st.flags & KS_STORE_F_FELL_BACK);
    assert_int_equal(ks_store_header(&F.st)->version, 1);
    assert_int_equal(at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, &res), KS_E_STALE_DENIED);
    assert_string_equal(res.what, "auth.fallback");
    assert_int_equal(at_present(&F, RB, KS_ACT_VOID, K_SUP2, 0, &res), KS_E_STALE_DENIED);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, &res), KS_OK);
    /* a key revoked in both versions is still refused as revoked */
    assert_int_equal(at_present(&F, RB, KS_ACT_VOID, K_REVOKED, 0, &res), KS_E_KEY_REVOKED);

    /* the repair: v2 downloaded in full; decisions on v2's records again */
    ks_recsrc_mem(&b, snap2 + KS_SNAP_HEADER_SIZE, F.nrec);
    assert_int_equal(ks_store_install(&F.st, snap2, &b, AT_T0, NULL), 0);
    assert_int_equal(at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, &res), KS_E_KEY_REVOKED);
    assert_int_equal(at_present(&F, RB, KS_ACT_VOID, K_SUP2, 0, &res), KS_E_NOT_SUPERVISOR);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, &res), KS_OK);
    at_teardown(&F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
