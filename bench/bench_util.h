/*
 * bench_util.h - timing and the synthetic credential databases benchmarks
 * share. Records get random public keys (key ids computed properly), so a
 * million of them can be made in well under a second.
 */
#ifndef KS_BENCH_UTIL_H
#define KS_BENCH_UTIL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <keysup/keysup.h>
#include <sodium.h>

#include "ks_sodium.h"

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_rec(const void *a, const void *b)
{
    return memcmp(a, b, KS_KEYID_SIZE);
}

static inline void bench_record(const ks_crypto *c, uint64_t n, uint8_t out[KS_RECORD_SIZE])
{
    ks_record r;
    memset(&r, 0, sizeof r);
    randombytes_buf(r.public_key, sizeof r.public_key);
    ks_key_id(c, r.key_id, r.public_key);
    r.privileges = KS_PRIV_OPERATOR | ((n % 10 == 0) ? KS_PRIV_SUPERVISOR : 0);
    r.valid_from = 1700000000u;
    r.holder_id = n;
    r.record_version = KS_RECORD_VERSION;
    r.key_format = 1;
    r.algorithm = KS_ALG_ED25519;
    ks_record_encode(&r, out);
}

/* n random records, sorted by key id. Caller frees. */
static inline uint8_t *bench_records(const ks_crypto *c, uint32_t n)
{
    uint8_t *recs = malloc((size_t)n * KS_RECORD_SIZE + 1);
    for (uint32_t i = 0; i < n; i++)
        bench_record(c, i, recs + (size_t)i * KS_RECORD_SIZE);
    qsort(recs, n, KS_RECORD_SIZE, bench_cmp_rec);
    return recs;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
