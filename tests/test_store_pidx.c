/*
 * test_store_pidx.c - the page fence index of a paged store (cfg.page_index,
 * docs/store.md "The page fence index").
 *
 * - it describes the applied snapshot after install, overlay appends,
 *   folds and remounts, and is left out when it has no room;
 * - a bit flipped in an applied page while running: the indexed lookup
 *   answers exactly as the map path (the same record, the same KSE-301),
 *   and never a wrong record, through flash.map and through read();
 * - RAM the index does not own goes wrong (fences, locations, seeds, a
 *   stale index claiming the applied generation): every answer is still
 *   exactly the snapshot's, every record position the map's (the page
 *   search's hint), and intact flash is never reported damaged.
 * The sweeps (power cuts, bit flips before mount, the accelerated life)
 * compare the indexed answers with the map path's through st_lookup.
 */
#include "store_util.h"

ST_FIXTURE_HOOKS(F)

/* Every probe answers exactly as snap, through st_lookup (index and map). */
static void same_as(const uint8_t *snap, uint32_t n)
{
    uint8_t rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
    for (uint32_t i = 0; i < F.nprobe; i++) {
        int wrc, grc = st_lookup(&F, F.probe[i], rec);
        st_expected(snap, n, F.probe[i], &wrc, want);
        assert_int_equal(grc, wrc);
        if (grc == KS_OK)
            assert_memory_equal(rec, want, KS_RECORD_SIZE);
    }
}

/* A store the fence index serves: every paged layout (layout 4 with
 * cfg.page_index_sectors, which the fixture gives). */
static int paged(void)
{
    return F.st.paged;
}

/* The index is current: it names every page of the applied snapshot. */
static void current(void)
{
    if (!paged()) {
        assert_int_equal(F.st.pidx_n, 0);
        return;
    }
    assert_int_equal(F.st.pidx_n, F.st.cur.pages);
    assert_true(F.st.pidx_gen == F.st.cur.gen);
}

static void test_follows(void **state)
{
    (void)state;
    st_overlay(&F, 12);
    st_base(&F);
    current();
    same_as(F.snap1, F.n1);
    /* an overlay append keeps the base and the index */
    uint64_t gen = F.st.cur.gen;
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    assert_true(F.st.cur.ovl_gen != 0);
    assert_true(F.st.cur.gen == gen);
    current();
    same_as(F.snap2, F.n2);
    /* a fold: a new base, a new index */
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta23, F.delta23_len, 0, NULL, NULL), 0);
    assert_int_equal(F.st.cur.ovl_gen, 0);
    assert_true(F.st.cur.gen != gen);
    current();
    same_as(F.snap3, F.n3);
    assert_int_equal(st_mount(&F), 0);
    current();
    same_as(F.snap3, F.n3);
    /* an install over it (the same version again: a repair) */
    gen = F.st.cur.gen;
    assert_int_equal(st_install(&F, F.snap3, F.n3), 0);
    assert_true(F.st.cur.gen != gen);
    current();
    same_as(F.snap3, F.n3);
    if (paged()) {
        assert_true(F.pidx_agreed > 0);
        /* no room for every page: no index, the map path answers alone */
        F.cfg.page_index_cap = F.st.cur.pages - 1;
        assert_int_equal(st_mount(&F), 0);
        assert_int_equal(F.st.pidx_n, 0);
        same_as(F.snap3, F.n3);
        F.cfg.page_index_cap = 256;
        /* layout 4 without the map of the applied pages: no index (the
         * fallback's pages stay marked in cfg.sector_map); layouts 2 and 3
         * build it and guard with cfg.sector_map less the retired sectors */
        F.cfg.page_index_sectors = NULL;
        assert_int_equal(st_mount(&F), 0);
        assert_int_equal(F.st.pidx_n, F.st.levelled ? 0 : F.st.cur.pages);
        same_as(F.snap3, F.n3);
        F.cfg.page_index_sectors = F.page_index_sectors;
    }
}

/*
 * Runtime bit flips in every byte of every applied page (records and CRC
 * table; one bit per byte): the indexed lookup gives what the map path gives, code and
 * record, and neither ever a wrong record.
 */
static void test_page_flips(void **state)
{
    (void)state;
    uint8_t rec[KS_RECORD_SIZE], r2[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
    unsigned long flips = 0, refused = 0, answered = 0;

    st_base(&F);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    if (!paged()) {
        printf("store page fence index: layout 1, no index, nothing to flip\n");
        return;
    }
    current();
    uint32_t n = F.st.pidx_n;
    for (int pass = 0; pass < 2; pass++) {
        F.emu.flash.map = pass ? NULL : F.emu.mem;
        /* the applied pages: on layout 4 cfg.sector_map also marks roots,
         * maps and overlay (a map entry damaged after mount is what the
         * indexed lookup does not see) and the fallback's pages */
        const uint8_t *pages = F.st.cfg.page_index_sectors ? F.st.cfg.page_index_sectors
                                                           : F.st.cfg.sector_map;
        for (uint32_t s = 0; s < F.st.pool_sectors; s++) {
            if (!((pages[s >> 3] >> (s & 7)) & 1))
                continue;
            uint32_t base = (F.st.pool_first + s) * ST_SECTOR;
            uint32_t span = F.st.page_crc + F.st.page_k * 4;
            /* one bit of every byte, a different one from byte to byte */
            for (uint32_t at = base; at < base + span; at++) {
                uint64_t b = (uint64_t)at * 8 + at % 8;
                ks_flash_emu_flip(&F.emu, b);
                flips++;
                for (uint32_t i = 0; i < F.nprobe; i++) {
                    int wrc, grc = ks_store_lookup(&F.st, F.probe[i], rec);
                    F.st.pidx_n = 0;
                    int mrc = ks_store_lookup(&F.st, F.probe[i], r2);
                    F.st.pidx_n = n;
                    if (grc != mrc)
                        fail_msg("bit %lu, probe %u: indexed %d, through the map %d",
                                 (unsigned long)b, i, grc, mrc);
                    if (grc == KS_E_STORE_CORRUPT) {
                        refused++;
                        continue;
                    }
                    st_expected(F.snap2, F.n2, F.probe[i], &wrc, want);
                    assert_int_equal(grc, wrc);
                    if (grc == KS_OK) {
                        assert_memory_equal(rec, want, KS_RECORD_SIZE);
                        assert_memory_equal(r2, want, KS_RECORD_SIZE);
                    }
                    answered++;
                }
                ks_flash_emu_flip(&F.emu, b);
            }
        }
    }
    F.emu.flash.map = F.emu.mem;
    assert_true(refused > 0 && answered > 0);
    printf("store page fence index: %lu bits of the applied pages flipped (mapped and read()), "
           "%lu lookups answered right, %lu refused with KSE-301, each exactly as through the "
           "map\n", flips, answered, refused);
}

/*
 * The base's record positions, as a delta's tree update finds them
 * (ks_recsrc_find over ks_store_records: the map reader's page search,
 * which takes the index's page starts as a hint), are the map's: the same
 * code and index as with no index at all. want_rc/want_at: n entries.
 */
static void positions(int *want_rc, uint32_t *want_at, int fill)
{
    ks_recsrc src;
    uint32_t n = F.st.pidx_n;
    if (fill)
        F.st.pidx_n = 0;
    for (uint32_t i = 0; i < F.nprobe; i++) {
        uint32_t at = 0;
        ks_store_records(&F.st, &src);
        int rc = ks_recsrc_find(&src, F.probe[i], &at);
        if (fill) {
            want_rc[i] = rc;
            want_at[i] = at;
        } else {
            assert_int_equal(rc, want_rc[i]);
            assert_int_equal(at, want_at[i]);
        }
    }
    F.st.pidx_n = n;
}

/* Corrupts word w of the index in one of several ways. */
static void spoil(uint64_t *ix, uint32_t cap, uint32_t n, uint32_t w, unsigned how)
{
    uint64_t *loc = ix + cap;
    unsigned bit = how / 6 * 13 % 64; /* 16 bits spread over the word */
    switch (how % 6) {
    case 0: ix[w % n] ^= 1ull << bit; break;                        /* a fence bit */
    case 1: ix[w % n] = 0; break;                                  /* a fence too low */
    case 2: loc[2 * (w % n)] ^= 1ull << bit; break;                 /* sector or start */
    case 3: loc[2 * (w % n) + 1] ^= 1ull << bit; break;             /* seed or count */
    case 4: { /* two locations swapped */
        uint32_t a = w % n, b = (w + 1 + how) % n;
        uint64_t t0 = loc[2 * a], t1 = loc[2 * a + 1];
        loc[2 * a] = loc[2 * b];
        loc[2 * a + 1] = loc[2 * b + 1];
        loc[2 * b] = t0;
        loc[2 * b + 1] = t1;
        break;
    }
    default: loc[2 * (w % n)] = (uint64_t)(how % F.st.pool_sectors); break; /* another sector */
    }
}

static void test_ram_faults(void **state)
{
    (void)state;
    uint64_t old[KS_STORE_PAGE_INDEX_LEN(256)], good[KS_STORE_PAGE_INDEX_LEN(256)];
    unsigned long cases = 0;

    st_base(&F);
    if (!paged())
        return;
    memcpy(old, F.page_index, sizeof old);
    uint32_t old_n = F.st.pidx_n;
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    current();
    memcpy(good, F.page_index, sizeof good);
    uint32_t n = F.st.pidx_n, cap = F.cfg.page_index_cap;
    int want_rc[64];
    uint32_t want_at[64];
    positions(want_rc, want_at, 1);
    for (int pass = 0; pass < 2; pass++) {
        F.emu.flash.map = pass ? NULL : F.emu.mem;
        for (unsigned how = 0; how < 6 * 16; how++) {
            for (uint32_t w = 0; w < n; w++) {
                memcpy(F.page_index, good, sizeof good);
                spoil(F.page_index, cap, n, w, how);
                same_as(F.snap2, F.n2);
                positions(want_rc, want_at, 0);
                cases++;
            }
        }
        /* stale: the index of v1, claiming v2's generation (a fold's
         * replaced pages still read in their freed sectors) */
        if (old_n <= n) {
            memcpy(F.page_index, old, sizeof old);
            for (uint32_t p = old_n; p < n; p++) /* pad: repeat the last page */
                F.page_index[p] = F.page_index[old_n - 1];
            same_as(F.snap2, F.n2);
            positions(want_rc, want_at, 0);
            cases++;
        }
    }
    F.emu.flash.map = F.emu.mem;
    assert_int_equal(F.st.flags & KS_STORE_F_DAMAGED, 0);
    memcpy(F.page_index, good, sizeof good);
    printf("store page fence index: %lu spoilt RAM indexes, every answer the snapshot's, no "
           "damage reported\n", cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ram_faults, setup, teardown),
    };
    return cmocka_run_group_tests_name("store page fence index", tests, NULL, NULL);
}
