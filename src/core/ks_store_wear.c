/*
 * ks_store_wear.c - erase and program accounting, and its on-flash form.
 *
 * The raw flash layer (ks_store_io.c) calls ks__wear_erase for every erase
 * it issues and ks__wear_prog for every byte range it programs; commits
 * add the change they apply. The counts are kept per region (ks_store.h
 * says why first/last sector counts bound every sector exactly; the audit
 * ring, erased in turn, keeps the ceiling and floor of its mean) and are
 * written with the metadata: in END at every compaction (ks_store_meta.c)
 * and in a WEAR record before every install or fold COMMIT
 * (ks_store_commit.c). This file calls no other store file. A torn record is ignored like
 * any slot, so a power cut can only lose counts since the last record (they
 * under-report, never corrupt). Reports (min/mean/max, write
 * amplification, projected life) are computed off the core, in
 * src/host/ks_wear.c (floating point); here only 32-bit division.
 */
#include <string.h>

#include "ks_store_int.h"

uint32_t ks_store_wear_sectors(const ks_store *st, unsigned r)
{
    uint32_t m = st->cfg.meta_sectors;
    switch (r) {
    case 0: /* a metadata ring (more than two blocks) is region 0 as a whole */
        return st->cfg.meta_blocks > 2 ? st->cfg.meta_blocks * m : m;
    case 1:
        return st->cfg.meta_blocks > 2 ? 0 : m;
    case 2:
        return st->cfg.audit_sectors;
    case 3:
    case 4: /* layout 4: the overlay and maps are virtual, their sectors in the pool */
        return st->levelled ? 0 : st->ovl_half_sectors;
    case 5:
    case 6:
        return st->levelled ? 0 : st->area_sectors;
    case 7:
        return st->pool_sectors;
    default:
        return 0;
    }
}

static uint32_t region_first(const ks_store *st, unsigned r)
{
    switch (r) {
    case 0:
        return 0;
    case 1:
        return st->cfg.meta_sectors;
    case 2:
        return st->audit_first;
    case 3:
        return st->ovl_first;
    case 4:
        return st->ovl_first + st->ovl_half_sectors;
    case 7:
        return st->pool_first;
    default:
        return st->area_first[r - 5];
    }
}

void ks__wear_erase(ks_store *st, uint32_t sector)
{
    for (unsigned r = 0; r < KS_WEAR_REGIONS; r++) {
        uint32_t n = ks_store_wear_sectors(st, r), f = region_first(st, r);
        if (!n || sector < f || sector - f >= n)
            continue;
        st->wear.erases[r]++;
        if (r == 7 && st->counted) { /* layout 3: each sector's own count */
            uint32_t n7 = ++st->cfg.erase_counts[sector - f];
            if (n7 > st->wear.first[r])
                st->wear.first[r] = n7;
            return;
        }
        if (r == 7) {
            /* The page pool (layout 2) is taken next-fit round it: a lap
             * erases a sector at most once, so laps bound its most-erased
             * sector from above; a page that never moves keeps its sector,
             * so nothing bounds the least from below but 0. */
            if (!st->wear.first[r])
                st->wear.first[r] = 1;
            st->wear.last[r] = 0;
            return;
        }
        if (r == 0 && st->cfg.meta_blocks > 2) {
            /* A metadata ring is erased block after block, each block once
             * a lap, a lap starting at block 1 (format erases blocks 1 ..
             * K-1, then its compaction block 0). A block passed over after
             * a failure leaves the others to take its turns, so the mean
             * no longer bounds them (bench_ctl_wear: 116 erases against a
             * ceiling of the mean of 81); the laps begun do, exactly while
             * no block fails, and from above after. The least-erased count
             * stays the floor of the mean (a failed block's sectors, never
             * erased again, stay below it). */
            uint32_t m = st->cfg.meta_sectors, k = st->cfg.meta_blocks, b = sector / m;
            if (sector % m == 0) {
                if (st->ring_last >= k || (b + k - 1) % k <= (st->ring_last + k - 1u) % k)
                    st->wear.first[r]++;
                st->ring_last = (uint8_t)b;
            }
            st->wear.last[r] = st->wear.erases[r] / n;
            return;
        }
        if (r == 2) {
            /* The audit ring is erased in turn, from wherever its head is:
             * no sector leads, the counts differ by at most one. */
            st->wear.first[r] = (st->wear.erases[r] + n - 1) / n;
            st->wear.last[r] = st->wear.erases[r] / n;
            return;
        }
        if (sector == f)
            st->wear.first[r]++;
        if (sector == f + n - 1)
            st->wear.last[r]++;
        return;
    }
}

void ks__wear_lap(ks_store *st)
{
    st->wear.first[7]++;
}

void ks__wear_commit(ks_store *st, uint64_t change_bytes, uint64_t created_at)
{
    st->wear.change_bytes += change_bytes;
    st->wear.commits++;
    if (!st->wear.first_time)
        st->wear.first_time = created_at;
    st->wear.last_time = created_at;
}

void ks__wear_encode(const ks_store *st, uint8_t out[KS_WEAR_SIZE])
{
    const ks_store_wear *w = &st->wear;
    memset(out, 0, KS_WEAR_SIZE);
    for (unsigned r = 0; r < 7; r++) {
        ks_st32(out + r * 12, w->erases[r]);
        ks_st32(out + r * 12 + 4, w->first[r]);
        ks_st32(out + r * 12 + 8, w->last[r]);
    }
    ks_st32(out + 124, w->erases[7]);
    ks_st32(out + 128, w->first[7]);
    ks_st32(out + 132, w->last[7]);
    ks_st32(out + 136, st->pool_next);
    ks_st64(out + 84, w->prog_bytes);
    ks_st64(out + 92, w->change_bytes);
    ks_st32(out + 100, w->commits);
    ks_st32(out + 104, w->retired);
    ks_st64(out + 108, w->first_time);
    ks_st64(out + 116, w->last_time);
}

void ks__wear_decode(ks_store *st, const uint8_t *in, uint32_t len)
{
    ks_store_wear *w = &st->wear;
    if (len >= KS_WEAR_SIZE) {
        w->erases[7] = ks_ld32(in + 124);
        w->first[7] = ks_ld32(in + 128);
        w->last[7] = ks_ld32(in + 132);
        st->pool_next = ks_ld32(in + 136);
        if (st->pool_next >= st->pool_sectors)
            st->pool_next = 0;
    }
    for (unsigned r = 0; r < 7; r++) {
        w->erases[r] = ks_ld32(in + r * 12);
        w->first[r] = ks_ld32(in + r * 12 + 4);
        w->last[r] = ks_ld32(in + r * 12 + 8);
    }
    w->prog_bytes = ks_ld64(in + 84);
    w->change_bytes = ks_ld64(in + 92);
    w->commits = ks_ld32(in + 100);
    w->retired = ks_ld32(in + 104);
    w->first_time = ks_ld64(in + 108);
    w->last_time = ks_ld64(in + 116);
}
