/*
 * sup_metrics.c - latency histograms (see sup_metrics.h). Buckets are stored
 * per interval and summed when rendered, so an observation is one atomic
 * add to one bucket, plus the count and the sum.
 */
#include "sup_metrics.h"

#include <stdio.h>
#include <stdlib.h>

/* 0.5 ms .. 10 s: an API answer is well under a millisecond, a publish of a
 * large scope takes seconds. */
static const uint64_t bounds_usec[KS_HIST_NBUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000,
};

void sup_hist_observe(sup_hist *h, uint64_t usec)
{
    for (size_t i = 0; i < KS_HIST_NBUCKETS; i++)
        if (usec <= bounds_usec[i]) {
            atomic_fetch_add(&h->bucket[i], 1);
            break;
        }
    atomic_fetch_add(&h->sum_usec, usec);
    atomic_fetch_add(&h->count, 1);
}

char *sup_hist_text(const sup_hist *h, const char *name, const char *help)
{
    size_t cap = 512 + (KS_HIST_NBUCKETS + 3) * 96, len = 0;
    char *out = malloc(cap);
    unsigned long long cum = 0, count;
    int n;

    if (!out)
        return NULL;
    n = snprintf(out, cap, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    if (n < 0 || (size_t)n >= cap)
        goto fail;
    len = (size_t)n;
    for (size_t i = 0; i < KS_HIST_NBUCKETS; i++) {
        cum += atomic_load(&((sup_hist *)h)->bucket[i]);
        n = snprintf(out + len, cap - len, "%s_bucket{le=\"%g\"} %llu\n", name,
                     (double)bounds_usec[i] / 1e6, cum);
        if (n < 0 || (size_t)n >= cap - len)
            goto fail;
        len += (size_t)n;
    }
    /* Read count last: a concurrent observation then never makes +Inf
     * smaller than a finite bucket. */
    count = atomic_load(&((sup_hist *)h)->count);
    if (count < cum)
        count = cum;
    n = snprintf(out + len, cap - len, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n",
                 name, count, name, (double)atomic_load(&((sup_hist *)h)->sum_usec) / 1e6, name,
                 count);
    if (n < 0 || (size_t)n >= cap - len)
        goto fail;
    return out;
fail:
    free(out);
    return NULL;
}
