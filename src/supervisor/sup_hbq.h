/*
 * sup_hbq.h - heartbeats waiting for the diagnosis (issue 13).
 *
 * A heartbeat is answered once its report is taken (soft state, commands);
 * judging it (facts, rules, incidents: a transaction under the database
 * lock) is queued here and done by one worker, many per transaction. The
 * answer no longer waits for the lock the diagnosis holds, and incidents a
 * batch opens share one commit. The worker takes items in arrival order, so
 * a controller's reports are judged in the order they came.
 *
 * One entry per controller, not per heartbeat: a report supersedes the
 * controller's newest queued one when both come from the same agent
 * instance, so the queue holds O(controllers) reports however far the
 * worker falls behind (at 10,000 controllers it held up to 100,000 reports,
 * keysupd grew past 1 GiB). Nothing the rules need is lost that way: a
 * report carries state (versions, store, clock, lockouts) and cumulative
 * refusal counts, so the newest one says what the superseded ones said, and
 * the fresh refusals are still the difference from the last judged report.
 * What does need every report is kept: a different instance (an agent
 * restart resets the counts; two agents alternating under one id is
 * KSE-730) is queued behind, never merged; and the item counts the reports
 * it stands for, so the observed heartbeat interval stays right.
 */
#ifndef KEYSUP_SUP_HBQ_H
#define KEYSUP_SUP_HBQ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SUP_HBQ_MAX 100000   /* queued at most; beyond, the caller judges inline */
/*
 * Wake-ups: the first report into an empty queue wakes the worker, which
 * then waits SUP_HBQ_GATHER_MS more (or until SUP_HBQ_WAKE_AT items wait)
 * before it takes the batch. At 1,000 heartbeats/s that is about 20
 * wake-ups a second instead of one per heartbeat (0.75 context switches
 * per heartbeat, issue 13's sixth session); a report is judged at most
 * that much later, which nothing waits on (the answer went out already).
 */
#define SUP_HBQ_GATHER_MS 50
#define SUP_HBQ_WAKE_AT 4096

typedef struct sup_hbq sup_hbq;

typedef struct sup_hbq_item {
    int64_t ctrl_id;
    json_t *report;          /* a reference the queue owns: the newest report */
    int64_t at_ms;           /* when the newest heartbeat arrived (the judging time) */
    uint32_t reports;        /* heartbeats this item stands for (1 + superseded) */
} sup_hbq_item;

/* Judges items[0..n) in order; the queue drops the reports after. */
typedef void (*sup_hbq_fn)(void *ctx, sup_hbq_item *items, size_t n);

typedef struct sup_hbq_stats {
    uint64_t depth;          /* items waiting now (at most one per controller and instance) */
    uint64_t peak;           /* the largest depth seen */
    uint64_t queued;         /* heartbeats taken, merged or not */
    uint64_t superseded;     /* heartbeats replaced by a newer one before judging */
} sup_hbq_stats;

/* NULL when the worker cannot start (the caller judges inline). */
sup_hbq *sup_hbq_start(sup_hbq_fn fn, void *ctx);
/* 0 queued; -1 full or stopping (judge it inline). */
int sup_hbq_push(sup_hbq *q, int64_t ctrl_id, json_t *report, int64_t at_ms);
/* Holds the worker (tests): pushes queue up until sup_hbq_resume. */
void sup_hbq_pause(sup_hbq *q);
void sup_hbq_resume(sup_hbq *q);
/* A consistent copy of the counters; zeros for NULL. */
void sup_hbq_get_stats(sup_hbq *q, sup_hbq_stats *out);
/* Judges what is queued, stops the worker, frees q. */
void sup_hbq_stop(sup_hbq *q);

#endif
