/*
 * ks_merge.c - the merge of a sorted base with a delta (ks_merge.h), and
 * ks_delta_apply_buf, the verification-and-merge pipeline a tool runs on a
 * base snapshot held in memory.
 */
#include <string.h>

#include <keysup/ks_merge.h>

static const uint8_t *up_at(const ks_delta *dl, uint32_t i)
{
    return dl->upserts + (size_t)i * KS_RECORD_SIZE;
}

static const uint8_t *rm_at(const ks_delta *dl, uint32_t i)
{
    return dl->removals + (size_t)i * KS_KEYID_SIZE;
}

void ks_merge_begin(ks_merge_it *it, const ks_recsrc *base, const ks_delta *dl)
{
    memset(it, 0, sizeof *it);
    it->base = base;
    it->dl = dl;
}

/*
 * In-memory base: each change's place is found by binary search in the
 * rest of the base, and the untouched run before it goes out as one step.
 * Changes are taken in key order (a removal before an upsert of the same
 * id, which then finds no base record and is inserted).
 */
static int64_t next_mem(ks_merge_it *it, const uint8_t **out)
{
    const ks_delta *dl = it->dl;
    const uint8_t *mem = it->base->mem;
    uint32_t count = it->base->count;

    if (it->pending_up) {
        it->pending_up = 0;
        *out = up_at(dl, it->ui++);
        return 1;
    }
    while (it->ui < dl->n_upserts || it->ri < dl->n_removals) {
        int take_up = it->ri >= dl->n_removals ||
                      (it->ui < dl->n_upserts &&
                       memcmp(up_at(dl, it->ui), rm_at(dl, it->ri), KS_KEYID_SIZE) < 0);
        const uint8_t *id = take_up ? up_at(dl, it->ui) : rm_at(dl, it->ri);
        uint32_t pos, k = it->k;
        ks_recsrc sub;
        ks_recsrc_mem(&sub, mem + (size_t)k * KS_RECORD_SIZE, count - k);
        int found = ks_recsrc_find(&sub, id, &pos) == KS_OK;
        pos += k;
        if (!take_up && !found)
            return KS_E_BASE; /* removal of a key the base does not hold */
        it->k = pos + (found ? 1u : 0u);
        if (!take_up)
            it->ri++;
        if (pos > k) {
            it->pending_up = take_up;
            *out = mem + (size_t)k * KS_RECORD_SIZE;
            return pos - k;
        }
        if (take_up) {
            *out = up_at(dl, it->ui++);
            return 1;
        }
    }
    if (it->k < count) {
        uint32_t k = it->k;
        it->k = count;
        *out = mem + (size_t)k * KS_RECORD_SIZE;
        return count - k;
    }
    return 0;
}

/* Any other source: one ordered pass over the base, one record a step. */
static int64_t next_stream(ks_merge_it *it, const uint8_t **out)
{
    const ks_delta *dl = it->dl;
    uint32_t count = it->base->count;
    int err;

    for (;;) {
        int have_base = it->k < count, cmp;
        if (!have_base && it->ui >= dl->n_upserts)
            return it->ri != dl->n_removals ? KS_E_BASE : 0;
        if (have_base && (err = ks_recsrc_get(it->base, it->k, it->rec)) != 0)
            return err;
        cmp = it->ui >= dl->n_upserts ? -1
              : !have_base            ? 1
                                      : memcmp(it->rec, up_at(dl, it->ui), KS_KEYID_SIZE);
        if (cmp < 0) {
            it->k++;
            if (it->ri < dl->n_removals) {
                int rc = memcmp(rm_at(dl, it->ri), it->rec, KS_KEYID_SIZE);
                if (rc < 0)
                    return KS_E_BASE;
                if (rc == 0) {
                    it->ri++;
                    continue;
                }
            }
            *out = it->rec;
            return 1;
        }
        if (cmp == 0)
            it->k++;
        *out = up_at(dl, it->ui++);
        return 1;
    }
}

int64_t ks_merge_next(ks_merge_it *it, const uint8_t **out)
{
    return it->base->mem ? next_mem(it, out) : next_stream(it, out);
}

int64_t ks_delta_merge(const ks_recsrc *base, const ks_delta *dl, uint8_t *out, uint32_t cap)
{
    ks_merge_it it;
    const uint8_t *run;
    uint64_t n = 0;
    int64_t m;

    ks_merge_begin(&it, base, dl);
    while ((m = ks_merge_next(&it, &run)) > 0) {
        if (n + (uint64_t)m > cap)
            return KS_E_NOSPC;
        memcpy(out + (size_t)n * KS_RECORD_SIZE, run, (size_t)m * KS_RECORD_SIZE);
        n += (uint64_t)m;
    }
    return m < 0 ? m : (int64_t)n;
}

int ks_delta_apply_buf(const ks_crypto *c, const ks_snap_header *bh, const ks_recsrc *base,
                       const ks_delta *dl, uint8_t (*nodes)[KS_HASH_SIZE], size_t n_nodes,
                       uint8_t *out, uint32_t cap, uint32_t *count, int *incremental,
                       ks_diag *d)
{
    uint8_t root[KS_HASH_SIZE];
    ks_recsrc msrc;
    ks_tree tree;
    int64_t merged;
    int err;

    *count = 0;
    /* Same bucket layout: the base's tree moves to the target rehashing
     * only the buckets the delta touches, and lands on the signed root
     * before a byte is merged. A changed layout needs the full root. */
    *incremental = nodes && bh->bucket_bits == dl->target.bucket_bits;
    if (*incremental) {
        if ((err = ks_tree_build(&tree, c, base, bh->bucket_bits, nodes, n_nodes)) != 0)
            return ks_fail(d, err, 0, "building the base's tree");
        if ((err = ks_delta_update_tree(&tree, c, base, dl, d)) != 0)
            return err;
    }
    merged = ks_delta_merge(base, dl, out, cap);
    if (merged < 0)
        return ks_fail(d, (int)merged, 0, "delta.merge");
    if ((uint64_t)merged != dl->target.record_count)
        return ks_fail(d, KS_E_BASE, 0, "delta.target.record_count");
    *count = (uint32_t)merged;
    if (*incremental)
        return KS_OK;
    ks_recsrc_mem(&msrc, out, (uint32_t)merged);
    if ((err = ks_merkle_root(c, &msrc, dl->target.bucket_bits, root)) != 0)
        return ks_fail(d, err, 0, "delta.hash");
    if (memcmp(root, dl->target.root, KS_HASH_SIZE) != 0)
        return ks_fail(d, KS_E_ROOT, 0, "delta.target.root");
    return KS_OK;
}
