/*
 * ks_store_area.c - the two snapshot areas, low level: writing records into
 * an area, reading them back through a CRC-checking record source, the RAM
 * index and the proven binary search lookups run on. The entry points that
 * use these (install, delta, lookup) are in ks_store.c.
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
    if (st->paged)
        return ks__page_capacity(st);
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
    if (a->pages || a->st->paged)
        return ks__page_rec(a->st, a, i, out);
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
    if (st->paged) {
        ks__pagesrc(st, c, a);
        src->ctx = a;
        src->count = c->count;
        src->read = ks__area_read;
        src->mem = NULL;
        return;
    }
    memset(a, 0, sizeof *a);
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

    if (st->paged)
        return ks__page_scan(st, c, d);
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

int ks_store_record_addr(ks_store *st, const ks_store_commit *c, uint32_t i, uint32_t *addr)
{
    ks_areasrc a;
    if (!c->valid || i >= c->count)
        return KS_E_NOTFOUND;
    if (!st->paged) {
        *addr = ks__area_addr(st, c->area) + i * KS_RECORD_SIZE;
        return KS_OK;
    }
    ks__pagesrc(st, c, &a);
    return ks__page_rec_addr(st, &a, i, addr);
}

/* ----- writing ----- */

/* ks__area_writer (ks_store_int.h) */
int ks__aw_begin(ks__area_writer *w, ks_store *st, unsigned area, uint64_t gen, uint32_t count)
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

static int w_flush(ks__area_writer *w, int last)
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

int ks__aw_push(ks__area_writer *w, const uint8_t rec[KS_RECORD_SIZE], ks_diag *d)
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

int ks__aw_end(ks__area_writer *w, ks_diag *d)
{
    int err;
    if (w->n != w->count)
        return ks_fail(d, KS_E_BASE, 0, "fewer records than the header's record_count");
    if ((err = w_flush(w, 1)) != 0)
        return err;
    return ks__sync(w->st);
}

/* ----- lookups ----- */

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

    if (st->paged) {
        /* The page fence index (ks_store_pidx.c) fills cfg.index in the
         * same pass; without it (or when it cannot be built) as before. */
        if (!ks__pidx_build(st))
            ks__page_index_build(st);
        return;
    }
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

int ks__base_find(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                  uint8_t rec[KS_RECORD_SIZE], uint32_t *at)
{
    const uint8_t *map = st->cfg.flash->map;
    uint32_t lo = 0, hi, count, base, crc_base, seed, pos;
    int err, hit, indexed;

    *at = 0;
    if (!st->cur.valid)
        return KS_E_NOTFOUND;
    if (st->paged)
        return ks__page_find(st, key_id, rec, at);
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
