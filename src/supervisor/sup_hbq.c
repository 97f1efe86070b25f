/*
 * sup_hbq.c - the queue of heartbeats waiting for the diagnosis, and its
 * one worker (sup_hbq.h says why, and why a controller has one entry).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_hbq.h"

struct sup_hbq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    sup_hbq_item *items;
    size_t n, cap;
    uint32_t *ix;             /* open addressing by ctrl_id: index + 1 of its newest item */
    size_t icap;              /* a power of two, >= 2 * cap; 0 when ix is not built */
    int stop, paused;
    sup_hbq_fn fn;
    void *ctx;
    sup_hbq_stats st;
};

/* After the wake-up, the heartbeats of the next SUP_HBQ_GATHER_MS join the
 * batch; only SUP_HBQ_WAKE_AT waiting items, pause or stop end it early. */
static void gather(sup_hbq *q)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)SUP_HBQ_GATHER_MS * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    while (!q->stop && !q->paused && q->n < SUP_HBQ_WAKE_AT &&
           pthread_cond_timedwait(&q->cv, &q->mu, &ts) != ETIMEDOUT)
        ;
}

static void *worker(void *p)
{
    sup_hbq *q = p;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while ((!q->n || q->paused) && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        gather(q);
        if (q->paused && !q->stop)
            continue; /* paused while gathering */
        if (!q->n)
            break; /* stopping and drained */
        sup_hbq_item *items = q->items;
        size_t n = q->n;
        /* The index points into the array being judged: a report arriving
         * from now on starts a new entry (one already being judged cannot
         * be superseded). */
        free(q->ix);
        q->ix = NULL;
        q->icap = 0;
        q->items = NULL;
        q->n = q->cap = 0;
        q->st.depth = 0;
        pthread_mutex_unlock(&q->mu);
        q->fn(q->ctx, items, n);
        for (size_t i = 0; i < n; i++)
            json_decref(items[i].report);
        free(items);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

sup_hbq *sup_hbq_start(sup_hbq_fn fn, void *ctx)
{
    sup_hbq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->fn = fn;
    q->ctx = ctx;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (pthread_create(&q->th, NULL, worker, q) != 0) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
        return NULL;
    }
    return q;
}

static size_t slot_of(int64_t id, size_t icap)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 20) & (icap - 1);
}

/* The index slot for id: its entry, or the empty slot to put it in. */
static size_t slot_find(const sup_hbq *q, int64_t id)
{
    size_t h = slot_of(id, q->icap);
    while (q->ix[h] && q->items[q->ix[h] - 1].ctrl_id != id)
        h = (h + 1) & (q->icap - 1);
    return h;
}

/* Room for one more item, with the index rebuilt when it grows. */
static int reserve(sup_hbq *q)
{
    size_t cap, icap;
    sup_hbq_item *it;
    uint32_t *ix;
    if (q->n < q->cap && q->icap)
        return 0;
    cap = q->n < q->cap ? q->cap : q->cap ? q->cap * 2 : 64;
    if (cap != q->cap) {
        if (!(it = realloc(q->items, cap * sizeof *it)))
            return -1;
        q->items = it;
        q->cap = cap;
    }
    for (icap = 128; icap < 2 * cap; icap *= 2)
        ;
    if (!(ix = calloc(icap, sizeof *ix)))
        return -1;
    free(q->ix);
    q->ix = ix;
    q->icap = icap;
    /* in arrival order, so each controller's slot ends on its newest item */
    for (size_t i = 0; i < q->n; i++)
        q->ix[slot_find(q, q->items[i].ctrl_id)] = (uint32_t)(i + 1);
    return 0;
}

/* Same agent instance (both without one counts as the same). */
static int same_instance(json_t *a, json_t *b)
{
    const char *x = json_string_value(json_object_get(a, "instance"));
    const char *y = json_string_value(json_object_get(b, "instance"));
    return x && y ? strcmp(x, y) == 0 : x == y;
}

int sup_hbq_push(sup_hbq *q, int64_t ctrl_id, json_t *report, int64_t at_ms)
{
    int rc = -1;
    size_t h;
    pthread_mutex_lock(&q->mu);
    if (q->stop || reserve(q) != 0)
        goto out;
    h = slot_find(q, ctrl_id);
    if (q->ix[h] && same_instance(q->items[q->ix[h] - 1].report, report)) {
        sup_hbq_item *it = &q->items[q->ix[h] - 1];
        json_decref(it->report);
        it->report = json_incref(report);
        it->at_ms = at_ms;
        if (it->reports < UINT32_MAX)
            it->reports++;
        q->st.superseded++;
        q->st.queued++;
        rc = 0;
        goto out; /* the worker already knows there is work */
    }
    if (q->n >= SUP_HBQ_MAX)
        goto out;
    q->items[q->n].ctrl_id = ctrl_id;
    q->items[q->n].report = json_incref(report);
    q->items[q->n].at_ms = at_ms;
    q->items[q->n].reports = 1;
    q->ix[h] = (uint32_t)(++q->n);
    q->st.depth = q->n;
    if (q->n > q->st.peak)
        q->st.peak = q->n;
    q->st.queued++;
    rc = 0;
    /* Only the first item wakes the worker (it then gathers for a while)
     * and a full batch cuts the gathering short: one wake-up per batch, not
     * per heartbeat. */
    if (q->n == 1 || q->n == SUP_HBQ_WAKE_AT)
        pthread_cond_signal(&q->cv);
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void sup_hbq_pause(sup_hbq *q)
{
    pthread_mutex_lock(&q->mu);
    q->paused = 1;
    pthread_mutex_unlock(&q->mu);
}

void sup_hbq_resume(sup_hbq *q)
{
    pthread_mutex_lock(&q->mu);
    q->paused = 0;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void sup_hbq_get_stats(sup_hbq *q, sup_hbq_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    *out = q->st;
    pthread_mutex_unlock(&q->mu);
}

void sup_hbq_stop(sup_hbq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    free(q->ix);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
