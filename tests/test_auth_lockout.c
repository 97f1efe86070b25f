/*
 * test_auth_lockout.c - failures per reader and per key, the growing
 * back-off, success clearing the count, administrator-only unlock (and its
 * audit record), lockout surviving a power cut, and a full table.
 */
#include "auth_util.h"

static at_fix F;

static void fail_unknown(const uint8_t reader[16], int want)
{
    assert_int_equal(at_present(&F, reader, KS_ACT_VOID, K_UNKNOWN, 0, NULL), want);
}

static void test_reader_lockout_backoff(void **state)
{
    (void)state;
    uint8_t ch[32];
    uint64_t until;
    uint32_t fails;
    ks_audit_rec ar;
    ks_auth_result res;

    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_READER, RA, &until, &fails), 0);
    assert_int_equal(fails, 2);
    assert_int_equal(until, 0);
    fail_unknown(RA, KS_E_KEY_UNKNOWN); /* third: locks */
    at_last_audit(&F, &ar);
    assert_int_equal(ar.event, KS_EV_DECISION);
    assert_int_equal(ar.err, KS_E_KEY_UNKNOWN);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_READER, RA, &until, NULL), 0);
    assert_int_equal(until, AT_T0 + 600);

    /* locked: no challenge, and even a good supervisor key is refused */
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), KS_E_LOCKOUT);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.err, KS_E_LOCKOUT);
    /* another reader is not affected */
    assert_int_equal(at_present(&F, RB, KS_ACT_VOID, K_SUP1, 0, &res), 0);

    /* after the lock: one more failure window, then a doubled lock */
    F.rtc = AT_T0 + 600;
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_READER, RA, &until, NULL), 0);
    assert_int_equal(until, AT_T0 + 600 + 1200);
    F.rtc = AT_T0 + 600 + 1199;
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), KS_E_LOCKOUT);
    F.rtc = AT_T0 + 600 + 1200;
    /* a success clears the reader's record and the back-off */
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, &res), 0);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_READER, RA, NULL, NULL),
                     KS_E_NOTFOUND);
}

static void test_window_and_success(void **state)
{
    (void)state;
    uint32_t fails;
    /* failures outside the 15-minute window do not add up */
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    F.rtc += 901;
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_READER, RA, NULL, &fails), 0);
    assert_int_equal(fails, 1);
    /* a success in between clears the count, as pam_faillock does */
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    assert_int_equal(at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, NULL), 0);
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    fail_unknown(RA, KS_E_KEY_UNKNOWN);
    assert_int_equal(at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, NULL), 0);
    /* refusals that are administrative states do not count */
    for (int i = 0; i < 4; i++)
        assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_EXPIRED, 0, NULL), KS_E_KEY_EXPIRED);
    F.seal = 1;
    for (int i = 0; i < 4; i++)
        assert_int_equal(at_present(&F, RA, KS_ACT_CAL_C01, K_SUP1, 0, NULL),
                         KS_E_SEAL_ENGAGED);
    assert_int_equal(at_present(&F, RA, KS_ACT_ACCESS, K_OP, 0, NULL), 0);
}

static void test_key_lockout(void **state)
{
    (void)state;
    uint8_t ch[32], resp[KS_RESPONSE_SIZE], id[16], r[16];
    ks_auth_result res;
    uint64_t until;

    /* the stolen-but-stripped key tries three readers: the key locks */
    memcpy(r, "reader-X-------", 16);
    for (int i = 0; i < 3; i++) {
        r[7] = (uint8_t)('0' + i);
        assert_int_equal(at_present(&F, r, KS_ACT_VOID, K_STRIPPED, 0, NULL),
                         KS_E_NOT_SUPERVISOR);
    }
    at_key_id(&F, K_STRIPPED, id);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_KEY, id, &until, NULL), 0);
    assert_int_equal(until, AT_T0 + 600);
    /* at a fourth reader, even for an action it may do */
    assert_int_equal(at_present(&F, RB, KS_ACT_ACCESS, K_STRIPPED, 0, &res), KS_E_LOCKOUT);
    assert_string_equal(res.what, "auth.lockout_key");
    /* lockout comes before the lookup and the signature: a garbage
     * signature under a locked key id is refused as locked */
    assert_int_equal(ks_auth_challenge(&F.a, RB, KS_ACT_ACCESS, ch), 0);
    at_answer(&F, K_STRIPPED, ch, 99, resp);
    resp[70] ^= 0xFF;
    assert_int_equal(ks_auth_respond(&F.a, RB, resp, sizeof resp, 0, &res), KS_E_LOCKOUT);
    /* bad signatures count too */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
        at_answer(&F, K_SUP2, ch, 1000 + (uint64_t)i, resp);
        resp[100] ^= 1;
        assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, NULL),
                         KS_E_SIGNATURE_INVALID);
    }
    at_key_id(&F, K_SUP2, id);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_KEY, id, &until, NULL), 0);
    assert_true(until > AT_T0);
}

static void test_power_cut_and_admin_unlock(void **state)
{
    (void)state;
    uint8_t ch[32], admin[16];
    uint64_t until;
    ks_audit_rec ar;

    /* unlock_time 0: administrator only */
    at_teardown(&F);
    at_setup(&F);
    F.acfg.unlock_time = 0;
    assert_int_equal(ks_auth_init(&F.a, &F.acfg), 0);
    for (int i = 0; i < 3; i++)
        fail_unknown(RA, KS_E_KEY_UNKNOWN);
    at_last_audit(&F, &ar);
    assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_READER, RA, &until, NULL), 0);
    assert_true(until == UINT64_MAX);

    /* power cut: the lockout is on flash */
    at_reboot(&F);
    F.acfg.unlock_time = 0;
    assert_int_equal(ks_auth_init(&F.a, &F.acfg), 0);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), KS_E_LOCKOUT);
    F.rtc += 30 * 86400;
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), KS_E_LOCKOUT);

    /* a power cut in the middle of recording a failure: the lock that was
     * recorded holds, whatever the cut left */
    at_key_id(&F, K_SUP1, admin);
    assert_int_equal(ks_auth_admin_unlock(&F.a, KS_COUNTER_READER, RB, admin), KS_E_NOTFOUND);
    assert_int_equal(ks_auth_admin_unlock(&F.a, KS_COUNTER_READER, RA, admin), 0);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.event, KS_EV_UNLOCK);
    assert_int_equal(ar.action, KS_ACT_UNLOCK);
    assert_memory_equal(ar.key_id, admin, 16);
    assert_memory_equal(ar.reader, RA, 16);
    assert_true(ar.detail == UINT64_MAX);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
    /* and the unlock survives a power cut as well */
    at_reboot(&F);
    assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), 0);
}

static void test_power_cut_sweep(void **state)
{
    (void)state;
    uint8_t ch[32];
    /* Cut power at every write of the third failure: afterwards the reader
     * is either locked (the write landed) or has 2 failures recorded and
     * locks at the next one; never fewer. */
    for (long k = 0; k < 12; k++) {
        uint32_t fails = 0;
        uint64_t until = 0;
        at_teardown(&F);
        at_setup(&F);
        fail_unknown(RA, KS_E_KEY_UNKNOWN);
        fail_unknown(RA, KS_E_KEY_UNKNOWN);
        ks_flash_emu_cut(&F.emu, k, KS_EMU_TORN, (uint64_t)k + 1);
        (void)at_present(&F, RA, KS_ACT_VOID, K_UNKNOWN, 0, NULL);
        ks_flash_emu_power_on(&F.emu);
        at_reboot(&F);
        assert_int_equal(ks_auth_lock_status(&F.a, KS_COUNTER_READER, RA, &until, &fails), 0);
        if (until == 0) {
            assert_int_equal(fails, 2);
            fail_unknown(RA, KS_E_KEY_UNKNOWN);
        }
        assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_VOID, ch), KS_E_LOCKOUT);
    }
}

static void test_table_full(void **state)
{
    (void)state;
    uint8_t r[16], ch[32];
    ks_auth_result res;
    uint32_t live = 0;
    ks_store_info info;

    /* quiet key rows are evicted as needed: many readers succeeding */
    memcpy(r, "reader-Q-------", 16);
    for (int i = 0; i < 40; i++) {
        r[8] = (uint8_t)i;
        assert_int_equal(at_present(&F, r, KS_ACT_ACCESS, K_OP, 0, NULL), 0);
    }
    /* lock out readers until the table holds nothing quiet */
    memcpy(r, "reader-L-------", 16);
    for (int i = 0; i < 64; i++) {
        r[8] = (uint8_t)i;
        if (ks_auth_challenge(&F.a, r, KS_ACT_VOID, ch) == KS_E_LOCKOUT)
            break;
        for (int j = 0; j < 3; j++)
            (void)at_present(&F, r, KS_ACT_VOID, K_UNKNOWN, 0, NULL);
        live++;
    }
    ks_store_get_info(&F.st, &info);
    assert_int_equal(info.counter_count, info.counter_cap);
    /* a fresh reader now fails closed */
    memcpy(r, "reader-NEW-----", 16);
    assert_int_equal(ks_auth_challenge(&F.a, r, KS_ACT_VOID, ch), KS_E_LOCKOUT);
    assert_true(live >= AT_COUNTERS - 4);
    /* once the locks expire, rows are reusable */
    F.rtc += 601;
    assert_int_equal(at_present(&F, r, KS_ACT_VOID, K_SUP1, 0, &res), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        AT_TEST(test_reader_lockout_backoff, at_cm_setup, &F),
        AT_TEST(test_window_and_success, at_cm_setup, &F),
        AT_TEST(test_key_lockout, at_cm_setup, &F),
        AT_TEST(test_power_cut_and_admin_unlock, at_cm_setup, &F),
        AT_TEST(test_power_cut_sweep, at_cm_setup, &F),
        AT_TEST(test_table_full, at_cm_setup, &F),
    };
    return cmocka_run_group_tests_name("auth_lockout", tests, NULL, NULL);
}
