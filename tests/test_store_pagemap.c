/*
 * test_store_pagemap.c - a layout-2 (paged) image whose page map was
 * written by something else, with entry CRCs that check (anyone can
 * compute a CRC-32C): pages outside the pool, one page listed twice, a page
 * of 0 or more than K records, a page of another generation, a map entry
 * sealed for another generation, two pages swapped. The mount must refuse
 * or fall back and, with or without its CRC scan (KS_MOUNT_NO_SCAN), no
 * lookup may answer a record the signed snapshot does not hold.
 * (fuzz_flash_image covers arbitrary bytes; this covers chosen ones.)
 */
#include "store_util.h"

ST_FIXTURE_HOOKS(F)

/* CRC seed of a map entry or page: that of ks_store_page.c. */
static uint32_t seed_of(uint64_t gen)
{
    uint8_t g[8];
    ks_st64(g, gen);
    return ks_crc32c(0, g, 8);
}

typedef struct ent {
    uint32_t sector, start, n, gen;
} ent;

static uint8_t *ent_at(uint32_t p)
{
    const ks_store *st = &F.st;
    return F.emu.mem + st_dev(&F, st->area_first[st->cur.area] * ST_SECTOR + p * 20u);
}

static ent get(uint32_t p)
{
    const uint8_t *e = ent_at(p);
    ent r = {ks_ld32(e), ks_ld32(e + 4), ks_ld32(e + 8), ks_ld32(e + 12)};
    return r;
}

/* Writes entry p, sealed with the CRC for generation gen's map. */
static void put(uint32_t p, ent r, uint64_t gen)
{
    uint8_t *e = ent_at(p);
    ks_st32(e, r.sector);
    ks_st32(e + 4, r.start);
    ks_st32(e + 8, r.n);
    ks_st32(e + 12, r.gen);
    ks_st32(e + 16, ks_crc32c(seed_of(gen), e, 16));
}

/* Mounts (with and without the scan): refused or fallen back, and every
 * lookup answers v1's record or nothing. */
static void never_wrong(const char *what)
{
    ks_recsrc mem;
    uint8_t rec[KS_RECORD_SIZE];
    uint32_t idx;
    for (int scan = 0; scan < 2; scan++) {
        ks_diag d = {0, 0, NULL};
        F.cfg.mount_flags = scan ? 0 : KS_MOUNT_NO_SCAN;
        int rc = ks_store_mount(&F.st, &F.cfg, &d);
        if (scan && rc == KS_OK)
            fail_msg("%s: mounted clean with its CRC scan", what);
        ks_recsrc_mem(&mem, F.snap1 + KS_SNAP_HEADER_SIZE, F.n1);
        for (uint32_t i = 0; i < F.nprobe; i++) {
            int got = ks_store_lookup(&F.st, F.probe[i], rec);
            if (got != KS_OK)
                continue; /* refused: never a wrong grant */
            if (ks_recsrc_find(&mem, F.probe[i], &idx) != KS_OK ||
                memcmp(rec, mem.mem + (size_t)idx * KS_RECORD_SIZE, KS_RECORD_SIZE) != 0)
                fail_msg("%s (scan %d): key %u answered with a record v1 does not hold", what,
                         scan, i);
        }
        (void)ks_store_check(&F.st, NULL);
    }
    F.cfg.mount_flags = 0;
}

static void test_forged_maps(void **state)
{
    (void)state;
    static uint8_t image[ST_SECTORS * ST_SECTOR];
    st_base(&F);
    assert_true(F.st.paged);
    assert_true(F.st.cur.pages >= 3);
    memcpy(image, F.emu.mem, sizeof image);
    const uint64_t g = F.st.cur.gen;
    const uint32_t pool = F.st.pool_sectors, k = F.st.page_k;
    ent e0 = get(0), e1 = get(1), e2 = get(2);

    for (int c = 0; c < 9; c++) {
        const char *what = "";
        memcpy(F.emu.mem, image, sizeof image);
        assert_int_equal(st_mount(&F), 0);
        ent a = e1;
        switch (c) {
        case 0: what = "a page outside the pool"; a.sector = pool; put(1, a, g); break;
        case 1: what = "a page far outside the device"; a.sector = 0xFFFFFFF0u; put(1, a, g); break;
        case 2: what = "one page listed twice"; a.sector = e0.sector; put(1, a, g); break;
        case 3: what = "a page of 0 records"; a.n = 0; put(1, a, g); break;
        case 4: what = "a page of K+1 records"; a.n = k + 1; put(1, a, g); break;
        case 5: what = "a page of another generation"; a.gen = e1.gen + 1; put(1, a, g); break;
        case 6: what = "an entry sealed for another map"; put(1, a, g + 1); break;
        case 7: /* pages 1 and 2 swapped, their starts kept in order */
            what = "two pages swapped";
            a.sector = e2.sector, a.gen = e2.gen;
            put(1, a, g);
            a = e2, a.sector = e1.sector, a.gen = e1.gen;
            put(2, a, g);
            break;
        case 8: what = "a start that skips records"; a.start = e1.start + 1; put(1, a, g); break;
        }
        never_wrong(what);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forged_maps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
