/*
 * sup_pubcache.c - change sets, merge, partial rehash, step codec and deltas
 * for the incremental publisher (contract in sup_pubcache.h).
 */
#include "sup_pubcache.h"

#include <stdlib.h>
#include <string.h>

#define STEP_BEFORE 1u
#define STEP_AFTER 2u

void sup_pch_free(sup_pchanges *c)
{
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

sup_pchange *sup_pch_add(sup_pchanges *c)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        sup_pchange *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        c->v = nv;
        c->cap = nc;
    }
    memset(&c->v[c->n], 0, sizeof c->v[c->n]);
    c->v[c->n].ord = (uint32_t)c->n;
    return &c->v[c->n++];
}

static int cmp_change(const void *a, const void *b)
{
    const sup_pchange *x = a, *y = b;
    int r = memcmp(x->key_id, y->key_id, KS_KEYID_SIZE);
    if (r)
        return r;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int is_noop(const sup_pchange *e)
{
    if (e->has_before != e->has_after)
        return 0;
    return !e->has_after || memcmp(e->before, e->after, KS_RECORD_SIZE) == 0;
}

int sup_pch_collapse(sup_pchanges *c)
{
    size_t w = 0;
    if (c->n > 1)
        qsort(c->v, c->n, sizeof *c->v, cmp_change);
    for (size_t i = 0; i < c->n;) {
        size_t j = i + 1;
        /* Entries of one key are adjacent and in arrival order: keep the
         * first one's before state and the last one's after state. */
        while (j < c->n && memcmp(c->v[j].key_id, c->v[i].key_id, KS_KEYID_SIZE) == 0)
            j++;
        if (j - 1 != i) {
            c->v[i].has_after = c->v[j - 1].has_after;
            memcpy(c->v[i].after, c->v[j - 1].after, KS_RECORD_SIZE);
        }
        if (!is_noop(&c->v[i])) {
            if (w != i)
                c->v[w] = c->v[i];
            c->v[w].ord = (uint32_t)w;
            w++;
        }
        i = j;
    }
    c->n = w;
    return KS_OK;
}

/* First index in recs[lo, n) whose key id is >= id (binary search). */
static uint32_t lower_bound(const uint8_t *recs, uint32_t lo, uint32_t n, const uint8_t *id)
{
    uint32_t hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(recs + (size_t)mid * KS_RECORD_SIZE, id, KS_KEYID_SIZE) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t sup_pch_apply(const uint8_t *base, uint32_t n, sup_pchanges *c, uint8_t *out,
                     uint32_t cap)
{
    uint32_t k = 0, w = 0;
    for (size_t i = 0; i < c->n; i++) {
        sup_pchange *e = &c->v[i];
        uint32_t pos = lower_bound(base, k, n, e->key_id);
        int found = pos < n &&
                    memcmp(base + (size_t)pos * KS_RECORD_SIZE, e->key_id, KS_KEYID_SIZE) == 0;
        uint32_t run = pos - k;
        if ((uint64_t)w + run + (e->has_after ? 1 : 0) > cap)
            return KS_E_NOSPC;
        memcpy(out + (size_t)w * KS_RECORD_SIZE, base + (size_t)k * KS_RECORD_SIZE,
               (size_t)run * KS_RECORD_SIZE);
        w += run;
        e->has_before = (uint8_t)found;
        if (found)
            memcpy(e->before, base + (size_t)pos * KS_RECORD_SIZE, KS_RECORD_SIZE);
        if (e->has_after)
            memcpy(out + (size_t)(w++) * KS_RECORD_SIZE, e->after, KS_RECORD_SIZE);
        k = pos + (uint32_t)found;
    }
    if ((uint64_t)w + (n - k) > cap)
        return KS_E_NOSPC;
    memcpy(out + (size_t)w * KS_RECORD_SIZE, base + (size_t)k * KS_RECORD_SIZE,
           (size_t)(n - k) * KS_RECORD_SIZE);
    return (int64_t)w + (n - k);
}

/* Hash of bucket b over the sorted records (its RFC 6962 MTH). */
static void bucket_hash(const ks_crypto *cr, const uint8_t *recs, uint32_t n, unsigned bits,
                        uint32_t b, uint8_t out[32])
{
    uint8_t probe[KS_KEYID_SIZE] = {0}, h[32];
    uint32_t prefix = bits ? b << (32 - bits) : 0, i;
    ks_mth m;

    probe[0] = (uint8_t)(prefix >> 24);
    probe[1] = (uint8_t)(prefix >> 16);
    probe[2] = (uint8_t)(prefix >> 8);
    probe[3] = (uint8_t)prefix;
    ks_mth_init(&m);
    for (i = lower_bound(recs, 0, n, probe);
         i < n && ks_bucket_of(recs + (size_t)i * KS_RECORD_SIZE, bits) == b; i++) {
        ks_merkle_leaf(cr, h, recs + (size_t)i * KS_RECORD_SIZE);
        ks_mth_push(&m, cr, h);
    }
    ks_mth_final(&m, cr, out);
}

int sup_pch_tree_update(ks_tree *t, const ks_crypto *cr, const uint8_t *recs, uint32_t n,
                       const sup_pchanges *c)
{
    size_t leaves = (size_t)1 << t->bits;
    int64_t last = -1;

    /* Changes are sorted by key id, so their buckets come in ascending order. */
    for (size_t i = 0; i < c->n; i++) {
        uint32_t b = ks_bucket_of(c->v[i].key_id, t->bits);
        if ((int64_t)b == last)
            continue;
        bucket_hash(cr, recs, n, t->bits, b, t->nodes[leaves + b]);
        last = b;
    }
    /* Each ancestor once per level, not once per touched bucket. */
    for (unsigned level = 1; level <= t->bits; level++) {
        size_t prev = 0;
        for (size_t i = 0; i < c->n; i++) {
            size_t node = (leaves + ks_bucket_of(c->v[i].key_id, t->bits)) >> level;
            if (node == prev)
                continue;
            ks_merkle_node(cr, t->nodes[node], t->nodes[2 * node], t->nodes[2 * node + 1]);
            prev = node;
        }
    }
    return KS_OK;
}

size_t sup_pch_step_size(const sup_pchanges *c)
{
    size_t len = 0;
    for (size_t i = 0; i < c->n; i++)
        len += KS_KEYID_SIZE + 1 + (c->v[i].has_before ? KS_RECORD_SIZE : 0) +
               (c->v[i].has_after ? KS_RECORD_SIZE : 0);
    return len;
}

void sup_pch_step_encode(const sup_pchanges *c, uint8_t *out)
{
    for (size_t i = 0; i < c->n; i++) {
        const sup_pchange *e = &c->v[i];
        memcpy(out, e->key_id, KS_KEYID_SIZE);
        out += KS_KEYID_SIZE;
        *out++ = (uint8_t)((e->has_before ? STEP_BEFORE : 0) | (e->has_after ? STEP_AFTER : 0));
        if (e->has_before) {
            memcpy(out, e->before, KS_RECORD_SIZE);
            out += KS_RECORD_SIZE;
        }
        if (e->has_after) {
            memcpy(out, e->after, KS_RECORD_SIZE);
            out += KS_RECORD_SIZE;
        }
    }
}

int sup_pch_step_decode(sup_pchanges *c, const uint8_t *in, size_t len)
{
    size_t o = 0;
    while (o < len) {
        sup_pchange *e;
        uint8_t fl;
        if (len - o < KS_KEYID_SIZE + 1)
            return KS_E_FORMAT;
        fl = in[o + KS_KEYID_SIZE];
        if (fl & ~(STEP_BEFORE | STEP_AFTER) ||
            len - o < KS_KEYID_SIZE + 1 + (size_t)(((fl & STEP_BEFORE) != 0) + ((fl & STEP_AFTER) != 0)) *
                                              KS_RECORD_SIZE)
            return KS_E_FORMAT;
        if (!(e = sup_pch_add(c)))
            return KS_E_NOSPC;
        memcpy(e->key_id, in + o, KS_KEYID_SIZE);
        o += KS_KEYID_SIZE + 1;
        e->has_before = (fl & STEP_BEFORE) != 0;
        e->has_after = (fl & STEP_AFTER) != 0;
        if (e->has_before) {
            memcpy(e->before, in + o, KS_RECORD_SIZE);
            o += KS_RECORD_SIZE;
        }
        if (e->has_after) {
            memcpy(e->after, in + o, KS_RECORD_SIZE);
            o += KS_RECORD_SIZE;
        }
    }
    return KS_OK;
}

/* The before (after = 0) or after (after = 1) records of c, sorted. */
static uint8_t *side(const sup_pchanges *c, int after, uint32_t *count)
{
    uint8_t *r = malloc(c->n ? c->n * KS_RECORD_SIZE : 1);
    uint32_t k = 0;
    if (!r)
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const sup_pchange *e = &c->v[i];
        if (after ? e->has_after : e->has_before)
            memcpy(r + (size_t)(k++) * KS_RECORD_SIZE, after ? e->after : e->before,
                   KS_RECORD_SIZE);
    }
    *count = k;
    return r;
}

int sup_pch_delta(const sup_pchanges *c, const ks_snap_header *base,
                 const uint8_t target_hdr[KS_SNAP_HEADER_SIZE], uint8_t **out, size_t *len)
{
    uint32_t nb = 0, na = 0;
    uint8_t *b = side(c, 0, &nb), *a = side(c, 1, &na);
    ks_recsrc os, ns;
    size_t need = 0;
    int rc = KS_E_NOSPC;

    *out = NULL;
    if (!a || !b)
        goto cleanup;
    ks_recsrc_mem(&os, b, nb);
    ks_recsrc_mem(&ns, a, na);
    rc = ks_delta_write(&os, base, &ns, target_hdr, NULL, 0, &need);
    if (rc)
        goto cleanup;
    rc = KS_E_NOSPC;
    if (!(*out = malloc(need)))
        goto cleanup;
    rc = ks_delta_write(&os, base, &ns, target_hdr, *out, need, &need);
    if (rc) {
        free(*out);
        *out = NULL;
        goto cleanup;
    }
    *len = need;
cleanup:
    free(a);
    free(b);
    return rc;
}

int sup_pch_sign_header(const ks_crypto *cr, ks_snap_header *h, const ks_tree *t,
                       uint32_t count, const uint8_t sk[KS_SECKEY_SIZE],
                       uint8_t out[KS_SNAP_HEADER_SIZE])
{
    int rc;
    h->format = KS_SNAP_FORMAT;
    h->bucket_bits = (uint8_t)t->bits;
    h->record_count = count;
    /* A tree over 2^bits buckets is perfect, so its root is the RFC 6962
     * root ks_merkle_root computes over the same bucket hashes. */
    memcpy(h->root, ks_tree_root(t), KS_HASH_SIZE);
    memset(h->signature, 0, KS_SIG_SIZE);
    ks_snap_header_encode(h, out);
    if ((rc = ks_snap_header_sign(cr, out, sk)) != 0)
        return rc;
    memcpy(h->signer_id, out + 32, KS_KEYID_SIZE);
    memcpy(h->signature, out + 96, KS_SIG_SIZE);
    return KS_OK;
}

typedef struct sort_ent {
    uint64_t prefix; /* first 8 key id bytes, big-endian: most compares end here */
    uint32_t idx;
} sort_ent;

static const uint8_t *sort_base;

static int cmp_ent(const void *a, const void *b)
{
    const sort_ent *x = a, *y = b;
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    return memcmp(sort_base + (size_t)x->idx * KS_RECORD_SIZE + 8,
                  sort_base + (size_t)y->idx * KS_RECORD_SIZE + 8, KS_KEYID_SIZE - 8);
}

int sup_pch_sort_into(const uint8_t *recs, uint32_t n, uint8_t *out)
{
    sort_ent *e = malloc((n ? n : 1) * sizeof *e);
    int rc = KS_OK;
    if (!e)
        return KS_E_NOSPC;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *k = recs + (size_t)i * KS_RECORD_SIZE;
        uint64_t p = 0;
        for (int j = 0; j < 8; j++)
            p = (p << 8) | k[j];
        e[i].prefix = p;
        e[i].idx = i;
    }
    /* qsort has no context argument in C11; only the publisher thread sorts
     * (sup_pub_run_once is serialised), so a file-scope base is safe. */
    sort_base = recs;
    qsort(e, n, sizeof *e, cmp_ent);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(out + (size_t)i * KS_RECORD_SIZE, recs + (size_t)e[i].idx * KS_RECORD_SIZE,
               KS_RECORD_SIZE);
        if (i > 0 && memcmp(out + (size_t)(i - 1) * KS_RECORD_SIZE,
                            out + (size_t)i * KS_RECORD_SIZE, KS_KEYID_SIZE) == 0)
            rc = KS_E_FORMAT;
    }
    free(e);
    return rc;
}
