/*
 * test_store_fallback.c - the fallback policy (docs/store.md, "Fallback
 * policy") and the metadata repair (issue 17, rows 1 and 4).
 *
 * A store answering from an older snapshot than the newest it committed
 * refuses (KSE-303) every key changed since that snapshot, and every key
 * when it cannot tell which changed; damage in the metadata log is cleared
 * by the full install that repairs it, so a check after the repair is
 * clean (no download loop).
 */
#include "store_util.h"

#include "../src/core/ks_store_root.h"

static st_fix F;

static void key_of(uint32_t n, uint8_t id[KS_KEYID_SIZE])
{
    uint8_t rec[KS_RECORD_SIZE];
    kt_record(&F.c, n, rec);
    memcpy(id, rec, KS_KEYID_SIZE);
}

static int check_key(uint32_t n)
{
    uint8_t id[KS_KEYID_SIZE];
    key_of(n, id);
    return ks_store_fallback_check(&F.st, id);
}

static int delta(const uint8_t *dl, size_t len)
{
    ks_diag d = {0, 0, NULL};
    return ks_store_apply_delta(&F.st, dl, len, 0, NULL, &d);
}

/* Flips one byte in the middle of area a's first record. */
static void damage_area(unsigned a)
{
    F.emu.mem[st_rec_addr(&F, &F.st.last[a], 0) + 40] ^= 0x5A;
}

/* Address of the last slot of the active metadata block holding type t
 * (read through a mount, which fills meta_head). */
static uint32_t slot_addr(uint32_t slot)
{
    uint32_t per = ST_SECTOR / F.st.meta_slot_size;
    uint32_t sector = F.st.meta_block * ST_META + slot / per;
    return sector * ST_SECTOR + (slot % per) * F.st.meta_slot_size;
}

/* Layout 4: the fallback's root, rewritten with a valid CRC, names the
 * applied state's root sector as one of its map sectors. The mount reports
 * KSE-301 at that sector, keeps answering from the applied state (checked
 * whole), and does not use the fallback. */
static void test_root_shared(void **state)
{
    (void)state;
    uint8_t before[32], after[32];
    st_fixture(&F);
    st_base(&F);
    if (!F.st.levelled) {
        st_free(&F);
        skip();
    }
    assert_int_equal(delta(F.delta, F.delta_len), 0); /* a fold: v2 over v1 */
    unsigned a = F.st.cur.area, o = a ^ 1u;
    ks_store_commit fb = F.st.last[o];
    assert_true(fb.valid && fb.rooted && F.st.cur.rooted);
    assert_int_equal(st_mount(&F), KS_OK); /* disjoint as written */
    st_digest(&F, before);

    uint8_t *r = F.emu.mem + (F.st.pool_first + fb.root) * ST_SECTOR;
    uint32_t len = ks__root_bytes(ks_ld32(r + 4) + ks_ld32(r + 8));
    assert_true(ks_ld32(r + 4) > 0);
    ks_st32(r + KS_ROOT_HDR, F.st.cur.root);
    ks_st32(r + len - 4, ks_crc32c(ks__root_seed(fb.gen, fb.ovl_gen), r, len - 4));

    ks_diag d = {0, 0, NULL};
    assert_int_equal(ks_store_mount(&F.st, &F.cfg, &d), KS_E_STORE_CORRUPT);
    assert_non_null(d.what);
    assert_string_equal(d.what, "root.shared");
    assert_int_equal(d.offset, (F.st.pool_first + F.st.cur.root) * ST_SECTOR);
    assert_int_equal(F.st.cur.area, a);
    assert_int_equal(F.st.hdr.version, 2);
    assert_false(F.st.last[o].valid);
    st_digest(&F, after);
    assert_memory_equal(before, after, 32);
    /* a full install writes a new state; the next mount is clean */
    assert_int_equal(st_install(&F, F.snap3, F.n3), 0);
    assert_int_equal(st_mount(&F), KS_OK);
    st_free(&F);
}

/* v1 in area 0, delta to v2 folds into area 1, delta to v3 folds into
 * area 0 again; area 0 damaged: the store falls back to v2 in area 1 and
 * refuses exactly the keys delta23 changed. */
static void test_fold_fallback(void **state)
{
    (void)state;
    st_fixture(&F);
    st_base(&F);
    assert_int_equal(delta(F.delta, F.delta_len), 0);
    assert_int_equal(F.st.cur.area, 1);
    assert_int_equal(delta(F.delta23, F.delta23_len), 0);
    assert_int_equal(F.st.cur.area, 0);
    /* on the newest state nothing is refused */
    for (uint32_t k = 0; k < 34; k++)
        assert_int_equal(check_key(k), KS_OK);

    damage_area(0);
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_true(F.st.flags & KS_STORE_F_FELL_BACK);
    assert_int_equal(F.st.hdr.version, 2);
    assert_false(ks_store_deny_all(&F.st));
    /* delta23: removes 4, 5, 29, revokes 24, adds 30..33 */
    const uint32_t changed[] = {4, 5, 24, 29, 30, 31, 32, 33};
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
        assert_int_equal(check_key(changed[i]), KS_E_STALE_DENIED);
    /* unchanged since v2: answered from v2, revoked 10 included (its v2
     * record says revoked) */
    const uint32_t same[] = {6, 7, 10, 11, 20, 23, 25, 28};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_int_equal(check_key(same[i]), KS_OK);
    ks_store_info in;
    ks_store_get_info(&F.st, &in);
    assert_int_equal(in.stale_denied, 8);

    /* the list survives metadata compactions (counter puts fill the log) */
    for (uint32_t i = 0; i < 60; i++) {
        ks_counter c;
        st_counter(&c, 1 + i % 4, 200 + i);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_int_equal(F.st.hdr.version, 2);
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
        assert_int_equal(check_key(changed[i]), KS_E_STALE_DENIED);
    assert_int_equal(check_key(6), KS_OK);

    /* a full install of v3 repairs; nothing refused afterwards */
    assert_int_equal(st_install(&F, F.snap3, F.n3), 0);
    for (uint32_t k = 0; k < 34; k++)
        assert_int_equal(check_key(k), KS_OK);
    st_free(&F);
}

/* The field's case: v1 in area 0, delta12 folds into area 1 (too big for
 * the overlay table), delta23 lands in the overlay over area 1. The
 * overlay is damaged: the store falls back to v1 and refuses every key
 * changed by either delta (revoked 10 and 24, removed 0..3, ...). */
static void test_overlay_fallback(void **state)
{
    (void)state;
    st_fixture(&F);
    st_overlay(&F, 10);
    /* metadata blocks of 8 sectors: room for a list of 40 changed keys
     * (the 4-sector test geometry holds 8, and overflows to "every key") */
    ks_flash_emu_close(&F.emu);
    assert_int_equal(ks_flash_emu_init(&F.emu, ST_SECTOR, ST_SECTORS + ST_OVL + 8, ST_PROG, 0xFF),
                     0);
    F.cfg.meta_sectors = 8;
    st_base(&F);
    assert_int_equal(F.st.deny_cap, 40);
    assert_int_equal(delta(F.delta, F.delta_len), 0);
    assert_int_equal(F.st.cur.area, 1);
    assert_int_equal(F.st.cur.ovl_gen, 0);
    assert_int_equal(delta(F.delta23, F.delta23_len), 0);
    assert_true(F.st.cur.ovl_gen != 0);
    uint32_t ovl =
        st_dev(&F, (F.st.ovl_first + F.st.cur.ovl_half * F.st.ovl_half_sectors) * ST_SECTOR);
    /* four bytes written into the overlay, as the field did */
    for (int i = 0; i < 4; i++)
        F.emu.mem[ovl + 20 + i] ^= 0xFF;
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_true(F.st.flags & KS_STORE_F_FELL_BACK);
    assert_int_equal(F.st.hdr.version, 1);
    assert_false(ks_store_deny_all(&F.st));
    /* v1 -> v2: 0..3 removed, 10 revoked, 24..29 added; v2 -> v3: 4, 5,
     * 29 removed, 24 revoked, 30..33 added */
    const uint32_t changed[] = {0, 1, 2, 3, 4, 5, 10, 24, 29, 30, 33};
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
        assert_int_equal(check_key(changed[i]), KS_E_STALE_DENIED);
    const uint32_t same[] = {6, 7, 9, 11, 23};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_int_equal(check_key(same[i]), KS_OK);
    st_free(&F);
}

/* After a full install the store cannot name what changed: falling back
 * below it refuses every key. */
static void test_full_install_fallback(void **state)
{
    (void)state;
    st_fixture(&F);
    st_base(&F);
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    assert_int_equal(F.st.cur.area, 1);
    assert_int_equal(check_key(6), KS_OK);
    damage_area(1);
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_int_equal(F.st.hdr.version, 1);
    assert_true(ks_store_deny_all(&F.st));
    for (uint32_t k = 0; k < 34; k++)
        assert_int_equal(check_key(k), KS_E_STALE_DENIED);
    st_free(&F);
}

/*
 * Layout 2: a fold rewrites only the pages its change touches, so a page it
 * left alone belongs to the applied state and to the fallback. Damage there
 * leaves nothing good to fall back to: the mount reports KSE-301, applies
 * no snapshot and asks for a full download (as both areas damaged would in
 * layout 1), and the full install repairs. Layout 1: the two areas share
 * no sector, so the test only checks that.
 */
static void test_shared_page_damage(void **state)
{
    (void)state;
    static uint8_t snapx[KS_SNAP_HEADER_SIZE + ST_MAXREC * KS_RECORD_SIZE];
    static uint8_t dlx[KS_DELTA_PREFIX + 2 * ST_MAXREC * KS_RECORD_SIZE];
    ks_recsrc a, b;
    ks_snap_header h2;
    size_t dlx_len = 0;
    st_fixture(&F);
    st_base(&F);
    assert_int_equal(delta(F.delta, F.delta_len), 0);
    /* v2 plus key 30: a one-record change, so the fold rewrites one page */
    st_snap(&F, snapx, 3, 4, F.n2 + 1, 10);
    ks_recsrc_mem(&a, F.snap2 + KS_SNAP_HEADER_SIZE, F.n2);
    ks_recsrc_mem(&b, snapx + KS_SNAP_HEADER_SIZE, F.n2 + 1);
    assert_int_equal(ks_snap_header_decode(&h2, F.snap2, NULL), 0);
    assert_int_equal(ks_delta_write(&a, &h2, &b, snapx, dlx, sizeof dlx, &dlx_len), 0);
    assert_int_equal(delta(dlx, dlx_len), 0);
    const ks_store_commit *cur = &F.st.cur, *old = &F.st.last[cur->area ^ 1u];
    assert_true(old->valid);
    uint32_t shared = UINT32_MAX;
    for (uint32_t i = 0; i < cur->count && shared == UINT32_MAX; i++)
        for (uint32_t k = 0; k < old->count; k++)
            if (st_rec_addr(&F, cur, i) / ST_SECTOR == st_rec_addr(&F, old, k) / ST_SECTOR) {
                shared = st_rec_addr(&F, cur, i);
                break;
            }
    if (!F.st.paged) {
        assert_int_equal(shared, UINT32_MAX);
        st_free(&F);
        return;
    }
    assert_int_not_equal(shared, UINT32_MAX); /* the fold left a page of v2 untouched */
    F.emu.mem[shared + 40] ^= 0x5A;
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_false(F.st.cur.valid);
    assert_null(ks_store_header(&F.st));
    assert_true(F.st.flags & KS_STORE_F_NEED_FULL);
    assert_true(F.st.flags & KS_STORE_F_DAMAGED);
    for (uint32_t k = 0; k < 34; k++) {
        uint8_t id[KS_KEYID_SIZE], rec[KS_RECORD_SIZE];
        key_of(k, id);
        assert_int_not_equal(ks_store_lookup(&F.st, id, rec), KS_OK);
    }
    /* the full download repairs: every key answered, nothing refused */
    assert_int_equal(st_install(&F, snapx, F.n2 + 1), 0);
    assert_int_equal(st_mount(&F), KS_OK);
    assert_int_equal(F.st.hdr.version, 3);
    for (uint32_t k = 0; k < 34; k++)
        assert_int_equal(check_key(k), KS_OK);
    st_free(&F);
}

/* A lost COMMIT slot hides a newer state: the store runs on the previous
 * commit of that area without knowing it fell back; every key is refused
 * because what the lost slot held is unknown. */
static void test_lost_commit(void **state)
{
    (void)state;
    st_fixture(&F);
    st_base(&F);
    assert_int_equal(delta(F.delta, F.delta_len), 0);
    /* find the v2 COMMIT: the last valid slot of the log */
    assert_int_equal(st_mount(&F), KS_OK);
    uint32_t last = F.st.meta_head - 1;
    uint32_t a = slot_addr(last);
    /* damage its payload, not its header (the type stays readable) */
    F.emu.mem[a + 24 + 40] ^= 0x01;
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_true(F.st.flags & KS_STORE_F_META_DAMAGED);
    assert_int_equal(F.st.hdr.version, 1);
    assert_true(ks_store_deny_all(&F.st));
    assert_int_equal(check_key(6), KS_E_STALE_DENIED);
    /* compactions move the log away from the damaged slot: the store must
     * still know it may be behind (a firm deny-all, carried forward) */
    for (uint32_t i = 0; i < 60; i++) {
        ks_counter c;
        st_counter(&c, 1 + i % 4, 300 + i);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
    }
    assert_int_equal(st_mount(&F), KS_OK);
    assert_false(F.st.flags & KS_STORE_F_FELL_BACK);
    assert_true(ks_store_deny_all(&F.st));
    assert_int_equal(check_key(6), KS_E_STALE_DENIED);
    /* a delta from the supervisor (v1 -> v2 again) brings it up to date */
    assert_int_equal(delta(F.delta, F.delta_len), 0);
    assert_false(ks_store_deny_all(&F.st));
    assert_int_equal(check_key(6), KS_OK);
    st_free(&F);
}

/* Row 4: one byte in a superseded metadata slot. Mount reports it; the
 * full install that repairs it also clears it, so the store mounts and
 * checks clean afterwards (one download, not a loop), and a lost counter
 * record is no reason to refuse keys. */
static void test_superseded_slot_repair(void **state)
{
    (void)state;
    st_fixture(&F);
    st_base(&F);
    assert_int_equal(delta(F.delta, F.delta_len), 0);
    /* slot 3 of the block holds a counter row written by st_base, since
     * rewritten by the compaction-free log order: overwrite its payload */
    assert_int_equal(st_mount(&F), KS_OK);
    uint32_t a = 0;
    for (uint32_t s = 0; s < F.st.meta_head; s++) {
        uint32_t at = slot_addr(s);
        if (F.emu.mem[at + 2] == 5 /* COUNTER */) {
            a = at;
            break;
        }
    }
    assert_true(a != 0);
    F.emu.mem[a + 24 + 20] ^= 0x10;
    assert_int_equal(st_mount(&F), KS_E_STORE_CORRUPT);
    assert_true(F.st.flags & KS_STORE_F_META_DAMAGED);
    assert_true(F.st.flags & KS_STORE_F_NEED_FULL);
    assert_false(ks_store_deny_all(&F.st)); /* a counter record hides no change */
    assert_int_equal(check_key(6), KS_OK);
    ks_diag d;
    assert_int_equal(ks_store_check(&F.st, &d), KS_E_STORE_CORRUPT);

    /* the repair: one full install */
    assert_int_equal(st_install(&F, F.snap2, F.n2), 0);
    assert_false(F.st.flags & KS_STORE_F_META_DAMAGED);
    assert_int_equal(ks_store_check(&F.st, &d), KS_OK);
    assert_int_equal(st_mount(&F), KS_OK);
    assert_int_equal(ks_store_check(&F.st, &d), KS_OK);
    assert_false(F.st.flags & (KS_STORE_F_NEED_FULL | KS_STORE_F_DAMAGED));
    /* the damaged block was erased, not left as dead space */
    unsigned old = F.st.meta_block ^ 1u;
    for (uint32_t i = 0; i < ST_META * ST_SECTOR; i++)
        assert_int_equal(F.emu.mem[old * ST_META * ST_SECTOR + i], 0xFF);
    st_free(&F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_fallback),
        cmocka_unit_test(test_overlay_fallback),
        cmocka_unit_test(test_full_install_fallback),
        cmocka_unit_test(test_shared_page_damage),
        cmocka_unit_test(test_lost_commit),
        cmocka_unit_test(test_superseded_slot_repair),
        cmocka_unit_test(test_root_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
