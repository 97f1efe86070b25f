/*
 * test_sup_conmem.c - console sessions end on the monotonic clock whatever
 * the wall clock does, and names that are no operator are locked by the
 * same rule as real ones (sup_conmem.c; attack_console_e2e covers the
 * sign-in answers end to end).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sup_conmem.h"

static sup_ctx *ctx(void)
{
    sup_ctx *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->cfg.console.idle = 600;
    s->cfg.console.session_max = 3600;
    s->cfg.console.deny = 3;
    s->cfg.console.deny_global = 3; /* the ghosts' count is the global one */
    s->cfg.console.fail_interval = 900;
    s->cfg.console.unlock_time = 300;
    return s;
}

static void done(sup_ctx *s)
{
    sup_conmem_free(s);
    free(s);
}

#define WALL 1800000000
static const uint8_t H1[KS_HASH_SIZE] = {1}, H2[KS_HASH_SIZE] = {2}, H3[KS_HASH_SIZE] = {3};

/* Signed in at WALL, mono 1000 (as sup_session_create registers it). */
static void signed_in(sup_ctx *s, const uint8_t *h)
{
    assert_int_equal(sup_conmem_session(s, h, WALL, WALL, WALL, 1000), 0);
}

static void test_wall_back(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    signed_in(s, H1);
    /* The wall clock set back a day, and 601 s pass idle: on the wall
     * clock the session looked 1 day younger than its last use. */
    assert_int_equal(sup_conmem_session(s, H1, WALL, WALL, WALL - 86400 + 601, 1601), 1);
    /* ... and gone: asked again it is not revived (the row is deleted too) */
    signed_in(s, H2);
    for (uint64_t m = 1000 + 500; m < 1000 + 3600; m += 500)
        assert_int_equal(sup_conmem_session(s, H2, WALL, WALL, WALL - 86400, m), 0);
    /* used every 500 s, it still ends at session_max on the monotonic clock */
    assert_int_equal(sup_conmem_session(s, H2, WALL, WALL, WALL - 86400, 1000 + 3600), 1);
    done(s);
}

static void test_wall_forward(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    signed_in(s, H1);
    /* The wall clock jumps a day ahead: a session in use is not ended */
    assert_int_equal(sup_conmem_session(s, H1, WALL, WALL, WALL + 86400, 1010), 0);
    assert_int_equal(sup_conmem_session(s, H1, WALL, WALL, WALL + 86400, 1500), 0);
    assert_int_equal(sup_conmem_session(s, H1, WALL, WALL, WALL + 86400, 2101), 1); /* idle */
    done(s);
}

static void test_first_seen(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    /* made before a restart: its age comes from the table, once */
    assert_int_equal(sup_conmem_session(s, H1, WALL - 3601, WALL - 10, WALL, 5), 1);
    assert_int_equal(sup_conmem_session(s, H2, WALL - 100, WALL - 601, WALL, 5), 1);
    assert_int_equal(sup_conmem_session(s, H3, WALL - 3000, WALL - 100, WALL, 5), 0);
    /* and from then on the monotonic clock: 600 s left of its 3600 */
    assert_int_equal(sup_conmem_session(s, H3, WALL - 3000, WALL - 100, WALL - 9999, 500), 0);
    assert_int_equal(sup_conmem_session(s, H3, WALL - 3000, WALL - 100, WALL - 9999, 605), 1);
    /* the display end follows the monotonic clock */
    signed_in(s, H1);
    assert_int_equal(sup_conmem_session_expires(s, H1, WALL + 50, 1050), WALL + 3600);
    sup_conmem_session_end(s, H1);
    assert_int_equal(sup_conmem_session_expires(s, H1, WALL + 50, 1050), 0);
    done(s);
}

static void test_ghost(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    sup_signin o;
    for (int i = 1; i <= 3; i++) {
        memset(&o, 0, sizeof o);
        assert_int_equal(sup_conmem_ghost_locked(s, "nobody", WALL + i, &o), 0);
        sup_conmem_ghost_fail(s, "nobody", WALL + i, &o);
        assert_int_equal(o.failures, (unsigned)i);
        assert_int_equal(o.locked, i == 3);
    }
    memset(&o, 0, sizeof o);
    assert_int_equal(sup_conmem_ghost_locked(s, "nobody", WALL + 10, &o), 1);
    assert_int_equal(o.retry_after, 300 - 7);
    assert_int_equal(sup_conmem_ghost_locked(s, "somebody", WALL + 10, &o), 0);
    assert_int_equal(sup_conmem_ghost_locked(s, "nobody", WALL + 3 + 300, &o), 0);
    done(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wall_back),
        cmocka_unit_test(test_wall_forward),
        cmocka_unit_test(test_first_seen),
        cmocka_unit_test(test_ghost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
