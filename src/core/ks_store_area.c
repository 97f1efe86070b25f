/*
 * ks_store_area.c - the two snapshot areas: writing records into the area
 * not in use, reading them back through a CRC-checking record source, and
 * the binary search lookups run on.
 *
 * An area holds `count` records of 128 bytes from its first byte, sorted by
 * key id, then (at ks__crc_base(count)) a table of one CRC-32C per record.
 * Each CRC is seeded with the generation the area was written under, so a
 * record left over from an earlier, overwritten install never checks
 * against a commit that did not write it.
 */
#include <string.h>

#include "ks_store_int.h"

uint32_t ks__crc_base(uint32_t count)
{
    return ks__align(count * KS_RECORD_SIZE, 256);
}

uint32_t ks_store_area_capacity(const ks_store *st)
{
    uint32_t bytes = st->area_sectors * st->cfg.flash->sector_size;
    if (bytes < 512)
        return 0;
    return (bytes - 512) / (KS_RECORD_SIZE + 4);
}

uint32_t ks__gen_seed(uint64_t gen)
{
    uint8_t g[8];
    ks_st64(g, gen);
    return ks_crc32c(0, g, 8);
}

/* ----- reading ----- */

int ks__area_read(void *ctx, uint32_t i, uint8_t out[KS_RECORD_SIZE])
{
    ks_areasrc *a = ctx;
    uint8_t c[4];
    int err = ks__read(a->st, a->base + i * KS_RECORD_SIZE, out, KS_RECORD_SIZE);
    if (!err)
        err = ks__read(a->st, a->base + a->crc_base + i * 4, c, 4);
    if (err)
        return err;
    if (ks_ld32(c) != ks__crc(a->st, a->seed, out, KS_RECORD_SIZE))
        return ks__damage(a->st, a->base + i * KS_RECORD_SIZE, "area.record",
                          KS_STORE_F_NEED_FULL);
    return KS_OK;
}

void ks__areasrc(ks_store *st, const ks_store_commit *c, ks_areasrc *a, ks_recsrc *src)
{
    a->st = st;
    a->base = ks__area_addr(st, c->area);
    a->crc_base = ks__crc_base(c->count);
    a->seed = ks__gen_seed(c->gen);
    a->base_count = c->count;
    src->ctx = a;
    src->count = c->count;
    src->read = ks__area_read;
    src->mem = NULL;
}

int ks__area_scan(ks_store *st, const ks_store_commit *c, ks_diag *d)
{
    uint8_t *buf = st->cfg.buf;
    uint32_t half = st->cfg.buf_size / 2, per = half / 4;
    uint32_t base = ks__area_addr(st, c->area), crc_base = ks__crc_base(c->count);
    uint32_t seed = ks__gen_seed(c->gen);
    uint8_t prev[KS_KEYID_SIZE];
    int err;

    if (c->count > ks_store_area_capacity(st))
        return ks_fail(d, ks__damage(st, base, "area.count", KS_STORE_F_NEED_FULL), base,
                       "area.count");
    for (uint32_t i = 0; i < c->count; i += per) {
        uint32_t n = c->count - i < per ? c->count - i : per;
        if ((err = ks__read(st, base + crc_base + i * 4, buf + half, n * 4)) != 0)
            return ks_fail(d, err, base, "area.read");
        for (uint32_t j = 0; j < n; j += half / KS_RECORD_SIZE) {
            uint32_t m = n - j < half / KS_RECORD_SIZE ? n - j : half / KS_RECORD_SIZE;
            uint32_t at = base + (i + j) * KS_RECORD_SIZE;
            if ((err = ks__read(st, at, buf, m * KS_RECORD_SIZE)) != 0)
                return ks_fail(d, err, at, "area.read");
            for (uint32_t k = 0; k < m; k++) {
                const uint8_t *rec = buf + k * KS_RECORD_SIZE;
                uint32_t addr = at + k * KS_RECORD_SIZE;
                if (ks_ld32(buf + half + (j + k) * 4) != ks__crc(st, seed, rec, KS_RECORD_SIZE))
                    return ks_fail(d, ks__damage(st, addr, "area.record", KS_STORE_F_NEED_FULL),
                                   addr, "area.record");
                if (i + j + k > 0 && memcmp(prev, rec, KS_KEYID_SIZE) >= 0)
                    return ks_fail(d, ks__damage(st, addr, "area.order", KS_STORE_F_NEED_FULL),
                                   addr, "area.order");
                memcpy(prev, rec, KS_KEYID_SIZE);
            }
        }
    }
    return KS_OK;
}

/* ----- writing ----- */

/*
 * Streams records into an area: the first half of the work buffer gathers
 * records, the second half their CRCs; each half is programmed (and read
 * back) when full.
 */
typedef struct writer {
    ks_store *st;
    uint32_t base, crc_base, count, n;
    uint32_t seed, half;
    uint32_t rec_fill, crc_fill, rec_done, crc_done;
    uint8_t prev[KS_KEYID_SIZE];
} writer;

static int w_begin(writer *w, ks_store *st, unsigned area, uint64_t gen, uint32_t count)
{
    uint32_t ss = st->cfg.flash->sector_size;
    int err;

    memset(w, 0, sizeof *w);
    w->st = st;
    w->base = ks__area_addr(st, area);
    w->crc_base = ks__crc_base(count);
    w->count = count;
    w->seed = ks__gen_seed(gen);
    w->half = st->cfg.buf_size / 2;
    uint32_t end = w->crc_base + count * 4;
    for (uint32_t s = 0; s * ss < end || s == 0; s++)
        if ((err = ks__erase(st, st->area_first[area] + s)) != 0)
            return err;
    return KS_OK;
}

static int w_flush(writer *w, int last)
{
    const ks_store *st = w->st;
    uint32_t pu = st->cfg.flash->prog_size;
    uint8_t *buf = st->cfg.buf;
    int err;

    if (w->rec_fill && (w->rec_fill == w->half || last)) {
        uint32_t len = ks__align(w->rec_fill, pu);
        memset(buf + w->rec_fill, st->cfg.flash->erase_value, len - w->rec_fill);
        if ((err = ks__prog(st, w->base + w->rec_done, buf, len)) != 0)
            return err;
        w->rec_done += w->rec_fill;
        w->rec_fill = 0;
    }
    if (w->crc_fill && (w->crc_fill == w->half || last)) {
        uint32_t len = ks__align(w->crc_fill, pu);
        memset(buf + w->half + w->crc_fill, st->cfg.flash->erase_value, len - w->crc_fill);
        if ((err = ks__prog(st, w->base + w->crc_base + w->crc_done, buf + w->half, len)) != 0)
            return err;
        w->crc_done += w->crc_fill;
        w->crc_fill = 0;
    }
    return KS_OK;
}

static int w_push(writer *w, const uint8_t rec[KS_RECORD_SIZE], ks_diag *d)
{
    uint8_t *buf = w->st->cfg.buf;

    if (w->n >= w->count)
        return ks_fail(d, KS_E_BASE, 0, "more records than the header's record_count");
    if (w->n > 0 && memcmp(w->prev, rec, KS_KEYID_SIZE) >= 0)
        return ks_fail(d, KS_E_FORMAT, w->n, "records not sorted strictly by key id");
    memcpy(w->prev, rec, KS_KEYID_SIZE);
    memcpy(buf + w->rec_fill, rec, KS_RECORD_SIZE);
    ks_st32(buf + w->half + w->crc_fill, ks__crc(w->st, w->seed, rec, KS_RECORD_SIZE));
    w->rec_fill += KS_RECORD_SIZE;
    w->crc_fill += 4;
    w->n++;
    return w_flush(w, 0);
}

static int w_end(writer *w, ks_diag *d)
{
    int err;
    if (w->n != w->count)
        return ks_fail(d, KS_E_BASE, 0, "fewer records than the header's record_count");
    if ((err = w_flush(w, 1)) != 0)
        return err;
    return ks__sync(w->st);
}

/* ----- install and delta ----- */

static unsigned target_area(const ks_store *st)
{
    return st->cur.valid ? st->cur.area ^ 1u : 0u;
}

static void policy_of(const ks_store *st, ks_policy *p, uint64_t now)
{
    p->trust = &st->trust;
    p->has_applied = st->last[0].valid || st->last[1].valid;
    /* Same version may be re-installed (repair); anything older is rollback. */
    p->applied_version = st->highest_version;
    p->now = now;
}

/* Commits a written area (or an overlay append): the commit record goes last. */
int ks__commit(ks_store *st, const ks_store_commit *c_in, int full, const ks_delta *dl)
{
    ks_store_commit c = *c_in;
    ks_snap_header h;
    ks_rec r;
    int err;

    /* The changes go on flash before the COMMIT that applies them, so a
     * state older than this one always knows what it must not answer for
     * (ks_store_deny.c). */
    if (dl)
        err = ks__deny_note_delta(st, dl);
    else if (full && ks_snap_header_decode(&h, c.header, NULL) == 0)
        err = ks__deny_note_all(st, h.version);
    else
        err = KS_OK;
    if (err)
        return err;
    c.valid = 1;
    ks__commit_encode(&c, &r);
    if ((err = ks__meta_append(st, &r)) != 0)
        return err;
    c.seq = r.seq;
    st->last[c.area] = c;
    st->cur = c;
    st->cur_seed = ks__gen_seed(c.gen);
    (void)ks_snap_header_decode(&st->hdr, c.header, NULL);
    if (st->hdr.version > st->highest_version)
        st->highest_version = st->hdr.version;
    st->flags &= ~(unsigned)KS_STORE_F_FELL_BACK;
    /* An overlay append keeps the base: its index stays valid. */
    if (!(st->idx_n && st->idx_gen == c.gen))
        ks__index_build(st);
    if (!c.ovl_gen) { /* an install or a fold: no overlay any more */
        st->ovl_n = 0;
        st->ovl_ok = 1;
    }
    if (full)
        st->flags &= ~(unsigned)KS_STORE_F_NEED_FULL;
    return KS_OK;
}

static int commit(ks_store *st, unsigned area, uint64_t gen, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                  uint32_t count, int full, const ks_delta *dl)
{
    ks_store_commit c;
    memset(&c, 0, sizeof c);
    c.area = (uint8_t)area;
    c.gen = gen;
    c.count = count;
    memcpy(c.header, hdr, KS_SNAP_HEADER_SIZE);
    return ks__commit(st, &c, full, dl);
}

int ks__verify_root(ks_store *st, const ks_recsrc *src, const ks_snap_header *h, ks_diag *d)
{
    uint8_t root[KS_HASH_SIZE];
    int err;
    if ((err = ks_merkle_root(st->cfg.crypto, src, h->bucket_bits, root)) != 0)
        return ks_fail(d, err, 0, "reading back the new records");
    if (memcmp(root, h->root, KS_HASH_SIZE) != 0)
        return ks_fail(d, KS_E_ROOT, 0, "records do not hash to the signed Merkle root");
    return KS_OK;
}

static int verify_root(ks_store *st, unsigned area, uint64_t gen, uint32_t count,
                       const ks_snap_header *h, ks_diag *d)
{
    ks_store_commit c;
    ks_areasrc a;
    ks_recsrc src;

    memset(&c, 0, sizeof c);
    c.area = (uint8_t)area;
    c.gen = gen;
    c.count = count;
    ks__areasrc(st, &c, &a, &src);
    return ks__verify_root(st, &src, h, d);
}

int ks_store_install(ks_store *st, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                     const ks_recsrc *records, uint64_t now, ks_diag *d)
{
    ks_snap_header h;
    ks_policy p;
    writer w;
    uint8_t rec[KS_RECORD_SIZE];
    unsigned area;
    uint64_t gen;
    int err;

    if (!st->mounted)
        return ks_fail(d, KS_E_INVAL, 0, "store not mounted");
    if ((err = ks_snap_header_decode(&h, hdr, d)) != 0)
        return err;
    policy_of(st, &p, now);
    if ((err = ks_snap_header_check(st->cfg.crypto, hdr, &p, d)) != 0)
        return err;
    if (records->count != h.record_count)
        return ks_fail(d, KS_E_FORMAT, 0, "record source count differs from record_count");
    if (h.record_count > ks_store_area_capacity(st))
        return ks_fail(d, KS_E_NOSPC, 0, "snapshot larger than a store area");

    area = target_area(st);
    gen = ++st->seq;
    if ((err = w_begin(&w, st, area, gen, h.record_count)) != 0)
        return ks_fail(d, err, 0, "erasing the spare area");
    for (uint32_t i = 0; i < records->count; i++) {
        if ((err = ks_recsrc_get(records, i, rec)) != 0)
            return ks_fail(d, err, i, "reading the snapshot records");
        ks_record r;
        if ((err = ks_record_decode(&r, rec, d)) != 0)
            return err;
        if ((err = w_push(&w, rec, d)) != 0)
            return err < 0 && d && !d->err ? ks_fail(d, err, i, "writing the spare area") : err;
    }
    if ((err = w_end(&w, d)) != 0)
        return d && !d->err ? ks_fail(d, err, 0, "writing the spare area") : err;
    if ((err = verify_root(st, area, gen, h.record_count, &h, d)) != 0)
        return err;
    if ((err = commit(st, area, gen, hdr, h.record_count, 1, NULL)) != 0)
        return ks_fail(d, err, 0, "writing the commit record");
    /* A full install is the repair: damage in the metadata log (lost
     * counters, a dead superseded slot) is cleared with it, or the next
     * check would find it again and ask for another download. A failure
     * here leaves the flag set; the install itself stands. */
    (void)ks__meta_repair(st);
    return KS_OK;
}

static int rebuild_tree(ks_store *st, ks_tree *t)
{
    ks_recsrc src;
    ks_store_records(st, &src);
    return ks_tree_build(t, st->cfg.crypto, &src, t->bits, t->nodes, ks_tree_nodes(t->bits));
}

int ks_store_apply_delta(ks_store *st, const uint8_t *delta, size_t len, uint64_t now,
                         ks_tree *tree, ks_diag *d)
{
    ks_delta dl;
    ks_policy p;
    ks_areasrc a;
    ks_recsrc base;
    writer w;
    uint8_t rec[KS_RECORD_SIZE];
    unsigned area;
    uint64_t gen;
    uint32_t k = 0, ui = 0, ri = 0;
    int err, tree_moved = 0;

    if (!st->mounted)
        return ks_fail(d, KS_E_INVAL, 0, "store not mounted");
    if (!st->cur.valid)
        return ks_fail(d, KS_E_BASE, 0, "no snapshot applied: a full download is needed");
    if ((err = ks_delta_parse(&dl, delta, len, d)) != 0)
        return err;
    policy_of(st, &p, now);
    if ((err = ks_delta_check(st->cfg.crypto, &dl, &st->hdr, &p, d)) != 0)
        return err;
    if (dl.target.record_count > ks_store_area_capacity(st))
        return ks_fail(d, KS_E_NOSPC, 0, "snapshot larger than a store area");
    if (st->cur.ovl_gen && !st->ovl_ok)
        return ks_fail(d, ks__damage(st, ks__ovl_addr(st, st->cur.ovl_half), "overlay.entry",
                                     KS_STORE_F_NEED_FULL),
                       0, "overlay unusable: a full download is needed");
    /* The applied state: the base area, merged with the overlay if any. */
    if (st->cur.ovl_gen)
        ks__mergedsrc(st, &st->cur, st->hdr.record_count, &a, &base);
    else
        ks__areasrc(st, &st->cur, &a, &base);
    if (tree && tree->bits == dl.target.bucket_bits) {
        if ((err = ks_delta_update_tree(tree, st->cfg.crypto, &base, &dl, d)) != 0)
            return err;
        tree_moved = 1;
    }

    /* Small deltas go to the overlay; the rest (and a full overlay) fold
     * base + overlay + delta into the spare area below. */
    err = ks__ovl_append(st, &dl, tree_moved, d);
    if (err == KS_OK)
        return KS_OK;
    if (err < 0) {
        (void)ks__ovl_load(st, NULL); /* the table describes cur again */
        goto fail;
    }

    area = target_area(st);
    gen = ++st->seq;
    if ((err = w_begin(&w, st, area, gen, dl.target.record_count)) != 0) {
        ks_fail(d, err, 0, "erasing the spare area");
        goto fail;
    }
    /* Merge: base minus removals plus upserts, all three sorted by key id. */
    while (k < base.count || ui < dl.n_upserts) {
        const uint8_t *up = ui < dl.n_upserts ? dl.upserts + (size_t)ui * KS_RECORD_SIZE : NULL;
        int cmp = 1;
        if (k < base.count) {
            if ((err = ks_recsrc_get(&base, k, rec)) != 0) {
                ks_fail(d, err, st->damage.offset, "base record fails its CRC");
                goto fail;
            }
            cmp = up ? memcmp(rec, up, KS_KEYID_SIZE) : -1;
        }
        if (cmp < 0) {
            k++;
            if (ri < dl.n_removals) {
                int rc = memcmp(rec, dl.removals + (size_t)ri * KS_KEYID_SIZE, KS_KEYID_SIZE);
                if (rc == 0) {
                    ri++;
                    continue;
                }
                if (rc > 0) {
                    err = ks_fail(d, KS_E_BASE, 0, "delta removes a key the base does not hold");
                    goto fail;
                }
            }
            err = w_push(&w, rec, d);
        } else {
            if (cmp == 0)
                k++;
            err = w_push(&w, up, d);
            ui++;
        }
        if (err)
            goto fail;
    }
    if (ri != dl.n_removals) {
        err = ks_fail(d, KS_E_BASE, 0, "delta removes a key the base does not hold");
        goto fail;
    }
    if ((err = w_end(&w, d)) != 0)
        goto fail;
    if (!tree_moved &&
        (err = verify_root(st, area, gen, dl.target.record_count, &dl.target, d)) != 0)
        goto fail;
    if ((err = commit(st, area, gen, dl.target_raw, dl.target.record_count, 0, &dl)) != 0) {
        ks_fail(d, err, 0, "writing the commit record");
        goto fail;
    }
    return KS_OK;

fail:
    if (d && !d->err)
        ks_fail(d, err, 0, "applying the delta");
    if (tree_moved)
        (void)rebuild_tree(st, tree);
    return err;
}

/* ----- lookups ----- */

void ks_store_records(ks_store *st, ks_recsrc *src)
{
    static const ks_store_commit none;
    /* The source's context lives in the store so it outlives this call. */
    if (st->cur.valid && st->cur.ovl_gen) {
        ks__mergedsrc(st, &st->cur, st->hdr.record_count, &st->src, src);
        return;
    }
    ks__areasrc(st, st->cur.valid ? &st->cur : &none, &st->src, src);
    if (!st->cur.valid)
        src->count = 0;
}

const ks_snap_header *ks_store_header(const ks_store *st)
{
    return st->cur.valid ? &st->hdr : NULL;
}

#if defined(__GNUC__) || defined(__clang__)
#define KS_PREFETCH(p) __builtin_prefetch(p)
#else
#define KS_PREFETCH(p) ((void)(p))
#endif

#ifndef KS_STORE_PREFETCH_DEPTH
#define KS_STORE_PREFETCH_DEPTH 3
#endif

/*
 * Asks for the key ids the first `depth` levels of a binary search over
 * [lo, hi) may probe (at most 2^depth - 1 lines), so that their cache
 * misses overlap instead of following one another.
 */
static void prefetch_levels(const uint8_t *recs, uint32_t lo, uint32_t hi, int depth)
{
    while (depth-- > 0 && lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        KS_PREFETCH(recs + (size_t)mid * KS_RECORD_SIZE);
        prefetch_levels(recs, lo, mid, depth);
        lo = mid + 1;
    }
}

/* Reads record i of the applied area and checks its CRC. */
static int checked(ks_store *st, uint32_t base, uint32_t crc_base, uint32_t seed, uint32_t i,
                   uint8_t rec[KS_RECORD_SIZE])
{
    const uint8_t *map = st->cfg.flash->map;
    uint8_t cb[4];
    const uint8_t *c = cb;
    int err = 0;
    if (map) {
        memcpy(rec, map + base + i * KS_RECORD_SIZE, KS_RECORD_SIZE);
        c = map + base + crc_base + i * 4;
    } else {
        err = ks__read(st, base + i * KS_RECORD_SIZE, rec, KS_RECORD_SIZE);
        if (!err)
            err = ks__read(st, base + crc_base + i * 4, cb, 4);
    }
    if (err)
        return err;
    if (ks_ld32(c) != ks__crc(st, seed, rec, KS_RECORD_SIZE))
        return ks__damage(st, base + i * KS_RECORD_SIZE, "area.record", KS_STORE_F_NEED_FULL);
    return KS_OK;
}

/*
 * Fills cfg.index for the applied snapshot: the key id of record g << shift
 * for every group g, each taken from a record whose CRC checks. A record
 * that does not check leaves the store without an index (lookups then
 * search all of flash and report the damage when they touch it); the mount
 * or commit that called this is not affected.
 */
void ks__index_build(ks_store *st)
{
    uint32_t base, crc_base, count = st->cur.count, shift = 0;
    uint8_t rec[KS_RECORD_SIZE], cb[4];

    st->idx_n = 0;
    if (!st->cfg.index || !st->cfg.index_cap || !st->cur.valid || !count)
        return;
    while (shift < 31 && ((count - 1) >> shift) + 1 > st->cfg.index_cap)
        shift++;
    base = ks__area_addr(st, st->cur.area);
    crc_base = ks__crc_base(count);
    for (uint32_t g = 0; g <= (count - 1) >> shift; g++) {
        uint32_t i = g << shift;
        if (ks__read(st, base + i * KS_RECORD_SIZE, rec, KS_RECORD_SIZE) != 0 ||
            ks__read(st, base + crc_base + i * 4, cb, 4) != 0 ||
            ks_ld32(cb) != ks__crc(st, st->cur_seed, rec, KS_RECORD_SIZE) ||
            (g > 0 && memcmp(st->cfg.index[g - 1], rec, KS_KEYID_SIZE) >= 0))
            return;
        memcpy(st->cfg.index[g], rec, KS_KEYID_SIZE);
    }
    st->idx_shift = shift;
    st->idx_gen = st->cur.gen;
    st->idx_n = ((count - 1) >> shift) + 1;
}

/*
 * Binary search of key_id among records [lo, hi) of the area at base.
 * Probes read only the 16-byte key id (in place when the flash is mapped).
 * Returns 1 with *pos the probe that matched, 0 with *pos the insertion
 * point, or a negative error.
 */
static int probe(ks_store *st, uint32_t base, const uint8_t key_id[KS_KEYID_SIZE], uint32_t lo,
                 uint32_t hi, uint32_t *pos)
{
    const ks_flash *f = st->cfg.flash;
    uint8_t k[KS_KEYID_SIZE];
    uint32_t sh = 0;
    int err;

    while (((uint32_t)1 << sh) < f->sector_size)
        sh++;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2, addr = base + mid * KS_RECORD_SIZE;
        const uint8_t *kp = k;
        if (f->map)
            kp = f->map + addr;
        else if ((err = f->read(f->ctx, addr >> sh, addr & (f->sector_size - 1), k,
                                KS_KEYID_SIZE)) != 0)
            return err < 0 ? err : KS_E_IO;
        int c = memcmp(kp, key_id, KS_KEYID_SIZE);
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

int ks_store_lookup(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                    uint8_t rec[KS_RECORD_SIZE])
{
    uint32_t pos;

    if (!st->cur.valid)
        return KS_E_NOTFOUND;
    /* The overlay holds the newest word on every key it names. */
    if (st->cur.ovl_gen) {
        const ks_ovl_ent *e;
        if (!st->ovl_ok)
            return ks__damage(st, ks__ovl_addr(st, st->cur.ovl_half), "overlay.entry",
                              KS_STORE_F_NEED_FULL);
        if ((e = ks__ovl_find(st, key_id)) != NULL) {
            if (e->kind == KS_OVL_PUT)
                return ks__ovl_record(st, e, rec);
            memset(rec, 0, KS_RECORD_SIZE);
            return KS_E_NOTFOUND;
        }
    }
    return ks__base_find(st, key_id, rec, &pos);
}

int ks__base_find(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                  uint8_t rec[KS_RECORD_SIZE], uint32_t *at)
{
    const uint8_t *map = st->cfg.flash->map;
    uint32_t lo = 0, hi, count, base, crc_base, seed, pos;
    int err, hit, indexed;

    *at = 0;
    if (!st->cur.valid)
        return KS_E_NOTFOUND;
    count = st->cur.count;
    base = ks__area_addr(st, st->cur.area);
    crc_base = ks__crc_base(count);
    seed = st->cur_seed;
    hi = count;
    indexed = st->idx_n != 0 && st->idx_gen == st->cur.gen && st->cfg.index &&
              st->idx_n == ((count - 1) >> st->idx_shift) + 1;
    if (indexed) {
        /* g = number of index entries <= key_id; the key can only be in group g - 1. */
        const uint8_t(*ix)[KS_KEYID_SIZE] = (const uint8_t(*)[KS_KEYID_SIZE])st->cfg.index;
        uint32_t a = 0, b = st->idx_n;
        while (a < b) {
            uint32_t m = a + (b - a) / 2;
            if (memcmp(ix[m], key_id, KS_KEYID_SIZE) <= 0)
                a = m + 1;
            else
                b = m;
        }
        if (a == 0) {
            hi = 0;
        } else {
            lo = (a - 1) << st->idx_shift;
            if (hi - lo > ((uint32_t)1 << st->idx_shift))
                hi = lo + ((uint32_t)1 << st->idx_shift);
        }
        if (map) { /* the group's CRCs and first probes, fetched together */
            KS_PREFETCH(map + base + crc_base + lo * 4);
            prefetch_levels(map + base, lo, hi, KS_STORE_PREFETCH_DEPTH);
        }
    }
    /*
     * The answer is proven by CRC-checking the records it rests on: the hit
     * itself, or on a miss both neighbours of the gap. A damaged key id that
     * steered the search is always one of those (the last probe on each side
     * bounds the gap), so damage yields KSE-301, never a wrong answer. With
     * the index, a proof that fails on key order (not on a CRC) may be the
     * index's fault: the search is repeated over the whole area.
     */
    for (;;) {
        if ((hit = probe(st, base, key_id, lo, hi, &pos)) < 0)
            return hit;
        if (hit) {
            if ((err = checked(st, base, crc_base, seed, pos, rec)) != 0)
                return err;
            if (memcmp(rec, key_id, KS_KEYID_SIZE) == 0) {
                *at = pos;
                return KS_OK;
            }
            if (!indexed)
                return ks__damage(st, base + pos * KS_RECORD_SIZE, "area.record",
                                  KS_STORE_F_NEED_FULL);
        } else {
            uint32_t bad = UINT32_MAX;
            if (pos > 0) {
                if ((err = checked(st, base, crc_base, seed, pos - 1, rec)) != 0)
                    return err;
                if (memcmp(rec, key_id, KS_KEYID_SIZE) >= 0)
                    bad = pos - 1;
            }
            if (bad == UINT32_MAX && pos < count) {
                if ((err = checked(st, base, crc_base, seed, pos, rec)) != 0)
                    return err;
                if (memcmp(rec, key_id, KS_KEYID_SIZE) <= 0)
                    bad = pos;
            }
            if (bad == UINT32_MAX) {
                memset(rec, 0, KS_RECORD_SIZE);
                *at = pos;
                return KS_E_NOTFOUND;
            }
            if (!indexed)
                return ks__damage(st, base + bad * KS_RECORD_SIZE, "area.order",
                                  KS_STORE_F_NEED_FULL);
        }
        indexed = 0;
        lo = 0;
        hi = count;
    }
}
