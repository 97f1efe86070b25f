/*
 * test_sup_reqbuf.c - the request body buffer and the worker thread's
 * cache of request states (sup_reqbuf.h): appends stop at the limit with
 * a clear result and leave the buffer as it was; a reused buffer starts
 * empty with its old bytes wiped; a state comes back zeroed; the cache
 * keeps at most SUP_REQCACHE_SLOTS and never a buffer over SUP_REQBUF_KEEP;
 * a thread's cache is freed when the thread ends (ASan's leak check).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "sup_reqbuf.h"

static void add_within_and_over_the_limit(void **state)
{
    sup_reqbuf b = {0};
    char big[5000];
    (void)state;
    memset(big, 'x', sizeof big);
    assert_int_equal(sup_reqbuf_add(&b, "abc", 3, 10), SUP_REQBUF_OK);
    assert_string_equal(b.p, "abc");
    assert_int_equal(b.cap, SUP_REQBUF_FIRST);
    /* 3 + 8 > 10: refused, nothing appended */
    assert_int_equal(sup_reqbuf_add(&b, "12345678", 8, 10), SUP_REQBUF_TOO_BIG);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.p, "abc");
    assert_int_equal(sup_reqbuf_add(&b, "1234567", 7, 10), SUP_REQBUF_OK); /* exactly 10 */
    assert_string_equal(b.p, "abc1234567");
    /* a limit near SIZE_MAX cannot wrap the arithmetic */
    assert_int_equal(sup_reqbuf_add(&b, "x", SIZE_MAX - 2, SIZE_MAX), SUP_REQBUF_TOO_BIG);
    assert_int_equal(b.len, 10);
    /* growth past the first size keeps the bytes */
    assert_int_equal(sup_reqbuf_add(&b, big, sizeof big, 1u << 20), SUP_REQBUF_OK);
    assert_int_equal(b.len, 10 + sizeof big);
    assert_int_equal(b.cap, 2 * SUP_REQBUF_FIRST);
    assert_memory_equal(b.p, "abc1234567xxx", 13);
    assert_int_equal(b.p[b.len], '\0');
    sup_reqbuf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len + b.cap, 0);
}

static void reset_wipes_and_drops_large(void **state)
{
    sup_reqbuf b = {0};
    char *big = malloc(SUP_REQBUF_KEEP + 1);
    (void)state;
    assert_non_null(big);
    assert_int_equal(sup_reqbuf_add(&b, "token=secret", 12, 100), SUP_REQBUF_OK);
    sup_reqbuf_reset(&b);
    assert_non_null(b.p); /* kept for reuse */
    assert_int_equal(b.len, 0);
    for (size_t i = 0; i < 13; i++)
        assert_int_equal(b.p[i], 0); /* the old bytes are gone */
    memset(big, 'y', SUP_REQBUF_KEEP + 1);
    assert_int_equal(sup_reqbuf_add(&b, big, SUP_REQBUF_KEEP + 1, SIZE_MAX / 8), SUP_REQBUF_OK);
    sup_reqbuf_reset(&b);
    assert_null(b.p); /* an import's buffer does not stay with the thread */
    free(big);
}

typedef struct fake_state {
    sup_reqbuf body;
    char fill[1500];
} fake_state;

static void cache_reuses_and_zeroes(void **state)
{
    sup_reqbuf body;
    fake_state *st[SUP_REQCACHE_SLOTS + 2], *again;
    void *first_body;
    (void)state;
    st[0] = sup_reqcache_take(sizeof *st[0], &body);
    assert_non_null(st[0]);
    st[0]->body = body;
    assert_int_equal(sup_reqbuf_add(&st[0]->body, "report", 6, 100), SUP_REQBUF_OK);
    memset(st[0]->fill, 'z', sizeof st[0]->fill);
    first_body = st[0]->body.p;
    sup_reqcache_give(st[0], sizeof *st[0], &st[0]->body);
    again = sup_reqcache_take(sizeof *again, &body);
    assert_ptr_equal(again, st[0]); /* the same memory: no allocation */
    assert_ptr_equal(body.p, first_body);
    assert_int_equal(body.len, 0);
    assert_int_equal(body.p[0], '\0');
    for (size_t i = 0; i < sizeof again->fill; i++)
        assert_int_equal(again->fill[i], 0);
    again->body = body;
    sup_reqcache_give(again, sizeof *again, &again->body);
    /* more than the slots: the extra ones are freed (ASan: no leak, no double free) */
    for (size_t i = 0; i < SUP_REQCACHE_SLOTS + 2; i++) {
        st[i] = sup_reqcache_take(sizeof *st[i], &body);
        assert_non_null(st[i]);
        st[i]->body = body;
        assert_int_equal(sup_reqbuf_add(&st[i]->body, "x", 1, 10), SUP_REQBUF_OK);
    }
    for (size_t i = 0; i < SUP_REQCACHE_SLOTS + 2; i++)
        sup_reqcache_give(st[i], sizeof *st[i], &st[i]->body);
    /* another size is not served from this cache */
    again = sup_reqcache_take(sizeof *again / 2, &body);
    assert_non_null(again);
    assert_null(body.p);
    sup_reqcache_give(again, sizeof *again / 2, &body);
}

static void *thread_uses_cache(void *arg)
{
    sup_reqbuf body;
    fake_state *st = sup_reqcache_take(sizeof *st, &body);
    (void)arg;
    if (!st)
        return NULL;
    st->body = body;
    sup_reqbuf_add(&st->body, "abc", 3, 10);
    sup_reqcache_give(st, sizeof *st, &st->body);
    return st; /* held by the thread's cache until the thread ends */
}

static void cache_freed_with_thread(void **state)
{
    pthread_t th;
    void *r = NULL;
    (void)state;
    assert_int_equal(pthread_create(&th, NULL, thread_uses_cache, NULL), 0);
    assert_int_equal(pthread_join(th, &r), 0);
    assert_non_null(r); /* freed by the thread's end: LeakSanitizer would report it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_within_and_over_the_limit),
        cmocka_unit_test(reset_wipes_and_drops_large),
        cmocka_unit_test(cache_reuses_and_zeroes),
        cmocka_unit_test(cache_freed_with_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
