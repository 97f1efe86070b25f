/*
 * sup_hbq.c - the queue of heartbeats waiting for the diagnosis, and its
 * one worker (sup_hbq.h says why).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>

#include "sup_hbq.h"

struct sup_hbq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    sup_hbq_item *items;
    size_t n, cap;
    int stop;
    sup_hbq_fn fn;
    void *ctx;
};

static void *worker(void *p)
{
    sup_hbq *q = p;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->n && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (!q->n)
            break; /* stopping and drained */
        sup_hbq_item *items = q->items;
        size_t n = q->n;
        q->items = NULL;
        q->n = q->cap = 0;
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

int sup_hbq_push(sup_hbq *q, int64_t ctrl_id, json_t *report, int64_t at_ms)
{
    int rc = -1;
    pthread_mutex_lock(&q->mu);
    if (q->stop || q->n >= SUP_HBQ_MAX)
        goto out;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        sup_hbq_item *it = realloc(q->items, cap * sizeof *it);
        if (!it)
            goto out;
        q->items = it;
        q->cap = cap;
    }
    q->items[q->n].ctrl_id = ctrl_id;
    q->items[q->n].report = json_incref(report);
    q->items[q->n].at_ms = at_ms;
    q->n++;
    rc = 0;
    pthread_cond_signal(&q->cv);
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
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
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
