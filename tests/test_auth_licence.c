/*
 * test_auth_licence.c - the licence gate (docs/licences.md): the rollout
 * rule (nothing enforced by default), KSE-800 with its reason for each
 * enforced feature, the grace after expiry, an untrusted clock, and a
 * version 2 licence bound to a dongle that must have been presented within
 * its window (measured on the monotonic tick, lost at a power cut).
 */
#include "auth_util.h"

static at_fix F;

/* A fresh engine on the monotonic tick (a bound licence's window). */
static int setup(void **state)
{
    at_fix *f = *state;
    at_setup(f);
    f->use_mono = 1;
    f->mono = 1000;
    at_restart(f);
    return 0;
}

static int present(uint16_t act, uint32_t key, const char **what)
{
    ks_auth_result res;
    int err = at_present(&F, RA, act, key, 0, &res);
    if (what)
        *what = res.what;
    return err;
}

static void test_rollout(void **state)
{
    (void)state;
    const char *what;
    uint8_t lic[KS_LICENCE_SIZE];

    /* an existing fleet: no licence, nothing enforced, everything runs */
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_OK);
    assert_int_equal(present(KS_ACT_ACCESS, K_OP, NULL), KS_OK);
    /* calibration enforced: refused, naming why; the rest still runs */
    ks_auth_licence_policy(&F.a, KS_FEAT_CALIBRATION, 0);
    assert_int_equal(present(KS_ACT_CAL_C03, K_SUP1, &what), KS_E_LICENCE_INVALID);
    assert_string_equal(what, "licence.none");
    assert_string_equal(F.a.lic_refused_what, "licence.none");
    assert_int_equal(F.a.lic_refused_feature, KS_FEAT_CALIBRATION);
    assert_int_equal(F.a.lic_refused_at, AT_T0);
    assert_int_equal(present(KS_ACT_VOID, K_SUP1, NULL), KS_OK);
    /* a licence without the feature */
    at_licence(&F, 9000, CTRL, KS_FEAT_BASE | KS_FEAT_FIRMWARE, 0, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    assert_int_equal(present(KS_ACT_CAL_C03, K_SUP1, &what), KS_E_LICENCE_INVALID);
    assert_string_equal(what, "licence.feature");
    /* BASE enforced: every action but the two recovery ones needs it */
    at_licence(&F, 9000, CTRL, KS_FEAT_CALIBRATION, 0, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    assert_int_equal(present(KS_ACT_CAL_C03, K_SUP1, NULL), KS_OK);
    ks_auth_licence_policy(&F.a, KS_FEAT_BASE | KS_FEAT_CALIBRATION, 0);
    assert_int_equal(present(KS_ACT_CAL_C03, K_SUP1, &what), KS_E_LICENCE_INVALID);
    assert_string_equal(what, "licence.feature");
    assert_int_equal(present(KS_ACT_ACCESS, K_OP, NULL), KS_E_LICENCE_INVALID);
    assert_int_equal(present(KS_ACT_CLEAR_PENDING, K_SUP1, NULL), KS_OK);
    assert_int_equal(present(KS_ACT_UNLOCK, K_SUP1, NULL), KS_OK);
    /* the policy turned off again: back to the old behaviour */
    ks_auth_licence_policy(&F.a, 0, 0);
    assert_int_equal(present(KS_ACT_ACCESS, K_OP, NULL), KS_OK);
}

static void test_expiry_grace_clock(void **state)
{
    (void)state;
    const char *what;
    uint8_t lic[KS_LICENCE_SIZE];
    ks_diag d = {0, 0, NULL};

    ks_auth_licence_policy(&F.a, KS_FEAT_CALIBRATION, 50);
    at_licence(&F, 9000, CTRL, KS_FEAT_CALIBRATION, AT_T0 + 100, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    F.rtc = AT_T0 + 120; /* expired 20 s ago, inside the 50 s grace */
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_OK);
    /* a licence inside its grace is still accepted when (re)loaded */
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    F.rtc = AT_T0 + 150;
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, &what), KS_E_LICENCE_INVALID);
    assert_string_equal(what, "licence.expired");
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, &d), KS_E_LICENCE_INVALID);
    assert_string_equal(d.what, "licence.expired");

    /* an RTC that cannot be read: an expiring licence is not honoured and
     * the clock's own code says why; one without an end needs no clock */
    F.rtc = AT_T0 + 10;
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    F.rtc_fail = 1;
    assert_int_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, &what), KS_E_RTC_FAILURE);
    assert_string_equal(what, "licence.clock");
    F.rtc_fail = 0;
    at_licence(&F, 9000, CTRL, KS_FEAT_CALIBRATION, 0, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    F.rtc_fail = 1;
    assert_int_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, &what), KS_OK);
}

/* Field attack: the RTC set back while a licence's grace runs (a flat
 * battery, or someone who wants the feature back). The engine's trusted
 * time must not follow it back into the grace by more than the clock
 * tolerance (300 s): beyond it the clock is not believed (KSE-601), and
 * within it the highest time seen bounds the gain to the tolerance. */
static void tick(uint64_t s);
static void test_rtc_back_in_grace(void **state)
{
    (void)state;
    const char *what;
    uint8_t lic[KS_LICENCE_SIZE];

    ks_auth_licence_policy(&F.a, KS_FEAT_CALIBRATION, 1000);
    at_licence(&F, 9000, CTRL, KS_FEAT_CALIBRATION, AT_T0 + 100, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    tick(600); /* expired 500 s ago, inside the 1,000 s grace */
    assert_int_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, NULL), KS_OK);
    tick(600); /* 100 s past the grace */
    assert_int_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, &what), KS_E_LICENSE_INVALID);
    /* Within the tolerance (200 s back, to 99 s before the grace's end) the
     * clock is believed: the known bound, at most clock_tolerance once,
     * since set-backs add up against the highest time seen. */
    F.rtc -= 200;
    tick(1);
    assert_int_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, NULL), KS_OK);
    tick(100);
    assert_int_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, NULL), KS_E_LICENSE_INVALID);
    /* the RTC set back 400 s more, into the grace: beyond the tolerance
     * from the highest time seen, not believed */
    F.rtc -= 400;
    tick(1);
    assert_int_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, &what), KS_E_RTC_FAILURE);
    assert_int_not_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_OK);
    /* nor by a reload (a restart reading the licence file again) */
    assert_int_not_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), KS_OK);
    assert_int_not_equal(ks_auth_licence_gate(&F.a, KS_FEAT_CALIBRATION, NULL), KS_OK);
}

static void test_v2_format(void **state)
{
    (void)state;
    uint8_t lic[KS_LICENCE_SIZE_V2], one[KS_LICENCE_SIZE];
    ks_licence l;
    ks_diag d = {0, 0, NULL};

    at_licence2(&F, 9000, CTRL, KS_FEAT_CALIBRATION, AT_T0 + 1000, 77, K_OP, 30, lic);
    assert_int_equal(lic[4], 2);
    assert_int_equal(ks_licence_decode(&l, lic, sizeof lic, NULL), 0);
    assert_int_equal(l.version, 2);
    assert_int_equal(l.serial, 77);
    assert_int_equal(l.bound_window, 30);
    assert_true(ks_licence_bound(&l));
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    /* every signed byte, and the signature, is covered */
    for (size_t i = 0; i < sizeof lic; i++) {
        if (i == 4 || (i >= 5 && i < 8) || (i >= 76 && i < 80))
            continue; /* structure: refused before the signature (below) */
        lic[i] ^= 0x01;
        assert_int_not_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
        lic[i] ^= 0x01;
    }
    lic[77] = 1;
    assert_int_equal(ks_licence_decode(&l, lic, sizeof lic, &d), KS_E_FORMAT);
    assert_string_equal(d.what, "licence.reserved");
    lic[77] = 0;
    /* a version 2 header on 128 bytes, a version 1 one on 160 */
    assert_int_equal(ks_licence_decode(&l, lic, KS_LICENCE_SIZE, &d), KS_E_FORMAT);
    at_licence(&F, 9000, CTRL, KS_FEAT_CALIBRATION, 0, one);
    memcpy(lic, one, sizeof one);
    assert_int_equal(ks_licence_decode(&l, lic, sizeof lic, &d), KS_E_FORMAT);
    /* version 1 keeps reading: unbound, no serial */
    assert_int_equal(ks_licence_decode(&l, one, sizeof one, NULL), 0);
    assert_int_equal(l.version, 1);
    assert_false(ks_licence_bound(&l));
    /* a key without a window (or a window without a key) is not made */
    memset(&l, 0, sizeof l);
    memcpy(l.controller_id, CTRL, 16);
    l.bound_key[0] = 1;
    {
        uint8_t pk[32], sk[64];
        kt_keypair(9000, pk, sk);
        assert_int_equal(ks_licence_make_v2(&F.c, &l, sk, lic), KS_E_INVAL);
        l.bound_key[0] = 0;
        l.bound_window = 5;
        assert_int_equal(ks_licence_make_v2(&F.c, &l, sk, lic), KS_E_INVAL);
        l.bound_window = 0;
        assert_int_equal(ks_licence_make_v2(&F.c, &l, sk, lic), 0);
        assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    }
}

/* Time passes: the RTC and the monotonic tick together (a tick that moves
 * alone is an RTC that stopped, KSE-601). */
static void tick(uint64_t s)
{
    F.mono += s;
    F.rtc += s;
}

static void test_dongle(void **state)
{
    (void)state;
    const char *what;
    uint8_t lic[KS_LICENCE_SIZE_V2];

    /* the imaging unit: calibration licensed while dongle K_OP is present */
    ks_auth_licence_policy(&F.a, KS_FEAT_CALIBRATION, 0);
    at_licence2(&F, 9000, CTRL, KS_FEAT_CALIBRATION, 0, 5, K_OP, 60, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, &what), KS_E_LICENCE_INVALID);
    assert_string_equal(what, "licence.dongle");
    /* another key's presentation does not count */
    assert_int_equal(present(KS_ACT_ACCESS, K_SUP2, NULL), KS_OK);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, &what), KS_E_LICENCE_INVALID);
    /* the dongle answers (here for an action it may not do: still present) */
    assert_int_equal(present(KS_ACT_VOID, K_OP, NULL), KS_E_NOT_SUPERVISOR);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_OK);
    tick(60);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_OK);
    tick(1);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, &what), KS_E_LICENCE_INVALID);
    assert_string_equal(what, "licence.dongle");
    assert_int_equal(present(KS_ACT_ACCESS, K_OP, NULL), KS_OK);
    tick(30);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_OK);
    /* a forged answer by the "dongle" is no presence */
    tick(100);
    {
        uint8_t ch[32], resp[KS_RESPONSE_SIZE];
        assert_int_equal(ks_auth_challenge(&F.a, RA, KS_ACT_ACCESS, ch), 0);
        at_answer(&F, K_OP, ch, F.counter[K_OP]++, resp);
        resp[100] ^= 1;
        assert_int_equal(ks_auth_respond(&F.a, RA, resp, sizeof resp, 0, NULL),
                         KS_E_SIGNATURE_INVALID);
    }
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, &what), KS_E_LICENCE_INVALID);
    /* presence is RAM only: after a power cut the dongle is presented again */
    assert_int_equal(present(KS_ACT_ACCESS, K_OP, NULL), KS_OK);
    at_reboot(&F);
    ks_auth_licence_policy(&F.a, KS_FEAT_CALIBRATION, 0);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, &what), KS_E_LICENCE_INVALID);
    assert_string_equal(what, "licence.dongle");
    /* a new licence bound to another dongle does not inherit the presence */
    assert_int_equal(present(KS_ACT_ACCESS, K_OP, NULL), KS_OK);
    at_licence2(&F, 9000, CTRL, KS_FEAT_CALIBRATION, 0, 6, K_SUP2, 60, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_E_LICENCE_INVALID);
    assert_int_equal(present(KS_ACT_ACCESS, K_SUP2, NULL), KS_OK);
    assert_int_equal(present(KS_ACT_CAL_C01, K_SUP1, NULL), KS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        AT_TEST(test_rollout, setup, &F),
        AT_TEST(test_expiry_grace_clock, setup, &F),
        AT_TEST(test_rtc_back_in_grace, setup, &F),
        AT_TEST(test_v2_format, setup, &F),
        AT_TEST(test_dongle, setup, &F),
    };
    return cmocka_run_group_tests_name("auth_licence", tests, NULL, NULL);
}
