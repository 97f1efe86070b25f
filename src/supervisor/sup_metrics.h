/*
 * sup_metrics.h - latency histograms for /metrics, in Prometheus' base unit
 * (seconds) with cumulative `le` buckets, updated lock-free from any thread.
 */
#ifndef KS_METRICS_H
#define KS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds in microseconds; the +Inf bucket is `count`. */
#define KS_HIST_NBUCKETS 14

typedef struct sup_hist {
    atomic_ullong bucket[KS_HIST_NBUCKETS]; /* observations <= bound i (not cumulative) */
    atomic_ullong count;
    atomic_ullong sum_usec;
} sup_hist;

/* Records one duration of `usec` microseconds. */
void sup_hist_observe(sup_hist *h, uint64_t usec);

/* Prometheus text (HELP, TYPE, _bucket, _sum, _count) for `name`, which must
 * end in _seconds; malloc'ed, NULL when out of memory. */
char *sup_hist_text(const sup_hist *h, const char *name, const char *help);

#endif
