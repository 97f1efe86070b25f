/*
 * ks_store_page.c - paged snapshots (layout 2), reading side: the page
 * layout, the map that names a snapshot's pages, CRC-checked reads by
 * record index, the mount scan, the RAM index and the proven lookup, and
 * the RAM bitmap of the page sectors the applied snapshot uses.
 *
 * A paged snapshot is a run of pages in key order. A page is one sector of
 * the pool holding 1..K records (from byte 0, 128 apart) and their CRCs (at
 * page_crc), each CRC seeded with the page's own generation: pages a fold
 * did not touch keep their sector and their generation, so a fold costs
 * what it touches. The map (in the map area the commit names, written
 * beside the COMMIT like a layout 1 area) lists the pages in order. The
 * writer is ks_store_pagew.c; docs/store.md has every byte.
 *
 * This file calls only ks_store_io.c (ks_store_area.c calls it, so it must
 * not call back).
 */
#include <string.h>

#include "ks_store_int.h"

static uint32_t seed_of(uint64_t gen)
{
    uint8_t g[8];
    ks_st64(g, gen);
    return ks_crc32c(0, g, 8);
}

/* ----- layout ----- */

int ks__page_layout(ks_store *st)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t ss = f->sector_size, pu = f->prog_size, first, rest;
    uint32_t k = ss / (KS_RECORD_SIZE + 4), p, m = 0;

    /* The fixed regions after the audit ring (layouts 1-3: the overlay,
     * then the areas or maps); layout 4 moves them to virtual sectors. */
    st->ovl_first = st->audit_first + st->cfg.audit_sectors;
    st->area_first[0] = st->ovl_first + st->cfg.overlay_sectors;
    st->virt_first = st->virt_n = 0;
    first = st->area_first[0];
    rest = f->sector_count - first;
    if (!st->paged) { /* layout 1: two snapshot areas */
        st->area_sectors = rest / 2;
        st->area_first[1] = first + st->area_sectors;
        st->pool_first = st->pool_sectors = st->page_k = 0;
        return KS_OK;
    }
    while (k > 0 && ks__align(k * KS_RECORD_SIZE, pu) + ks__align(k * 4, pu) > ss)
        k--;
    if (!k || !st->cfg.sector_map || st->cfg.buf_size < ss + 512 ||
        (st->counted && !st->cfg.erase_counts))
        return KS_E_INVAL;
    /* The pool as large as two maps naming all of it leave room for. */
    for (p = rest; p > 0; p--) {
        m = (p * KS_MAP_ENT + (st->counted ? ks__cnt_bytes(p) : 0) + ss - 1) / ss;
        if (2 * m + p <= rest)
            break;
    }
    if (p < 2)
        return KS_E_NOSPC;
    if (st->levelled)
        return ks__page_layout4(st, k);
    st->page_k = k;
    st->page_crc = ks__align(k * KS_RECORD_SIZE, pu);
    st->area_sectors = m;
    st->area_first[1] = first + st->area_sectors;
    st->pool_first = first + 2 * st->area_sectors;
    st->pool_sectors = p;
    return KS_OK;
}

/*
 * Layout 4: every sector after the audit ring is pool; the overlay halves
 * and the two maps keep the fixed layouts' arithmetic as virtual sectors
 * from sector_count on, bound to pool sectors through cfg.vmap
 * (ks_store_io.c). Refused (the caller may try layout 3) when the root
 * cannot list a map and a half in one sector, cfg.vmap is too small, or
 * the virtual window passes 32-bit addresses.
 */
int ks__page_layout4(ks_store *st, uint32_t k)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t ss = f->sector_size, pu = f->prog_size, v = st->cfg.overlay_sectors;
    uint32_t first = st->audit_first + st->cfg.audit_sectors, p = f->sector_count - first, g;

    if (!st->cfg.vmap || p < 4)
        return KS_E_INVAL;
    g = (p * KS_MAP_ENT + ks__cnt_bytes(p) + ss - 1) / ss;
    if (g + v / 2 > (ss - 20) / 4 || v + 2 * g > st->cfg.vmap_cap ||
        ((uint64_t)f->sector_count + v + 2 * g) * ss > 0xFFFFFFFFu)
        return KS_E_INVAL;
    st->page_k = k;
    st->page_crc = ks__align(k * KS_RECORD_SIZE, pu);
    st->virt_first = f->sector_count;
    st->virt_n = v + 2 * g;
    st->ovl_first = st->virt_first;
    st->area_first[0] = st->virt_first + v;
    st->area_sectors = g;
    st->area_first[1] = st->area_first[0] + g;
    st->pool_first = first;
    st->pool_sectors = p;
    for (uint32_t i = 0; i < st->virt_n; i++)
        st->cfg.vmap[i] = UINT32_MAX; /* KS_ROOT_NONE: nothing bound */
    return KS_OK;
}

uint32_t ks__page_addr(const ks_store *st, uint32_t sector)
{
    return (st->pool_first + sector) * st->cfg.flash->sector_size;
}

uint32_t ks__page_capacity(const ks_store *st)
{
    /* An install writes full pages into the sectors the applied snapshot
     * does not use (it keeps answering until the COMMIT). A fold needs
     * only the pages it touches: ks_store_apply_delta bounds it by the
     * whole pool, and the writer reports KS_E_NOSPC if the pool runs out. */
    uint32_t free = st->pool_sectors - st->pool_used;
    if (st->levelled) {
        /* Layout 4: the roots, maps and overlays of both states stay, and
         * the install needs a map (at most a map area's sectors) and a root. */
        uint32_t hold = st->area_sectors + 1;
        for (int i = 0; i < 2; i++) {
            uint32_t mv, m, ov, o;
            if (!st->last[i].valid || !st->last[i].rooted)
                continue;
            ks__root_extent(st, &st->last[i], &mv, &m, &ov, &o);
            hold += 1 + m + o;
        }
        free = free > hold ? free - hold : 0;
    }
    return free * st->page_k;
}

/* ----- the map ----- */

void ks__map_encode(uint8_t e[KS_MAP_ENT], const ks_page *pg, uint32_t map_seed)
{
    ks_st32(e, pg->sector);
    ks_st32(e + 4, pg->start);
    ks_st32(e + 8, pg->n);
    ks_st32(e + 12, pg->gen);
    ks_st32(e + 16, ks_crc32c(map_seed, e, 16));
}

/*
 * Where map byte `at` can be read in place (flash.map), or NULL: read()
 * then. Layout 4's map sectors are pool sectors wherever the root binds
 * them, so the address is translated, and an entry that straddles two of
 * them (not adjacent on the device) goes through read(), which splits.
 */
static const uint8_t *map_in_place(const ks_store *st, uint32_t at)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t ss = f->sector_size, off = at & (ss - 1), v, s;

    if (!f->map || !st->levelled)
        return f->map ? f->map + at : NULL;
    v = at / ss - st->virt_first;
    if (off + KS_MAP_ENT > ss || v >= st->virt_n || (s = st->cfg.vmap[v]) >= st->pool_sectors)
        return NULL;
    return f->map + (st->pool_first + s) * ss + off;
}

int ks__map_get(ks_store *st, const ks_store_src *a, uint32_t p, ks_page *pg)
{
    const uint8_t *in;
    uint8_t e[KS_MAP_ENT];
    uint32_t at = a->base + p * KS_MAP_ENT;
    int err;

    if (p >= a->pages)
        return KS_E_INVAL;
    if ((in = map_in_place(st, at)) != NULL)
        memcpy(e, in, KS_MAP_ENT);
    else if ((err = ks__read(st, at, e, KS_MAP_ENT)) != 0)
        return err;
    pg->sector = ks_ld32(e);
    pg->start = ks_ld32(e + 4);
    pg->n = ks_ld32(e + 8);
    pg->gen = ks_ld32(e + 12);
    if (ks_ld32(e + 16) != ks__crc(st, a->map_seed, e, 16) || pg->sector >= st->pool_sectors ||
        pg->n == 0 || pg->n > st->page_k)
        return ks__damage(st, at, "map.entry", KS_STORE_F_NEED_FULL);
    pg->addr = ks__page_addr(st, pg->sector);
    pg->seed = seed_of(pg->gen);
    return KS_OK;
}

void ks__pagesrc(ks_store *st, const ks_store_commit *c, ks_store_src *a)
{
    memset(a, 0, sizeof *a);
    a->st = st;
    a->base = st->area_first[c->area] * st->cfg.flash->sector_size;
    a->pages = c->pages;
    /* the applied commit's seed is kept (st->cur_seed): lookups skip it */
    a->map_seed = c == &st->cur ? st->cur_seed : seed_of(c->gen);
    a->base_count = c->count;
}

/* Loads into a's cache the page holding record i (binary search on start). */
static int page_of(ks_store *st, ks_store_src *a, uint32_t i)
{
    ks_page pg;
    uint32_t lo = 0, hi = a->pages;
    int err;

    if (a->pg_n && i >= a->pg_start && i - a->pg_start < a->pg_n)
        return KS_OK;
    /* reading in order (merge, Merkle root, tree): the next page */
    if (a->pg_n && i == a->pg_start + a->pg_n && a->pg + 1 < a->pages) {
        if ((err = ks__map_get(st, a, a->pg + 1, &pg)) != 0)
            return err;
        if (pg.start == i) {
            lo = a->pg + 1;
            goto found;
        }
    }
    /* Random access (a delta's tree update finds each changed bucket):
     * the page fence index's starts, RAM, name a candidate page; it is
     * taken only when its own map entry, read and checked as always,
     * covers i (a consistent map has one such entry). */
    if (ks__pidx_page(st, a->pages, i, &lo) &&
        (err = ks__map_get(st, a, lo, &pg)) == 0 && pg.start <= i && i - pg.start < pg.n)
        goto found;
    lo = 0;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((err = ks__map_get(st, a, mid, &pg)) != 0)
            return err;
        if (pg.start <= i)
            lo = mid;
        else
            hi = mid;
    }
    if ((err = ks__map_get(st, a, lo, &pg)) != 0)
        return err;
found:
    if (i < pg.start || i - pg.start >= pg.n)
        return ks__damage(st, a->base + lo * KS_MAP_ENT, "map.entry", KS_STORE_F_NEED_FULL);
    a->pg = lo;
    a->pg_start = pg.start;
    a->pg_n = pg.n;
    a->pg_addr = pg.addr;
    a->pg_seed = pg.seed;
    return KS_OK;
}

int ks__page_rec_addr(ks_store *st, ks_store_src *a, uint32_t i, uint32_t *addr)
{
    int err;
    if (i >= a->base_count)
        return KS_E_NOTFOUND;
    if ((err = page_of(st, a, i)) != 0)
        return err;
    *addr = a->pg_addr + (i - a->pg_start) * KS_RECORD_SIZE;
    return KS_OK;
}

int ks__page_rec(ks_store *st, ks_store_src *a, uint32_t i, uint8_t out[KS_RECORD_SIZE])
{
    const uint8_t *map = st->cfg.flash->map;
    uint8_t cb[4];
    const uint8_t *c = cb;
    uint32_t at, j;
    int err;

    if (i >= a->base_count)
        return KS_E_INVAL;
    if ((err = page_of(st, a, i)) != 0)
        return err;
    j = i - a->pg_start;
    at = a->pg_addr + j * KS_RECORD_SIZE;
    if (map) {
        memcpy(out, map + at, KS_RECORD_SIZE);
        c = map + a->pg_addr + st->page_crc + j * 4;
    } else if ((err = ks__read(st, at, out, KS_RECORD_SIZE)) != 0 ||
               (err = ks__read(st, a->pg_addr + st->page_crc + j * 4, cb, 4)) != 0) {
        return err;
    }
    if (ks_ld32(c) != ks__crc(st, a->pg_seed, out, KS_RECORD_SIZE))
        return ks__damage(st, at, "area.record", KS_STORE_F_NEED_FULL);
    return KS_OK;
}

/* ----- mount ----- */

int ks__page_scan(ks_store *st, const ks_store_commit *c, ks_diag *d)
{
    uint8_t *buf = st->cfg.buf;
    uint8_t prev[KS_KEYID_SIZE];
    ks_store_src a;
    ks_page pg;
    uint32_t next = 0;
    int err;

    ks__pagesrc(st, c, &a);
    if (c->pages > st->pool_sectors ||
        (c->pages + c->retired) * KS_MAP_ENT > st->area_sectors * st->cfg.flash->sector_size)
        return ks_fail(d, ks__damage(st, a.base, "area.commit", KS_STORE_F_NEED_FULL), a.base,
                       "area.commit");
    for (uint32_t p = 0; p < c->pages; p++) {
        if ((err = ks__map_get(st, &a, p, &pg)) != 0)
            return ks_fail(d, err, a.base + p * KS_MAP_ENT, "map.entry");
        if (pg.start != next)
            return ks_fail(d, ks__damage(st, a.base + p * KS_MAP_ENT, "map.entry",
                                         KS_STORE_F_NEED_FULL),
                           a.base + p * KS_MAP_ENT, "map.entry");
        /* buf holds at least a sector: the page's records and CRCs. */
        if ((err = ks__read(st, pg.addr, buf, pg.n * KS_RECORD_SIZE)) != 0 ||
            (err = ks__read(st, pg.addr + st->page_crc, buf + st->page_crc, pg.n * 4)) != 0)
            return ks_fail(d, err, pg.addr, "area.read");
        for (uint32_t j = 0; j < pg.n; j++) {
            const uint8_t *rec = buf + j * KS_RECORD_SIZE;
            uint32_t addr = pg.addr + j * KS_RECORD_SIZE;
            if (ks_ld32(buf + st->page_crc + j * 4) != ks__crc(st, pg.seed, rec, KS_RECORD_SIZE))
                return ks_fail(d, ks__damage(st, addr, "area.record", KS_STORE_F_NEED_FULL),
                               addr, "area.record");
            if (next + j > 0 && memcmp(prev, rec, KS_KEYID_SIZE) >= 0)
                return ks_fail(d, ks__damage(st, addr, "area.order", KS_STORE_F_NEED_FULL),
                               addr, "area.order");
            memcpy(prev, rec, KS_KEYID_SIZE);
        }
        next += pg.n;
    }
    if (next != c->count)
        return ks_fail(d, ks__damage(st, a.base, "map.count", KS_STORE_F_NEED_FULL), a.base,
                       "map.count");
    return KS_OK;
}

/* ----- the used-sector bitmap ----- */

int ks__pool_used(const ks_store *st, uint32_t s)
{
    return (st->cfg.sector_map[s >> 3] >> (s & 7)) & 1;
}

void ks__pool_mark(ks_store *st, uint32_t s)
{
    st->cfg.sector_map[s >> 3] |= (uint8_t)(1u << (s & 7));
}

/*
 * Layout 4: the fallback's pages stay used between folds, so an overlay
 * epoch (which now takes pool sectors) never takes one and the fallback
 * stays readable, as the fixed layouts kept it. Quiet: the fallback's map
 * is not the applied state's business, and where it stops reading whole
 * (a fold that did not commit rebound its sectors) the rest is free.
 */
static void mark_pages_quietly(ks_store *st, const ks_store_commit *c)
{
    ks_store_src a;
    uint8_t e[KS_MAP_ENT];

    if (!c->valid || !c->paged || !c->rooted)
        return;
    ks__pagesrc(st, c, &a);
    for (uint32_t p = 0; p < a.pages; p++) {
        uint32_t s;
        if (ks__read(st, a.base + p * KS_MAP_ENT, e, KS_MAP_ENT) != KS_OK ||
            ks_ld32(e + 16) != ks__crc(st, a.map_seed, e, 16))
            return;
        if ((s = ks_ld32(e)) < st->pool_sectors)
            ks__pool_mark(st, s);
    }
}

static int rebuild(ks_store *st, int fb_pages)
{
    ks_store_src a;
    ks_page pg;
    int err;

    memset(st->cfg.sector_map, 0, KS_STORE_SECTOR_MAP_BYTES(st->pool_sectors));
    st->pool_used = 0;
    for (uint32_t i = 0; i < st->retired_n; i++)
        ks__pool_mark(st, st->retired[i]);
    if (!st->cur.valid)
        return KS_OK;
    ks__pagesrc(st, &st->cur, &a);
    for (uint32_t p = 0; p < a.pages; p++) {
        if ((err = ks__map_get(st, &a, p, &pg)) != 0 || ks__pool_used(st, pg.sector)) {
            /* The applied map cannot be read whole: it is damaged and only
             * a full install repairs it, which may then use any sector. */
            memset(st->cfg.sector_map, 0, KS_STORE_SECTOR_MAP_BYTES(st->pool_sectors));
            st->pool_used = 0;
            return err ? err
                       : ks__damage(st, a.base + p * KS_MAP_ENT, "map.entry",
                                    KS_STORE_F_NEED_FULL);
        }
        ks__pool_mark(st, pg.sector);
        st->pool_used++;
    }
    /* The retired sectors the map lists after its pages join the ones
     * retired since (in RAM until the next COMMIT writes them). */
    for (uint32_t i = 0; i < st->cur.retired; i++) {
        uint8_t e[KS_MAP_ENT];
        uint32_t at = a.base + (a.pages + i) * KS_MAP_ENT, s, k;
        if ((err = ks__read(st, at, e, KS_MAP_ENT)) != 0)
            return err;
        s = ks_ld32(e);
        if (ks_ld32(e + 16) != ks__crc(st, a.map_seed, e, 16) || s >= st->pool_sectors ||
            ks_ld32(e + 8) != 0)
            return ks__damage(st, at, "map.retired", KS_STORE_F_NEED_FULL);
        for (k = 0; k < st->retired_n && st->retired[k] != s; k++)
            ;
        if (k == st->retired_n && st->retired_n < KS_STORE_RETIRED_MAX)
            st->retired[st->retired_n++] = s;
    }
    for (uint32_t i = 0; i < st->retired_n; i++)
        ks__pool_mark(st, st->retired[i]);
    if (st->levelled) {
        ks__root_mark(st, &st->last[0]);
        ks__root_mark(st, &st->last[1]);
        if (fb_pages)
            mark_pages_quietly(st, &st->last[st->cur.area ^ 1u]);
    }
    return KS_OK;
}

/* Layout 4: the virtual sectors of c's map and overlay (first index into
 * cfg.vmap and how many), as its pages, retired list and overlay end
 * imply. */
void ks__root_extent(const ks_store *st, const ks_store_commit *c, uint32_t *mv, uint32_t *m,
                     uint32_t *ov, uint32_t *o)
{
    uint32_t ss = st->cfg.flash->sector_size;
    uint32_t bytes = (c->pages + c->retired) * KS_MAP_ENT + ks__cnt_bytes(st->pool_sectors);
    *mv = st->area_first[c->area] - st->virt_first;
    *m = (bytes + ss - 1) / ss;
    *ov = st->ovl_first + c->ovl_half * st->ovl_half_sectors - st->virt_first;
    *o = c->ovl_gen ? (c->ovl_end + ss - 1) / ss : 0;
}

void ks__root_mark(ks_store *st, const ks_store_commit *c)
{
    uint32_t mv, m, ov, o;

    if (!c->valid || !c->rooted || c->root >= st->pool_sectors)
        return;
    ks__root_extent(st, c, &mv, &m, &ov, &o);
    ks__pool_mark(st, c->root);
    for (uint32_t i = 0; i < m && i < st->area_sectors; i++)
        if (st->cfg.vmap[mv + i] < st->pool_sectors)
            ks__pool_mark(st, st->cfg.vmap[mv + i]);
    for (uint32_t i = 0; i < o && i < st->ovl_half_sectors; i++)
        if (st->cfg.vmap[ov + i] < st->pool_sectors)
            ks__pool_mark(st, st->cfg.vmap[ov + i]);
}

int ks__pool_rebuild(ks_store *st)
{
    return rebuild(st, 1);
}

int ks__pool_rebuild_fold(ks_store *st)
{
    return rebuild(st, 0);
}

/* ----- RAM index and lookup ----- */

#if defined(__GNUC__) || defined(__clang__)
#define KS_PREFETCH(p) __builtin_prefetch(p)
#else
#define KS_PREFETCH(p) ((void)(p))
#endif

/* Asks for the key ids the first three levels of a search over [lo, hi)
 * of a page may probe, so their cache misses overlap (as layout 1 does). */
static void prefetch_levels(const uint8_t *recs, uint32_t lo, uint32_t hi, int depth)
{
    while (depth-- > 0 && lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        KS_PREFETCH(recs + (size_t)mid * KS_RECORD_SIZE);
        prefetch_levels(recs, lo, mid, depth);
        lo = mid + 1;
    }
}

/* First key id of page p (through the map). */
static int first_key(ks_store *st, ks_store_src *a, uint32_t p, uint8_t k[KS_KEYID_SIZE],
                     ks_page *pg)
{
    int err = ks__map_get(st, a, p, pg);
    if (err)
        return err;
    if (st->cfg.flash->map)
        memcpy(k, st->cfg.flash->map + pg->addr, KS_KEYID_SIZE);
    else if ((err = ks__read(st, pg->addr, k, KS_KEYID_SIZE)) != 0)
        return err;
    return KS_OK;
}

void ks__page_index_build(ks_store *st)
{
    ks_store_src a;
    ks_page pg;
    uint8_t rec[KS_RECORD_SIZE];
    uint32_t pages = st->cur.pages, shift = 0;

    st->idx_n = 0;
    if (!st->cfg.index || !st->cfg.index_cap || !st->cur.valid || !pages)
        return;
    while (shift < 31 && ((pages - 1) >> shift) + 1 > st->cfg.index_cap)
        shift++;
    ks__pagesrc(st, &st->cur, &a);
    for (uint32_t g = 0; g <= (pages - 1) >> shift; g++) {
        /* Each entry from a record whose CRC checks (a hint, never damage). */
        if (ks__map_get(st, &a, g << shift, &pg) != 0 ||
            ks__page_rec(st, &a, pg.start, rec) != 0 ||
            (g > 0 && memcmp(st->cfg.index[g - 1], rec, KS_KEYID_SIZE) >= 0)) {
            st->idx_n = 0;
            return;
        }
        memcpy(st->cfg.index[g], rec, KS_KEYID_SIZE);
    }
    st->idx_shift = shift;
    st->idx_gen = st->cur.gen;
    st->idx_n = ((pages - 1) >> shift) + 1;
}

/*
 * Proven search of the applied paged snapshot: the page whose first key is
 * the last one <= key_id (from the index's group, else all pages), a binary
 * search in it, then the same proof as layout 1 (CRC of the hit, or CRC and
 * order of both neighbours of the gap, which may lie in the next or the
 * previous page). A proof that fails on order with the index is retried
 * without it (the index may be wrong; flash is the authority).
 */
int ks__page_find(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                  uint8_t rec[KS_RECORD_SIZE], uint32_t *at)
{
    ks_store_src a;
    ks_page pg;
    uint8_t k[KS_KEYID_SIZE];
    uint32_t pages = st->cur.pages, count = st->cur.count;
    int err, indexed;

    *at = 0;
    ks__pagesrc(st, &st->cur, &a);
    indexed = st->idx_n != 0 && st->idx_gen == st->cur.gen && st->cfg.index && pages &&
              st->idx_n == ((pages - 1) >> st->idx_shift) + 1;
    for (;;) {
        uint32_t plo = 0, phi = pages, pos, lo, hi;
        if (indexed) {
            uint32_t ga = 0, gb = st->idx_n, pf = 0;
            while (ga < gb) {
                uint32_t m = ga + (gb - ga) / 2;
                /* The page's map entry is the next miss: ask for the few
                 * candidates' entries while the last index steps run. */
                if (!pf && gb - ga <= 8 && st->cfg.flash->map && !st->idx_shift && !st->levelled) {
                    const uint8_t *me = st->cfg.flash->map + a.base +
                                        (ga ? ga - 1 : 0) * KS_MAP_ENT;
                    KS_PREFETCH(me);
                    KS_PREFETCH(me + 64);
                    KS_PREFETCH(me + 128);
                    pf = 1;
                }
                if (memcmp(st->cfg.index[m], key_id, KS_KEYID_SIZE) <= 0)
                    ga = m + 1;
                else
                    gb = m;
            }
            if (ga > 0) {
                plo = (ga - 1) << st->idx_shift;
                if (phi - plo > ((uint32_t)1 << st->idx_shift))
                    phi = plo + ((uint32_t)1 << st->idx_shift);
            } else {
                phi = 0;
            }
        }
        /* the last page in [plo, phi) whose first key is <= key_id */
        uint32_t p = UINT32_MAX;
        ks_page best = {0, 0, 0, 0, 0, 0};
        if (indexed && plo < phi) {
            /* The index says page plo starts at or before key_id: taken
             * without reading its first key (if the index is wrong, the
             * proof's order check fails and the search runs again without
             * it), so a group of one page costs one map entry. */
            if ((err = ks__map_get(st, &a, plo, &best)) != 0)
                return err;
            p = plo++;
        }
        while (plo < phi) {
            uint32_t m = plo + (phi - plo) / 2;
            if ((err = first_key(st, &a, m, k, &pg)) != 0)
                return err;
            if (memcmp(k, key_id, KS_KEYID_SIZE) <= 0) {
                p = m;
                best = pg;
                plo = m + 1;
            } else {
                phi = m;
            }
        }
        if (p == UINT32_MAX) {
            pos = 0; /* before the first page (or the group's) */
        } else {
            pg = best;
            if (st->cfg.flash->map) {
                KS_PREFETCH(st->cfg.flash->map + pg.addr + st->page_crc);
                prefetch_levels(st->cfg.flash->map + pg.addr, 0, pg.n, 3);
            }
            /* the proof below reads this page through a's cache, not the map */
            a.pg = p;
            a.pg_start = pg.start;
            a.pg_n = pg.n;
            a.pg_addr = pg.addr;
            a.pg_seed = pg.seed;
            lo = 0;
            hi = pg.n;
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                const uint8_t *kp = k;
                if (st->cfg.flash->map)
                    kp = st->cfg.flash->map + pg.addr + mid * KS_RECORD_SIZE;
                else if ((err = ks__read(st, pg.addr + mid * KS_RECORD_SIZE, k,
                                         KS_KEYID_SIZE)) != 0)
                    return err;
                int c = memcmp(kp, key_id, KS_KEYID_SIZE);
                if (c == 0) {
                    lo = mid;
                    break;
                }
                if (c < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            pos = pg.start + lo;
        }
        /* the proof */
        uint32_t bad = UINT32_MAX;
        if (pos < count) {
            if ((err = ks__page_rec(st, &a, pos, rec)) != 0)
                return err;
            int c = memcmp(rec, key_id, KS_KEYID_SIZE);
            if (c == 0) {
                *at = pos;
                return KS_OK;
            }
            if (c < 0)
                bad = pos;
        }
        if (bad == UINT32_MAX && pos > 0) {
            uint8_t r2[KS_RECORD_SIZE];
            if ((err = ks__page_rec(st, &a, pos - 1, r2)) != 0)
                return err;
            if (memcmp(r2, key_id, KS_KEYID_SIZE) >= 0)
                bad = pos - 1;
        }
        if (bad == UINT32_MAX) {
            memset(rec, 0, KS_RECORD_SIZE);
            *at = pos;
            return KS_E_NOTFOUND;
        }
        if (!indexed)
            return ks__damage(st, a.pg_addr + (bad - a.pg_start) * KS_RECORD_SIZE,
                              "area.order", KS_STORE_F_NEED_FULL);
        indexed = 0;
    }
}
