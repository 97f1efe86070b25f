/*
 * bench_store_util.h - database versions for the store benches: a version's
 * sorted records, its signed snapshot, and the 1,000-change delta from the
 * version before it (bench_store, bench_store_fold).
 */
#ifndef KS_BENCH_STORE_UTIL_H
#define KS_BENCH_STORE_UTIL_H

#include "bench_util.h"

#define CHANGES 1000u

/* The in-memory binary search a store lookup is compared with: the index
 * of key in n sorted records, UINT32_MAX when absent. */
static inline uint32_t mem_find(const uint8_t *recs, uint32_t n, const uint8_t *key)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(recs + (size_t)mid * KS_RECORD_SIZE, key, KS_KEYID_SIZE);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return UINT32_MAX;
}

/* One version of the database: its records, signed snapshot, and the
 * delta from the version before it. */
typedef struct bench_ver {
    uint8_t *recs;
    uint32_t n;
    uint8_t *snap;
    uint8_t *delta;
    size_t delta_len;
    int owned;
} bench_ver;

static inline void bench_ver_free(bench_ver *v)
{
    if (v->owned) {
        free(v->recs);
        free(v->snap);
        free(v->delta);
    }
    memset(v, 0, sizeof *v);
}

/* The next version: 400 updates, 300 removals, 300 insertions (holder ids
 * from first_new), signed, and the delta from v. */
static inline int bench_next(const ks_crypto *c, const uint8_t sk[64], const bench_ver *v,
                      uint32_t version, uint32_t first_new, bench_ver *nv)
{
    uint8_t *drop = calloc(v->n, 1);
    ks_snap_header h, ho;
    ks_recsrc a, b;
    size_t need;

    memset(nv, 0, sizeof *nv);
    nv->owned = 1;
    nv->recs = malloc(((size_t)v->n + CHANGES) * KS_RECORD_SIZE);
    memcpy(nv->recs, v->recs, (size_t)v->n * KS_RECORD_SIZE);
    for (uint32_t i = 0; i < 400; i++) {
        ks_record r;
        uint8_t *p = nv->recs + (size_t)(((uint64_t)i * 2477 + 13 * version) % v->n) * KS_RECORD_SIZE;
        ks_record_decode(&r, p, NULL);
        r.privileges ^= KS_PRIV_REFUND;
        ks_record_encode(&r, p);
    }
    for (uint32_t i = 0, k = 0; k < 300; i++) {
        uint32_t j = (uint32_t)(((uint64_t)i * 3301 + 7 * version + 1) % v->n);
        if (!drop[j] && (uint32_t)(((uint64_t)j + v->n - 13 * version) % 2477)) {
            drop[j] = 1;
            k++;
        }
    }
    uint32_t w = 0;
    for (uint32_t i = 0; i < v->n; i++)
        if (!drop[i])
            memmove(nv->recs + (size_t)w++ * KS_RECORD_SIZE,
                    nv->recs + (size_t)i * KS_RECORD_SIZE, KS_RECORD_SIZE);
    free(drop);
    for (uint32_t i = 0; i < 300; i++)
        bench_record(c, first_new + i, nv->recs + (size_t)w++ * KS_RECORD_SIZE);
    nv->n = w;
    qsort(nv->recs, nv->n, KS_RECORD_SIZE, bench_cmp_rec);
    size_t len = KS_SNAP_HEADER_SIZE + (size_t)nv->n * KS_RECORD_SIZE;
    nv->snap = malloc(len);
    memset(&h, 0, sizeof h);
    h.version = version;
    h.created_at = 1700000000 + version * 100;
    if (ks_snapshot_write(c, &h, nv->recs, nv->n, sk, nv->snap, len) != 0)
        return 1;
    ks_recsrc_mem(&a, v->recs, v->n);
    ks_recsrc_mem(&b, nv->recs, nv->n);
    ks_snap_header_decode(&ho, v->snap, NULL);
    ks_delta_write(&a, &ho, &b, nv->snap, NULL, 0, &need);
    nv->delta = malloc(need);
    nv->delta_len = need;
    return ks_delta_write(&a, &ho, &b, nv->snap, nv->delta, need, &need) != 0;
}

#endif
