/*
 * ks_store_pidx.c - the page fence index of a paged snapshot (layouts 2,
 * 3 and 4): a RAM copy of what a lookup needs from the map, so that a
 * lookup reads one page and no map entry.
 *
 * cfg.page_index (caller-owned, KS_STORE_PAGE_INDEX_LEN(cap) u64) holds,
 * for each page of the applied snapshot in key order:
 *   fence[p]   the first 8 bytes of the page's first key id, big-endian as
 *              an integer (so integer order is key order);
 *   loc[p]     the page's pool sector and first record index, and the CRC
 *              seed of its generation and its record count.
 * Fences first (cap words, searched alone so the search stays in cache),
 * then two words per page.
 *
 * It is a hint, built from the map through ks__map_get (the map's reader,
 * so a change of where the map lives flows through) and from CRC-checked
 * first records, for one generation (st->pidx_gen). A lookup proves its
 * answer on flash from the page alone: the hit's CRC under the page's
 * seed, or the CRCs and order of both neighbours of a gap inside the page.
 * Anything else (a key before the first fence, a gap at a page's edge, a
 * CRC or order that does not check, a location out of range) returns
 * KS__PIDX_UNSURE and ks_store_lookup asks the map path (ks__base_find),
 * which decides exactly as without the index, damage reports included.
 * Only ks_store_lookup uses it: the overlay's positions (base_pos) come
 * from the map, never from RAM.
 *
 * Whatever the index holds, an answer rests on a sector that holds a page
 * of the applied base, and on records that check under the seed given:
 * such a sector's records check only under that page's own generation, so
 * a hit is a record of the applied snapshot and a gap between two of its
 * consecutive records is a gap of the snapshot. "Holds a page of the
 * applied base" is two bits, both the store's own RAM, never the index's:
 *   - cfg.sector_map (the sectors the applied state uses; cleared whole
 *     when the applied map cannot be read, so a repair may reuse them);
 *   - cfg.page_index_sectors, filled by the build below from the applied
 *     map alone: on layout 4 cfg.sector_map also marks the fallback's
 *     pages (kept readable until the next fold), the roots, maps, overlay
 *     and retired sectors, and a replaced page there still checks under
 *     its own seed. Without it (layouts 2 and 3 only) the retired sectors
 *     are excluded by their list; layout 4 builds no index without it.
 * A stale or spoilt index costs time (the map path), never a wrong answer.
 *
 * The same pass fills cfg.index (as ks__page_index_build would), so the map
 * path the lookups fall back to keeps its index and a fold or mount reads
 * the map and the first records once.
 *
 * This file calls ks_store_page.c (map reads) and ks_store_io.c only.
 */
#include <string.h>

#include "ks_store_int.h"

#if defined(__GNUC__) || defined(__clang__)
#define KS_PREFETCH(p) __builtin_prefetch(p)
#else
#define KS_PREFETCH(p) ((void)(p))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define KS_INLINE inline __attribute__((always_inline))
#else
#define KS_INLINE inline
#endif

static KS_INLINE uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* memcmp order of two key ids, as two integer compares */
static KS_INLINE int cmp_id(const uint8_t *a, const uint8_t *b)
{
    uint64_t x = be64(a), y = be64(b);
    if (x != y)
        return x < y ? -1 : 1;
    x = be64(a + 8);
    y = be64(b + 8);
    return x < y ? -1 : x > y;
}

/* Record j of a page and its CRC check under seed; 0 when it checks. */
static int page_rec(ks_store *st, uint32_t addr, uint32_t seed, uint32_t j,
                    uint8_t rec[KS_RECORD_SIZE])
{
    const uint8_t *map = st->cfg.flash->map;
    uint8_t cb[4];
    const uint8_t *c = cb;

    if (map) {
        memcpy(rec, map + addr + j * KS_RECORD_SIZE, KS_RECORD_SIZE);
        c = map + addr + st->page_crc + j * 4;
    } else if (ks__read(st, addr + j * KS_RECORD_SIZE, rec, KS_RECORD_SIZE) != 0 ||
               ks__read(st, addr + st->page_crc + j * 4, cb, 4) != 0) {
        return -1;
    }
    return ks_ld32(c) == ks__crc(st, seed, rec, KS_RECORD_SIZE) ? 0 : -1;
}

int ks__pidx_build(ks_store *st)
{
    uint64_t *fence = st->cfg.page_index, *loc;
    uint8_t *own = st->cfg.page_index_sectors;
    uint8_t(*ix)[KS_KEYID_SIZE];
    uint32_t pages = st->cur.pages, cap = st->cfg.page_index_cap, next = 0, shift = 0;
    uint8_t rec[KS_RECORD_SIZE], prev[KS_KEYID_SIZE];
    ks_store_src a;
    ks_page pg;

    /* An overlay append commits the same base: the index stays. */
    if (st->pidx_n && st->pidx_gen == st->cur.gen && st->pidx_n == pages)
        return 1;
    st->pidx_n = 0;
    /* Layout 4 keeps the fallback's pages marked in cfg.sector_map until
     * the next fold: without a map of the applied pages alone, a location
     * naming a replaced page would pass (see the head of this file). */
    if (st->levelled && !own)
        return 0;
    st->idx_n = 0;
    if (!fence || !st->paged || !st->cur.valid || !pages || pages > cap)
        return 0;
    loc = fence + cap;
    /* cfg.index is filled in the same pass (the first key of every
     * 2^shift-th page, as ks__page_index_build would), so the map path the
     * lookups fall back to keeps its index and nothing is read twice. */
    ix = st->cfg.index && st->cfg.index_cap ? st->cfg.index : NULL;
    while (ix && shift < 31 && ((pages - 1) >> shift) + 1 > st->cfg.index_cap)
        shift++;
    if (own) /* until the build completes (pidx_n), it proves nothing */
        memset(own, 0, KS_STORE_PAGE_INDEX_SECTORS_BYTES(st->pool_sectors));
    ks__pagesrc(st, &st->cur, &a);
    for (uint32_t p = 0; p < pages; p++) {
        /* Only what checks goes in; anything else leaves no index (the
         * lookups then find the damage through the map themselves). */
        if (ks__map_get(st, &a, p, &pg) != 0 || pg.start != next ||
            page_rec(st, pg.addr, pg.seed, 0, rec) != 0 ||
            (p > 0 && cmp_id(prev, rec) >= 0) || pg.sector >= st->pool_sectors ||
            (own && (own[pg.sector >> 3] >> (pg.sector & 7) & 1)))
            return 0; /* (a sector named twice: the map is damaged) */
        if (own)
            own[pg.sector >> 3] |= (uint8_t)(1u << (pg.sector & 7));
        memcpy(prev, rec, KS_KEYID_SIZE);
        if (ix && !(p & (((uint32_t)1 << shift) - 1)))
            memcpy(ix[p >> shift], rec, KS_KEYID_SIZE);
        fence[p] = be64(rec);
        loc[2 * p] = pg.sector | (uint64_t)pg.start << 32;
        loc[2 * p + 1] = pg.seed | (uint64_t)pg.n << 32;
        next += pg.n;
    }
    if (next != st->cur.count)
        return 0;
    st->pidx_gen = st->cur.gen;
    st->pidx_n = pages;
    if (ix) {
        st->idx_shift = shift;
        st->idx_gen = st->cur.gen;
        st->idx_n = ((pages - 1) >> shift) + 1;
    }
    return 1;
}

/*
 * 1 when pool sector s holds a page of the applied base, on the store's
 * own RAM (the caller checked s < pool_sectors): its bit in
 * cfg.sector_map, and in cfg.page_index_sectors when given, or else not
 * a retired sector (layouts 2 and 3: a sector that failed to erase may
 * still hold an old page whose records check under their own seed).
 */
static KS_INLINE int applied_page(const ks_store *st, uint32_t s)
{
    const uint8_t *own = st->cfg.page_index_sectors;

    if (!ks__pool_used(st, s))
        return 0;
    if (own)
        return own[s >> 3] >> (s & 7) & 1;
    for (uint32_t i = 0; i < st->retired_n; i++)
        if (st->retired[i] == s)
            return 0;
    return 1;
}

/* The key id at addr (in place when the flash is mapped). */
static const uint8_t *key_at(ks_store *st, uint32_t addr, uint8_t buf[KS_KEYID_SIZE])
{
    if (st->cfg.flash->map)
        return st->cfg.flash->map + addr;
    return ks__read(st, addr, buf, KS_KEYID_SIZE) == 0 ? buf : NULL;
}

int ks__pidx_find(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                  uint8_t rec[KS_RECORD_SIZE])
{
    const uint64_t *fence = st->cfg.page_index;
    const uint8_t *map = st->cfg.flash->map;
    uint64_t kp = be64(key_id), w0, w1;
    uint32_t n = st->pidx_n, p = 0, sector, start, seed, cnt, addr, lo, hi;
    uint8_t kb[KS_KEYID_SIZE], r2[KS_RECORD_SIZE];

    if (!n || !fence || st->pidx_gen != st->cur.gen || n != st->cur.pages ||
        n > st->cfg.page_index_cap)
        return KS__PIDX_UNSURE;
    /* p: the last page whose fence is <= the key's prefix (branch-free
     * halving: the compiler turns the step into a conditional move). */
    while (n > 64) {
        uint32_t half = n / 2;
        p = fence[p + half] <= kp ? p + half : p;
        n -= half;
    }
    /* The last six levels fall in at most 65 fences (9 lines): asked for
     * together, they cost one cache miss instead of one per level. */
    for (uint32_t o = 0; o <= n; o += 8)
        KS_PREFETCH(fence + p + o);
    while (n > 1) {
        uint32_t half = n / 2;
        p = fence[p + half] <= kp ? p + half : p;
        n -= half;
    }
    if (fence[p] > kp)
        return KS__PIDX_UNSURE; /* before the first page: the map path proves it */
    w0 = fence[st->cfg.page_index_cap + 2 * p];
    w1 = fence[st->cfg.page_index_cap + 2 * p + 1];
    sector = (uint32_t)w0;
    start = (uint32_t)(w0 >> 32);
    seed = (uint32_t)w1;
    cnt = (uint32_t)(w1 >> 32);
    /* RAM the index does not own can go wrong too: a location must name a
     * sector that holds a page of the applied base (applied_page), so a
     * page a fold replaced, still readable in its freed sector or kept as
     * layout 4's fallback, is never taken. */
    if (sector >= st->pool_sectors || !cnt || cnt > st->page_k || start > st->cur.count ||
        cnt > st->cur.count - start || !applied_page(st, sector))
        return KS__PIDX_UNSURE;
    addr = ks__page_addr(st, sector);
    if (map) {
        /* The whole page (its records, 64-byte lines, and its CRC table)
         * asked for at once: the search's five dependent probes, the hit's
         * second line and its CRC then wait for about one memory latency
         * instead of seven. The first probe's line goes first. */
        const uint8_t *pg = map + addr;
        KS_PREFETCH(pg + (cnt / 2) * KS_RECORD_SIZE);
        for (uint32_t o = 0; o < cnt * KS_RECORD_SIZE; o += 64)
            KS_PREFETCH(pg + o);
        for (uint32_t o = 0; o < cnt * 4; o += 64)
            KS_PREFETCH(pg + st->page_crc + o);
    }
    lo = 0;
    hi = cnt;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *k = key_at(st, addr + mid * KS_RECORD_SIZE, kb);
        if (!k)
            return KS__PIDX_UNSURE;
        int c = cmp_id(k, key_id);
        if (c == 0) {
            if (page_rec(st, addr, seed, mid, rec) != 0 || cmp_id(rec, key_id) != 0)
                return KS__PIDX_UNSURE;
            return KS_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* A miss inside the page: both neighbours check and bound the key.
     * At an edge the neighbour is in another page: the map path. */
    if (lo == 0 || lo == cnt || page_rec(st, addr, seed, lo - 1, r2) != 0 ||
        page_rec(st, addr, seed, lo, rec) != 0 || cmp_id(r2, key_id) >= 0 ||
        cmp_id(rec, key_id) <= 0)
        return KS__PIDX_UNSURE;
    memset(rec, 0, KS_RECORD_SIZE);
    return KS_E_NOTFOUND;
}
