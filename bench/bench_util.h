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

#include "ks_flash_file.h"
#include "ks_sodium.h"

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the calling thread (time it was preempted does not count) */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* ----- an engine on a store of synthetic credentials (bench_auth, bench_hsm) ----- */

#define BENCH_T0 1750000000ull

/* Everything a controller's engine runs on, in one place so the benchmarks
 * build it the same way: emulated flash, the store, the engine and its
 * tables, libsodium, a trusted supervisor key. Large: make it static. */
typedef struct bench_engine {
    ks_flash_emu emu;
    ks_store st;
    ks_counter counters[256];
    uint8_t buf[65536];
    ks_auth a;
    ks_auth_session sessions[8];
    ks_auth_pending pending[8];
    ks_crypto c;
    ks_trust trust;
    uint64_t now;   /* the engine's clock (bench_engine_tick moves it) */
} bench_engine;

static inline int bench_engine_rtc(void *ctx, uint64_t *t)
{
    *t = ((bench_engine *)ctx)->now;
    return 0;
}

static inline int bench_engine_rng(void *ctx, uint8_t *b, size_t n)
{
    (void)ctx;
    randombytes_buf(b, n);
    return 0;
}

/*
 * nrec random credentials plus nkeys supervisor keys (OPERATOR, SUPERVISOR,
 * VOID) with the given public keys, signed into a snapshot by a fresh
 * supervisor key and installed; then the engine, its clock at BENCH_T0.
 * 0, or 1 with the reason on stderr.
 */
static inline int bench_engine_setup(bench_engine *e, uint32_t nrec, const uint8_t (*keys)[32],
                                     size_t nkeys)
{
    uint8_t spk[32], ssk[64];
    size_t snap_len = KS_SNAP_HEADER_SIZE + (size_t)nrec * KS_RECORD_SIZE;
    ks_store_cfg scfg;
    ks_auth_cfg acfg;
    ks_snap_header h;
    ks_recsrc src;
    ks_record r;
    uint8_t *recs, *snap;
    double t = bench_now();
    int err, rc = 1;

    if (nkeys > nrec || ks_sodium_crypto(&e->c))
        return 1;
    e->now = BENCH_T0;
    ks_sodium_keypair(spk, ssk);
    ks_trust_init(&e->trust);
    ks_trust_add(&e->trust, &e->c, spk);
    recs = bench_records(&e->c, nrec);
    snap = malloc(snap_len);
    if (!recs || !snap) {
        fprintf(stderr, "setup: no memory\n");
        goto cleanup;
    }
    /* the first nkeys records become the keys that answer, then re-sort */
    for (size_t i = 0; i < nkeys; i++) {
        memset(&r, 0, sizeof r);
        memcpy(r.public_key, keys[i], 32);
        ks_key_id(&e->c, r.key_id, keys[i]);
        r.privileges = KS_PRIV_OPERATOR | KS_PRIV_SUPERVISOR | KS_PRIV_VOID;
        r.valid_from = 1700000000u;
        r.record_version = KS_RECORD_VERSION;
        r.key_format = 1;
        r.algorithm = KS_ALG_ED25519;
        ks_record_encode(&r, recs + i * KS_RECORD_SIZE);
    }
    qsort(recs, nrec, KS_RECORD_SIZE, bench_cmp_rec);
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.created_at = BENCH_T0 - 10;
    if (ks_snapshot_write(&e->c, &h, recs, nrec, ssk, snap, snap_len)) {
        fprintf(stderr, "snapshot write failed\n");
        goto cleanup;
    }
    if (ks_flash_emu_init(&e->emu, 65536, 2 * 2 + 4 + 2 * ((nrec + 499) / 500 + 100), 16,
                          0xFF)) {
        fprintf(stderr, "flash emulator: no memory\n");
        goto cleanup;
    }
    memset(&scfg, 0, sizeof scfg);
    scfg.flash = &e->emu.flash;
    scfg.crypto = &e->c;
    scfg.meta_sectors = 2;
    scfg.audit_sectors = 4;
    scfg.counters = e->counters;
    scfg.counter_cap = 256;
    scfg.buf = e->buf;
    scfg.buf_size = sizeof e->buf;
    if ((err = ks_store_format(&e->st, &scfg, &e->trust)) != 0) {
        fprintf(stderr, "format: %s\n", ks_err_name(err));
        goto cleanup;
    }
    ks_recsrc_mem(&src, snap + KS_SNAP_HEADER_SIZE, nrec);
    if ((err = ks_store_install(&e->st, snap, &src, 0, NULL)) != 0) {
        fprintf(stderr, "install: %s (area capacity %u)\n", ks_err_name(err),
                ks_store_area_capacity(&e->st));
        goto cleanup;
    }
    ks_auth_cfg_default(&acfg);
    memcpy(acfg.controller_id, "bench-controller", 16);
    acfg.sessions = e->sessions;
    acfg.session_cap = 8;
    acfg.pending = e->pending;
    acfg.pending_cap = 8;
    acfg.crypto = &e->c;
    acfg.store = &e->st;
    acfg.hal.ctx = e;
    acfg.hal.rtc = bench_engine_rtc;
    acfg.hal.rng = bench_engine_rng;
    if ((err = ks_auth_init(&e->a, &acfg)) != 0) {
        fprintf(stderr, "auth init: %s\n", ks_err_name(err));
        goto cleanup;
    }
    printf("setup: %u records generated, signed and installed in %.1f s\n", nrec,
           bench_now() - t);
    rc = 0;
cleanup:
    sodium_memzero(ssk, sizeof ssk);
    free(snap);
    free(recs);
    return rc;
}

#endif
