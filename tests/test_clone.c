/*
 * test_clone.c - the clone rule across controllers (sup_clone.h, KSE-214)
 * as pure functions: which pairs of uses contradict a genuine key's growing
 * counter, which uploaded audit records count as uses, and the policy words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <keysup/ks_auth.h>
#include "sup_clone.h"

#define T0 1800000000LL
#define KEY "00112233445566778899aabbccddeeff"
#define TRUSTED (KS_CLOCK_ANCHORED | KS_CLOCK_DRIFT)

static sup_key_use use(int64_t ctrl, int64_t counter, int64_t time)
{
    sup_key_use u = {ctrl, counter, time, 1};
    return u;
}

static void test_margin_is_twice_the_tolerance(void **state)
{
    (void)state;
    assert_int_equal(sup_clone_margin(300), 600);
    assert_int_equal(sup_clone_margin(1), 2);
}

static void test_counter_back_across_controllers(void **state)
{
    (void)state;
    sup_key_use a = use(1, 100, T0), b = use(2, 50, T0 + 601);
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 1);
    /* the order the supervisor learnt them in does not matter */
    assert_int_equal(sup_clone_contradicts(&b, &a, 600), 1);
    /* counter at B equal to A's: one counter signed twice, whatever the times */
    b = use(2, 100, T0 + 1);
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 1);
    b.trusted = 0;
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 1);
}

static void test_within_the_clock_margin_no_order(void **state)
{
    (void)state;
    sup_key_use a = use(1, 100, T0), b = use(2, 50, T0 + 600);
    /* exactly the margin: the clocks could have it the other way round */
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
    b.time = T0 - 600;
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
    b.time = T0 + 601;
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 1);
}

static void test_counter_order_agrees(void **state)
{
    (void)state;
    /* the genuine key: A then B, counter growing, however far apart */
    sup_key_use a = use(1, 100, T0), b = use(2, 150, T0 + 86400);
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
    assert_int_equal(sup_clone_contradicts(&b, &a, 600), 0);
    /* an offline controller that uploads a day late, in counter order:
     * decision times, not arrival, decide */
    b = use(2, 99, T0 - 3600);
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
}

static void test_same_controller_is_not_ours(void **state)
{
    (void)state;
    /* one controller refuses a counter going back itself (KSE-206) */
    sup_key_use a = use(1, 100, T0), b = use(1, 50, T0 + 9999);
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
    b.counter = 100;
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
}

static void test_untrusted_time_is_never_ordered(void **state)
{
    (void)state;
    sup_key_use a = use(1, 100, T0), b = use(2, 50, T0 + 86400);
    a.trusted = 0;
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
    a.trusted = 1;
    b.trusted = 0;
    assert_int_equal(sup_clone_contradicts(&a, &b, 600), 0);
}

static json_t *rec(int event, int granted, json_int_t counter, json_int_t clock)
{
    json_t *r = json_pack("{s:I,s:I,s:i,s:s,s:s,s:I,s:b}", "seq", (json_int_t)7, "time",
                          (json_int_t)T0, "event", event, "action", "void", "key_id", KEY,
                          "detail", counter, "granted", granted);
    if (clock >= 0)
        json_object_set_new(r, "clock", json_integer(clock));
    return r;
}

static void test_which_records_are_uses(void **state)
{
    char key[33];
    sup_key_use u;
    json_t *r;
    (void)state;

    r = rec(KS_EV_DECISION, 1, 42, TRUSTED);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 1);
    assert_string_equal(key, KEY);
    assert_int_equal(u.ctrl, 5);
    assert_int_equal(u.counter, 42);
    assert_int_equal(u.time, T0);
    assert_int_equal(u.trusted, 1);
    json_decref(r);

    /* the first of two supervisors: the counter was verified and spent */
    r = rec(KS_EV_FIRST_OF_TWO, 0, 43, TRUSTED);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 1);
    json_decref(r);

    /* a refusal's counter may never have been verified: a forger could
     * otherwise pin a clone on somebody's key */
    r = rec(KS_EV_DECISION, 0, 44, TRUSTED);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 0);
    json_decref(r);
    r = rec(KS_EV_LOCKED, 0, 44, TRUSTED);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 0);
    json_decref(r);

    /* a counter above INT64_MAX arrives negative: not comparable */
    r = rec(KS_EV_DECISION, 1, -5, TRUSTED);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 0);
    json_decref(r);

    /* the time is trusted only when the flags came and are clear of faults */
    r = rec(KS_EV_DECISION, 1, 42, -1);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 1);
    assert_int_equal(u.trusted, 0);
    json_decref(r);
    r = rec(KS_EV_DECISION, 1, 42, KS_CLOCK_ANCHORED | KS_CLOCK_SKEW);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 1);
    assert_int_equal(u.trusted, 0);
    json_decref(r);
    r = rec(KS_EV_DECISION, 1, 42, KS_CLOCK_ANCHORED | KS_CLOCK_RTC_FAIL);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 1);
    assert_int_equal(u.trusted, 0);
    json_decref(r);
    /* not anchored by a time token, not flagged: the engine's own clock */
    r = rec(KS_EV_DECISION, 1, 42, 0);
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 1);
    assert_int_equal(u.trusted, 1);
    json_decref(r);

    /* a malformed key id */
    r = rec(KS_EV_DECISION, 1, 42, TRUSTED);
    json_object_set_new(r, "key_id", json_string("zz"));
    assert_int_equal(sup_clone_use_from_record(r, 5, key, &u), 0);
    json_decref(r);
}

static void test_policy_words(void **state)
{
    int p = -1;
    (void)state;
    assert_int_equal(sup_clone_policy_parse("alert", &p), 0);
    assert_int_equal(p, SUP_CLONE_ALERT);
    assert_int_equal(sup_clone_policy_parse("suspend", &p), 0);
    assert_int_equal(p, SUP_CLONE_SUSPEND);
    assert_int_equal(sup_clone_policy_parse("revoke", &p), -1);
    assert_string_equal(sup_clone_policy_name(SUP_CLONE_ALERT), "alert");
    assert_string_equal(sup_clone_policy_name(SUP_CLONE_SUSPEND), "suspend");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_margin_is_twice_the_tolerance),
        cmocka_unit_test(test_counter_back_across_controllers),
        cmocka_unit_test(test_within_the_clock_margin_no_order),
        cmocka_unit_test(test_counter_order_agrees),
        cmocka_unit_test(test_same_controller_is_not_ours),
        cmocka_unit_test(test_untrusted_time_is_never_ordered),
        cmocka_unit_test(test_which_records_are_uses),
        cmocka_unit_test(test_policy_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
