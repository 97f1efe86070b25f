/*
 * ks_wear.h - what the store's wear counts mean for the device's life: the
 * report `keysup flash wear IMAGE` prints and the controller puts in its
 * health report. Host side (floating point), over the core's raw counts
 * (ks_store_wear, include/keysup/ks_store.h).
 */
#ifndef KEYSUP_KS_WEAR_H
#define KEYSUP_KS_WEAR_H

#include <keysup/ks_store.h>

typedef struct ks_wear_report {
    uint32_t sectors;        /* sectors the store uses */
    uint32_t erase_min;      /* least-erased sector */
    uint32_t erase_max;      /* most-erased sector */
    double erase_mean;       /* erases per sector */
    uint32_t retired;        /* sectors retired */
    double write_amp;        /* bytes programmed per byte of change (0: no change yet) */
    uint32_t commits;        /* installs and deltas committed */
    double erases_per_commit;/* sector erases per commit, all regions */
    uint32_t endurance;      /* rated erase cycles used for the projection */
    double life_commits;     /* further commits until the most-erased sector reaches
                                the endurance, at the wear per commit so far (-1: unknown) */
    double rate_per_day;     /* commits a day, from the committed snapshots' creation
                                times (0: unknown, less than a day observed) */
    double life_days;        /* life_commits at rate_per_day (-1: unknown) */
    /* The metadata (docs/store.md "The metadata ring"): its blocks (2, the
     * pair, or a ring's), its sectors in all, and their erase counts; and
     * the region that holds erase_max: "metadata", "audit", "overlay",
     * "area" (layout 1; "map" in layouts 2-3) or "pool". */
    uint32_t meta_blocks, meta_sectors, meta_erase_min, meta_erase_max;
    const char *hottest;
} ks_wear_report;

/* endurance 0: the flash HAL's, or KS_WEAR_DEFAULT_ENDURANCE when it states none. */
void ks_wear_report_get(const ks_store *st, uint32_t endurance, ks_wear_report *r);

/* Days left at deltas_per_day (-1 unknown). */
double ks_wear_life_days(const ks_wear_report *r, double deltas_per_day);

#endif
