/*
 * test_store_zeroed.c - a surge zeroes a sector (every byte 0x00, not the
 * erased 0xFF) of a layout-2 store that holds v1 and then v2 (key 10
 * revoked, keys 0..3 removed, 24..29 added): each sector of the device in
 * turn. Whatever the mount makes of it, no key may pass both the lookup
 * and the engine's fallback check (ks_auth.c) with anything but its v2
 * record: a revoked or removed key never comes back, and a key never gets
 * another key's or an older record.
 */
#include "store_util.h"

ST_FIXTURE_HOOKS(F)

static void sweep(int with_overlay)
{
    static uint8_t image[(ST_SECTORS + ST_OVL) * ST_SECTOR];
    uint8_t rec[KS_RECORD_SIZE];
    ks_recsrc v2;
    uint32_t idx, sectors = F.emu.size / ST_SECTOR;
    int mounted = 0, refused_all = 0;

    st_base(&F);
    assert_true(F.st.paged);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    assert_int_equal(F.st.hdr.version, 2);
    assert_true(F.emu.size <= sizeof image);
    memcpy(image, F.emu.mem, F.emu.size);
    ks_recsrc_mem(&v2, F.snap2 + KS_SNAP_HEADER_SIZE, F.n2);
    for (uint32_t s = 0; s < sectors; s++) {
        memcpy(F.emu.mem, image, F.emu.size);
        memset(F.emu.mem + (size_t)s * ST_SECTOR, 0x00, ST_SECTOR);
        (void)st_mount(&F);
        if (!F.st.mounted)
            continue; /* nothing to answer from: every key refused */
        mounted++;
        int granted = 0;
        for (uint32_t i = 0; i < F.nprobe; i++) {
            if (ks_store_lookup(&F.st, F.probe[i], rec) != KS_OK ||
                ks_store_fallback_check(&F.st, F.probe[i]) != KS_OK)
                continue;
            granted++;
            if (ks_recsrc_find(&v2, F.probe[i], &idx) != KS_OK)
                fail_msg("sector %u zeroed (overlay %d): key %u, not in v2, answered", s,
                         with_overlay, i);
            if (memcmp(rec, v2.mem + (size_t)idx * KS_RECORD_SIZE, KS_RECORD_SIZE) != 0)
                fail_msg("sector %u zeroed (overlay %d): key %u answered with a record that is "
                         "not its v2 one", s, with_overlay, i);
        }
        refused_all += granted == 0;
    }
    /* the sweep did reach mounted stores */
    assert_true(mounted > 0);
    print_message("overlay %d: %u sectors zeroed in turn, %d mounted, %d of them refused every key\n",
                  with_overlay, sectors, mounted, refused_all);
}

static void test_zeroed_sector(void **state)
{
    (void)state;
    sweep(0);
}

static void test_zeroed_sector_overlay(void **state)
{
    (void)state;
    st_overlay(&F, ST_OVL_CAP);
    sweep(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zeroed_sector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zeroed_sector_overlay, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
