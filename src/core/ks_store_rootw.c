/*
 * ks_store_rootw.c - layout 4: taking pool sectors for the overlay's and
 * the maps' virtual sectors, the root sector each commit writes, and
 * binding a commit's root at mount (docs/store.md, "Layout 4").
 *
 * A virtual sector is bound only when it is erased: the overlay and map
 * writers erase each of their sectors before its first program in a
 * state, and in layout 4 that erase takes a fresh pool sector instead
 * (least-erased first, like a page). The binding lives in cfg.vmap; a
 * commit makes it durable by a root sector, written and read back before
 * the COMMIT that names it, listing the pool sectors behind its map and
 * its overlay half. Nothing the applied or fallback state uses is ever
 * taken (the used-sector bitmap, ks__pool_rebuild), so a power cut before
 * the COMMIT leaves the old root, map and overlay exactly as they were.
 * Calls ks_store_pagec.c (allocation), ks_store_page.c and ks_store_io.c.
 */
#include <string.h>

#include "ks_store_int.h"
#include "ks_store_root.h"

/* A pool sector that failed an erase, a prog or a read-back: never taken
 * again (its bit stays set; the next map lists it), while the list has
 * room. 0 when it is full: the failure is then the write's. */
static int retire(ks_store *st, uint32_t s)
{
    if (st->retired_n >= KS_STORE_RETIRED_MAX)
        return 0;
    st->retired[st->retired_n++] = s;
    st->wear.retired++;
    return 1;
}

/* Takes a fresh pool sector and erases it; a sector that fails is retired
 * and the next one tried, twice at most (as for pages: a device failing
 * everything, or losing power, must not retire the pool). */
static int take(ks_store *st, uint32_t *out)
{
    int err;
    for (int tries = 0;; tries++) {
        if ((err = ks__cnt_alloc(st, out)) != 0)
            return tries ? KS_E_IO : err;
        if ((err = ks__erase(st, st->pool_first + *out)) == KS_OK)
            return KS_OK;
        if (err != KS_E_IO || tries == 2 || !retire(st, *out))
            return err;
    }
}

int ks__virt_erase(ks_store *st, uint32_t sector)
{
    uint32_t s;
    int err;

    if (!st->levelled || sector < st->virt_first)
        return ks__erase(st, sector);
    if (sector - st->virt_first >= st->virt_n)
        return KS_E_INVAL;
    /* A fresh sector: the one bound before stays as it is (an older
     * state's, kept used until the bitmap is rebuilt). */
    if ((err = take(st, &s)) != 0)
        return err;
    st->cfg.vmap[sector - st->virt_first] = s;
    return KS_OK;
}

/*
 * Moves virtual sector v to a fresh pool sector after a failed prog at
 * byte off of it: the bytes before off (written and read back already; in
 * the overlay's partly filled sector, committed entries the applied root
 * still finds in the old sector) are copied, the old sector is retired and
 * v rebound. off is program-unit aligned, so whole units are copied.
 */
static int relocate(ks_store *st, uint32_t v, uint32_t off)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t ss = f->sector_size, old = st->cfg.vmap[v], s;
    uint8_t b[256];
    int err;

    if (old >= st->pool_sectors || !retire(st, old))
        return KS_E_IO;
    if ((err = take(st, &s)) != 0)
        return err;
    for (uint32_t at = 0; at < off; at += sizeof b) {
        uint32_t n = off - at < sizeof b ? off - at : (uint32_t)sizeof b;
        if ((err = ks__read(st, (st->pool_first + old) * ss + at, b, n)) != 0 ||
            (err = ks__prog(st, (st->pool_first + s) * ss + at, b, n)) != 0)
            return err;
    }
    st->cfg.vmap[v] = s;
    return KS_OK;
}

int ks__virt_prog(ks_store *st, uint32_t addr, const void *buf, uint32_t len)
{
    uint32_t ss = st->cfg.flash->sector_size;
    const uint8_t *p = buf;
    int err;

    if (!st->levelled || addr / ss < st->virt_first)
        return ks__prog(st, addr, buf, len);
    while (len) {
        uint32_t off = addr % ss, n = ss - off < len ? ss - off : len;
        for (int tries = 0;; tries++) {
            if ((err = ks__prog(st, addr, p, n)) == KS_OK)
                break;
            if (err != KS_E_IO || tries == 2 ||
                (err = relocate(st, addr / ss - st->virt_first, off)) != 0)
                return err;
        }
        addr += n;
        p += n;
        len -= n;
    }
    return KS_OK;
}

int ks__root_write(ks_store *st, ks_store_commit *c)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t mv, m, ov, o, s, len, ss = f->sector_size;
    ks_root_info ri;
    uint8_t *b = st->cfg.buf;
    int n, err;

    ks__root_extent(st, c, &mv, &m, &ov, &o);
    if (m > st->area_sectors || o > st->ovl_half_sectors || ks__root_bytes(m + o) > ss)
        return KS_E_NOSPC;
    ri.map_n = m;
    ri.ovl_n = o;
    ri.ovl_end = c->ovl_gen ? c->ovl_end : 0;
    memset(b, f->erase_value, ss);
    n = ks__root_encode(b, ss, &ri, st->cfg.vmap + mv, st->cfg.vmap + ov,
                        ks__root_seed(c->gen, c->ovl_gen));
    if (n <= 0)
        return KS_E_INVAL; /* a virtual sector the state reads is unbound */
    for (int tries = 0;; tries++) {
        if ((err = take(st, &s)) != 0)
            return err;
        /* The counts of the sectors erased since the map, this one's
         * (just erased) included. */
        ks__rootcnt_taken(st, s);
        memset(b + n, f->erase_value, ss - (uint32_t)n);
        len = ks__align(ks__rootcnt_encode(st, c, b, (uint32_t)n, ss), f->prog_size);
        if ((err = ks__prog(st, (st->pool_first + s) * ss, b, len)) == KS_OK)
            break;
        if (err != KS_E_IO || tries == 2 || !retire(st, s))
            return err;
    }
    if ((err = ks__sync(st)) != 0)
        return err;
    c->rooted = 1;
    c->root = s;
    return KS_OK;
}

int ks__root_bind(ks_store *st, const ks_store_commit *c, int report)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t mv, m, ov, o, ss = f->sector_size, at;
    ks_root_info ri;
    int err;

    if (!c->rooted || c->root >= st->pool_sectors)
        return report ? ks__damage(st, 0, "root", KS_STORE_F_NEED_FULL) : KS_E_STORE_CORRUPT;
    at = (st->pool_first + c->root) * ss;
    ks__root_extent(st, c, &mv, &m, &ov, &o);
    if ((err = ks__read(st, at, st->cfg.buf, ss)) != 0)
        return err;
    /* Decoded into the bindings only when every check passes (nothing is
     * written otherwise); then the counts must be the ones c implies. */
    err = ks__root_decode(st->cfg.buf, ss, ks__root_seed(c->gen, c->ovl_gen), st->pool_sectors,
                          st->area_sectors, c->ovl_gen ? st->ovl_half_sectors : 0,
                          c->ovl_gen ? c->ovl_end : 0, &ri, st->cfg.vmap + mv,
                          st->cfg.vmap + ov);
    if (err == KS_OK && (ri.map_n != m || ri.ovl_n != o))
        err = KS_E_STORE_CORRUPT;
    if (err) {
        /* No half-made bindings: the map's (and the half's, when it names
         * one) are this commit's alone. */
        for (uint32_t i = 0; i < st->area_sectors; i++)
            st->cfg.vmap[mv + i] = KS_ROOT_NONE;
        for (uint32_t i = 0; c->ovl_gen && i < st->ovl_half_sectors; i++)
            st->cfg.vmap[ov + i] = KS_ROOT_NONE;
        return report ? ks__damage(st, at, "root", KS_STORE_F_NEED_FULL) : KS_E_STORE_CORRUPT;
    }
    for (uint32_t i = m; i < st->area_sectors; i++)
        st->cfg.vmap[mv + i] = KS_ROOT_NONE;
    for (uint32_t i = o; c->ovl_gen && i < st->ovl_half_sectors; i++)
        st->cfg.vmap[ov + i] = KS_ROOT_NONE;
    return KS_OK;
}

/* The pool sectors commit c names (its root, its map's, its half's), in
 * list order; i past the end gives KS_ROOT_NONE. */
static uint32_t named(const ks_store *st, const ks_store_commit *c, uint32_t i)
{
    uint32_t mv, m, ov, o;
    ks__root_extent(st, c, &mv, &m, &ov, &o);
    if (i == 0)
        return c->root;
    if (--i < m && i < st->area_sectors)
        return st->cfg.vmap[mv + i];
    i -= m;
    return i < o && i < st->ovl_half_sectors ? st->cfg.vmap[ov + i] : KS_ROOT_NONE;
}

int ks__root_shared(const ks_store *st, const ks_store_commit *a, const ks_store_commit *b,
                    uint32_t *shared)
{
    uint32_t mv, m, ov, o, na, nb;

    if (!a->rooted || !b->rooted)
        return 0;
    /* Two commits naming the same virtual half cannot be told apart in
     * the bindings (the layout never does that: an epoch's half is not the
     * fallback's); their roots and maps are still compared. */
    int same_half = a->ovl_gen && b->ovl_gen && a->ovl_half == b->ovl_half;
    ks__root_extent(st, a, &mv, &m, &ov, &o);
    na = 1 + m + (same_half ? 0 : o);
    ks__root_extent(st, b, &mv, &m, &ov, &o);
    nb = 1 + m + (same_half ? 0 : o);
    /* A few hundred sectors each, once per mount. */
    for (uint32_t i = 0; i < na; i++) {
        uint32_t s = named(st, a, i);
        if (s >= st->pool_sectors)
            continue;
        for (uint32_t j = 0; j < nb; j++)
            if (named(st, b, j) == s) {
                *shared = s;
                return 1;
            }
    }
    return 0;
}
