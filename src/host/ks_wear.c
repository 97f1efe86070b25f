/*
 * ks_wear.c - the wear report over the store's raw counts (ks_wear.h).
 *
 * Every region is erased front to back, so its first sector carries the
 * region's highest count and its last the lowest (ks_store.h): the device's
 * max and min are the max of the firsts and the min of the lasts. The
 * projection assumes the future wears like the past: the most-erased
 * sector gains erase_max / commits per commit.
 */
#include "ks_wear.h"

/* Wear region i by what it holds (ks_store.h's order). */
static const char *region_name(const ks_store *st, unsigned i)
{
    static const char *const names[KS_WEAR_REGIONS] = {"metadata", "metadata", "audit", "overlay",
                                                        "overlay",  "area",     "area",  "pool"};
    return i >= 5 && i < 7 && st->paged ? "map" : names[i];
}

void ks_wear_report_get(const ks_store *st, uint32_t endurance, ks_wear_report *r)
{
    const ks_store_wear *w = &st->wear;
    uint64_t total = 0;
    int any = 0;

    *r = (ks_wear_report){0};
    if (!endurance)
        endurance = st->cfg.flash && st->cfg.flash->endurance ? st->cfg.flash->endurance
                                                              : KS_WEAR_DEFAULT_ENDURANCE;
    r->endurance = endurance;
    r->hottest = "none";
    r->meta_blocks = st->cfg.meta_blocks;
    for (unsigned i = 0; i < KS_WEAR_REGIONS; i++) {
        uint32_t n = ks_store_wear_sectors(st, i);
        if (!n)
            continue;
        r->sectors += n;
        total += w->erases[i];
        if (w->first[i] > r->erase_max) { /* a tie names the first region */
            r->erase_max = w->first[i];
            r->hottest = region_name(st, i);
        }
        if (!any || w->last[i] < r->erase_min)
            r->erase_min = w->last[i];
        any = 1;
        if (i < 2) { /* the pair's two blocks, or the ring as region 0 */
            r->meta_sectors += n;
            if (w->first[i] > r->meta_erase_max)
                r->meta_erase_max = w->first[i];
            if (i == 0 || w->last[i] < r->meta_erase_min)
                r->meta_erase_min = w->last[i];
        }
    }
    r->erase_mean = r->sectors ? (double)total / r->sectors : 0;
    r->retired = w->retired;
    r->write_amp = w->change_bytes ? (double)w->prog_bytes / (double)w->change_bytes : 0;
    r->commits = w->commits;
    r->erases_per_commit = w->commits ? (double)total / w->commits : 0;
    r->life_commits = -1;
    if (w->commits && r->erase_max)
        r->life_commits = r->erase_max >= endurance
                              ? 0
                              : (double)(endurance - r->erase_max) * w->commits / r->erase_max;
    if (w->commits > 1 && w->last_time > w->first_time + 86400)
        r->rate_per_day = (double)(w->commits - 1) * 86400.0 / (double)(w->last_time - w->first_time);
    r->life_days = ks_wear_life_days(r, r->rate_per_day);
}

double ks_wear_life_days(const ks_wear_report *r, double deltas_per_day)
{
    if (r->life_commits < 0 || deltas_per_day <= 0)
        return -1;
    return r->life_commits / deltas_per_day;
}
