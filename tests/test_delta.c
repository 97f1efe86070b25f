/*
 * test_delta.c - deltas: random round trips that must land on the target
 * root (with the tree and by merging), the refusals, and a tamper sweep.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ks_test_util.h"

static ks_crypto C;
static uint8_t SPK[32], SSK[64];
static ks_trust TRUST;
#define NOW 1800000000u

typedef struct db {
    uint8_t *recs;
    uint32_t n;
    uint8_t hdr[KS_SNAP_HEADER_SIZE];
    ks_snap_header h;
} db;

static void db_sign(db *d, uint64_t version)
{
    uint8_t *img = malloc(KS_SNAP_HEADER_SIZE + (size_t)d->n * KS_RECORD_SIZE);
    memset(&d->h, 0, sizeof d->h);
    d->h.version = version;
    d->h.created_at = NOW - 10;
    d->h.scope = 3;
    assert_int_equal(ks_snapshot_write(&C, &d->h, d->recs, d->n, SSK, img,
                                       KS_SNAP_HEADER_SIZE + (size_t)d->n * KS_RECORD_SIZE), KS_OK);
    memcpy(d->hdr, img, KS_SNAP_HEADER_SIZE);
    free(img);
}

/* new = old with `upd` privilege changes, `ins` new keys and `rm` removals. */
static void db_mutate(const db *old, db *nw, uint32_t upd, uint32_t ins, uint32_t rm, uint32_t seed)
{
    nw->recs = malloc(((size_t)old->n + ins + 1) * KS_RECORD_SIZE);
    memcpy(nw->recs, old->recs, (size_t)old->n * KS_RECORD_SIZE);
    nw->n = old->n;
    srand(seed);
    for (uint32_t i = 0; i < upd && nw->n; i++)
        nw->recs[(size_t)(rand() % nw->n) * KS_RECORD_SIZE + 48] ^= (uint8_t)(1 + rand() % 255);
    for (uint32_t i = 0; i < rm && nw->n; i++) {
        uint32_t k = (uint32_t)rand() % nw->n;
        memmove(nw->recs + (size_t)k * KS_RECORD_SIZE, nw->recs + (size_t)(k + 1) * KS_RECORD_SIZE,
                (size_t)(nw->n - k - 1) * KS_RECORD_SIZE);
        nw->n--;
    }
    for (uint32_t i = 0; i < ins; i++)
        kt_record(&C, 100000 + seed * 1000 + i, nw->recs + (size_t)(nw->n++) * KS_RECORD_SIZE);
    qsort(nw->recs, nw->n, KS_RECORD_SIZE, kt_cmp_rec);
    db_sign(nw, old->h.version + 1);
}

/* A record source that only offers read(), as flash does. */
static int read_cb(void *ctx, uint32_t i, uint8_t out[KS_RECORD_SIZE])
{
    memcpy(out, (const uint8_t *)ctx + (size_t)i * KS_RECORD_SIZE, KS_RECORD_SIZE);
    return KS_OK;
}

static void recsrc_callback(ks_recsrc *s, const uint8_t *recs, uint32_t n)
{
    s->ctx = (void *)(uintptr_t)recs;
    s->count = n;
    s->read = read_cb;
    s->mem = NULL;
}

static uint8_t *delta_between(const db *a, const db *b, size_t *len)
{
    ks_recsrc sa, sb;
    ks_recsrc_mem(&sa, a->recs, a->n);
    ks_recsrc_mem(&sb, b->recs, b->n);
    assert_int_equal(ks_delta_write(&sa, &a->h, &sb, b->hdr, NULL, 0, len), KS_OK);
    uint8_t *out = malloc(*len);
    assert_int_equal(ks_delta_write(&sa, &a->h, &sb, b->hdr, out, *len, len), KS_OK);
    return out;
}

static void roundtrip(uint32_t n, uint32_t upd, uint32_t ins, uint32_t rm, uint32_t seed)
{
    db a, b;
    a.recs = malloc((size_t)n * KS_RECORD_SIZE + 1);
    a.n = n;
    kt_records(&C, 1, n, a.recs);
    db_sign(&a, 5);
    db_mutate(&a, &b, upd, ins, rm, seed);

    size_t len;
    uint8_t *dbuf = delta_between(&a, &b, &len);
    ks_delta dl;
    ks_diag d = {0};
    ks_policy p = {&TRUST, a.h.version, 1, NOW};
    assert_int_equal(ks_delta_parse(&dl, dbuf, len, &d), KS_OK);
    assert_int_equal(ks_delta_check(&C, &dl, &a.h, &p, &d), KS_OK);

    ks_recsrc base;
    ks_recsrc_mem(&base, a.recs, a.n);
    unsigned bits = a.h.bucket_bits;
    uint8_t (*nodes)[32] = malloc(ks_tree_nodes(bits) * 32);
    ks_tree t;
    assert_int_equal(ks_tree_build(&t, &C, &base, bits, nodes, ks_tree_nodes(bits)), KS_OK);
    int err = ks_delta_update_tree(&t, &C, &base, &dl, &d);
    if (b.h.bucket_bits == bits) {
        if (err)
            fail_msg("update_tree: %s (%s)", ks_err_name(err), d.what);
        assert_memory_equal(ks_tree_root(&t), b.h.root, 32);
    } else {
        assert_int_equal(err, KS_E_INVAL);
        assert_memory_equal(ks_tree_root(&t), a.h.root, 32);
    }
    uint8_t *merged = malloc(((size_t)b.n + 1) * KS_RECORD_SIZE);
    assert_int_equal(ks_delta_merge(&base, &dl, merged, b.n), (int64_t)b.n);
    assert_memory_equal(merged, b.recs, (size_t)b.n * KS_RECORD_SIZE);
    if (b.n > 0)
        assert_int_equal(ks_delta_merge(&base, &dl, merged, b.n - 1), KS_E_NOSPC);
    /* The same through a read-only source (records on flash): tree and merge. */
    ks_recsrc cb;
    recsrc_callback(&cb, a.recs, a.n);
    memset(merged, 0, (size_t)b.n * KS_RECORD_SIZE);
    assert_int_equal(ks_delta_merge(&cb, &dl, merged, b.n), (int64_t)b.n);
    assert_memory_equal(merged, b.recs, (size_t)b.n * KS_RECORD_SIZE);
    assert_int_equal(ks_tree_build(&t, &C, &cb, bits, nodes, ks_tree_nodes(bits)), KS_OK);
    assert_memory_equal(ks_tree_root(&t), a.h.root, 32);
    if (b.h.bucket_bits == bits) {
        assert_int_equal(ks_delta_update_tree(&t, &C, &cb, &dl, &d), KS_OK);
        assert_memory_equal(ks_tree_root(&t), b.h.root, 32);
    }
    free(merged);
    free(nodes);
    free(dbuf);
    free(a.recs);
    free(b.recs);
}

static void test_roundtrips(void **state)
{
    (void)state;
    roundtrip(0, 0, 5, 0, 1);     /* from empty */
    roundtrip(5, 0, 0, 5, 2);     /* to empty */
    roundtrip(1, 1, 0, 0, 3);
    roundtrip(16, 3, 0, 0, 4);    /* bits stay 0 */
    roundtrip(300, 10, 10, 10, 5);
    roundtrip(300, 0, 40, 0, 6);  /* bits change 5 -> 5/6 */
    roundtrip(2000, 50, 20, 30, 7);
    roundtrip(2000, 0, 0, 0, 8);  /* empty delta, version bump */
    roundtrip(17, 0, 0, 1, 9);    /* bits 1 -> 0: must refuse update_tree */
}

static void test_refusals(void **state)
{
    (void)state;
    db a, b, c;
    a.n = 40;
    a.recs = malloc(40 * KS_RECORD_SIZE);
    kt_records(&C, 1, 40, a.recs);
    db_sign(&a, 5);
    db_mutate(&a, &b, 2, 1, 1, 11);
    db_mutate(&a, &c, 1, 0, 0, 12);
    db_sign(&c, 5); /* a different database under the same version */
    size_t len;
    uint8_t *dbuf = delta_between(&a, &b, &len);
    ks_delta dl;
    ks_diag d;
    ks_policy p = {&TRUST, 5, 1, NOW};
    assert_int_equal(ks_delta_parse(&dl, dbuf, len, &d), KS_OK);

    /* Applied to another database of the same version: wrong base root. */
    assert_int_equal(ks_delta_check(&C, &dl, &c.h, &p, &d), KS_E_BASE);
    assert_string_equal(d.what, "delta.base_root is not the applied snapshot's root");
    ks_snap_header other = a.h;
    other.version = 4;
    assert_int_equal(ks_delta_check(&C, &dl, &other, &p, &d), KS_E_BASE);
    assert_string_equal(d.what, "delta.base_version is not the applied snapshot's version");

    /* Untrusted signer on the target. */
    ks_trust nobody;
    uint8_t opk[32], osk[64];
    kt_keypair(555, opk, osk);
    ks_trust_init(&nobody);
    ks_trust_add(&nobody, &C, opk);
    ks_policy q = {&nobody, 5, 1, NOW};
    assert_int_equal(ks_delta_check(&C, &dl, &a.h, &q, &d), KS_E_SUPERVISOR_UNTRUSTED);

    /* Target not newer than its base: KSE-701. */
    db_sign(&b, 5);
    free(dbuf);
    dbuf = delta_between(&a, &b, &len);
    assert_int_equal(ks_delta_parse(&dl, dbuf, len, &d), KS_OK);
    assert_int_equal(ks_delta_check(&C, &dl, &a.h, &p, &d), KS_E_ROLLBACK);

    /* Merge refuses a delta whose removal the base does not hold. */
    {
        db e;
        e.n = a.n - 1;
        e.recs = malloc(a.n * KS_RECORD_SIZE);
        memcpy(e.recs, a.recs, (size_t)e.n * KS_RECORD_SIZE);
        db_sign(&e, 6);
        size_t elen;
        uint8_t *ebuf = delta_between(&a, &e, &elen);
        ks_delta el;
        assert_int_equal(ks_delta_parse(&el, ebuf, elen, &d), KS_OK);
        assert_int_equal(el.n_removals, 1);
        ks_recsrc shorter, cb;
        ks_recsrc_mem(&shorter, e.recs, e.n); /* already lacks the removed key */
        uint8_t *out = malloc(a.n * KS_RECORD_SIZE);
        assert_int_equal(ks_delta_merge(&shorter, &el, out, a.n), KS_E_BASE);
        recsrc_callback(&cb, e.recs, e.n);
        assert_int_equal(ks_delta_merge(&cb, &el, out, a.n), KS_E_BASE);
        free(out);
        free(ebuf);
        free(e.recs);
    }

    /* Truncated and extended. */
    assert_int_equal(ks_delta_parse(&dl, dbuf, len - 1, &d), KS_E_FORMAT);
    assert_int_equal(ks_delta_parse(&dl, dbuf, 100, &d), KS_E_FORMAT);
    free(dbuf);
    free(a.recs);
    free(b.recs);
    free(c.recs);
}

static void test_tamper_sweep(void **state)
{
    (void)state;
    db a, b;
    a.n = 20;
    a.recs = malloc(20 * KS_RECORD_SIZE);
    kt_records(&C, 1, 20, a.recs);
    db_sign(&a, 5);
    /* one update, one insert, one removal */
    db_mutate(&a, &b, 1, 1, 1, 21);
    size_t len;
    uint8_t *dbuf = delta_between(&a, &b, &len);
    uint8_t *m = malloc(len);
    ks_recsrc base;
    ks_recsrc_mem(&base, a.recs, a.n);
    uint8_t nodes[ks_tree_nodes(1)][32];
    ks_tree t;
    assert_int_equal(ks_tree_build(&t, &C, &base, a.h.bucket_bits, nodes, ks_tree_nodes(1)), KS_OK);
    ks_policy p = {&TRUST, 5, 1, NOW};
    ks_delta dl;
    assert_int_equal(ks_delta_parse(&dl, dbuf, len, NULL), KS_OK);
    uint32_t nup = dl.n_upserts, nrm = dl.n_removals;
    assert_true(nup >= 1 && nrm >= 1);
    size_t up0 = KS_DELTA_PREFIX, rm0 = up0 + (size_t)nup * KS_RECORD_SIZE;
    size_t tried = 0;

    for (size_t off = 0; off < len; off++) {
        for (unsigned v = 0; v < 256; v++) {
            if (v == dbuf[off])
                continue;
            memcpy(m, dbuf, len);
            m[off] = (uint8_t)v;
            ks_diag d = {0};
            int err = ks_delta_parse(&dl, m, len, &d);
            if (!err)
                err = ks_delta_check(&C, &dl, &a.h, &p, &d);
            if (!err)
                err = ks_delta_update_tree(&t, &C, &base, &dl, &d);
            tried++;
            int ok;
            if (off < 8 || (off >= 48 && off < 56))
                ok = err == KS_E_FORMAT;
            else if (off < 48)
                ok = err == KS_E_BASE;
            else if (off < up0) {
                size_t ho = off - KS_DELTA_FIXED;
                ks_snap_header h;
                if (ks_snap_header_decode(&h, m + KS_DELTA_FIXED, NULL) != KS_OK)
                    ok = err == KS_E_FORMAT;
                else if (ho >= 56 && ho < 60)
                    ok = err == KS_E_BASE; /* scope */
                else if (ho >= 32 && ho < 48)
                    ok = err == KS_E_SUPERVISOR_UNTRUSTED;
                else
                    ok = err == KS_E_SIGNATURE;
            } else if (off < rm0) {
                size_t ro = (off - up0) % KS_RECORD_SIZE;
                ks_record r;
                if (ks_record_decode(&r, m + off - ro, NULL) != KS_OK)
                    ok = err == KS_E_FORMAT;
                else if (ro < KS_KEYID_SIZE) /* order, collision, insert-vs-update */
                    ok = err == KS_E_FORMAT || err == KS_E_BASE || err == KS_E_ROOT;
                else
                    ok = err == KS_E_ROOT;
            } else {
                ok = err == KS_E_FORMAT || err == KS_E_BASE;
            }
            if (!ok)
                fail_msg("delta byte %zu value %u: got %s (%s)", off, v, ks_err_name(err),
                         d.what ? d.what : "");
            /* A refused delta leaves the cached tree exactly at the base. */
            assert_memory_equal(ks_tree_root(&t), a.h.root, 32);
        }
    }
    printf("delta tamper sweep: %zu single-byte changes of a %zu-byte delta refused\n", tried, len);
    assert_int_equal(tried, len * 255);
    free(m);
    free(dbuf);
    free(a.recs);
    free(b.recs);
}

int main(void)
{
    if (ks_sodium_crypto(&C) != KS_OK)
        return 1;
    kt_keypair(7, SPK, SSK);
    ks_trust_init(&TRUST);
    ks_trust_add(&TRUST, &C, SPK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_tamper_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
