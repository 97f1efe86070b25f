/*
 * test_store_ring.c - the metadata ring (docs/store.md, "The metadata
 * ring"): metadata blocks used in turn round a ring of more than two, the
 * number of blocks taken from the image at mount, and the geometry found
 * from any block. The power-cut and bit-flip sweeps over a ring are the
 * *_ring runs of the store's tests (KS_STORE_TEST_RING).
 */
#include "store_util.h"

ST_FIXTURE_HOOKS(F)

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

    ks_flash_emu_close(&F.emu);
    assert_int_equal(ks_flash_emu_init(&F.emu, ST_SECTOR, ST_SECTORS + (k - 2) * ST_META, ST_PROG,
                                       0xFF),
                     0);
    F.cfg.meta_blocks = k;
    st_base(&F);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_meta_ring, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_ring", tests, NULL, NULL);
}
