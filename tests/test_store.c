/*
 * test_store.c - the flash store's behaviour: install, delta, lookups,
 * refusals with exact codes, counters, settings, audit ring, check, worn
 * sectors and a full device.
 */
#include "store_util.h"

ST_FIXTURE_HOOKS(F)

/* Every probe answers as the snapshot in memory says. */
static void expect_answers(const uint8_t *snap, uint32_t n)
{
    ks_recsrc mem;
    uint8_t rec[KS_RECORD_SIZE];
    uint32_t idx;
    ks_recsrc_mem(&mem, snap + KS_SNAP_HEADER_SIZE, n);
    for (uint32_t i = 0; i < F.nprobe; i++) {
        int want = ks_recsrc_find(&mem, F.probe[i], &idx);
        int got = ks_store_lookup(&F.st, F.probe[i], rec);
        assert_int_equal(got, want);
        if (want == KS_OK)
            assert_memory_equal(rec, mem.mem + (size_t)idx * KS_RECORD_SIZE, KS_RECORD_SIZE);
    }
    assert_memory_equal(F.st.cur.header, snap, KS_SNAP_HEADER_SIZE);
}

static void test_blank_and_format(void **state)
{
    (void)state;
    ks_diag d = {0, 0, NULL};
    uint8_t rec[KS_RECORD_SIZE];
    assert_int_equal(ks_store_mount(&F.st, &F.cfg, &d), KS_E_NOTFOUND);
    assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), 0);
    assert_true(F.st.flags & KS_STORE_F_NEED_FULL);
    assert_int_equal(ks_store_lookup(&F.st, F.probe[0], rec), KS_E_NOTFOUND);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_trust(&F.st)->count, 1);
    assert_null(ks_store_header(&F.st));
    assert_int_equal(ks_store_check(&F.st, NULL), 0);
}

static void test_install_lookup_remount(void **state)
{
    (void)state;
    st_base(&F);
    expect_answers(F.snap1, F.n1);
    assert_int_equal(F.st.flags & KS_STORE_F_NEED_FULL, 0);
    assert_int_equal(st_mount(&F), 0);
    expect_answers(F.snap1, F.n1);
    assert_int_equal(ks_store_check(&F.st, NULL), 0);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    expect_answers(F.snap2, F.n2);
    assert_int_equal(st_mount(&F), 0);
    expect_answers(F.snap2, F.n2);
    /* same version again is the repair path: allowed */
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    assert_int_equal(ks_store_check(&F.st, NULL), 0);
    assert_int_equal(F.emu.violations, 0);
}

static void test_install_refusals(void **state)
{
    (void)state;
    ks_diag d = {0, 0, NULL};
    uint8_t bad[sizeof F.snap1], kpk[32], ksk[64];
    ks_recsrc s;
    ks_trust other;

    st_base(&F);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    /* rollback */
    assert_int_equal(st_install(&F, F.snap1, F.n1), KS_E_ROLLBACK);
    /* a record changed after signing: root */
    memcpy(bad, F.snap2, sizeof bad);
    bad[KS_SNAP_HEADER_SIZE + 5 * KS_RECORD_SIZE + 60] ^= 1;
    ks_recsrc_mem(&s, bad + KS_SNAP_HEADER_SIZE, F.n2);
    assert_int_equal(ks_store_install(&F.st, bad, &s, 0, &d), KS_E_ROOT);
    expect_answers(F.snap2, F.n2);
    /* count differs from the header */
    ks_recsrc_mem(&s, F.snap2 + KS_SNAP_HEADER_SIZE, F.n2 - 1);
    assert_int_equal(ks_store_install(&F.st, F.snap2, &s, 0, NULL), KS_E_FORMAT);
    /* unknown signer */
    kt_keypair(777, kpk, ksk);
    memcpy(bad, F.snap2, sizeof bad);
    assert_int_equal(ks_snap_header_sign(&F.c, bad, ksk), 0);
    ks_recsrc_mem(&s, bad + KS_SNAP_HEADER_SIZE, F.n2);
    assert_int_equal(ks_store_install(&F.st, bad, &s, 0, NULL), KS_E_SUPERVISOR_UNTRUSTED);
    /* trust replaced: the old supervisor is refused */
    ks_trust_init(&other);
    assert_int_equal(ks_trust_add(&other, &F.c, kpk), 0);
    assert_int_equal(ks_store_set_trust(&F.st, &other), 0);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_trust(&F.st)->count, 1);
    assert_memory_equal(ks_store_trust(&F.st)->keys[0], kpk, 32);
    assert_int_equal(st_install(&F, F.snap2, F.n2), KS_E_SUPERVISOR_UNTRUSTED);
    expect_answers(F.snap2, F.n2);
}

static void test_expired(void **state)
{
    (void)state;
    uint8_t snap[sizeof F.snap1];
    ks_snap_header h;
    ks_recsrc s;
    uint8_t *recs = snap + KS_SNAP_HEADER_SIZE;
    assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), 0);
    kt_records(&F.c, 0, 4, recs);
    memset(&h, 0, sizeof h);
    h.version = 5;
    h.created_at = 1000;
    h.expires_at = 2000;
    assert_int_equal(ks_snapshot_write(&F.c, &h, recs, 4, F.sk, snap, sizeof snap), 0);
    ks_recsrc_mem(&s, recs, 4);
    assert_int_equal(ks_store_install(&F.st, snap, &s, 3000, NULL), KS_E_SNAPSHOT_EXPIRED);
    assert_null(ks_store_header(&F.st));
    assert_int_equal(ks_store_install(&F.st, snap, &s, 1500, NULL), 0);
}

static void test_delta(void **state)
{
    (void)state;
    ks_diag d = {0, 0, NULL};
    st_base(&F);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, &d), 0);
    expect_answers(F.snap2, F.n2);
    assert_int_equal(st_mount(&F), 0);
    expect_answers(F.snap2, F.n2);
    /* the same delta again no longer fits the base */
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), KS_E_BASE);
    assert_int_equal(ks_store_check(&F.st, NULL), 0);
}

static void test_delta_tree(void **state)
{
    (void)state;
    ks_snap_header h;
    ks_recsrc src;
    ks_tree t;
    static uint8_t nodes[1 << 12][32];
    uint8_t bad[sizeof F.delta];

    st_base(&F);
    assert_int_equal(ks_snap_header_decode(&h, F.snap1, NULL), 0);
    ks_store_records(&F.st, &src);
    assert_int_equal(ks_tree_build(&t, &F.c, &src, h.bucket_bits, nodes, 1 << 12), 0);
    /* a tampered upsert: refused, tree still the base's */
    memcpy(bad, F.delta, F.delta_len);
    bad[F.delta_len - 1 - (F.delta_len > KS_DELTA_PREFIX + 200 ? 100 : 0)] ^= 0x40;
    int rc = ks_store_apply_delta(&F.st, bad, F.delta_len, 0, &t, NULL);
    assert_true(rc == KS_E_ROOT || rc == KS_E_FORMAT || rc == KS_E_BASE);
    assert_memory_equal(ks_tree_root(&t), h.root, 32);
    expect_answers(F.snap1, F.n1);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, &t, NULL), 0);
    assert_int_equal(ks_snap_header_decode(&h, F.snap2, NULL), 0);
    assert_memory_equal(ks_tree_root(&t), h.root, 32);
    expect_answers(F.snap2, F.n2);
    assert_int_equal(ks_store_check(&F.st, NULL), 0);
}

static void test_counters(void **state)
{
    (void)state;
    ks_counter c, got;
    st_base(&F);
    st_counter(&c, 2, 999);
    c.locked_until = UINT64_MAX;
    assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    /* many updates force compactions; the last value wins across remounts */
    for (uint32_t i = 0; i < 100; i++) {
        st_counter(&c, 1, 1000 + i);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    assert_true(F.st.meta_epoch > 1);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_counter_get(&F.st, 1, c.id, &got), 0);
    assert_int_equal(got.use_counter, 1099);
    st_counter(&c, 2, 0);
    assert_int_equal(ks_store_counter_get(&F.st, 0, c.id, &got), 0);
    assert_int_equal(got.locked_until, UINT64_MAX);
    assert_int_equal(ks_store_counter_count(&F.st), 3);
    assert_int_equal(ks_store_counter_del(&F.st, 0, c.id), 0);
    assert_int_equal(ks_store_counter_del(&F.st, 0, c.id), KS_E_NOTFOUND);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_counter_get(&F.st, 0, c.id, &got), KS_E_NOTFOUND);
    /* table full */
    for (uint32_t i = 10; ks_store_counter_count(&F.st) < ST_COUNTERS; i++) {
        st_counter(&c, i, i);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    st_counter(&c, 200, 1);
    assert_int_equal(ks_store_counter_put(&F.st, &c), KS_E_NOSPC);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_counter_count(&F.st), ST_COUNTERS);
    expect_answers(F.snap1, F.n1);
}

static void test_settings(void **state)
{
    (void)state;
    uint8_t big[KS_SETTINGS_MAX + 1], got[KS_SETTINGS_MAX];
    st_base(&F);
    memset(big, 0x5A, sizeof big);
    assert_int_equal(ks_store_settings_set(&F.st, big, sizeof big), KS_E_INVAL);
    assert_int_equal(ks_store_settings_set(&F.st, big, KS_SETTINGS_MAX), 0);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_settings_get(&F.st, got, sizeof got), KS_SETTINGS_MAX);
    assert_memory_equal(got, big, KS_SETTINGS_MAX);
}

static void test_audit(void **state)
{
    (void)state;
    uint8_t pl[KS_AUDIT_PAYLOAD], want[KS_AUDIT_PAYLOAD];
    uint64_t seq = 0, s;
    uint32_t cap = F.st.audit_slots;
    st_base(&F);
    cap = F.st.audit_slots * ST_AUDIT;
    assert_int_equal(ks_store_audit_read(&F.st, 0, pl, &s), 0);
    assert_int_equal(s, 1);
    assert_int_equal(ks_store_audit_ack(&F.st, 2), 0);
    assert_int_equal(ks_store_audit_ack(&F.st, 99), KS_E_INVAL);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_audit_read(&F.st, 0, pl, &s), 0);
    assert_int_equal(s, 3);
    st_payload(want, 3);
    assert_memory_equal(pl, want, sizeof pl);
    /* wrap the ring: the oldest sector goes, sequence numbers show the gap */
    for (uint32_t i = 4; i <= 3 + 2 * cap; i++) {
        st_payload(pl, i);
        assert_int_equal(ks_store_audit_append(&F.st, pl, &seq), 0);
        assert_int_equal(seq, i);
    }
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_audit_read(&F.st, 0, pl, &s), 0);
    assert_true(s > 3 + cap);
    st_payload(want, (uint32_t)s);
    assert_memory_equal(pl, want, sizeof pl);
    assert_int_equal(F.st.audit_last, 3 + 2 * cap);
    assert_int_equal(ks_store_audit_ack(&F.st, F.st.audit_last), 0);
    assert_int_equal(ks_store_audit_read(&F.st, 0, pl, &s), KS_E_NOTFOUND);
    assert_int_equal(F.emu.violations, 0);
}

static void test_check_reports_place(void **state)
{
    (void)state;
    ks_diag d = {0, 0, NULL};
    uint32_t addr;
    st_base(&F);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    /* damage record 7 of the applied area */
    addr = st_rec_addr(&F, &F.st.cur, 7);
    ks_flash_emu_flip(&F.emu, (uint64_t)(addr + 40) * 8 + 3);
    assert_int_equal(ks_store_check(&F.st, &d), KS_E_STORE_CORRUPT);
    assert_int_equal(d.offset, addr);
    assert_string_equal(d.what, "area.record");
    /* mount: KSE-301 with the place, falls back to v1, full download flagged */
    memset(&d, 0, sizeof d);
    assert_int_equal(ks_store_mount(&F.st, &F.cfg, &d), KS_E_STORE_CORRUPT);
    assert_int_equal(d.offset, addr);
    assert_true(F.st.mounted);
    assert_true(F.st.flags & KS_STORE_F_NEED_FULL);
    assert_true(F.st.flags & KS_STORE_F_FELL_BACK);
    expect_answers(F.snap1, F.n1);
    /* a full download of v2 repairs it */
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    assert_int_equal(F.st.flags & (KS_STORE_F_NEED_FULL | KS_STORE_F_FELL_BACK), 0);
    assert_int_equal(st_mount(&F), 0);
    expect_answers(F.snap2, F.n2);
}

static void test_lookup_detects_runtime_damage(void **state)
{
    (void)state;
    uint8_t rec[KS_RECORD_SIZE];
    uint32_t base;
    st_base(&F);
    /* damage every key id after mount: each lookup is right or KSE-301 */
    for (uint32_t i = 0; i < F.n1; i++) {
        base = st_rec_addr(&F, &F.st.cur, i);
        ks_flash_emu_flip(&F.emu, (uint64_t)(base + (i % 16)) * 8 + (i % 8));
    }
    for (uint32_t i = 0; i < F.nprobe; i++) {
        int rc = ks_store_lookup(&F.st, F.probe[i], rec);
        assert_true(rc == KS_E_STORE_CORRUPT);
    }
}

/* The RAM index is a hint: stale, scribbled or absent, answers stay exact
 * and nothing is reported as damage. */
/* An image of any layout mounts as the layout its SUPER names, whatever
 * the configuration offers: a layout 1 image (written before paged
 * snapshots, or without a sector map) mounted by a build that gives the
 * sector map stays layout 1 and keeps taking deltas; a layout 2 image is
 * refused, with a clear format error, by a configuration without one; the
 * same for layout 2 and 3 and the erase counts. */
static void test_layouts(void **state)
{
    (void)state;
    uint8_t *map = F.cfg.sector_map;
    F.cfg.sector_map = NULL;
    st_base(&F);
    assert_false(F.st.paged);
    F.cfg.sector_map = F.sector_map;
    assert_int_equal(st_mount(&F), 0);
    assert_false(F.st.paged);
    expect_answers(F.snap1, F.n1);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    assert_int_equal(st_mount(&F), 0);
    expect_answers(F.snap2, F.n2);
    /* layout 2 */
    st_base(&F);
    assert_true(F.st.paged);
    F.cfg.sector_map = NULL;
    ks_diag d = {0, 0, NULL};
    assert_int_equal(ks_store_mount(&F.st, &F.cfg, &d), KS_E_FORMAT);
    assert_non_null(strstr(d.what, "sector_map"));
    F.cfg.sector_map = map;
    if (map) {
        assert_int_equal(st_mount(&F), 0);
        expect_answers(F.snap1, F.n1);
    }
    /* layout 2 under a configuration that offers erase counts stays layout
     * 2 (no counts) and keeps taking deltas; layout 3 needs the counts */
    uint32_t *cnt = F.cfg.erase_counts;
    if (!map)
        return;
    F.cfg.erase_counts = NULL;
    st_base(&F);
    assert_true(F.st.paged && !F.st.counted);
    F.cfg.erase_counts = F.erase_counts;
    assert_int_equal(st_mount(&F), 0);
    assert_true(F.st.paged && !F.st.counted);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    assert_int_equal(st_mount(&F), 0);
    assert_false(F.st.counted);
    expect_answers(F.snap2, F.n2);
    st_base(&F);
    assert_true(F.st.counted);
    F.cfg.erase_counts = NULL;
    assert_int_equal(ks_store_mount(&F.st, &F.cfg, &d), KS_E_FORMAT);
    assert_non_null(strstr(d.what, "erase_counts"));
    F.cfg.erase_counts = cnt;
    /* layout 3 under a configuration that offers layout 4's bindings stays
     * layout 3 and keeps taking deltas; layout 4 needs the bindings */
    if (!cnt)
        return;
    uint32_t *vm = F.cfg.vmap;
    F.cfg.vmap = NULL;
    st_base(&F);
    assert_true(F.st.counted && !F.st.levelled);
    F.cfg.vmap = F.vmap;
    F.cfg.vmap_cap = sizeof F.vmap / sizeof F.vmap[0];
    assert_int_equal(st_mount(&F), 0);
    assert_true(F.st.counted && !F.st.levelled);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    assert_int_equal(st_mount(&F), 0);
    assert_false(F.st.levelled);
    expect_answers(F.snap2, F.n2);
    st_base(&F);
    assert_true(F.st.levelled);
    F.cfg.vmap = NULL;
    assert_int_equal(ks_store_mount(&F.st, &F.cfg, &d), KS_E_FORMAT);
    assert_non_null(strstr(d.what, "vmap"));
    F.cfg.vmap = vm;
}

static void test_index(void **state)
{
    (void)state;
    uint8_t rec[KS_RECORD_SIZE], junk[KS_KEYID_SIZE];
    st_base(&F);
    assert_true(F.st.idx_n > 0);
    assert_int_equal(F.st.idx_gen, F.st.cur.gen);
    expect_answers(F.snap1, F.n1);
    /* after a delta it describes the new generation */
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), 0);
    assert_int_equal(F.st.idx_gen, F.st.cur.gen);
    expect_answers(F.snap2, F.n2);
    /* misses before the first key, between keys and after the last */
    memset(junk, 0x00, sizeof junk);
    assert_int_equal(ks_store_lookup(&F.st, junk, rec), KS_E_NOTFOUND);
    memset(junk, 0xFF, sizeof junk);
    assert_int_equal(ks_store_lookup(&F.st, junk, rec), KS_E_NOTFOUND);
    for (uint32_t i = 0; i + 1 < F.n2; i++) {
        memcpy(junk, F.snap2 + KS_SNAP_HEADER_SIZE + i * KS_RECORD_SIZE, KS_KEYID_SIZE);
        junk[15] ^= 1; /* a neighbour of key i, not itself a key (ids are hashes) */
        assert_int_equal(ks_store_lookup(&F.st, junk, rec), KS_E_NOTFOUND);
    }
    /* scribbled RAM: every entry, one at a time and all together */
    for (uint32_t e = 0; e < F.st.idx_n; e++) {
        uint8_t save[KS_KEYID_SIZE];
        memcpy(save, F.index[e], KS_KEYID_SIZE);
        for (int v = 0; v < 3; v++) {
            memset(F.index[e], v == 0 ? 0x00 : v == 1 ? 0xFF : 0x5A, KS_KEYID_SIZE);
            expect_answers(F.snap2, F.n2);
        }
        memcpy(F.index[e], save, KS_KEYID_SIZE);
    }
    for (uint32_t e = 0; e < F.st.idx_n; e++)
        memset(F.index[e], (int)(0x11 * e), KS_KEYID_SIZE);
    expect_answers(F.snap2, F.n2);
    assert_int_equal(F.st.flags & KS_STORE_F_DAMAGED, 0);
    /* stale: an index of another generation is not used */
    F.st.idx_gen--;
    expect_answers(F.snap2, F.n2);
    /* a remount rebuilds it */
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(F.st.idx_gen, F.st.cur.gen);
    expect_answers(F.snap2, F.n2);
    assert_int_equal(F.st.flags & KS_STORE_F_DAMAGED, 0);
    /* a tiny index: one entry, stride covering everything */
    F.cfg.index_cap = 1;
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(F.st.idx_n, 1);
    expect_answers(F.snap2, F.n2);
}

static uint32_t bad_crc(void *ctx, uint32_t crc, const void *data, size_t len)
{
    (void)ctx;
    return ks_crc32c(crc, data, len) ^ 1u;
}

/* The device CRC engine: same values as ks_crc32c, and one that computes
 * something else is not used. */
static void test_crc_engine(void **state)
{
    (void)state;
    uint8_t b[300];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)(i * 131 + 7);
    if (F.emu.flash.crc32c) {
        for (size_t off = 0; off < 9; off++)
            for (size_t len = 0; len + off <= sizeof b; len += 7) {
                assert_int_equal(F.emu.flash.crc32c(F.emu.flash.ctx, 0, b + off, len),
                                 ks_crc32c(0, b + off, len));
                assert_int_equal(F.emu.flash.crc32c(F.emu.flash.ctx, 0x12345678u, b + off, len),
                                 ks_crc32c(0x12345678u, b + off, len));
            }
    }
    st_base(&F);
    assert_int_equal(F.st.hw_crc, F.emu.flash.crc32c != NULL);
    F.emu.flash.crc32c = bad_crc;
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(F.st.hw_crc, 0);
    expect_answers(F.snap1, F.n1);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    expect_answers(F.snap2, F.n2);
    F.emu.flash.crc32c = NULL;
    assert_int_equal(st_mount(&F), 0);
    expect_answers(F.snap2, F.n2);
}

/* Layout 2: a pool sector that fails its erase, a prog or a read-back is
 * retired and the page written elsewhere; the retired list survives
 * remounts (every map carries it) and keeps the sector out of use. When
 * the list is full, the failure is the write's (KS_E_IO, state unchanged). */
static void test_retire(void **state)
{
    (void)state;
    uint32_t loud, silent;
    st_base(&F);
    if (!F.st.paged)
        skip();
    loud = st_spare_sector(&F, 1);
    ks_flash_emu_wear(&F.emu, loud, KS_EMU_WORN_LOUD);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    expect_answers(F.snap2, F.n2);
    assert_int_equal(F.st.retired_n, 1);
    assert_int_equal(F.st.wear.retired, 1);
    silent = st_spare_sector(&F, 0);
    ks_flash_emu_wear(&F.emu, silent, KS_EMU_WORN_SILENT);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0); /* the same version: a repair */
    assert_int_equal(F.st.retired_n, 2);
    assert_int_equal(st_mount(&F), 0);
    expect_answers(F.snap2, F.n2);
    assert_int_equal(F.st.retired_n, 2);
    assert_int_equal(F.st.wear.retired, 2);
    /* neither sector is named by the map or taken again */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
        for (uint32_t r = 0; r < ks_store_header(&F.st)->record_count; r++) {
            uint32_t s = st_rec_addr(&F, &F.st.cur, r) / ST_SECTOR;
            assert_true(s != loud && s != silent);
        }
    }
    assert_int_equal(F.st.retired_n, 2);
    assert_int_equal(F.emu.violations, 0);
}

static void test_worn_area(void **state)
{
    (void)state;
    uint8_t before[32], after[32];
    st_base(&F);
    if (F.st.paged) /* a worn sector is retired instead: test_retire */
        F.st.retired_n = KS_STORE_RETIRED_MAX;
    st_digest(&F, before);
    /* the second sector the write takes fails loudly, then silently (layout
     * 2 moves its allocation cursor on: each write gets its own) */
    ks_flash_emu_wear(&F.emu, st_spare_sector(&F, 1), KS_EMU_WORN_LOUD);
    assert_int_equal(st_install(&F, F.snap2, F.n2), KS_E_IO);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
    ks_flash_emu_wear(&F.emu, st_spare_sector(&F, 1), KS_EMU_WORN_SILENT);
    assert_int_equal(st_install(&F, F.snap2, F.n2), KS_E_IO);
    ks_flash_emu_wear(&F.emu, st_spare_sector(&F, 0), KS_EMU_WORN_SILENT);
    assert_int_equal(ks_store_apply_delta(&F.st, F.delta, F.delta_len, 0, NULL, NULL), KS_E_IO);
    assert_int_equal(st_mount(&F), 0);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
}

static void test_worn_meta(void **state)
{
    (void)state;
    uint8_t before[32], after[32];
    ks_counter c;
    uint32_t k = F.cfg.meta_blocks;
    st_base(&F);
    st_digest(&F, before);
    if (k > 2) {
        /* A ring passes a block that fails its erase over for the next. */
        unsigned worn = (F.st.meta_block + 1u) % k;
        uint64_t epoch = F.st.meta_epoch;
        for (uint32_t s = 0; s < ST_META; s++)
            ks_flash_emu_wear(&F.emu, worn * ST_META + s, KS_EMU_WORN_LOUD);
        for (uint32_t i = 0; F.st.meta_epoch == epoch; i++) {
            assert_true(i < 40);
            st_counter(&c, 1, 4000 + i % 4);
            assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
        }
        assert_int_equal(F.st.meta_block, (worn + 1u) % k);
        st_digest(&F, before);
        assert_int_equal(st_mount(&F), 0);
        st_digest(&F, after);
        assert_memory_equal(before, after, 32);
    }
    /* no other metadata block can be erased: compaction fails cleanly */
    for (unsigned b = 0; b < k; b++)
        for (uint32_t s = 0; s < ST_META && b != F.st.meta_block; s++)
            ks_flash_emu_wear(&F.emu, b * ST_META + s, KS_EMU_WORN_LOUD);
    int rc = 0;
    for (uint32_t i = 0; i < 40 && rc == 0; i++) {
        st_counter(&c, 1, 5000 + i);
        rc = ks_store_counter_put(&F.st, &c);
        if (rc == 0)
            st_digest(&F, before);
    }
    assert_int_equal(rc, KS_E_IO);
    assert_int_equal(st_mount(&F), 0);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
    /* the active block's own sectors failing: every write a clear error */
    for (uint32_t s = 0; s < ST_META; s++)
        ks_flash_emu_wear(&F.emu, F.st.meta_block * ST_META + s, KS_EMU_WORN_LOUD);
    assert_int_equal(ks_store_settings_set(&F.st, "x", 1), KS_E_IO);
    assert_int_equal(st_mount(&F), 0);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
}

static void test_full_device(void **state)
{
    (void)state;
    static uint8_t big[KS_SNAP_HEADER_SIZE + 128 * KS_RECORD_SIZE];
    uint8_t before[32], after[32];
    ks_store_cfg cfg;
    ks_store st2;
    ks_flash_emu small;
    st_base(&F);
    st_digest(&F, before);
    uint32_t cap = ks_store_area_capacity(&F.st);
    assert_true(cap < 128);
    st_snap(&F, big, 3, 100, cap + 1, -1);
    assert_int_equal(st_install(&F, big, cap + 1), KS_E_NOSPC);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
    st_snap(&F, big, 3, 100, cap, -1);
    assert_int_equal(st_install(&F, big, cap), 0);
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(ks_store_header(&F.st)->record_count, cap);
    /* a device too small for the layout */
    assert_int_equal(ks_flash_emu_init(&small, ST_SECTOR, 2 * ST_META + ST_AUDIT + 1, ST_PROG,
                                       0xFF), 0);
    cfg = F.cfg;
    cfg.flash = &small.flash;
    assert_int_equal(ks_store_format(&st2, &cfg, NULL), KS_E_NOSPC);
    /* a counter table too big for a metadata block */
    cfg.flash = &F.emu.flash;
    cfg.meta_sectors = 2;
    cfg.counter_cap = 64;
    static ks_counter many[64];
    cfg.counters = many;
    assert_int_equal(ks_store_format(&st2, &cfg, NULL), KS_E_NOSPC);
    ks_flash_emu_close(&small);
}

static void test_bad_config(void **state)
{
    (void)state;
    ks_store_cfg cfg = F.cfg;
    ks_store st2;
    cfg.buf_size = 1000;
    assert_int_equal(ks_store_format(&st2, &cfg, NULL), KS_E_INVAL);
    cfg = F.cfg;
    cfg.audit_sectors = 1;
    assert_int_equal(ks_store_format(&st2, &cfg, NULL), KS_E_INVAL);
    /* mounted with another geometry: format error, not corruption */
    st_base(&F);
    cfg = F.cfg;
    cfg.audit_sectors = 3;
    ks_diag d = {0, 0, NULL};
    assert_int_equal(ks_store_mount(&st2, &cfg, &d), KS_E_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blank_and_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_lookup_remount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_reports_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_detects_runtime_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crc_engine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worn_area, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worn_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retire, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
