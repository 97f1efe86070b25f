/*
 * test_sup_hbq.c - the diagnosis queue keeps one entry per controller and
 * agent instance (issue 13: keysupd grew past 1 GiB at 10,000 controllers
 * with a report per heartbeat queued): N reports of one controller queue
 * one entry, the one judged is the newest and counts the N it stands for,
 * another instance is queued behind (never merged), and an entry already
 * taken by the worker is not superseded. And the worker wakes once per
 * batch, not once per heartbeat: reports a few milliseconds apart are
 * judged together (SUP_HBQ_GATHER_MS).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "sup_hbq.h"

#define MAXSEEN 256

typedef struct seen {
    int64_t ctrl_id, at_ms, seq;
    uint32_t reports;
    char inst[17];
} seen;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    seen s[MAXSEEN];
    size_t n, batches;
} J = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0};

static void judge(void *ctx, sup_hbq_item *it, size_t n)
{
    (void)ctx;
    pthread_mutex_lock(&J.mu);
    for (size_t i = 0; i < n && J.n < MAXSEEN; i++) {
        seen *s = &J.s[J.n++];
        const char *inst = json_string_value(json_object_get(it[i].report, "instance"));
        s->ctrl_id = it[i].ctrl_id;
        s->at_ms = it[i].at_ms;
        s->reports = it[i].reports;
        s->seq = json_integer_value(json_object_get(it[i].report, "seq"));
        snprintf(s->inst, sizeof s->inst, "%s", inst ? inst : "");
    }
    J.batches++;
    pthread_cond_broadcast(&J.cv);
    pthread_mutex_unlock(&J.mu);
}

static int reset(void **state)
{
    (void)state;
    memset(J.s, 0, sizeof J.s);
    J.n = J.batches = 0;
    return 0;
}

static void push(sup_hbq *q, int64_t ctrl, const char *inst, int64_t seq)
{
    json_t *r = inst ? json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "instance", inst)
                     : json_pack("{s:I}", "seq", (json_int_t)seq);
    assert_non_null(r);
    assert_int_equal(sup_hbq_push(q, ctrl, r, 1000 + seq), 0);
    json_decref(r); /* the queue holds its own reference */
}

static void newest_per_controller(void **state)
{
    sup_hbq_stats st;
    sup_hbq *q = sup_hbq_start(judge, NULL);
    (void)state;
    assert_non_null(q);
    sup_hbq_pause(q);
    /* 1,000 heartbeats of controller 7 among one each of three others */
    push(q, 1, "aaaaaaaaaaaaaaaa", 0);
    for (int64_t i = 1; i <= 1000; i++) {
        push(q, 7, "bbbbbbbbbbbbbbbb", i);
        if (i == 500) {
            push(q, 2, NULL, i);
            push(q, 3, NULL, i);
        }
    }
    sup_hbq_get_stats(q, &st);
    assert_int_equal(st.depth, 4);
    assert_int_equal(st.peak, 4);
    assert_int_equal(st.queued, 1003);
    assert_int_equal(st.superseded, 999);
    sup_hbq_resume(q);
    sup_hbq_stop(q); /* judges what is queued */
    assert_int_equal(J.n, 4);
    /* the order of first arrival, each with its newest report */
    assert_int_equal(J.s[0].ctrl_id, 1);
    assert_int_equal(J.s[1].ctrl_id, 7);
    assert_int_equal(J.s[1].seq, 1000);
    assert_int_equal(J.s[1].at_ms, 2000);
    assert_int_equal(J.s[1].reports, 1000);
    assert_int_equal(J.s[2].ctrl_id, 2);
    assert_int_equal(J.s[3].ctrl_id, 3);
    assert_int_equal(J.s[3].reports, 1);
}

/* An agent restart (counts start again) and two agents alternating under
 * one id (KSE-730) need every change of instance judged in order. */
static void other_instance_queued_behind(void **state)
{
    sup_hbq_stats st;
    sup_hbq *q = sup_hbq_start(judge, NULL);
    (void)state;
    assert_non_null(q);
    sup_hbq_pause(q);
    push(q, 9, "aaaaaaaaaaaaaaaa", 1);
    push(q, 9, "aaaaaaaaaaaaaaaa", 2);
    push(q, 9, "cccccccccccccccc", 3);
    push(q, 9, "cccccccccccccccc", 4);
    push(q, 9, "aaaaaaaaaaaaaaaa", 5);
    push(q, 9, NULL, 6);
    push(q, 9, NULL, 7);
    sup_hbq_get_stats(q, &st);
    assert_int_equal(st.depth, 4);
    assert_int_equal(st.superseded, 3);
    sup_hbq_resume(q);
    sup_hbq_stop(q);
    assert_int_equal(J.n, 4);
    assert_string_equal(J.s[0].inst, "aaaaaaaaaaaaaaaa");
    assert_int_equal(J.s[0].seq, 2);
    assert_int_equal(J.s[0].reports, 2);
    assert_string_equal(J.s[1].inst, "cccccccccccccccc");
    assert_int_equal(J.s[1].seq, 4);
    assert_string_equal(J.s[2].inst, "aaaaaaaaaaaaaaaa");
    assert_int_equal(J.s[2].seq, 5);
    assert_string_equal(J.s[3].inst, "");
    assert_int_equal(J.s[3].seq, 7);
}

/* Memory is O(controllers): 10 controllers x 10,000 heartbeats, 10 entries. */
static void bounded_by_controllers(void **state)
{
    sup_hbq_stats st;
    sup_hbq *q = sup_hbq_start(judge, NULL);
    (void)state;
    assert_non_null(q);
    sup_hbq_pause(q);
    for (int64_t i = 0; i < 10000; i++)
        for (int64_t c = 100; c < 110; c++)
            push(q, c, "dddddddddddddddd", i);
    sup_hbq_get_stats(q, &st);
    assert_int_equal(st.depth, 10);
    assert_int_equal(st.peak, 10);
    assert_int_equal(st.superseded, 100000 - 10);
    sup_hbq_resume(q);
    sup_hbq_stop(q);
    assert_int_equal(J.n, 10);
    for (size_t k = 0; k < J.n; k++) {
        assert_int_equal(J.s[k].seq, 9999);
        assert_int_equal(J.s[k].reports, 10000);
    }
}

/* A report taken by the worker is being judged: a later one is a new entry. */
static void taken_entry_not_superseded(void **state)
{
    sup_hbq *q = sup_hbq_start(judge, NULL);
    (void)state;
    assert_non_null(q);
    push(q, 5, NULL, 1);
    pthread_mutex_lock(&J.mu);
    while (J.batches < 1)
        pthread_cond_wait(&J.cv, &J.mu); /* the worker judged it */
    pthread_mutex_unlock(&J.mu);
    push(q, 5, NULL, 2);
    sup_hbq_stop(q);
    assert_int_equal(J.n, 2);
    assert_int_equal(J.s[0].seq, 1);
    assert_int_equal(J.s[1].seq, 2);
    assert_int_equal(J.s[1].reports, 1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Two reports 5 ms apart are one batch: the first one's wake-up gathers
 * the second. Before the gathering each push woke the worker, which took
 * the first alone. Only asserted when the machine kept the two pushes well
 * inside the gathering window (a loaded machine may stall the test). */
static void one_wakeup_per_batch(void **state)
{
    sup_hbq *q = sup_hbq_start(judge, NULL);
    struct timespec gap = {0, 5 * 1000000L};
    int64_t t0, t1;
    (void)state;
    assert_non_null(q);
    t0 = now_ms();
    push(q, 1, NULL, 1);
    nanosleep(&gap, NULL);
    push(q, 2, NULL, 2);
    t1 = now_ms();
    pthread_mutex_lock(&J.mu);
    while (J.n < 2)
        pthread_cond_wait(&J.cv, &J.mu); /* judged without a stop: the timer ends the gathering */
    pthread_mutex_unlock(&J.mu);
    if (t1 - t0 < SUP_HBQ_GATHER_MS / 2)
        assert_int_equal(J.batches, 1);
    else
        printf("# pushes %lld ms apart (a loaded machine): batching not asserted\n",
               (long long)(t1 - t0));
    sup_hbq_stop(q);
    assert_int_equal(J.s[0].ctrl_id, 1);
    assert_int_equal(J.s[1].ctrl_id, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(newest_per_controller, reset),
        cmocka_unit_test_setup(other_instance_queued_behind, reset),
        cmocka_unit_test_setup(bounded_by_controllers, reset),
        cmocka_unit_test_setup(taken_entry_not_superseded, reset),
        cmocka_unit_test_setup(one_wakeup_per_batch, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
