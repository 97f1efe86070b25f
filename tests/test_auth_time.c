/*
 * test_auth_time.c - trusted time (tokens, drift, skew, RTC failures) and
 * the feature licence, each refusal with its exact code.
 */
#include "auth_util.h"

static at_fix F;

static int apply(uint32_t signer, const uint8_t ctrl[16], uint64_t t, const uint8_t *nonce)
{
    uint8_t tok[KS_TIME_TOKEN_SIZE];
    at_token(&F, signer, ctrl, t, nonce, tok);
    return ks_auth_time_apply(&F.a, tok, sizeof tok, NULL);
}

static void test_token_corrects(void **state)
{
    (void)state;
    uint64_t now;
    ks_time_status ts;
    ks_audit_rec ar;

    /* the RTC is 1000 s slow: a token re-anchors it */
    F.rtc = AT_T0 - 1000;
    assert_int_equal(apply(9000, CTRL, AT_T0, NULL), 0);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.event, KS_EV_TIME);
    assert_int_equal(ar.err, KS_E_CLOCK_SKEW); /* it corrected more than the tolerance */
    F.rtc += 10;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    assert_int_equal(now, AT_T0 + 10);
    ks_auth_time_status(&F.a, &ts);
    assert_true(ts.flags & KS_CLOCK_ANCHORED);
    assert_int_equal(ts.offset, 1000);
    assert_int_equal(ts.last_error, 1000);
    /* validity is judged on trusted time, not the raw RTC: K_EDGE ends at
     * T0 - 30 (+60 s skew); the raw RTC says T0 - 950 throughout */
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_EDGE, 0, NULL), KS_OK);
    F.rtc += 40;
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_EDGE, 0, NULL), KS_E_KEY_EXPIRED);
    /* the anchor survives a power cut */
    at_reboot(&F);
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    assert_int_equal(now, AT_T0 + 50);
    /* a token within tolerance is audited as no skew */
    F.rtc += 100;
    assert_int_equal(apply(9000, CTRL, AT_T0 + 160, NULL), 0);
    at_last_audit(&F, &ar);
    assert_int_equal(ar.err, 0);
}

static void test_token_refusals(void **state)
{
    (void)state;
    uint8_t tok[KS_TIME_TOKEN_SIZE], nonce[16], other[16];
    ks_diag d = {0, 0, NULL};

    assert_int_equal(apply(9000, (const uint8_t *)"controller-0002", AT_T0, NULL), KS_E_INVAL);
    assert_int_equal(apply(4242, CTRL, AT_T0, NULL), KS_E_SUPERVISOR_UNTRUSTED);
    at_token(&F, 9000, CTRL, AT_T0, NULL, tok);
    tok[90] ^= 1;
    assert_int_equal(ks_auth_time_apply(&F.a, tok, sizeof tok, &d), KS_E_SIGNATURE);
    assert_string_equal(d.what, "time_token.signature");
    tok[90] ^= 1;
    tok[24] ^= 1; /* the time is signed */
    assert_int_equal(ks_auth_time_apply(&F.a, tok, sizeof tok, NULL), KS_E_SIGNATURE);
    assert_int_equal(ks_auth_time_apply(&F.a, tok, 127, NULL), KS_E_FORMAT);
    tok[0] = 'X';
    assert_int_equal(ks_auth_time_apply(&F.a, tok, sizeof tok, NULL), KS_E_FORMAT);

    assert_int_equal(apply(9000, CTRL, AT_T0 + 10, NULL), 0);
    /* a replay, or an older token */
    assert_int_equal(apply(9000, CTRL, AT_T0 + 10, NULL), KS_E_ROLLBACK);
    assert_int_equal(apply(9000, CTRL, AT_T0 + 5, NULL), KS_E_ROLLBACK);
    /* bound to a request: only the outstanding nonce */
    assert_int_equal(ks_auth_time_request(&F.a, nonce), 0);
    memcpy(other, nonce, 16);
    other[0] ^= 1;
    assert_int_equal(apply(9000, CTRL, AT_T0 + 20, other), KS_E_ROLLBACK);
    assert_int_equal(apply(9000, CTRL, AT_T0 + 20, nonce), 0);
    /* the nonce is spent */
    assert_int_equal(apply(9000, CTRL, AT_T0 + 30, nonce), KS_E_ROLLBACK);
}

static void test_rtc_failures(void **state)
{
    (void)state;
    uint64_t now;
    ks_auth_result res;
    F.deny = 1000;
    at_restart(&F);

    /* reset to its epoch */
    F.rtc = 5;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_RTC_FAILURE);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, &res), KS_E_RTC_FAILURE);
    assert_string_equal(res.what, "auth.clock");
    /* the key's own checks come first: an unknown key is still unknown */
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_UNKNOWN, 0, NULL), KS_E_KEY_UNKNOWN);
    /* it latches: the RTC coming back does not restore trust */
    F.rtc = AT_T0 + 10;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_RTC_FAILURE);
    /* a token does */
    assert_int_equal(apply(9000, CTRL, AT_T0 + 10, NULL), 0);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, NULL), 0);

    /* jumped back below the anchor */
    F.rtc = AT_T0;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_RTC_FAILURE);
    F.rtc = 100; /* reset to epoch after a token: a token re-anchors even this */
    assert_int_equal(apply(9000, CTRL, AT_T0 + 100, NULL), 0);
    F.rtc = 160;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    assert_int_equal(now, AT_T0 + 160);

    /* unreadable */
    F.rtc_fail = 1;
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, NULL), KS_E_RTC_FAILURE);
    F.rtc_fail = 0;
    assert_int_equal(apply(9000, CTRL, AT_T0 + 200, NULL), 0);
    F.rtc = 260;
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, NULL), 0);
}

static void test_rtc_back_without_token(void **state)
{
    (void)state;
    uint64_t now;
    /* no token ever: trusted time is the RTC, which may not go back past
     * the highest time seen (persisted) by more than the tolerance */
    F.rtc = AT_T0 + 4000;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    at_reboot(&F);
    F.rtc = AT_T0 + 4000 - 301;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_RTC_FAILURE);
}

static void test_rtc_stopped(void **state)
{
    (void)state;
    uint64_t now;
    F.use_mono = 1;
    at_restart(&F);
    F.mono = 100;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    F.mono += 5;
    F.rtc += 5;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    /* ticks advance, the RTC does not */
    F.mono += 20;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_RTC_FAILURE);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, NULL), KS_E_RTC_FAILURE);
    assert_int_equal(apply(9000, CTRL, AT_T0 + 30, NULL), 0);
    F.mono += 1;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    /* running far too fast against the tick: skew */
    F.mono += 20;
    F.rtc += 20 + 400;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_CLOCK_SKEW);
}

/* Issue 17 row 8: a forward jump right after start is untrusted at the very
 * next reading, not after a window of ticks: no grant of a key whose
 * validity has not begun, no KSE-204 for a valid one, KSE-600 instead. */
static void test_jump_after_boot(void **state)
{
    (void)state;
    uint64_t now;
    ks_auth_result res;
    F.use_mono = 1;
    at_restart(&F);
    F.mono = 100;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, NULL), 0);
    /* one second of ticks later the RTC says tomorrow */
    F.mono += 1;
    F.rtc += 1 + 86400;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_CLOCK_SKEW);
    memset(&res, 0, sizeof res);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, &res), KS_E_CLOCK_SKEW);
    assert_string_equal(res.what, "auth.clock");
    /* and it stays untrusted (latched) until a signed token */
    F.mono += 30;
    F.rtc += 30;
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_CLOCK_SKEW);
    assert_int_equal(apply(9000, CTRL, AT_T0 + 40, NULL), 0);
    F.mono += 1;
    F.rtc += 1;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    assert_int_equal(now, AT_T0 + 41);

    /* a backward jump of more than the tolerance, also at once */
    F.mono += 1;
    F.rtc -= 1000;
    assert_int_not_equal(ks_auth_now(&F.a, &now), 0);
}

/* Within the tolerance a step is not a jump: one second of noise and a
 * few seconds of correction right after boot stay trusted. */
static void test_small_step_after_boot(void **state)
{
    (void)state;
    uint64_t now;
    F.use_mono = 1;
    at_restart(&F);
    F.mono = 100;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    F.mono += 1;
    F.rtc += 1 + 120;
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
}

static void test_skew(void **state)
{
    (void)state;
    uint64_t now;
    ks_time_status ts;
    ks_auth_result res;
    F.deny = 1000;
    at_restart(&F);

    /* an unsigned reference within tolerance changes nothing */
    assert_int_equal(ks_auth_time_hint(&F.a, AT_T0 + 200), 0);
    /* beyond it: KSE-600 until a signed token */
    assert_int_equal(ks_auth_time_hint(&F.a, AT_T0 + 1000), KS_E_CLOCK_SKEW);
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_CLOCK_SKEW);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, &res), KS_E_CLOCK_SKEW);
    assert_string_equal(res.what, "auth.clock");
    assert_int_equal(apply(9000, CTRL, AT_T0 + 1000, NULL), 0);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, NULL), 0);

    /* drift: the RTC gains 36 s an hour (10000 ppm); after enough time
     * without a token the uncertainty passes the tolerance */
    F.rtc = AT_T0 + 1000 + 3600 + 36 - 1000; /* raw; anchor raw was AT_T0 */
    F.rtc = AT_T0 + 3636;
    assert_int_equal(apply(9000, CTRL, AT_T0 + 1000 + 3600, NULL), 0);
    ks_auth_time_status(&F.a, &ts);
    assert_true(ts.flags & KS_CLOCK_DRIFT);
    assert_int_equal(ts.drift_ppm, 10000);
    F.rtc += 20000; /* 200 s of expected error: fine */
    assert_int_equal(ks_auth_now(&F.a, &now), 0);
    ks_auth_time_status(&F.a, &ts);
    assert_int_equal(ts.uncertainty, 200);
    F.rtc += 11000; /* 310 s: beyond the 300 s tolerance */
    assert_int_equal(ks_auth_now(&F.a, &now), KS_E_CLOCK_SKEW);
    assert_int_equal(at_present(&F, RA, KS_ACT_VOID, K_SUP1, 0, NULL), KS_E_CLOCK_SKEW);
}

static void test_licence(void **state)
{
    (void)state;
    uint8_t lic[KS_LICENCE_SIZE];
    ks_diag d = {0, 0, NULL};
    ks_auth_result res;
    F.deny = 1000;
    at_restart(&F);

    /* not enforced (the default, the rollout rule): granted without one */
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP1, 0, NULL), KS_AUTH_SECOND);
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP2, 0, NULL), KS_OK);
    /* enforced: firmware update needs the FIRMWARE feature; no licence */
    ks_auth_licence_policy(&F.a, KS_FEAT_FIRMWARE, 0);
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP1, 0, NULL), KS_AUTH_SECOND);
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP2, 0, &res),
                     KS_E_LICENCE_INVALID);
    assert_string_equal(res.what, "licence.none");
    assert_int_equal(ks_auth_set_licence(&F.a, NULL, 0, &d), KS_E_LICENCE_INVALID);
    assert_string_equal(d.what, "licence.missing");

    /* bound to another controller */
    at_licence(&F, 9000, (const uint8_t *)"controller-0002", KS_FEAT_FIRMWARE, 0, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, &d), KS_E_LICENCE_INVALID);
    assert_string_equal(d.what, "licence.controller");
    /* signed by someone the controller does not trust */
    at_licence(&F, 4242, CTRL, KS_FEAT_FIRMWARE, 0, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, &d), KS_E_LICENCE_INVALID);
    assert_string_equal(d.what, "licence.signer");
    /* altered */
    at_licence(&F, 9000, CTRL, KS_FEAT_FIRMWARE, 0, lic);
    lic[24] |= 0x80;
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, &d), KS_E_LICENCE_INVALID);
    assert_string_equal(d.what, "licence.signature");
    /* malformed */
    assert_int_equal(ks_auth_set_licence(&F.a, lic, 100, &d), KS_E_LICENCE_INVALID);
    /* expired */
    at_licence(&F, 9000, CTRL, KS_FEAT_FIRMWARE, AT_T0 - 1, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, &d), KS_E_LICENCE_INVALID);
    assert_string_equal(d.what, "licence.expired");
    /* without the feature */
    at_licence(&F, 9000, CTRL, KS_FEAT_BASE, 0, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    assert_int_equal(ks_auth_licence_check(&F.a, KS_FEAT_FIRMWARE), KS_E_LICENCE_INVALID);
    assert_int_equal(ks_auth_licence_check(&F.a, KS_FEAT_BASE), 0);

    /* good until it expires */
    at_licence(&F, 9000, CTRL, KS_FEAT_BASE | KS_FEAT_FIRMWARE, AT_T0 + 3600, lic);
    assert_int_equal(ks_auth_set_licence(&F.a, lic, sizeof lic, NULL), 0);
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP1, 0, NULL), KS_AUTH_SECOND);
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP2, 0, NULL), 0);
    F.rtc = AT_T0 + 3600;
    assert_int_equal(ks_auth_licence_check(&F.a, KS_FEAT_FIRMWARE), KS_E_LICENCE_INVALID);
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP1, 0, NULL), KS_AUTH_SECOND);
    assert_int_equal(at_present(&F, RA, KS_ACT_FIRMWARE, K_SUP2, 0, NULL),
                     KS_E_LICENCE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        AT_TEST(test_token_corrects, at_cm_setup, &F),
        AT_TEST(test_token_refusals, at_cm_setup, &F),
        AT_TEST(test_rtc_failures, at_cm_setup, &F),
        AT_TEST(test_rtc_back_without_token, at_cm_setup, &F),
        AT_TEST(test_rtc_stopped, at_cm_setup, &F),
        AT_TEST(test_jump_after_boot, at_cm_setup, &F),
        AT_TEST(test_small_step_after_boot, at_cm_setup, &F),
        AT_TEST(test_skew, at_cm_setup, &F),
        AT_TEST(test_licence, at_cm_setup, &F),
    };
    return cmocka_run_group_tests_name("auth_time", tests, NULL, NULL);
}
