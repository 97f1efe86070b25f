/*
 * test_store_overlay.c - the delta overlay: small deltas are appended to
 * the overlay (O(change) writes), lookups and the record source give the
 * merged view, a full overlay folds into the spare area, an install
 * replaces it, and damage anywhere in it is KSE-301, never a wrong answer
 * (every single-bit flip of an image with a two-segment overlay).
 */
#include "store_util.h"

static st_fix F;

static const uint8_t *snap_of(uint64_t version, uint32_t *n)
{
    *n = version == 1 ? F.n1 : version == 2 ? F.n2 : F.n3;
    return version == 1 ? F.snap1 : version == 2 ? F.snap2 : F.snap3;
}

/* Every probe answers as snap does; the record source is snap, in order. */
static void same_as(const uint8_t *snap, uint32_t n)
{
    uint8_t rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
    ks_recsrc src;
    for (uint32_t i = 0; i < F.nprobe; i++) {
        int wrc, grc = st_lookup(&F, F.probe[i], rec);
        st_expected(snap, n, F.probe[i], &wrc, want);
        assert_int_equal(grc, wrc);
        if (grc == KS_OK)
            assert_memory_equal(rec, want, KS_RECORD_SIZE);
    }
    ks_store_records(&F.st, &src);
    assert_int_equal(src.count, n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ks_recsrc_get(&src, i, rec), 0);
        assert_memory_equal(rec, snap + KS_SNAP_HEADER_SIZE + (size_t)i * KS_RECORD_SIZE,
                            KS_RECORD_SIZE);
    }
    /* random access too (ks_recsrc_find, the tree update, use it) */
    for (uint32_t i = n; i-- > 0;) {
        assert_int_equal(ks_recsrc_get(&src, i, rec), 0);
        assert_memory_equal(rec, snap + KS_SNAP_HEADER_SIZE + (size_t)i * KS_RECORD_SIZE,
                            KS_RECORD_SIZE);
    }
}

static int delta(const uint8_t *dl, size_t len, ks_tree *t)
{
    ks_diag d = {0, 0, NULL};
    int rc = ks_store_apply_delta(&F.st, dl, len, 0, t, &d);
    if (rc)
        print_message("delta: %d at %u (%s)\n", rc, d.offset, d.what ? d.what : "");
    return rc;
}

static ks_tree tree;
static uint8_t tree_nodes[1 << 12][32];

static void build_tree(void)
{
    ks_recsrc src;
    ks_store_records(&F.st, &src);
    assert_int_equal(ks_tree_build(&tree, &F.c, &src, F.st.hdr.bucket_bits, tree_nodes, 1 << 12), 0);
}

static void check_tree(void)
{
    ks_recsrc src;
    uint8_t root[32];
    ks_store_records(&F.st, &src);
    assert_int_equal(ks_merkle_root(&F.c, &src, F.st.hdr.bucket_bits, root), 0);
    assert_memory_equal(root, ks_tree_root(&tree), 32);
    assert_memory_equal(root, F.st.hdr.root, 32);
}

/* Two deltas land in the overlay: O(change) writes, the base untouched. */
static void test_append(void **state)
{
    (void)state;
    for (int with_tree = 0; with_tree < 2; with_tree++) {
        st_fixture(&F);
        st_overlay(&F, ST_OVL_CAP);
        st_base(&F);
        unsigned area = F.st.cur.area;
        uint64_t gen = F.st.cur.gen, e0 = F.emu.erases, b0 = F.emu.prog_bytes;
        if (with_tree)
            build_tree();
        assert_int_equal(delta(F.delta, F.delta_len, with_tree ? &tree : NULL), 0);
        assert_int_equal(F.st.cur.area, area);
        assert_int_equal(F.st.cur.gen, gen);
        assert_true(F.st.cur.ovl_gen != 0);
        assert_int_equal(F.st.ovl_n, 11);
        /* 11 entries of 144 bytes, one commit slot and the changed-keys
         * slots (8 ids each, or one "every key" slot); two sectors entered */
        /* (layout 4: and a root of at most a program unit per sector named
         * besides its header, in one more erased sector) */
        assert_true(F.emu.prog_bytes - b0 <=
                    11 * 144 + 16 + 3 * (256 + 16) + (F.st.levelled ? 16 + 4 * 4 + 16 : 0));
        assert_int_equal(F.emu.erases - e0, F.st.levelled ? 3 : 2);
        same_as(F.snap2, F.n2);
        if (with_tree)
            check_tree();
        assert_int_equal(delta(F.delta23, F.delta23_len, with_tree ? &tree : NULL), 0);
        assert_int_equal(F.st.cur.area, area);
        /* 11 + removals of 4 and 5 + additions of 30..33; 24 replaced in
         * place, 29 (added by the first delta, removed now) gone */
        assert_int_equal(F.st.ovl_n, 16);
        same_as(F.snap3, F.n3);
        if (with_tree)
            check_tree();
        assert_int_equal(ks_store_check(&F.st, NULL), 0);
        assert_int_equal(st_mount(&F), 0);
        assert_int_equal(F.st.ovl_n, 16);
        same_as(F.snap3, F.n3);
        assert_int_equal(ks_store_check(&F.st, NULL), 0);
        assert_int_equal(F.emu.violations, 0);
        st_free(&F);
    }
}

/* A table too small for the second delta: it folds into the spare area. */
static void test_fold(void **state)
{
    (void)state;
    for (int with_tree = 0; with_tree < 2; with_tree++) {
        st_fixture(&F);
        st_overlay(&F, 12);
        st_base(&F);
        unsigned area = F.st.cur.area;
        if (with_tree)
            build_tree();
        assert_int_equal(delta(F.delta, F.delta_len, with_tree ? &tree : NULL), 0);
        assert_true(F.st.cur.ovl_gen != 0);
        assert_int_equal(delta(F.delta23, F.delta23_len, with_tree ? &tree : NULL), 0);
        assert_int_equal(F.st.cur.area, area ^ 1u);
        assert_int_equal(F.st.cur.ovl_gen, 0);
        assert_int_equal(F.st.cur.count, F.n3);
        same_as(F.snap3, F.n3);
        if (with_tree)
            check_tree();
        assert_int_equal(st_mount(&F), 0);
        same_as(F.snap3, F.n3);
        st_free(&F);
    }
}

/* Starting a new epoch never erases the half the fallback commit uses. */
static void test_epochs(void **state)
{
    (void)state;
    st_fixture(&F);
    st_overlay(&F, ST_OVL_CAP);
    st_base(&F);
    assert_int_equal(delta(F.delta, F.delta_len, NULL), 0); /* area a + half 0 */
    unsigned a = F.st.cur.area, h = F.st.cur.ovl_half;
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);  /* area a^1, no overlay */
    assert_int_equal(F.st.cur.ovl_gen, 0);
    same_as(F.snap2, F.n2);
    assert_int_equal(delta(F.delta23, F.delta23_len, NULL), 0);
    assert_int_equal(F.st.cur.area, a ^ 1u);
    assert_int_equal(F.st.cur.ovl_half, h ^ 1u);
    same_as(F.snap3, F.n3);
    assert_int_equal(st_mount(&F), 0);
    same_as(F.snap3, F.n3);
    /* damage the applied base: the store falls back to area a + half 0, v2 */
    ks_flash_emu_flip(&F.emu, (uint64_t)st_rec_addr(&F, &F.st.last[a ^ 1u], 0) * 8 + 77);
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_true(F.st.flags & KS_STORE_F_FELL_BACK);
    assert_int_equal(F.st.cur.area, a);
    assert_true(F.st.cur.ovl_gen != 0);
    same_as(F.snap2, F.n2);
    st_free(&F);
}

/* A cut append leaves programmed bytes past the committed end: the next
 * append starts after them, and the mount follows the segment chain over
 * the gap. */
static void test_gap(void **state)
{
    (void)state;
    st_fixture(&F);
    st_overlay(&F, ST_OVL_CAP);
    st_base(&F);
    assert_int_equal(delta(F.delta, F.delta_len, NULL), 0);
    uint32_t end = F.st.cur.ovl_end;
    uint32_t at =
        st_dev(&F, (F.st.ovl_first + F.st.cur.ovl_half * F.st.ovl_half_sectors) * ST_SECTOR + end);
    memset(F.emu.mem + at, 0x5A, 40); /* what an unfinished append left */
    assert_int_equal(st_mount(&F), 0);
    same_as(F.snap2, F.n2);
    assert_int_equal(delta(F.delta23, F.delta23_len, NULL), 0);
    assert_true(F.st.cur.ovl_gen != 0);
    assert_int_equal(F.st.cur.ovl_last, end + 48);
    same_as(F.snap3, F.n3);
    assert_int_equal(st_mount(&F), 0);
    same_as(F.snap3, F.n3);
    assert_int_equal(ks_store_check(&F.st, NULL), 0);
    assert_int_equal(F.emu.violations, 0);
    st_free(&F);
}

/* Refusals leave the state (and the overlay table) exactly as they were. */
static void test_refusals(void **state)
{
    (void)state;
    st_fixture(&F);
    st_overlay(&F, ST_OVL_CAP);
    st_base(&F);
    assert_int_equal(delta(F.delta, F.delta_len, NULL), 0);
    /* the same delta again: its base is no longer applied */
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), KS_E_BASE);
    /* a corrupted upsert: the root check fails after the append, before the commit */
    uint8_t bad[sizeof F.delta23];
    memcpy(bad, F.delta23, F.delta23_len);
    bad[KS_DELTA_PREFIX + 100] ^= 1;
    int rc = ks_store_apply_delta(&F.st, bad, F.delta23_len, 0, NULL, NULL);
    assert_true(rc == KS_E_ROOT || rc == KS_E_FORMAT);
    same_as(F.snap2, F.n2);
    /* and the append after the refused one still works */
    assert_int_equal(delta(F.delta23, F.delta23_len, NULL), 0);
    same_as(F.snap3, F.n3);
    assert_int_equal(st_mount(&F), 0);
    same_as(F.snap3, F.n3);
    assert_int_equal(F.emu.violations, 0);
    st_free(&F);
}

/* The image of the bit-flip sweep: v1 in both areas, v2 and v3 as two
 * overlay segments on top of the newer one. */
static void overlay_image(void)
{
    ks_counter c;
    st_fixture(&F);
    st_overlay(&F, ST_OVL_CAP);
    st_base(&F);
    for (uint32_t i = 0; i < 6; i++) {
        st_counter(&c, 3, 300 + i);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    assert_int_equal(st_install(&F, F.snap1, F.n1), 0);
    assert_int_equal(delta(F.delta, F.delta_len, NULL), 0);
    assert_int_equal(delta(F.delta23, F.delta23_len, NULL), 0);
    assert_int_equal(st_mount(&F), 0);
}

static void test_every_bit(void **state)
{
    (void)state;
    uint8_t d0[32], d[32], rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
    unsigned long same = 0, detected = 0, fell_back = 0, refused = 0, ovl_bits = 0;

    overlay_image();
    st_digest(&F, d0);
    uint32_t ovl_lo = F.st.ovl_first * ST_SECTOR, ovl_hi = ovl_lo + ST_OVL * ST_SECTOR;
    uint64_t bits = (uint64_t)F.emu.size * 8, step = st_flip_step(), flipped = bits / step;
    for (uint64_t k = 0; k < flipped; k++) {
        uint64_t b = st_flip_bit(k, step);
        ks_flash_emu_flip(&F.emu, b);
        ovl_bits += F.st.levelled ? 0 : b / 8 >= ovl_lo && b / 8 < ovl_hi;
        int rc = st_mount(&F);
        if (rc == KS_OK) {
            st_digest(&F, d);
            if (memcmp(d, d0, 32) != 0)
                fail_msg("bit %lu: answers changed without KSE-301", (unsigned long)b);
            same++;
        } else {
            if (rc != KS_E_STORE_CORRUPT)
                fail_msg("bit %lu: mount returned %d", (unsigned long)b, rc);
            detected++;
            if (F.st.mounted) {
                const ks_snap_header *h = ks_store_header(&F.st);
                uint32_t n = 0;
                const uint8_t *snap = h ? snap_of(h->version, &n) : NULL;
                assert_true(F.st.flags & KS_STORE_F_DAMAGED);
                fell_back += h && h->version != 3;
                for (uint32_t i = 0; i < F.nprobe; i++) {
                    /* one lookup (test_store_bitflip compares the fence
                     * index with the map path after every flip) */
                    int wrc, grc = ks_store_lookup(&F.st, F.probe[i], rec);
                    if (!h) {
                        assert_int_equal(grc, KS_E_NOTFOUND);
                        continue;
                    }
                    if (grc == KS_E_STORE_CORRUPT) {
                        refused++;
                        continue;
                    }
                    st_expected(snap, n, F.probe[i], &wrc, want);
                    if (grc != wrc)
                        fail_msg("bit %lu: probe %u answered %d, state v%lu says %d",
                                 (unsigned long)b, i, grc, (unsigned long)h->version, wrc);
                    if (grc == KS_OK && memcmp(rec, want, KS_RECORD_SIZE) != 0)
                        fail_msg("bit %lu: probe %u answered a different record",
                                 (unsigned long)b, i);
                }
                assert_int_equal(ks_store_check(&F.st, NULL), KS_E_STORE_CORRUPT);
            }
        }
        ks_flash_emu_flip(&F.emu, b);
    }
    printf("store overlay bit flips: %lu bits (%lu in the overlay) flipped one at a time: %lu "
           "answers unchanged, %lu detected as KSE-301 (%lu fell back), %lu lookups refused, "
           "0 wrong answers\n",
           (unsigned long)flipped, ovl_bits, same, detected, fell_back, refused);
    st_free(&F);
}

/* Flips in the overlay after mount: lookups and the record source refuse
 * or answer right, never wrong. */
static void test_runtime_flips(void **state)
{
    (void)state;
    uint8_t rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
    unsigned long flips = 0, refused = 0, answered = 0;

    overlay_image();
    uint32_t lo = (F.st.ovl_first + F.st.cur.ovl_half * F.st.ovl_half_sectors) * ST_SECTOR;
    uint32_t hi = lo + F.st.cur.ovl_end;
    for (uint64_t vb = (uint64_t)lo * 8; vb < (uint64_t)hi * 8; vb++) {
        ks_recsrc src;
        /* layout 4: the overlay's sectors are wherever its root binds them */
        uint64_t b = (uint64_t)st_dev(&F, (uint32_t)(vb / 8)) * 8 + vb % 8;
        ks_flash_emu_flip(&F.emu, b);
        flips++;
        for (uint32_t i = 0; i < F.nprobe; i++) {
            int wrc, grc = st_lookup(&F, F.probe[i], rec);
            st_expected(F.snap3, F.n3, F.probe[i], &wrc, want);
            if (grc == KS_E_STORE_CORRUPT) {
                refused++;
                continue;
            }
            answered++;
            assert_int_equal(grc, wrc);
            if (grc == KS_OK)
                assert_memory_equal(rec, want, KS_RECORD_SIZE);
        }
        ks_store_records(&F.st, &src);
        for (uint32_t i = 0; i < src.count; i++) {
            int grc = ks_recsrc_get(&src, i, rec);
            if (grc == KS_E_STORE_CORRUPT)
                continue;
            assert_int_equal(grc, 0);
            assert_memory_equal(rec, F.snap3 + KS_SNAP_HEADER_SIZE + (size_t)i * KS_RECORD_SIZE,
                                KS_RECORD_SIZE);
        }
        ks_flash_emu_flip(&F.emu, b);
    }
    printf("store overlay runtime flips: %lu bits of the committed overlay, %lu lookups "
           "answered right, %lu refused with KSE-301, 0 wrong\n", flips, answered, refused);
    st_free(&F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),       cmocka_unit_test(test_fold),
        cmocka_unit_test(test_epochs),       cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_every_bit),    cmocka_unit_test(test_runtime_flips),
    };
    return cmocka_run_group_tests_name("store overlay", tests, NULL, NULL);
}
