/*
 * test_sup_clockstep.c - seeing keysupd's wall clock step (sup_clockstep.c):
 * wall and monotonic advancing together is no step, however long; a slow
 * drift adds up until it is one; a step back sets the poison mark to the
 * wall time before the step plus the horizon, and the mark never goes down;
 * a step forward counts but leaves the mark.
 * attack_nonceclock_e2e runs the nonces end to end under libfaketime.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sup_clockstep.h"

static void steps(void **state)
{
    sup_clockstep c;
    (void)state;
    sup_clockstep_init(&c);
    /* wall 1000, monotonic 50: together for an hour, 1 s rounding each way */
    for (uint64_t t = 0; t < 3600; t += 7)
        assert_int_equal(sup_clockstep_sample(&c, 1000 + t + (t % 2), 50 + t, 70), 0);
    assert_int_equal(sup_clockstep_count(&c), 0);
    assert_int_equal(sup_clockstep_poison(&c), 0);
    /* a drift of 1 s per sample: not a step at first, one once it adds up */
    assert_int_equal(sup_clockstep_sample(&c, 1000 + 3601, 50 + 3600, 70), 0);
    assert_int_equal(sup_clockstep_sample(&c, 1000 + 3602, 50 + 3600, 70), 2);
    assert_int_equal(sup_clockstep_count(&c), 1);
    assert_int_equal(sup_clockstep_poison(&c), 0); /* forward: no mark */
    /* a day back at wall 1000+3602+10 (monotonic +10): the mark is the
     * wall time before the step plus the horizon */
    assert_int_equal(sup_clockstep_sample(&c, 1000 + 3612 - 86400, 50 + 3610, 70), -86400);
    assert_int_equal(sup_clockstep_poison(&c), 1000 + 3612 + 70);
    assert_int_equal(sup_clockstep_count(&c), 2);
    /* back to the right time (forward): the mark stays; a small step back
     * moves it to its own "before" (later than the first one's) */
    assert_int_equal(sup_clockstep_sample(&c, 1000 + 3613, 50 + 3611, 70), 86400);
    assert_int_equal(sup_clockstep_poison(&c), 1000 + 3612 + 70);
    assert_int_equal(sup_clockstep_sample(&c, 1000 + 3614 - 5, 50 + 3612, 70), -5);
    assert_int_equal(sup_clockstep_poison(&c), 1000 + 3614 + 70);
    /* forward 105 s, then back 150 s: the mark is that step's "before"
     * (wall 1000 + 3616 + 100) plus the horizon */
    assert_int_equal(sup_clockstep_sample(&c, 1000 + 3615 + 100, 50 + 3613, 70), 105);
    assert_int_equal(sup_clockstep_sample(&c, 1000 + 3616 - 50, 50 + 3614, 70), -150);
    assert_int_equal(sup_clockstep_poison(&c), 1000 + 3616 + 100 + 70);
    sup_clockstep_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest t[] = {cmocka_unit_test(steps)};
    return cmocka_run_group_tests(t, NULL, NULL);
}
