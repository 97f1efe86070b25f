/*
 * ks_store_ovl.c - the delta overlay: small deltas kept beside the base
 * area instead of rewriting it, and the merged view (base + overlay).
 *
 * The overlay region has two halves. An overlay "epoch" lives in one half
 * and starts after a fold or an install (when the applied state has no
 * overlay): it takes the half the fallback commit (the other area's) does
 * not use, so falling back stays possible until the next fold overwrites
 * that area anyway. Each delta appends one segment: its changes as
 * fixed-size entries sorted by key id, the last one flagged. The COMMIT
 * names the half, the epoch's generation (CRC seed of every entry) and the
 * committed end; anything after the end is an unfinished append and is
 * never read. Sectors are erased when an append first enters them, so an
 * erase never touches a committed byte.
 *
 * In RAM the caller's table holds the net effect of all segments, sorted
 * by key id: per key, the newest PUT (its flash address) or a DEL, plus
 * where the key sits in the base area, which lets the merged view be read
 * by index in O(log) (ks__mergedsrc).
 */
#include <string.h>

#include <keysup/ks_assert.h>

#include "ks_store_int.h"

uint32_t ks__ovl_half_bytes(const ks_store *st)
{
    return st->ovl_half_sectors * st->cfg.flash->sector_size;
}

uint32_t ks__ovl_addr(const ks_store *st, unsigned half)
{
    return (st->ovl_first + half * st->ovl_half_sectors) * st->cfg.flash->sector_size;
}

uint32_t ks__ovl_cap(const ks_store *st)
{
    uint32_t n = ks__ovl_half_bytes(st) / KS_OVL_ENT;
    return n < st->cfg.overlay_cap ? n : st->cfg.overlay_cap;
}

/*
 * Reads the entry at byte off of a half and checks everything in it: the
 * CRC (seeded with the epoch's generation, so an entry of an older epoch
 * never checks), its own offset, a known kind, zero padding.
 */
static int ent_read(ks_store *st, uint32_t half, uint32_t off, uint8_t e[KS_OVL_ENT])
{
    uint32_t addr = ks__ovl_addr(st, half) + off;
    unsigned kind;
    int err = ks__read(st, addr, e, KS_OVL_ENT);
    if (err)
        return err;
    kind = e[128] & ~KS_OVL_LAST;
    if (ks_ld32(e + 140) != ks__crc(st, st->ovl_seed, e, 140) || ks_ld32(e + 132) != off ||
        (kind != KS_OVL_PUT && kind != KS_OVL_DEL) || e[129] || e[130] || e[131])
        return ks__damage(st, addr, "overlay.entry", KS_STORE_F_NEED_FULL);
    if (kind == KS_OVL_DEL)
        for (uint32_t i = KS_KEYID_SIZE; i < KS_RECORD_SIZE; i++)
            if (e[i])
                return ks__damage(st, addr, "overlay.entry", KS_STORE_F_NEED_FULL);
    return KS_OK;
}

int ks__ovl_record(ks_store *st, const ks_ovl_ent *t, uint8_t rec[KS_RECORD_SIZE])
{
    uint8_t e[KS_OVL_ENT];
    uint32_t rel = t->addr - ks__ovl_addr(st, 0), hb = ks__ovl_half_bytes(st);
    int err = ent_read(st, rel / hb, rel % hb, e);
    if (err)
        return err;
    /* The table came from flash that checked; an entry that now says
     * something else was damaged since. */
    if ((e[128] & ~KS_OVL_LAST) != KS_OVL_PUT || memcmp(e, t->id, KS_KEYID_SIZE) != 0)
        return ks__damage(st, t->addr, "overlay.entry", KS_STORE_F_NEED_FULL);
    memcpy(rec, e, KS_RECORD_SIZE);
    return KS_OK;
}

/* Index of the first table entry with id >= key (ovl_n when none). */
static uint32_t tab_lower(const ks_store *st, const uint8_t *key)
{
    uint32_t lo = 0, hi = st->ovl_n;
    while (lo < hi) {
        uint32_t m = lo + (hi - lo) / 2;
        if (memcmp(st->cfg.overlay[m].id, key, KS_KEYID_SIZE) < 0)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

const ks_ovl_ent *ks__ovl_find(const ks_store *st, const uint8_t key_id[KS_KEYID_SIZE])
{
    uint32_t i = tab_lower(st, key_id);
    if (i < st->ovl_n && memcmp(st->cfg.overlay[i].id, key_id, KS_KEYID_SIZE) == 0)
        return &st->cfg.overlay[i];
    return NULL;
}

/*
 * Folds one segment into the table. Three passes over the segment (read
 * back from flash each time, so the table only ever holds what checked):
 * count it and check its order; update keys the table already has; merge
 * the new keys in from the back (entries only move up, so no scratch
 * space). A removed key the base never had leaves a tombstone (kind 0):
 * appending drops it at once; the mount's newest-first replay keeps it
 * until the end so that older segments cannot bring the key back.
 * Appending: KS_E_BASE when the segment removes a key the merged view
 * does not hold.
 */
int ks__ovl_apply_seg(ks_store *st, uint32_t half, uint32_t off, uint32_t limit, int older,
                      uint32_t *next, uint32_t *prev)
{
    ks_ovl_ent *t = st->cfg.overlay;
    uint8_t e[KS_OVL_ENT], last[KS_KEYID_SIZE];
    uint32_t n = 0, fresh = 0, k, hbase = ks__ovl_addr(st, half);
    int64_t j;
    int err;

    for (;;) { /* pass 0: the segment's extent, order and back link */
        uint32_t at = off + n * KS_OVL_ENT;
        if (at + KS_OVL_ENT > limit)
            return ks__damage(st, hbase + at, "overlay.segment", KS_STORE_F_NEED_FULL);
        if ((err = ent_read(st, half, at, e)) != 0)
            return err;
        if (n == 0)
            *prev = ks_ld32(e + 136) - 1u; /* stored + 1: 0 means none */
        else if (ks_ld32(e + 136) || memcmp(last, e, KS_KEYID_SIZE) >= 0)
            return ks__damage(st, hbase + at, "overlay.order", KS_STORE_F_NEED_FULL);
        memcpy(last, e, KS_KEYID_SIZE);
        n++;
        if (e[128] & KS_OVL_LAST)
            break;
    }
    if (st->ovl_n + n > ks__ovl_cap(st))
        return KS_E_NOSPC;

    for (uint32_t i = 0; i < n; i++) { /* pass 1: keys already in the table */
        uint32_t at = off + i * KS_OVL_ENT;
        if ((err = ent_read(st, half, at, e)) != 0)
            return err;
        ks_ovl_ent *x = (ks_ovl_ent *)ks__ovl_find(st, e);
        if (!x) {
            fresh++;
        } else if (older) {
            continue; /* a newer segment decided this key */
        } else if ((e[128] & ~KS_OVL_LAST) == KS_OVL_PUT) {
            x->kind = KS_OVL_PUT;
            x->addr = hbase + at;
        } else if (x->kind == KS_OVL_DEL) {
            return KS_E_BASE;
        } else {
            x->kind = x->in_base ? KS_OVL_DEL : 0;
        }
    }

    j = (int64_t)st->ovl_n - 1; /* pass 2: new keys, merged from the back */
    k = st->ovl_n + fresh;
    for (uint32_t i = n; i-- > 0;) {
        uint32_t at = off + i * KS_OVL_ENT, pos;
        uint8_t rec[KS_RECORD_SIZE];
        if ((err = ent_read(st, half, at, e)) != 0)
            return err;
        while (j >= 0 && memcmp(t[j].id, e, KS_KEYID_SIZE) > 0)
            t[--k] = t[j--];
        if (j >= 0 && memcmp(t[j].id, e, KS_KEYID_SIZE) == 0)
            continue;
        err = ks__base_find(st, e, rec, &pos);
        if (err != KS_OK && err != KS_E_NOTFOUND)
            return err;
        ks_ovl_ent *x = &t[--k];
        memset(x, 0, sizeof *x);
        memcpy(x->id, e, KS_KEYID_SIZE);
        x->addr = hbase + at;
        x->base_pos = pos;
        x->in_base = err == KS_OK;
        x->kind = e[128] & ~KS_OVL_LAST;
        if (x->kind == KS_OVL_DEL && !x->in_base) {
            if (!older)
                return KS_E_BASE;
            x->kind = 0;
        }
    }
    /* The merge filled exactly the fresh slots (the table stays sorted), and
     * the epoch bound keeps the table within its capacity (docs/store.md
     * "Bounds"; checked against the segment above). */
    KS_ASSERT((int64_t)k == j + 1);
    st->ovl_n += fresh;
    KS_ASSERT(st->ovl_n <= ks__ovl_cap(st));
    if (!older)
        ks__ovl_drop(st);
    *next = ks__align(off + n * KS_OVL_ENT, st->cfg.flash->prog_size);
    return KS_OK;
}

/* Removes tombstones (kind 0) from the table. */
void ks__ovl_drop(ks_store *st)
{
    ks_ovl_ent *t = st->cfg.overlay;
    uint32_t w = 0;
    for (uint32_t k = 0; k < st->ovl_n; k++)
        if (t[k].kind)
            t[w++] = t[k];
    st->ovl_n = w;
}

/*
 * For every table entry: start = where its change sits in the merged view
 * (base_pos shifted by the net insertions before it), cum = the net
 * insertions up to and including it. Merged record i then lies at base
 * index i - cum of the last entry starting at or before i, unless that
 * entry is a PUT starting exactly at i.
 */
void ks__ovl_positions(ks_store *st, uint32_t base_count, uint32_t *count)
{
    int64_t cum = 0;
    for (uint32_t i = 0; i < st->ovl_n; i++) {
        ks_ovl_ent *x = &st->cfg.overlay[i];
        x->start = (uint32_t)((int64_t)x->base_pos + cum);
        if (x->kind == KS_OVL_PUT && !x->in_base)
            cum++;
        else if (x->kind == KS_OVL_DEL)
            cum--;
        x->cum = (int32_t)cum;
    }
    *count = (uint32_t)((int64_t)base_count + cum);
}

/*
 * After a cut append the bytes past the committed end may be programmed
 * (fully, partly, or out of order). Appending resumes after the last
 * programmed byte of the sector holding the end; later sectors are erased
 * when an append enters them.
 */
static int find_free(ks_store *st, uint32_t half, uint32_t end)
{
    uint32_t ss = st->cfg.flash->sector_size, stop = ks__align(end, ss), at = end;
    uint32_t base = ks__ovl_addr(st, half);
    uint8_t b[64];
    int err;

    for (uint32_t p = end; p < stop; p += sizeof b) {
        uint32_t n = stop - p < sizeof b ? stop - p : (uint32_t)sizeof b;
        if ((err = ks__read(st, base + p, b, n)) != 0)
            return err;
        for (uint32_t i = 0; i < n; i++)
            if (b[i] != st->cfg.flash->erase_value)
                at = p + i + 1;
    }
    st->ovl_free = ks__align(at, st->cfg.flash->prog_size);
    return KS_OK;
}

int ks__ovl_load(ks_store *st, ks_diag *d)
{
    const ks_store_commit *c = &st->cur;
    uint32_t seg = c->ovl_last, limit = c->ovl_end, next, prev, count;
    uint32_t at = ks__ovl_addr(st, c->ovl_half);
    int err;

    st->ovl_n = 0;
    st->ovl_ok = 0;
    if (!c->ovl_gen) {
        st->ovl_ok = 1;
        return KS_OK;
    }
    st->ovl_seed = ks__gen_seed(c->ovl_gen);
    /*
     * Newest segment first, following the back links: a cut append may
     * have left bytes between two committed segments, so the chain, not
     * adjacency, says where each one starts. Links only go down, so this
     * ends.
     */
    for (;;) {
        err = ks__ovl_apply_seg(st, c->ovl_half, seg, limit, 1, &next, &prev);
        if (!err && limit == c->ovl_end && next != c->ovl_end)
            err = ks__damage(st, at + seg, "overlay.segment", KS_STORE_F_NEED_FULL);
        if (!err && prev != UINT32_MAX && prev >= seg)
            err = ks__damage(st, at + seg, "overlay.segment", KS_STORE_F_NEED_FULL);
        if (err) {
            /* It was checked before its commit: anything wrong now is damage. */
            if (err == KS_E_IO)
                return ks_fail(d, err, at + seg, "overlay.read");
            if (err != KS_E_STORE_CORRUPT)
                ks__damage(st, at + seg, "overlay.segment", KS_STORE_F_NEED_FULL);
            return ks_fail(d, KS_E_STORE_CORRUPT, st->damage.offset, "overlay.entry");
        }
        if (prev == UINT32_MAX)
            break;
        limit = seg;
        seg = prev;
    }
    ks__ovl_drop(st);
    ks__ovl_positions(st, c->count, &count);
    if (count != st->hdr.record_count)
        return ks_fail(d, ks__damage(st, at, "overlay.count", KS_STORE_F_NEED_FULL), at,
                       "overlay.count");
    if ((err = find_free(st, c->ovl_half, c->ovl_end)) != 0)
        return ks_fail(d, err, at, "overlay.read");
    st->ovl_ok = 1;
    return KS_OK;
}

/* ----- the merged view ----- */

static int merged_read(void *ctx, uint32_t i, uint8_t out[KS_RECORD_SIZE])
{
    ks_areasrc *a = ctx;
    ks_store *st = a->st;
    const ks_ovl_ent *t = st->cfg.overlay;
    uint32_t lo = 0, hi = st->ovl_n, b = i;

    /* A table left unusable (a rebuild that met damage) answers nothing. */
    if (!st->ovl_ok)
        return ks__damage(st, ks__ovl_addr(st, st->cur.ovl_half), "overlay.entry",
                          KS_STORE_F_NEED_FULL);
    while (lo < hi) { /* the last entry starting at or before i */
        uint32_t m = lo + (hi - lo) / 2;
        if (t[m].start <= i)
            lo = m + 1;
        else
            hi = m;
    }
    if (lo > 0) {
        const ks_ovl_ent *x = &t[lo - 1];
        if (x->kind == KS_OVL_PUT && x->start == i)
            return ks__ovl_record(st, x, out);
        b = (uint32_t)((int64_t)i - x->cum);
    }
    if (b >= a->base_count)
        return KS_E_INVAL;
    return ks__area_read(a, b, out);
}

void ks__mergedsrc(ks_store *st, const ks_store_commit *base, uint32_t count, ks_areasrc *a,
                   ks_recsrc *src)
{
    ks__areasrc(st, base, a, src);
    a->base_count = base->count;
    src->count = count;
    src->read = merged_read;
}
