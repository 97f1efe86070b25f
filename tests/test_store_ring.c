/*
 * test_store_ring.c - the metadata ring (docs/store.md, "The metadata
 * ring"): metadata blocks used in turn round a ring of more than two, the
 * number of blocks taken from the image at mount, and the geometry found
 * from any block. The power-cut and bit-flip sweeps over a ring are the
 * *_ring runs of the store's tests (KS_STORE_TEST_RING).
 */
#include "store_util.h"

#include "ks_wear.h"

ST_FIXTURE_HOOKS(F)

/* The fixture's device made again with room for a ring of k metadata
 * blocks (the fixture's has two), formatted with the base database. */
static void ring_base(uint32_t k)
{
    ks_flash_emu_close(&F.emu);
    assert_int_equal(ks_flash_emu_init(&F.emu, ST_SECTOR, ST_SECTORS + (k - 2) * ST_META, ST_PROG,
                                       0xFF),
                     0);
    F.cfg.meta_blocks = k;
    st_base(&F);
}

/*
 * The metadata ring (docs/store.md, "The metadata ring"): the image's SUPER
 * has the last word on the number of blocks, whatever the configuration
 * says; ks_store_probe finds the geometry from any block; compactions go
 * round the ring, each block erased in turn.
 */
static void test_meta_ring(void **state)
{
    (void)state;
    uint8_t before[32], after[32];
    ks_store_geom g;
    ks_counter c;
    const uint32_t k = 4;

    ring_base(k);
    assert_int_equal(F.st.audit_first, k * ST_META);
    assert_int_equal(ks_store_probe(&F.emu.flash, F.emu.size, &g), KS_OK);
    assert_int_equal(g.meta_blocks, k);
    assert_int_equal(g.meta_sectors, ST_META);
    /* Twice round the ring: every block in charge in turn. */
    unsigned seen = 0;
    uint64_t epoch = F.st.meta_epoch;
    for (uint32_t i = 0; F.st.meta_epoch < epoch + 2 * k; i++) {
        assert_true(i < 2000);
        st_counter(&c, 1, 300 + i % 4);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
        seen |= 1u << F.st.meta_block;
    }
    assert_int_equal(seen, (1u << k) - 1);
    st_digest(&F, before);
    /* A configuration that says two blocks (or none) mounts the ring. */
    F.cfg.meta_blocks = 0;
    assert_int_equal(st_mount(&F), KS_OK);
    assert_int_equal(F.st.cfg.meta_blocks, k);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
    /* The probe finds the geometry with blocks 0 and 1 blank (block 2 or 3
     * in charge; the other of them stale), as a tool holding the image must. */
    if (F.st.meta_block < 2) {
        st_counter(&c, 2, 1);
        for (uint64_t e = F.st.meta_epoch; F.st.meta_epoch < e + 2;)
            assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    assert_true(F.st.meta_block >= 2);
    memset(F.emu.mem, 0xFF, 2 * ST_META * ST_SECTOR);
    memset(&g, 0, sizeof g);
    assert_int_equal(ks_store_probe(&F.emu.flash, F.emu.size, &g), KS_OK);
    assert_int_equal(g.meta_blocks, k);
    /* and a two-block image mounts with a configuration that asks for a ring */
    ks_flash_emu_close(&F.emu);
    assert_int_equal(ks_flash_emu_init(&F.emu, ST_SECTOR, ST_SECTORS, ST_PROG, 0xFF), 0);
    F.cfg.meta_blocks = 2;
    st_base(&F);
    st_digest(&F, before);
    F.cfg.meta_blocks = k;
    assert_int_equal(st_mount(&F), KS_OK);
    assert_int_equal(F.st.cfg.meta_blocks, 2);
    assert_int_equal(F.st.audit_first, 2 * ST_META);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
    /* a ring that does not fit: refused */
    F.cfg.meta_blocks = KS_STORE_META_BLOCKS_MAX + 1;
    assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), KS_E_INVAL);
}

/*
 * The controller's ring (keysup-controller formats three blocks,
 * docs/controller.md "Store layout"): a power cut at every write of the
 * compaction that goes from the last block round to block 0, in all four
 * fault models, mounts the state before or the state after, never neither;
 * and the wear report states the ring as one region whose sectors differ by
 * at most one erase. The *_ring4 sweeps do the same for four blocks and
 * every other write path; this is the one write the block count changes.
 */
static void test_ring3_cut(void **state)
{
    (void)state;
    static const unsigned modes[] = {0, KS_EMU_TORN, KS_EMU_REORDER, KS_EMU_TORN | KS_EMU_REORDER};
    uint8_t d_old[32], d_new[32], d[32];
    unsigned long n_old = 0, n_new = 0;
    ks_counter c;
    const uint32_t k = 3;

    ring_base(k);
    /* round the ring twice, then fill the last block: the next append wraps */
    for (uint32_t i = 0; F.st.meta_epoch < 2 * k || F.st.meta_block != k - 1 ||
                         F.st.meta_head < F.st.meta_slots; i++) {
        assert_true(i < 4000);
        st_counter(&c, 1, 300 + i % 4);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    ks_wear_report w;
    ks_wear_report_get(&F.st, 0, &w);
    assert_int_equal(w.meta_blocks, k);
    assert_int_equal(w.meta_sectors, k * ST_META);
    assert_true(w.meta_erase_max >= 2 && w.meta_erase_max - w.meta_erase_min <= 1);
    assert_true(w.erase_max >= w.meta_erase_max);

    uint8_t *image = malloc(F.emu.size);
    assert_non_null(image);
    memcpy(image, F.emu.mem, F.emu.size);
    assert_int_equal(st_mount(&F), KS_OK);
    st_digest(&F, d_old);
    uint64_t ops0 = F.emu.ops;
    st_counter(&c, 2, 777);
    assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    uint64_t n = F.emu.ops - ops0;
    assert_int_equal(F.st.meta_block, 0); /* it wrapped */
    assert_int_equal(st_mount(&F), KS_OK);
    st_digest(&F, d_new);
    assert_memory_not_equal(d_old, d_new, 32);
    for (unsigned mi = 0; mi < 4; mi++)
        for (uint64_t cut = 0; cut < n; cut++) {
            memcpy(F.emu.mem, image, F.emu.size);
            assert_int_equal(st_mount(&F), KS_OK);
            ks_flash_emu_cut(&F.emu, (long)cut, modes[mi], cut * 7919 + mi + 1);
            int rc = ks_store_counter_put(&F.st, &c);
            assert_true(rc == KS_E_IO || rc == KS_OK);
            ks_flash_emu_power_on(&F.emu);
            if (st_mount(&F) != KS_OK)
                fail_msg("ring of 3, mode %u: cut after %lu of %lu writes: no mount", modes[mi],
                         (unsigned long)cut, (unsigned long)n);
            st_digest(&F, d);
            n_old += memcmp(d, d_old, 32) == 0;
            n_new += memcmp(d, d_new, 32) == 0;
            if (memcmp(d, d_old, 32) != 0 && memcmp(d, d_new, 32) != 0)
                fail_msg("ring of 3, mode %u: cut after %lu of %lu writes: neither state",
                         modes[mi], (unsigned long)cut, (unsigned long)n);
        }
    free(image);
    assert_true(n_old > 0);
    printf("ring of 3: %lu writes in the wrap, %lu cuts kept the old state, %lu the new\n",
           (unsigned long)n, n_old, n_new);
}

/*
 * A block of the controller's ring of three fails (its first sector stops
 * erasing, as a sector dying early does): the ring passes it over and the
 * other two take its turns, 1.5 times as often. The wear report's maximum
 * must follow them (it once was the ceiling of the ring's mean, which fell
 * a third short: docs/BENCHMARKS.md "The controller's own wear").
 */
static void test_ring3_dead_block(void **state)
{
    (void)state;
    uint32_t truth[3] = {1, 1, 1}; /* format erases every block once */
    ks_counter c;
    const uint32_t k = 3;

    ring_base(k);
    ks_flash_emu_wear(&F.emu, 1 * ST_META, KS_EMU_WORN_LOUD);
    uint64_t epoch = F.st.meta_epoch;
    unsigned cur = F.st.meta_block;
    for (uint32_t i = 0; F.st.meta_epoch < epoch + 12; i++) {
        assert_true(i < 6000);
        st_counter(&c, 1, 300 + i % 4);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
        if (F.st.meta_block != cur) {
            /* a compaction: every block tried from cur + 1 to the new one */
            for (unsigned b = (cur + 1) % k; b != F.st.meta_block; b = (b + 1) % k)
                truth[b]++; /* a failed attempt: its first sector's erase */
            truth[F.st.meta_block]++;
            cur = F.st.meta_block;
        }
    }
    assert_true(truth[1] > 1);         /* block 1 was tried and passed over */
    assert_int_equal(F.st.meta_block == 1, 0);
    uint32_t most = truth[0] > truth[2] ? truth[0] : truth[2];
    most = truth[1] > most ? truth[1] : most;
    ks_wear_report w;
    ks_wear_report_get(&F.st, 0, &w);
    if (w.meta_erase_max < most || w.meta_erase_max > most + 1)
        fail_msg("ring with a dead block: reported max %u, flash max %u", w.meta_erase_max, most);
    assert_true(w.erase_max >= most);
    /* and after a remount (the counts from flash, the laps going on) */
    assert_int_equal(st_mount(&F), KS_OK);
    for (uint64_t e = F.st.meta_epoch; F.st.meta_epoch < e + 6;) {
        st_counter(&c, 1, 400);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
        if (F.st.meta_block != cur) {
            for (unsigned b = (cur + 1) % k; b != F.st.meta_block; b = (b + 1) % k)
                truth[b]++;
            truth[F.st.meta_block]++;
            cur = F.st.meta_block;
        }
    }
    most = truth[0] > truth[2] ? truth[0] : truth[2];
    most = truth[1] > most ? truth[1] : most;
    ks_wear_report_get(&F.st, 0, &w);
    if (w.meta_erase_max < most || w.meta_erase_max > most + 1)
        fail_msg("ring with a dead block, remounted: reported max %u, flash max %u",
                 w.meta_erase_max, most);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_meta_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring3_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring3_dead_block, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_ring", tests, NULL, NULL);
}
