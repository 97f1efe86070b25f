/*
 * test_sup_srclock.c - the console sign-in lock per source (sup_srclock.c):
 * one IPv4 address or one IPv6 /64 is one source; a lock binds its source
 * only; a right password makes the source familiar and clears its count;
 * an unlock forgets the name's locks. attack_lockout_e2e covers the
 * sign-in answers end to end (IPv4 loopback addresses only).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "sup_srclock.h"

static sup_ctx *ctx(void)
{
    sup_ctx *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->cfg.console.deny = 2;
    s->cfg.console.deny_global = 10;
    s->cfg.console.fail_interval = 900;
    s->cfg.console.unlock_time = 300;
    return s;
}

static void done(sup_ctx *s)
{
    sup_srclock_free(s);
    free(s);
}

static sup_client v4(const char *a)
{
    struct sockaddr_in sa;
    sup_client c;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &sa.sin_addr), 1);
    sup_client_from(&c, (const struct sockaddr *)&sa);
    return c;
}

static sup_client v6(const char *a)
{
    struct sockaddr_in6 sa;
    sup_client c;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &sa.sin6_addr), 1);
    sup_client_from(&c, (const struct sockaddr *)&sa);
    return c;
}

#define NOW 1000

/* Two failures of name from c: locked there afterwards. */
static void lock_from(sup_ctx *s, const char *name, const sup_client *c)
{
    sup_signin o;
    memset(&o, 0, sizeof o);
    sup_srclock_fail(s, name, c, NOW, &o);
    assert_int_equal(o.locked, 0);
    sup_srclock_fail(s, name, c, NOW, &o);
    assert_int_equal(o.locked, 1);
    assert_int_equal(o.retry_after, 300);
}

static int locked(sup_ctx *s, const char *name, const sup_client *c, uint64_t now)
{
    sup_signin o;
    memset(&o, 0, sizeof o);
    return sup_srclock_locked(s, name, c, now, &o);
}

static void test_v4_per_address(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    sup_client a = v4("10.0.0.66"), b = v4("10.0.0.1");
    lock_from(s, "admin", &a);
    assert_true(locked(s, "admin", &a, NOW + 1));
    assert_false(locked(s, "admin", &b, NOW + 1));   /* another address */
    assert_false(locked(s, "tech", &a, NOW + 1));    /* another name */
    assert_false(locked(s, "admin", &a, NOW + 300)); /* the lock's end */
    done(s);
}

static void test_v6_per_64(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    sup_client a = v6("2001:db8:1:2::66"), same64 = v6("2001:db8:1:2:ffff:1:2:3"),
               other64 = v6("2001:db8:1:3::66");
    lock_from(s, "admin", &a);
    /* one host can take any address of its /64: still the same source */
    assert_true(locked(s, "admin", &same64, NOW + 1));
    assert_false(locked(s, "admin", &other64, NOW + 1));
    /* an IPv4 address is whole: 10.0.0.66 is not 10.0.0.67 */
    sup_client x = v4("10.0.0.66"), y = v4("10.0.0.67");
    lock_from(s, "admin", &x);
    assert_false(locked(s, "admin", &y, NOW + 1));
    done(s);
}

static void test_good_familiar_forget(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    sup_client a = v4("10.0.0.1"), b = v4("10.0.0.66");
    sup_signin o;
    assert_false(sup_srclock_familiar(s, "admin", &a));
    memset(&o, 0, sizeof o);
    sup_srclock_fail(s, "admin", &a, NOW, &o);
    sup_srclock_good(s, "admin", &a, NOW);
    assert_true(sup_srclock_familiar(s, "admin", &a));
    assert_false(sup_srclock_familiar(s, "admin", &b));
    assert_false(sup_srclock_familiar(s, "tech", &a));
    /* the good sign-in cleared a's count: one failure does not lock */
    memset(&o, 0, sizeof o);
    sup_srclock_fail(s, "admin", &a, NOW, &o);
    assert_int_equal(o.failures, 1);
    assert_int_equal(o.locked, 0);
    /* an unlock forgets every lock of the name */
    lock_from(s, "admin", &b);
    sup_srclock_forget(s, "admin");
    assert_false(locked(s, "admin", &b, NOW + 1));
    done(s);
}

static void test_flood_keeps_locks(void **state)
{
    (void)state;
    sup_ctx *s = ctx();
    sup_client a = v4("10.0.0.66");
    char name[32];
    sup_signin o;
    lock_from(s, "admin", &a);
    /* 2,000 one-off failures of other names: unlocked entries go first */
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        memset(&o, 0, sizeof o);
        sup_srclock_fail(s, name, &a, NOW, &o);
    }
    assert_true(locked(s, "admin", &a, NOW + 1));
    done(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_per_address),
        cmocka_unit_test(test_v6_per_64),
        cmocka_unit_test(test_good_familiar_forget),
        cmocka_unit_test(test_flood_keeps_locks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
