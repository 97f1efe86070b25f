/*
 * ks_store_pagew.c - writing a paged snapshot (layout 2): the records of
 * the new state stream through in key order and become pages in free pool
 * sectors, and their map goes into the spare map area. Used by an install
 * (every page new, filled to K records) and by a fold, where the old map
 * is walked beside the stream: the records falling in an old page's key
 * range [its first key, the next page's first key) are compared with that
 * page, and a page that comes through unchanged keeps its sector and its
 * generation (a map entry, no erase, no prog). A touched range is written
 * as new pages, split in halves when it outgrows one, so a fold costs the
 * pages the change touches plus the map, not the database.
 *
 * Free sectors are those the applied snapshot does not use (cfg.sector_map);
 * the old pages a fold replaces stay untouched until the next fold, so the
 * applied state (and the fallback's shared pages) keep answering until the
 * COMMIT. Allocation is next-fit around the pool, which spreads erases
 * evenly over it. Calls ks_store_page.c and ks_store_io.c only.
 */
#include <string.h>

#include "ks_store_int.h"

static uint32_t seed32(uint32_t gen)
{
    uint8_t g[8];
    ks_st64(g, gen);
    return ks_crc32c(0, g, 8);
}

/* ----- the map ----- */

static int map_flush(ks__pager *w, int last)
{
    ks_store *st = w->st;
    const ks_flash *f = st->cfg.flash;
    uint8_t *mb = st->cfg.buf + f->sector_size;
    uint32_t len = last ? ks__align(w->map_fill, f->prog_size)
                        : w->map_fill / f->prog_size * f->prog_size;
    int err;

    if (!len)
        return KS_OK;
    if (w->map_done + len > st->area_sectors * f->sector_size)
        return KS_E_NOSPC;
    memset(mb + w->map_fill, f->erase_value, len > w->map_fill ? len - w->map_fill : 0);
    /* The map area's sectors are erased as the map enters them. */
    while (w->map_erased * f->sector_size < w->map_done + len) {
        if ((err = ks__virt_erase(st, w->map_base / f->sector_size + w->map_erased)) != 0)
            return err;
        w->map_erased++;
    }
    if ((err = ks__virt_prog(st, w->map_base + w->map_done, mb, len)) != 0)
        return err;
    w->map_done += len;
    if (len < w->map_fill)
        memmove(mb, mb + len, w->map_fill - len);
    w->map_fill = len < w->map_fill ? w->map_fill - len : 0;
    return KS_OK;
}

static int map_put(ks__pager *w, uint32_t sector, uint32_t n, uint32_t gen)
{
    uint32_t room = w->st->cfg.buf_size - w->st->cfg.flash->sector_size;
    ks_page pg;
    int err;

    if (w->pages >= w->st->pool_sectors + KS_STORE_RETIRED_MAX)
        return KS_E_NOSPC;
    pg.sector = sector;
    pg.start = w->n_out;
    pg.n = n;
    pg.gen = gen;
    ks__map_encode(w->st->cfg.buf + w->st->cfg.flash->sector_size + w->map_fill, &pg,
                   w->map_seed);
    w->map_fill += KS_MAP_ENT;
    w->n_out += n;
    w->pages++;
    if (w->map_fill + KS_MAP_ENT > room && (err = map_flush(w, 0)) != 0)
        return err;
    return KS_OK;
}

/* ----- pages ----- */

static int alloc(ks_store *st, uint32_t *out)
{
    if (st->counted) /* layout 3: least-erased first (ks_store_pagec.c) */
        return ks__cnt_alloc(st, out);
    for (uint32_t t = 0; t < st->pool_sectors; t++) {
        uint32_t s = (st->pool_next + t) % st->pool_sectors;
        if (s == 0 && (t > 0 || st->wear.erases[7] > 0))
            ks__wear_lap(st); /* the cursor passes the pool's start */
        if (!ks__pool_used(st, s)) {
            ks__pool_mark(st, s);
            st->pool_next = (s + 1) % st->pool_sectors;
            *out = s;
            return KS_OK;
        }
    }
    return KS_E_NOSPC;
}

/* Erases sector s and programs the first m waiting records into it (each
 * prog read back: KS_E_IO on a mismatch). */
static int put_page(ks__pager *w, uint32_t s, uint32_t m)
{
    ks_store *st = w->st;
    const ks_flash *f = st->cfg.flash;
    uint8_t *buf = st->cfg.buf, tail[256];
    uint32_t pu = f->prog_size, addr, whole = m * KS_RECORD_SIZE / pu * pu;
    uint32_t rest = m * KS_RECORD_SIZE - whole, clen = ks__align(m * 4, pu);
    int err;

    addr = ks__page_addr(st, s);
    if ((err = ks__erase(st, st->pool_first + s)) != 0)
        return err;
    if (whole && (err = ks__prog(st, addr, buf, whole)) != 0)
        return err;
    if (rest) { /* the last unit, padded, without touching the records after it */
        memset(tail, f->erase_value, pu);
        memcpy(tail, buf + whole, rest);
        if ((err = ks__prog(st, addr + whole, tail, pu)) != 0)
            return err;
    }
    for (uint32_t j = 0; j < m; j++)
        ks_st32(buf + st->page_crc + j * 4, ks__crc(st, w->seed, buf + j * KS_RECORD_SIZE,
                                                    KS_RECORD_SIZE));
    memset(buf + st->page_crc + m * 4, f->erase_value, clen - m * 4);
    return ks__prog(st, addr + st->page_crc, buf + st->page_crc, clen);
}

/*
 * Writes the first m waiting records as one page in a free sector. A
 * sector that fails its erase, a prog or a read-back is retired (never
 * taken again; the next map lists it) and the page goes to the next free
 * one, while the retired list has room, twice per page at most (a device
 * that fails everything, or lost power, must not retire the pool); then
 * the failure is the write's, KS_E_IO.
 */
static int write_page(ks__pager *w, uint32_t m)
{
    ks_store *st = w->st;
    uint32_t s;
    int err;

    for (int tries = 0;; tries++) {
        if ((err = alloc(st, &s)) != 0)
            return tries ? KS_E_IO : err;
        if ((err = put_page(w, s, m)) == KS_OK)
            break;
        if (err != KS_E_IO || tries == 2 || st->retired_n >= KS_STORE_RETIRED_MAX)
            return err;
        st->retired[st->retired_n++] = s; /* its bit stays set: never free again */
        st->wear.retired++;
    }
    if ((err = map_put(w, s, m, w->gen32)) != 0)
        return err;
    memmove(st->cfg.buf, st->cfg.buf + m * KS_RECORD_SIZE, (w->pend - m) * KS_RECORD_SIZE);
    w->pend -= m;
    return KS_OK;
}

/* Queues a record for a new page; a full queue writes a page of `fill`
 * records first (K for an install; a fold leaves an eighth free, when the
 * pool can spare it, so that the next inserts there do not split it). */
static int emit(ks__pager *w, const uint8_t rec[KS_RECORD_SIZE])
{
    uint32_t k = w->st->page_k;
    int err;
    if (w->pend == k && (err = write_page(w, w->fill)) != 0)
        return err;
    memcpy(w->st->cfg.buf + w->pend * KS_RECORD_SIZE, rec, KS_RECORD_SIZE);
    w->pend++;
    return KS_OK;
}

/* ----- walking the old pages (fold) ----- */

static int load_old(ks__pager *w)
{
    ks_page nx;
    int err;
    w->j = 0;
    w->dirty = 0;
    w->next_ok = 0;
    if ((err = ks__map_get(w->st, &w->old, w->opi, &w->op)) != 0)
        return err;
    if (w->opi + 1 < w->old.pages) {
        uint8_t rec[KS_RECORD_SIZE];
        if ((err = ks__map_get(w->st, &w->old, w->opi + 1, &nx)) != 0 ||
            (err = ks__page_rec(w->st, &w->old, nx.start, rec)) != 0)
            return err;
        memcpy(w->next_first, rec, KS_KEYID_SIZE);
        w->next_ok = 1;
    }
    return KS_OK;
}

/* The range stops matching its old page: its matched prefix is queued. */
static int make_dirty(ks__pager *w)
{
    uint8_t rec[KS_RECORD_SIZE];
    int err;
    w->dirty = 1;
    for (uint32_t t = 0; t < w->j; t++)
        if ((err = ks__page_rec(w->st, &w->old, w->op.start + t, rec)) != 0 ||
            (err = emit(w, rec)) != 0)
            return err;
    return KS_OK;
}

/*
 * Static levelling (layout 3): an untouched page whose sector has been
 * erased fewer than half as often as the pool's most-erased sector, less
 * KS_STATIC_GAP, is rewritten as if touched, so its cold sector returns to
 * the free pool, where least-erased-first allocation takes it next. At
 * most pages/128 + 4 such moves per fold (ks__pg_begin), so a fold's extra
 * work stays a bounded share of the map it writes anyway, and every page a
 * fold walks past (a fold walks them all) is kept within that factor of
 * the most-erased sector.
 */
#define KS_STATIC_GAP 2u
static int cold(ks__pager *w)
{
    const ks_store *st = w->st;
    if (!st->counted || !w->moves ||
        st->cfg.erase_counts[w->op.sector] + KS_STATIC_GAP >= st->wear.first[7] / 2)
        return 0;
    w->moves--;
    return 1;
}

/* A touched range stays queued: consecutive touched pages are packed
 * together (a fold that touches every page repacks the whole snapshot
 * densely instead of splitting each page). An untouched page ends the run,
 * unless the queue and it fit one page: then it joins the run, so the small
 * page a run leaves behind is merged instead of piling up fold after fold. */
static int end_range(ks__pager *w)
{
    int err;
    if (!w->dirty && w->j == w->op.n && w->pend && w->pend + w->op.n <= w->st->page_k)
        return make_dirty(w);
    if (!w->dirty && w->j == w->op.n && !cold(w)) {
        while (w->pend)
            if ((err = write_page(w, w->pend)) != 0)
                return err;
        return map_put(w, w->op.sector, w->op.n, w->op.gen); /* untouched: kept */
    }
    if (!w->dirty && (err = make_dirty(w)) != 0)
        return err;
    return KS_OK;
}

/* ----- the writer ----- */

int ks__pg_begin(ks__pager *w, ks_store *st, unsigned area, uint64_t gen, uint32_t count,
                 const ks_store_commit *old)
{
    memset(w, 0, sizeof *w);
    w->st = st;
    w->count = count;
    /* Layout 4: the fallback's pages were kept used through the epoch;
     * a fold or install may take them, as in layout 3 (its root, map and
     * overlay stay used). */
    if (st->levelled)
        (void)ks__pool_rebuild_fold(st);
    w->map_base = ks__area_addr(st, area);
    {
        uint8_t g[8];
        ks_st64(g, gen);
        w->map_seed = ks_crc32c(0, g, 8);
    }
    w->gen32 = (uint32_t)gen;
    w->seed = seed32(w->gen32);
    w->fill = st->page_k;
    if (old && old->valid && old->pages) {
        /* room to spare: pages left 1/8 free, and cold pages moved */
        if (st->pool_sectors - st->pool_used >= old->pages) {
            w->fill = st->page_k - st->page_k / 8;
            w->moves = old->pages / 128 + 4;
        }
        ks__pagesrc(st, old, &w->old);
        w->has_old = 1;
        return load_old(w);
    }
    return KS_OK;
}

int ks__pg_push(ks__pager *w, const uint8_t rec[KS_RECORD_SIZE], ks_diag *d)
{
    uint8_t old[KS_RECORD_SIZE];
    int err;

    if (w->n >= w->count)
        return ks_fail(d, KS_E_BASE, 0, "more records than the header's record_count");
    if (w->n > 0 && memcmp(w->prev, rec, KS_KEYID_SIZE) >= 0)
        return ks_fail(d, KS_E_FORMAT, w->n, "records not sorted strictly by key id");
    memcpy(w->prev, rec, KS_KEYID_SIZE);
    w->n++;
    if (!w->has_old)
        return emit(w, rec);
    while (w->next_ok && memcmp(rec, w->next_first, KS_KEYID_SIZE) >= 0) {
        if ((err = end_range(w)) != 0)
            return err;
        w->opi++;
        if ((err = load_old(w)) != 0)
            return err;
    }
    if (!w->dirty) {
        if (w->j < w->op.n) {
            if ((err = ks__page_rec(w->st, &w->old, w->op.start + w->j, old)) != 0)
                return err;
            if (memcmp(old, rec, KS_RECORD_SIZE) == 0) {
                w->j++;
                return KS_OK;
            }
        }
        if ((err = make_dirty(w)) != 0)
            return err;
    }
    return emit(w, rec);
}

int ks__pg_end(ks__pager *w, uint32_t *pages, uint32_t *retired, ks_diag *d)
{
    ks_page pg;
    int err;

    if (w->n != w->count)
        return ks_fail(d, KS_E_BASE, 0, "fewer records than the header's record_count");
    if (w->has_old) {
        /* the last range, then old pages no record reached (all removed) */
        if ((err = end_range(w)) != 0)
            return err;
        while (w->opi + 1 < w->old.pages) {
            w->opi++;
            if ((err = load_old(w)) != 0 || (err = end_range(w)) != 0)
                return err;
        }
    }
    while (w->pend)
        if ((err = write_page(w, w->pend)) != 0)
            return err;
    *pages = w->pages;
    /* after the pages, the retired sectors (n = 0): the map carries them */
    for (uint32_t i = 0; i < w->st->retired_n; i++) {
        uint32_t room = w->st->cfg.buf_size - w->st->cfg.flash->sector_size;
        pg.sector = w->st->retired[i];
        pg.start = w->n_out;
        pg.n = pg.gen = 0;
        ks__map_encode(w->st->cfg.buf + w->st->cfg.flash->sector_size + w->map_fill, &pg,
                       w->map_seed);
        w->map_fill += KS_MAP_ENT;
        if (w->map_fill + KS_MAP_ENT > room && (err = map_flush(w, 0)) != 0)
            return err;
    }
    *retired = w->st->retired_n;
    /* Layout 3: then every pool sector's erase count, this write's erases
     * included, committed with the map (ks_store_pagec.c). */
    for (uint32_t b = 0; w->st->counted && b * KS_CNT_PER < w->st->pool_sectors; b++) {
        uint32_t room = w->st->cfg.buf_size - w->st->cfg.flash->sector_size;
        if (w->map_fill + KS_CNT_BLOCK > room && (err = map_flush(w, 0)) != 0)
            return err;
        ks__cnt_encode(w->st, b, w->map_seed,
                       w->st->cfg.buf + w->st->cfg.flash->sector_size + w->map_fill);
        w->map_fill += KS_CNT_BLOCK;
    }
    if ((err = map_flush(w, 1)) != 0)
        return err;
    return ks__sync(w->st);
}
