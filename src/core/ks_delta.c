/*
 * ks_delta.c - deltas between two snapshots of one scope.
 *
 * Delta layout (docs/formats.md):
 *   0 magic "KSDL"  4 format u16  6 reserved u16  8 base_version u64
 *  16 base_root[32]  48 n_upserts u32  52 n_removals u32
 *  56 target snapshot header (160 bytes, signed by the supervisor)
 * 216 upserts: n_upserts records, strictly ascending key id
 *     removals: n_removals key ids, strictly ascending, disjoint from upserts
 * Nothing but the target header is signed: the result is authenticated by
 * landing exactly on the target's signed Merkle root.
 */
#include <keysup/ks_snapshot.h>

#include <string.h>

static const uint8_t *up_id(const ks_delta *dl, uint32_t i)
{
    return dl->upserts + (size_t)i * KS_RECORD_SIZE;
}

static const uint8_t *rm_id(const ks_delta *dl, uint32_t i)
{
    return dl->removals + (size_t)i * KS_KEYID_SIZE;
}

int ks_delta_parse(ks_delta *dl, const uint8_t *buf, size_t len, ks_diag *d)
{
    ks_record r;
    int err;

    if (len < KS_DELTA_PREFIX)
        return ks_fail(d, KS_E_FORMAT, (uint32_t)len, "delta is shorter than its 216-byte prefix");
    if (memcmp(buf, KS_DELTA_MAGIC, 4) != 0)
        return ks_fail(d, KS_E_FORMAT, 0, "delta.magic is not KSDL");
    if (ks_ld16(buf + 4) != KS_DELTA_FORMAT)
        return ks_fail(d, KS_E_FORMAT, 4, "delta.format is not supported");
    if (ks_ld16(buf + 6) != 0)
        return ks_fail(d, KS_E_FORMAT, 6, "delta.reserved is not zero");
    dl->base_version = ks_ld64(buf + 8);
    memcpy(dl->base_root, buf + 16, KS_HASH_SIZE);
    dl->n_upserts = ks_ld32(buf + 48);
    dl->n_removals = ks_ld32(buf + 52);
    if (ks_delta_size(dl->n_upserts, dl->n_removals) != len)
        return ks_fail(d, KS_E_FORMAT, 48, "delta size does not match n_upserts and n_removals");
    if ((err = ks_snap_header_decode(&dl->target, buf + KS_DELTA_FIXED, d)) != 0) {
        if (d)
            d->offset += KS_DELTA_FIXED;
        return err;
    }
    dl->target_raw = buf + KS_DELTA_FIXED;
    dl->upserts = buf + KS_DELTA_PREFIX;
    dl->removals = dl->upserts + (size_t)dl->n_upserts * KS_RECORD_SIZE;

    for (uint32_t i = 0; i < dl->n_upserts; i++) {
        uint32_t off = KS_DELTA_PREFIX + i * KS_RECORD_SIZE;
        if ((err = ks_record_decode(&r, up_id(dl, i), d)) != 0) {
            if (d)
                d->offset += off;
            return err;
        }
        if (i > 0 && memcmp(up_id(dl, i - 1), up_id(dl, i), KS_KEYID_SIZE) >= 0)
            return ks_fail(d, KS_E_FORMAT, off, "delta upserts are not sorted by key id, or repeat one");
    }
    uint32_t rm0 = (uint32_t)(KS_DELTA_PREFIX + (size_t)dl->n_upserts * KS_RECORD_SIZE);
    for (uint32_t i = 1; i < dl->n_removals; i++)
        if (memcmp(rm_id(dl, i - 1), rm_id(dl, i), KS_KEYID_SIZE) >= 0)
            return ks_fail(d, KS_E_FORMAT, rm0 + i * KS_KEYID_SIZE,
                           "delta removals are not sorted, or repeat one");
    /* Both lists sorted: one merge walk proves they are disjoint. */
    for (uint32_t i = 0, j = 0; i < dl->n_upserts && j < dl->n_removals;) {
        int cmp = memcmp(up_id(dl, i), rm_id(dl, j), KS_KEYID_SIZE);
        if (cmp == 0)
            return ks_fail(d, KS_E_FORMAT, rm0 + j * KS_KEYID_SIZE,
                           "delta removes a key it also upserts");
        if (cmp < 0)
            i++;
        else
            j++;
    }
    return KS_OK;
}

int ks_delta_check(const ks_crypto *c, const ks_delta *dl, const ks_snap_header *base,
                   const ks_policy *p, ks_diag *d)
{
    int err;
    if (dl->base_version != base->version)
        return ks_fail(d, KS_E_BASE, 8, "delta.base_version is not the applied snapshot's version");
    if (memcmp(dl->base_root, base->root, KS_HASH_SIZE) != 0)
        return ks_fail(d, KS_E_BASE, 16, "delta.base_root is not the applied snapshot's root");
    if (dl->target.scope != base->scope)
        return ks_fail(d, KS_E_BASE, KS_DELTA_FIXED + 56, "delta target is for another scope");
    if ((err = ks_snap_header_check(c, dl->target_raw, p, d)) != 0) {
        if (d)
            d->offset += KS_DELTA_FIXED;
        return err;
    }
    if (dl->target.version <= dl->base_version)
        return ks_fail(d, KS_E_ROLLBACK, KS_DELTA_FIXED + 8,
                       "delta target version is not newer than its base");
    return KS_OK;
}

/* ---- touched buckets: the union of the buckets of upserts and removals ---- */

typedef struct bucket_iter {
    const ks_delta *dl;
    unsigned bits;
    uint32_t i, j;
    int64_t last;
} bucket_iter;

static void bucket_iter_init(bucket_iter *it, const ks_delta *dl, unsigned bits)
{
    it->dl = dl;
    it->bits = bits;
    it->i = it->j = 0;
    it->last = -1;
}

/* Next touched bucket in ascending order, or -1 when done. */
static int64_t bucket_iter_next(bucket_iter *it)
{
    const ks_delta *dl = it->dl;
    for (;;) {
        int64_t bu = it->i < dl->n_upserts ? ks_bucket_of(up_id(dl, it->i), it->bits) : INT64_MAX;
        int64_t br = it->j < dl->n_removals ? ks_bucket_of(rm_id(dl, it->j), it->bits) : INT64_MAX;
        int64_t b = bu < br ? bu : br;
        if (b == INT64_MAX)
            return -1;
        if (b == bu)
            it->i++;
        else
            it->j++;
        if (b != it->last) {
            it->last = b;
            return b;
        }
    }
}

/* First record index whose bucket is >= b. */
static int bucket_start(const ks_recsrc *base, unsigned bits, uint64_t b, uint32_t *index)
{
    uint8_t probe[KS_KEYID_SIZE] = {0};
    if (b >= ((uint64_t)1 << bits)) {
        *index = base->count;
        return KS_OK;
    }
    uint32_t prefix = bits ? (uint32_t)(b << (32 - bits)) : 0;
    probe[0] = (uint8_t)(prefix >> 24);
    probe[1] = (uint8_t)(prefix >> 16);
    probe[2] = (uint8_t)(prefix >> 8);
    probe[3] = (uint8_t)prefix;
    int err = ks_recsrc_find(base, probe, index);
    return err == KS_E_NOTFOUND ? KS_OK : err;
}

/*
 * Hash of bucket b after the delta (dl != NULL) or before it (dl == NULL).
 * Walks the bucket's base records and the delta's upserts and removals of
 * that bucket together, in key-id order.
 */
static int bucket_hash(const ks_crypto *c, const ks_recsrc *base, unsigned bits,
                       const ks_delta *dl, uint32_t b, uint32_t *ui, uint32_t *ri,
                       uint8_t out[32])
{
    uint32_t lo, hi;
    uint8_t rec[KS_RECORD_SIZE], h[32];
    ks_mth m;
    int err;

    if ((err = bucket_start(base, bits, b, &lo)) != 0 ||
        (err = bucket_start(base, bits, (uint64_t)b + 1, &hi)) != 0)
        return err;
    ks_mth_init(&m);
    uint32_t k = lo;
    for (;;) {
        const uint8_t *up = NULL;
        if (dl && *ui < dl->n_upserts && ks_bucket_of(up_id(dl, *ui), bits) == b)
            up = up_id(dl, *ui);
        int have_base = k < hi;
        if (have_base && (err = ks_recsrc_get(base, k, rec)) != 0)
            return err;
        if (!up && !have_base)
            break;
        int cmp = !up ? -1 : !have_base ? 1 : memcmp(rec, up, KS_KEYID_SIZE);
        if (cmp < 0) {
            k++;
            /* A base record survives unless the delta removes it. */
            if (dl && *ri < dl->n_removals && ks_bucket_of(rm_id(dl, *ri), bits) == b &&
                memcmp(rm_id(dl, *ri), rec, KS_KEYID_SIZE) < 0)
                return KS_E_BASE; /* removal of a key the base does not hold */
            if (dl && *ri < dl->n_removals && memcmp(rm_id(dl, *ri), rec, KS_KEYID_SIZE) == 0) {
                (*ri)++;
                continue;
            }
            ks_merkle_leaf(c, h, rec);
        } else {
            if (cmp == 0)
                k++; /* replaced */
            (*ui)++;
            ks_merkle_leaf(c, h, up);
        }
        ks_mth_push(&m, c, h);
    }
    if (dl && *ri < dl->n_removals && ks_bucket_of(rm_id(dl, *ri), bits) == b)
        return KS_E_BASE;
    ks_mth_final(&m, c, out);
    return KS_OK;
}

/* Rewrites the touched buckets (after the delta, or back to the base) and
 * rehashes each of their ancestors once, level by level. */
static int tree_pass(ks_tree *t, const ks_crypto *c, const ks_recsrc *base, const ks_delta *dl,
                     int forward)
{
    bucket_iter it;
    uint32_t ui = 0, ri = 0;
    size_t leaves = (size_t)1 << t->bits;
    int64_t b;
    int err;

    bucket_iter_init(&it, dl, t->bits);
    while ((b = bucket_iter_next(&it)) >= 0) {
        if (forward) {
            err = bucket_hash(c, base, t->bits, dl, (uint32_t)b, &ui, &ri, t->nodes[leaves + (size_t)b]);
        } else {
            uint32_t u0 = 0, r0 = 0;
            err = bucket_hash(c, base, t->bits, NULL, (uint32_t)b, &u0, &r0, t->nodes[leaves + (size_t)b]);
        }
        if (err)
            return err;
    }
    for (unsigned level = 1; level <= t->bits; level++) {
        size_t last = 0;
        bucket_iter_init(&it, dl, t->bits);
        while ((b = bucket_iter_next(&it)) >= 0) {
            size_t i = (leaves + (size_t)b) >> level;
            if (i != last) {
                ks_merkle_node(c, t->nodes[i], t->nodes[2 * i], t->nodes[2 * i + 1]);
                last = i;
            }
        }
    }
    return KS_OK;
}

int ks_delta_update_tree(ks_tree *t, const ks_crypto *c, const ks_recsrc *base,
                         const ks_delta *dl, ks_diag *d)
{
    uint32_t idx, inserts = 0;
    int err;

    if (t->bits != dl->target.bucket_bits)
        return ks_fail(d, KS_E_INVAL, KS_DELTA_FIXED + 6,
                       "delta target changes bucket_bits: rebuild the tree from merged records");
    for (uint32_t i = 0; i < dl->n_upserts; i++) {
        err = ks_recsrc_find(base, up_id(dl, i), &idx);
        if (err == KS_E_NOTFOUND)
            inserts++;
        else if (err)
            return ks_fail(d, err, 0, "base record read failed");
    }
    if ((uint64_t)base->count + inserts < dl->n_removals ||
        (uint64_t)base->count + inserts - dl->n_removals != dl->target.record_count)
        return ks_fail(d, KS_E_BASE, KS_DELTA_FIXED + 48,
                       "base count plus delta does not give the target record_count");

    err = tree_pass(t, c, base, dl, 1);
    if (!err && memcmp(ks_tree_root(t), dl->target.root, KS_HASH_SIZE) != 0)
        err = KS_E_ROOT;
    if (err) {
        int undo = tree_pass(t, c, base, dl, 0);
        if (undo)
            return ks_fail(d, undo, 0, "base record read failed while restoring the tree");
        return ks_fail(d, err, err == KS_E_ROOT ? KS_DELTA_FIXED + 64 : 0,
                       err == KS_E_ROOT ? "delta does not land on the target root"
                       : err == KS_E_BASE ? "delta removes a key the base does not hold"
                                          : "base record read failed");
    }
    return KS_OK;
}

/* ks_delta_merge lives in ks_merge.c, beside the one merge iterator. */

int ks_delta_write(const ks_recsrc *old_src, const ks_snap_header *old_hdr,
                   const ks_recsrc *new_src, const uint8_t new_hdr[KS_SNAP_HEADER_SIZE],
                   uint8_t *out, size_t out_len, size_t *needed)
{
    uint8_t a[KS_RECORD_SIZE], b[KS_RECORD_SIZE];
    uint32_t n_up = 0, n_rm = 0;
    int err;

    /* Pass 0 counts, pass 1 writes: same walk, no allocation. */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t i = 0, j = 0, u = 0, r = 0;
        uint8_t *ups = out ? out + KS_DELTA_PREFIX : NULL;
        uint8_t *rms = ups ? ups + (size_t)n_up * KS_RECORD_SIZE : NULL;
        while (i < old_src->count || j < new_src->count) {
            int have_a = i < old_src->count, have_b = j < new_src->count;
            if (have_a && (err = ks_recsrc_get(old_src, i, a)) != 0)
                return err;
            if (have_b && (err = ks_recsrc_get(new_src, j, b)) != 0)
                return err;
            int cmp = !have_b ? -1 : !have_a ? 1 : memcmp(a, b, KS_KEYID_SIZE);
            if (cmp < 0) {
                if (pass)
                    memcpy(rms + (size_t)r * KS_KEYID_SIZE, a, KS_KEYID_SIZE);
                r++;
                i++;
            } else if (cmp > 0 || memcmp(a, b, KS_RECORD_SIZE) != 0) {
                if (pass)
                    memcpy(ups + (size_t)u * KS_RECORD_SIZE, b, KS_RECORD_SIZE);
                u++;
                j++;
                if (cmp == 0)
                    i++;
            } else {
                i++;
                j++;
            }
        }
        if (pass == 0) {
            n_up = u;
            n_rm = r;
            *needed = ks_delta_size(n_up, n_rm);
            if (!out)
                return KS_OK;
            if (out_len < *needed)
                return KS_E_NOSPC;
        }
    }
    memcpy(out, KS_DELTA_MAGIC, 4);
    ks_st16(out + 4, KS_DELTA_FORMAT);
    ks_st16(out + 6, 0);
    ks_st64(out + 8, old_hdr->version);
    memcpy(out + 16, old_hdr->root, KS_HASH_SIZE);
    ks_st32(out + 48, n_up);
    ks_st32(out + 52, n_rm);
    memcpy(out + KS_DELTA_FIXED, new_hdr, KS_SNAP_HEADER_SIZE);
    return KS_OK;
}
