/*
 * test_store_bitflip.c - every single-bit flip of a small store image.
 *
 * The image holds v1 then v2 (so a fallback target exists), counters,
 * settings, trust and audit entries, after enough updates that both
 * metadata blocks have been used. For every bit: flip it, mount, and
 * require one of
 *   - mount KS_OK and every answer exactly as before the flip;
 *   - mount KS_E_STORE_CORRUPT (KSE-301): then no lookup answers a record
 *     that differs from what the state it reports (v2, or v1 when it says
 *     FELL_BACK) holds: each probe gives that state's answer or KSE-301;
 *     counters, when META_DAMAGED is not set, are exactly as before;
 * and never any other result; and a key the fallback policy lets the auth
 * engine decide on is always answered with its v2 record (never an older
 * record v2 changed). Then a lookup sweep and ks_store_check run on
 * the damaged image too. Counts are printed.
 */
#include "store_util.h"

static st_fix F;

static void test_every_bit(void **state)
{
    (void)state;
    uint8_t d0[32], d[32], rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
    ks_counter rows[ST_COUNTERS], c;
    uint32_t nrows;
    unsigned long same = 0, detected = 0, fell_back = 0, unmountable = 0, lookups_refused = 0;
    unsigned long stale_refused = 0;

    st_fixture(&F);
    st_base(&F);
    for (uint32_t i = 0; i < 12; i++) { /* move the metadata log along */
        st_counter(&c, 3, 300 + i);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    assert_int_equal(st_mount(&F), 0);
    st_digest(&F, d0);
    nrows = ks_store_counter_count(&F.st);
    for (uint32_t i = 0; i < nrows; i++)
        rows[i] = *ks_store_counter_at(&F.st, i);

    uint64_t bits = (uint64_t)F.emu.size * 8, step = st_flip_step();
    for (uint64_t k = 0; k < bits / step; k++) {
        uint64_t b = st_flip_bit(k, step);
        ks_flash_emu_flip(&F.emu, b);
        int rc = st_mount(&F);
        if (rc == KS_OK) {
            st_digest(&F, d);
            if (memcmp(d, d0, 32) != 0)
                fail_msg("bit %lu (sector %lu): answers changed without KSE-301",
                         (unsigned long)b, (unsigned long)(b / 8 / ST_SECTOR));
            same++;
        } else {
            if (rc != KS_E_STORE_CORRUPT)
                fail_msg("bit %lu: mount returned %d", (unsigned long)b, rc);
            detected++;
            if (!F.st.mounted) {
                unmountable++;
            } else {
                /*
                 * The state the store says it applies: v2, or v1 after a
                 * fallback (FELL_BACK when the v2 area is damaged; a lost v2
                 * commit record shows as META_DAMAGED). Answers must come
                 * from exactly that state.
                 */
                const ks_snap_header *h = ks_store_header(&F.st);
                int fb = h && h->version == 1;
                if (fb)
                    assert_true(F.st.flags & (KS_STORE_F_FELL_BACK | KS_STORE_F_META_DAMAGED));
                const uint8_t *snap = fb ? F.snap1 : F.snap2;
                uint32_t n = fb ? F.n1 : F.n2;
                fell_back += fb;
                assert_true(F.st.flags & KS_STORE_F_DAMAGED);
                for (uint32_t i = 0; i < F.nprobe; i++) {
                    int wrc;
                    int grc = ks_store_lookup(&F.st, F.probe[i], rec);
                    if (!F.st.cur.valid) {
                        assert_int_equal(grc, KS_E_NOTFOUND);
                        continue;
                    }
                    st_expected(snap, n, F.probe[i], &wrc, want);
                    if (grc == KS_E_STORE_CORRUPT) {
                        lookups_refused++;
                        continue;
                    }
                    if (grc != wrc)
                        fail_msg("bit %lu: probe %u answered %d, state says %d",
                                 (unsigned long)b, i, grc, wrc);
                    if (grc == KS_OK && memcmp(rec, want, KS_RECORD_SIZE) != 0)
                        fail_msg("bit %lu: probe %u answered a different record",
                                 (unsigned long)b, i);
                    /* The fallback policy (docs/store.md): a record the auth
                     * engine would decide on is the newest state's (v2),
                     * never an older one that v2 changed. */
                    if (ks_store_fallback_check(&F.st, F.probe[i]) != KS_OK) {
                        stale_refused++;
                        continue;
                    }
                    if (grc == KS_OK) {
                        st_expected(F.snap2, F.n2, F.probe[i], &wrc, want);
                        if (wrc != KS_OK || memcmp(rec, want, KS_RECORD_SIZE) != 0)
                            fail_msg("bit %lu: probe %u would be decided on a record v2 "
                                     "changed (fallback to v%llu)", (unsigned long)b, i,
                                     (unsigned long long)h->version);
                    }
                }
                if (!(F.st.flags & KS_STORE_F_META_DAMAGED)) {
                    assert_int_equal(ks_store_counter_count(&F.st), nrows);
                    for (uint32_t i = 0; i < nrows; i++) {
                        assert_int_equal(ks_store_counter_get(&F.st, rows[i].kind, rows[i].id, &c), 0);
                        assert_memory_equal(&c, &rows[i], sizeof c);
                    }
                }
                assert_int_equal(ks_store_check(&F.st, NULL), KS_E_STORE_CORRUPT);
            }
        }
        ks_flash_emu_flip(&F.emu, b);
    }
    printf("store bit flips (layout %u): %lu bits flipped one at a time (one in %lu): %lu answers "
           "unchanged, %lu detected as KSE-301 (%lu fell back to v1, %lu left no metadata block), "
           "%lu lookups refused, %lu refused by the fallback policy (KSE-303), 0 wrong answers, "
           "0 stale records decided on\n",
           F.st.levelled ? 4u : F.st.counted ? 3u : F.st.paged ? 2u : 1u,
           (unsigned long)(bits / step), (unsigned long)step, same, detected,
           fell_back, unmountable, lookups_refused, stale_refused);
    st_free(&F);
}

/* Flips after mount, while running: lookups never answer a wrong record. */
static void test_runtime_flips(void **state)
{
    (void)state;
    uint8_t rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
    unsigned long flips = 0, refused = 0, answered = 0;

    st_fixture(&F);
    st_base(&F);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    uint32_t base = st_dev(&F, F.st.area_first[F.st.cur.area] * ST_SECTOR);
    uint32_t span = ((F.n2 * KS_RECORD_SIZE + 255) / 256 * 256) + F.n2 * 4;
    if (span > F.emu.size - base) /* layout 4: the map sector may lie near the end */
        span = (uint32_t)F.emu.size - base;
    /* every lookup path: in place through flash.map or through read(), with
     * and without the RAM index; the last pass without the device CRC engine */
    uint32_t (*hw)(void *, uint32_t, const void *, size_t) = F.emu.flash.crc32c;
    assert_true(F.st.idx_n > 0);
    for (int pass = 0; pass < 5; pass++) {
    F.emu.flash.map = (pass & 1) ? NULL : F.emu.mem;
    F.st.cfg.index = (pass & 2) ? NULL : F.index;
    F.emu.flash.crc32c = pass == 4 ? NULL : hw;
    for (uint64_t b = (uint64_t)base * 8; b < (uint64_t)(base + span) * 8; b++) {
        ks_flash_emu_flip(&F.emu, b);
        flips++;
        for (uint32_t i = 0; i < F.nprobe; i++) {
            int wrc;
            int grc = ks_store_lookup(&F.st, F.probe[i], rec);
            st_expected(F.snap2, F.n2, F.probe[i], &wrc, want);
            if (grc == KS_E_STORE_CORRUPT) {
                refused++;
                continue;
            }
            answered++;
            assert_int_equal(grc, wrc);
            if (grc == KS_OK)
                assert_memory_equal(rec, want, KS_RECORD_SIZE);
        }
        ks_flash_emu_flip(&F.emu, b);
    }
    }
    F.emu.flash.crc32c = hw;
    F.st.cfg.index = F.index;
    printf("store runtime flips: %lu bits of the applied area (mapped and read() paths, "
           "with and without the RAM index and the CRC engine), %lu lookups answered right, "
           "%lu refused with KSE-301, 0 wrong\n", flips, answered, refused);
    st_free(&F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_bit),
        cmocka_unit_test(test_runtime_flips),
    };
    return cmocka_run_group_tests_name("store bit flips", tests, NULL, NULL);
}
