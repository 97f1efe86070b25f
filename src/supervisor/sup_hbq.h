/*
 * sup_hbq.h - heartbeats waiting for the diagnosis (issue 13).
 *
 * A heartbeat is answered once its report is taken (soft state, commands);
 * judging it (facts, rules, incidents: a transaction under the database
 * lock) is queued here and done by one worker, many per transaction. The
 * answer no longer waits for the lock the diagnosis holds, and incidents a
 * batch opens share one commit. The worker takes items in arrival order, so
 * a controller's reports are judged in the order they came.
 */
#ifndef KEYSUP_SUP_HBQ_H
#define KEYSUP_SUP_HBQ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SUP_HBQ_MAX 100000   /* queued at most; beyond, the caller judges inline */

typedef struct sup_hbq sup_hbq;

typedef struct sup_hbq_item {
    int64_t ctrl_id;
    json_t *report;          /* a reference the queue owns */
    int64_t at_ms;           /* when the heartbeat arrived (the judging time) */
} sup_hbq_item;

/* Judges items[0..n) in order; the queue drops the reports after. */
typedef void (*sup_hbq_fn)(void *ctx, sup_hbq_item *items, size_t n);

/* NULL when the worker cannot start (the caller judges inline). */
sup_hbq *sup_hbq_start(sup_hbq_fn fn, void *ctx);
/* 0 queued; -1 full or stopping (judge it inline). */
int sup_hbq_push(sup_hbq *q, int64_t ctrl_id, json_t *report, int64_t at_ms);
/* Judges what is queued, stops the worker, frees q. */
void sup_hbq_stop(sup_hbq *q);

#endif
