/*
 * bench_formats.c - snapshot build and verify on 1,000,000 records beside
 * raw BLAKE2b leaf hashing of the same bytes, and delta application for
 * 100 / 1,000 / 10,000 changes on databases of two sizes (the cost must
 * follow the change, not the database).
 *
 * usage: bench_formats [records]   (default 1000000)
 */
#include "bench_util.h"

static ks_crypto C;
static uint8_t PK[32], SK[64];

/* The physical limit: BLAKE2b over 0x00||record for every record. */
static double raw_leaf_hash_seconds(const uint8_t *recs, uint32_t n)
{
    uint8_t out[32];
    static const uint8_t zero = 0;
    double t0 = bench_now();
    for (uint32_t i = 0; i < n; i++) {
        crypto_generichash_blake2b_state st;
        crypto_generichash_blake2b_init(&st, NULL, 0, 32);
        crypto_generichash_blake2b_update(&st, &zero, 1);
        crypto_generichash_blake2b_update(&st, recs + (size_t)i * KS_RECORD_SIZE, KS_RECORD_SIZE);
        crypto_generichash_blake2b_final(&st, out, 32);
    }
    return bench_now() - t0;
}

typedef struct snap {
    uint8_t *img;
    size_t len;
    ks_snap_header h;
} snap;

static void snap_make(snap *s, const uint8_t *recs, uint32_t n, uint64_t version)
{
    s->len = KS_SNAP_HEADER_SIZE + (size_t)n * KS_RECORD_SIZE;
    s->img = malloc(s->len);
    memset(&s->h, 0, sizeof s->h);
    s->h.version = version;
    s->h.created_at = 1800000000u;
    if (ks_snapshot_write(&C, &s->h, recs, n, SK, s->img, s->len)) {
        fprintf(stderr, "snapshot write failed\n");
        exit(1);
    }
}

/* New record set: `changes` split evenly into updates, inserts and removals. */
static uint8_t *mutate(const uint8_t *recs, uint32_t n, uint32_t changes, uint32_t *n_out)
{
    uint32_t third = changes / 3, ins = changes - 2 * third;
    uint8_t *out = malloc(((size_t)n + ins) * KS_RECORD_SIZE);
    memcpy(out, recs, (size_t)n * KS_RECORD_SIZE);
    uint32_t m = n;
    /* remove: every (n/third)-th record; update: the ones just after */
    uint32_t step = third ? n / third : 0;
    for (uint32_t i = 0; i < third; i++)
        out[((size_t)i * step + 1) * KS_RECORD_SIZE + 48] ^= KS_PRIV_VOID;
    for (uint32_t i = 0; i < third; i++)
        memset(out + (size_t)i * step * KS_RECORD_SIZE, 0xFF, KS_KEYID_SIZE); /* mark */
    for (uint32_t i = 0; i < ins; i++)
        bench_record(&C, n + i, out + (size_t)(m++) * KS_RECORD_SIZE);
    qsort(out, m, KS_RECORD_SIZE, bench_cmp_rec);
    m -= third; /* marked records sorted to the end (key id FF..FF) */
    *n_out = m;
    return out;
}

static void delta_case(const uint8_t *recs, uint32_t n, const snap *base, uint32_t changes)
{
    uint32_t m;
    uint8_t *nrecs = mutate(recs, n, changes, &m);
    snap target;
    snap_make(&target, nrecs, m, base->h.version + 1);
    ks_recsrc a, b;
    ks_recsrc_mem(&a, recs, n);
    ks_recsrc_mem(&b, nrecs, m);
    size_t dlen;
    ks_delta_write(&a, &base->h, &b, target.img, NULL, 0, &dlen);
    uint8_t *dbuf = malloc(dlen);
    ks_delta_write(&a, &base->h, &b, target.img, dbuf, dlen, &dlen);

    unsigned bits = base->h.bucket_bits;
    uint8_t (*nodes)[32] = malloc(ks_tree_nodes(bits) * 32);
    uint8_t *merged = malloc(((size_t)m + 1) * KS_RECORD_SIZE);
    double verify[5], merge[5];
    for (int rep = 0; rep < 5; rep++) {
        ks_tree t;
        ks_tree_build(&t, &C, &a, bits, nodes, ks_tree_nodes(bits));
        ks_policy p = {NULL, base->h.version, 1, 0};
        ks_trust tr;
        ks_trust_init(&tr);
        ks_trust_add(&tr, &C, PK);
        p.trust = &tr;
        ks_delta dl;
        double t0 = bench_now();
        int err = ks_delta_parse(&dl, dbuf, dlen, NULL);
        if (!err)
            err = ks_delta_check(&C, &dl, &base->h, &p, NULL);
        if (!err)
            err = ks_delta_update_tree(&t, &C, &a, &dl, NULL);
        double t1 = bench_now();
        int64_t got = err ? err : ks_delta_merge(&a, &dl, merged, m);
        double t2 = bench_now();
        if (err || got != (int64_t)m) {
            fprintf(stderr, "delta apply failed: %s\n", ks_err_name(err ? err : (int)got));
            exit(1);
        }
        verify[rep] = t1 - t0;
        merge[rep] = t2 - t1;
    }
    printf("delta   db=%8u changes=%6u  %7zu bytes  verify+tree %8.3f ms  merge %8.3f ms  total %8.3f ms\n",
           n, changes, dlen, bench_median(verify, 5) * 1e3, bench_median(merge, 5) * 1e3,
           (bench_median(verify, 5) + bench_median(merge, 5)) * 1e3);
    free(merged);
    free(nodes);
    free(dbuf);
    free(target.img);
    free(nrecs);
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000u;
    if (ks_sodium_crypto(&C))
        return 1;
    crypto_sign_keypair(PK, SK);
    ks_trust trust;
    ks_trust_init(&trust);
    ks_trust_add(&trust, &C, PK);

    printf("== keysup formats benchmark: %u records of %d bytes\n", n, KS_RECORD_SIZE);
    uint8_t *recs = bench_records(&C, n);
    double raw = raw_leaf_hash_seconds(recs, n);
    printf("limit   raw BLAKE2b leaf hashing      %10.0f records/s  (%.3f s)\n", n / raw, raw);

    snap s;
    double t0 = bench_now();
    snap_make(&s, recs, n, 1);
    double build = bench_now() - t0;
    printf("build   snapshot build + sign         %10.0f records/s  (%.3f s)  ratio to raw hashing %.2f\n",
           n / build, build, raw / build);

    ks_policy p = {&trust, 0, 0, 0};
    t0 = bench_now();
    int err = ks_snapshot_verify(&C, s.img, s.len, &p, NULL, NULL);
    double ver = bench_now() - t0;
    if (err) {
        fprintf(stderr, "verify failed: %s\n", ks_err_name(err));
        return 1;
    }
    printf("verify  snapshot full verify          %10.0f records/s  (%.3f s)  ratio to raw hashing %.2f\n",
           n / ver, ver, raw / ver);

    const uint32_t changes[] = {100, 1000, 10000};
    for (size_t i = 0; i < 3; i++)
        delta_case(recs, n, &s, changes[i]);
    /* Same change on a database 10x smaller: the verify column should not move much. */
    uint32_t small = n / 10;
    uint8_t *srecs = bench_records(&C, small);
    snap ss;
    snap_make(&ss, srecs, small, 1);
    delta_case(srecs, small, &ss, 1000);
    free(ss.img);
    free(srecs);
    free(s.img);
    free(recs);
    return 0;
}
