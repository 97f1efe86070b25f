/*
 * ks_store_pagec.c - per-sector erase counts of the page pool (layout 3).
 *
 * cfg.erase_counts holds, in RAM, how often each pool sector was erased;
 * ks_store_wear.c adds one before every pool erase is issued. The counts go
 * to flash with every map a fold or install writes (a table after the map's
 * entries, ks_store_pagew.c), so they are committed by the same COMMIT, and
 * mount loads them back from the newest commit whose table reads whole. The
 * map is written after the pages, so its table includes the erases of the
 * fold that wrote it; a power cut before that fold's COMMIT loses them, and
 * a fold erases a sector at most once (a taken sector stays marked used
 * until the COMMIT or the refill after a failure): each cut under-reports a
 * sector's count by at most one. Counts only steer allocation and reports;
 * a block of the table that does not check is taken as the highest count
 * known (the sector is then avoided, never favoured), not as damage.
 *
 * Allocation is next-fit round the pool with a threshold: a free sector is
 * taken only if its count is at most pool_thr; when a whole lap finds none,
 * pool_thr rises to the least count among the free sectors. So every sector
 * taken is within the least-erased free level (sectors freed below it are
 * taken first as the cursor meets them), at O(pool) per level, not per page.
 * Calls ks_store_page.c (the used-sector bitmap) and ks_store_io.c only.
 */
#include <string.h>

#include "ks_store_int.h"

void ks__cnt_encode(const ks_store *st, uint32_t b, uint32_t map_seed, uint8_t out[KS_CNT_BLOCK])
{
    for (uint32_t i = 0; i < KS_CNT_PER; i++) {
        uint32_t s = b * KS_CNT_PER + i;
        ks_st32(out + 4 * i, s < st->pool_sectors ? st->cfg.erase_counts[s] : 0);
    }
    ks_st32(out + 60, ks__crc(st, map_seed, out, 60));
}

/* Reads commit c's table; with apply, copies each block that checks into
 * cfg.erase_counts and marks the others UINT32_MAX. Returns the blocks that
 * did not check. */
static uint32_t load_from(ks_store *st, const ks_store_commit *c, int apply)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t start = st->area_first[c->area] * f->sector_size;
    uint32_t end = start + st->area_sectors * f->sector_size;
    uint32_t at = start + (c->pages + c->retired) * KS_MAP_ENT, seed;
    uint32_t blocks = ks__cnt_bytes(st->pool_sectors) / KS_CNT_BLOCK, bad = 0;
    uint8_t b[KS_CNT_BLOCK];

    ks_st64(b, c->gen); /* the map's seed: its commit's generation */
    seed = ks_crc32c(0, b, 8);
    for (uint32_t k = 0; k < blocks; k++, at += KS_CNT_BLOCK) {
        int ok = at + KS_CNT_BLOCK <= end && ks__read(st, at, b, sizeof b) == KS_OK &&
                 ks_ld32(b + 60) == ks__crc(st, seed, b, 60);
        bad += !ok;
        if (!apply)
            continue;
        for (uint32_t i = 0; i < KS_CNT_PER && k * KS_CNT_PER + i < st->pool_sectors; i++)
            st->cfg.erase_counts[k * KS_CNT_PER + i] = ok ? ks_ld32(b + 4 * i) : UINT32_MAX;
    }
    return bad;
}

void ks__cnt_load(ks_store *st)
{
    const ks_store_commit *c[2] = {&st->last[0], &st->last[1]}, *use = NULL;
    uint32_t p = st->pool_sectors, mx = 0;

    memset(st->cfg.erase_counts, 0, (size_t)p * sizeof *st->cfg.erase_counts);
    st->pool_thr = 0;
    if (c[1]->valid && (!c[0]->valid || c[1]->seq > c[0]->seq)) {
        c[0] = &st->last[1];
        c[1] = &st->last[0];
    }
    /* The newest table that reads whole; else the newest, in part. */
    for (int i = 0; i < 2 && !use; i++)
        if (c[i]->valid && c[i]->paged && load_from(st, c[i], 0) == 0)
            use = c[i];
    if (!use)
        use = c[0]->valid && c[0]->paged ? c[0] : c[1]->valid && c[1]->paged ? c[1] : NULL;
    if (!use)
        return; /* nothing committed since format: nothing erased yet */
    (void)load_from(st, use, 1);
    for (uint32_t s = 0; s < p; s++)
        if (st->cfg.erase_counts[s] != UINT32_MAX && st->cfg.erase_counts[s] > mx)
            mx = st->cfg.erase_counts[s];
    if (st->wear.first[7] > mx)
        mx = st->wear.first[7];
    for (uint32_t s = 0; s < p; s++)
        if (st->cfg.erase_counts[s] == UINT32_MAX)
            st->cfg.erase_counts[s] = mx;
}

void ks__cnt_minmax(ks_store *st)
{
    uint32_t mn = UINT32_MAX, mx = 0;
    for (uint32_t s = 0; s < st->pool_sectors; s++) {
        uint32_t n = st->cfg.erase_counts[s];
        mn = n < mn ? n : mn;
        mx = n > mx ? n : mx;
    }
    st->wear.first[7] = mx;
    st->wear.last[7] = st->pool_sectors ? mn : 0;
}

int ks__cnt_alloc(ks_store *st, uint32_t *out)
{
    const uint32_t *cnt = st->cfg.erase_counts;
    uint32_t p = st->pool_sectors;

    for (int pass = 0; pass < 2; pass++) {
        uint32_t lo = UINT32_MAX;
        for (uint32_t t = 0; t < p; t++) {
            uint32_t s = (st->pool_next + t) % p;
            if (ks__pool_used(st, s))
                continue;
            if (cnt[s] <= st->pool_thr) {
                ks__pool_mark(st, s);
                st->pool_next = (s + 1) % p;
                *out = s;
                return KS_OK;
            }
            lo = cnt[s] < lo ? cnt[s] : lo;
        }
        if (lo == UINT32_MAX)
            return KS_E_NOSPC;
        st->pool_thr = lo; /* the least-erased free level is used up: the next */
    }
    return KS_E_NOSPC;
}
