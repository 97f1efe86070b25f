/*
 * test_store_powerloss.c - the littlefs-style power-loss runner.
 *
 * For each operation (install, delta apply with and without a tree,
 * counter update, settings, audit append across a sector boundary, audit
 * acknowledgement, metadata compaction, and the delta overlay: append in a
 * new epoch, append of a second segment, fold of a full overlay, install
 * over an overlay), and for each fault model (clean
 * cut, torn prog at the cut, unsynced progs landing out of order, both):
 * run the operation once to count its progs and erases (N), then for every
 * k in 0..N-1 restore the starting image, cut power after k of them,
 * power on, mount, and require: the mount reports no damage (a cut write
 * is not corruption), and the store answers exactly the old or exactly the
 * new state (digest of every lookup, counter, setting, trust and audit
 * entry). Then it must accept a further write and mount again. The total of
 * points exercised is printed.
 */
#include "store_util.h"

#define SEEDS 16

static st_fix F;
static unsigned long points_total;
static unsigned long pidx_total; /* lookups st_lookup compared (page fence index) */

typedef int (*op_fn)(st_fix *f);
typedef void (*prep_fn)(st_fix *f);

static ks_tree tree;
static uint8_t tree_nodes[1 << 12][32];

/* Overlay sweeps: the table size (0: no overlay), and whether a cut that
 * left the old state must be followed by a successful retry of the op
 * (the retry has to skip whatever the cut left past the committed end). */
static uint32_t ovl_cap;
static int retry;

static void prep_base(st_fix *f) { st_base(f); }

static void prep_meta_full(st_fix *f)
{
    ks_counter c;
    st_base(f);
    /* fill the active block so the next append compacts */
    for (uint32_t i = 0; f->st.meta_head < f->st.meta_slots; i++) {
        st_counter(&c, 1, 200 + i);
        assert_int_equal(ks_store_counter_put(&f->st, &c), 0);
    }
}

/* A metadata ring: compactions until the last block is in charge, then
 * full, so the next append compacts round the ring's end into block 0. */
static void prep_ring_wrap(st_fix *f)
{
    ks_counter c;
    st_base(f);
    for (uint32_t i = 0; f->st.meta_block != f->cfg.meta_blocks - 1 ||
                         f->st.meta_head < f->st.meta_slots; i++) {
        st_counter(&c, 1, 200 + i % 4);
        assert_int_equal(ks_store_counter_put(&f->st, &c), 0);
    }
}

static void prep_audit_edge(st_fix *f)
{
    uint8_t pl[KS_AUDIT_PAYLOAD];
    st_base(f);
    /* fill the ring to its last slot: the next append erases the oldest sector */
    for (uint32_t i = 4; !(f->st.audit_head_slot == f->st.audit_slots &&
                           f->st.audit_head_sector == ST_AUDIT - 1); i++) {
        st_payload(pl, i);
        assert_int_equal(ks_store_audit_append(&f->st, pl, NULL), 0);
    }
    /*
     * The sector about to be erased must hold only uploaded entries for the
     * append to be atomic: dropping unacknowledged entries on overflow is a
     * documented loss (docs/store.md), not a state the store can roll back.
     */
    assert_int_equal(ks_store_audit_ack(&f->st, f->st.audit_last - 2), 0);
}

static int op_install(st_fix *f) { return st_install(f, f->snap2, f->n2); }

static int op_delta(st_fix *f)
{
    return ks_store_apply_delta(&f->st, f->delta, f->delta_len, 0, NULL, NULL);
}

static int delta_tree(st_fix *f, const uint8_t *delta, size_t len)
{
    ks_snap_header h;
    ks_recsrc src;
    assert_int_equal(ks_snap_header_decode(&h, f->st.cur.header, NULL), 0);
    ks_store_records(&f->st, &src);
    assert_int_equal(ks_tree_build(&tree, &f->c, &src, h.bucket_bits, tree_nodes, 1 << 12), 0);
    int rc = ks_store_apply_delta(&f->st, delta, len, 0, &tree, NULL);
    /* the tree always describes what the RAM state says is applied */
    ks_store_records(&f->st, &src);
    uint8_t root[32];
    if (ks_merkle_root(&f->c, &src, h.bucket_bits, root) == 0)
        assert_memory_equal(root, ks_tree_root(&tree), 32);
    return rc;
}

static int op_delta_tree(st_fix *f) { return delta_tree(f, f->delta, f->delta_len); }

/* base + v2 in the overlay */
static void prep_ovl(st_fix *f)
{
    st_base(f);
    assert_int_equal(ks_store_apply_delta(&f->st, f->delta, f->delta_len, 0, NULL, NULL), 0);
    assert_true(f->st.cur.ovl_gen != 0);
}

static int op_delta23(st_fix *f)
{
    return ks_store_apply_delta(&f->st, f->delta23, f->delta23_len, 0, NULL, NULL);
}

static int op_delta23_tree(st_fix *f) { return delta_tree(f, f->delta23, f->delta23_len); }

static int op_install3(st_fix *f) { return st_install(f, f->snap3, f->n3); }

static int op_counter(st_fix *f)
{
    ks_counter c;
    st_counter(&c, 2, 777);
    c.locked_until = 123456;
    return ks_store_counter_put(&f->st, &c);
}

static int op_settings(st_fix *f) { return ks_store_settings_set(&f->st, "door=9", 6); }

static int op_audit(st_fix *f)
{
    uint8_t pl[KS_AUDIT_PAYLOAD];
    st_payload(pl, 4242);
    return ks_store_audit_append(&f->st, pl, NULL);
}

static int op_ack(st_fix *f) { return ks_store_audit_ack(&f->st, 2); }

static const char *mode_name(unsigned m)
{
    switch (m) {
    case 0: return "clean";
    case KS_EMU_TORN: return "torn";
    case KS_EMU_REORDER: return "out-of-order";
    default: return "torn+out-of-order";
    }
}

static void sweep(const char *name, prep_fn prep, op_fn op, unsigned mode, uint64_t seed)
{
    uint8_t *image;
    uint8_t d_old[32], d_new[32], d[32];
    unsigned long n_old = 0, n_new = 0;
    uint64_t ops0, n;

    st_fixture(&F);
    if (ovl_cap)
        st_overlay(&F, ovl_cap);
    image = malloc(F.emu.size);
    assert_non_null(image);
    prep(&F);
    memcpy(image, F.emu.mem, F.emu.size);
    assert_int_equal(st_mount(&F), 0);
    st_digest(&F, d_old);

    /* the uninterrupted run: counts the write points, gives the new state */
    ops0 = F.emu.ops;
    assert_int_equal(op(&F), 0);
    n = F.emu.ops - ops0;
    assert_int_equal(st_mount(&F), 0);
    st_digest(&F, d_new);
    assert_memory_not_equal(d_old, d_new, 32);

    for (uint64_t k = 0; k < n; k++) {
        memcpy(F.emu.mem, image, F.emu.size);
        assert_int_equal(st_mount(&F), 0);
        ks_flash_emu_cut(&F.emu, (long)k, mode, seed * 1000003 + k * 7919 + 1);
        int rc = op(&F);
        assert_true(rc == KS_E_IO || rc == 0);
        ks_flash_emu_power_on(&F.emu);
        ks_diag dg = {0, 0, NULL};
        int mrc = ks_store_mount(&F.st, &F.cfg, &dg);
        if (mrc != 0)
            fail_msg("%s/%s: cut after %lu of %lu writes: mount %d at %u (%s)", name,
                     mode_name(mode), (unsigned long)k, (unsigned long)n, mrc, dg.offset,
                     dg.what ? dg.what : "");
        st_digest(&F, d);
        /* A power cut never leaves the store refusing keys under the
         * fallback policy: whatever it holds is its newest commit (a list
         * record without its COMMIT is not a fallback). */
        for (uint32_t i = 0; i < F.nprobe; i++)
            if (ks_store_fallback_check(&F.st, F.probe[i]) != KS_OK)
                fail_msg("%s/%s: cut after %lu of %lu writes: fallback policy refuses key %u",
                         name, mode_name(mode), (unsigned long)k, (unsigned long)n, i);
        if (memcmp(d, d_old, 32) == 0) {
            n_old++;
            if (retry) { /* the op goes through after the cut, and lands */
                assert_int_equal(op(&F), 0);
                ks_diag rd = {0, 0, NULL};
                int rrc = ks_store_mount(&F.st, &F.cfg, &rd);
                if (rrc != 0)
                    fail_msg("%s/%s: cut after %lu, retried: mount %d at %u (%s)", name,
                             mode_name(mode), (unsigned long)k, rrc, rd.offset,
                             rd.what ? rd.what : "");
                st_digest(&F, d);
                assert_memory_equal(d, d_new, 32);
            }
        } else if (memcmp(d, d_new, 32) == 0)
            n_new++;
        else
            fail_msg("%s/%s: cut after %lu of %lu writes: neither old nor new state", name,
                     mode_name(mode), (unsigned long)k, (unsigned long)n);
        /* the store goes on working: a write and a remount */
        ks_counter c;
        st_counter(&c, 5, 31337);
        assert_int_equal(ks_store_counter_put(&F.st, &c), 0);
        assert_int_equal(st_mount(&F), 0);
        assert_int_equal(ks_store_counter_get(&F.st, 1, c.id, &c), 0);
        assert_int_equal(c.use_counter, 31337);
    }
    assert_int_equal(F.emu.violations, 0);
    /* on a paged store (layout 4 included, with its proof map) the page
     * fence index answered and agreed at every point (st_digest looks up
     * through st_lookup) */
    if (F.st.paged)
        assert_true(F.pidx_agreed > 0);
    pidx_total += F.pidx_agreed;
    if (seed == 0)
        printf("  %-16s %-18s %3lu power-loss points per seed (old state %lu, new state %lu)\n",
               name, mode_name(mode), (unsigned long)n, n_old, n_new);
    points_total += n;
    st_free(&F);
    free(image);
}

static void all_modes(const char *name, prep_fn prep, op_fn op)
{
    static const unsigned modes[] = {0, KS_EMU_TORN, KS_EMU_REORDER, KS_EMU_TORN | KS_EMU_REORDER};
    /* the random faults (tear position, which unsynced progs land) get
     * SEEDS different draws; the clean cut is deterministic */
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        for (uint64_t seed = 0; seed < (modes[i] ? SEEDS : 1); seed++)
            sweep(name, prep, op, modes[i], seed);
}

static void test_install(void **state) { (void)state; all_modes("install", prep_base, op_install); }
static void test_delta(void **state) { (void)state; all_modes("delta", prep_base, op_delta); }
static void test_delta_tree(void **state)
{
    (void)state;
    all_modes("delta+tree", prep_base, op_delta_tree);
}
static void test_counter(void **state) { (void)state; all_modes("counter", prep_base, op_counter); }
static void test_settings(void **state) { (void)state; all_modes("settings", prep_base, op_settings); }
static void test_audit(void **state) { (void)state; all_modes("audit", prep_base, op_audit); }
static void test_audit_wrap(void **state)
{
    (void)state;
    all_modes("audit-wrap", prep_audit_edge, op_audit);
}
static void test_ack(void **state) { (void)state; all_modes("audit-ack", prep_base, op_ack); }
/* The overlay: appending (a new epoch; a second segment), folding a full
 * overlay into the spare area, and an install replacing an overlay. */
static void ovl_modes(const char *name, uint32_t cap, prep_fn prep, op_fn op)
{
    ovl_cap = cap;
    retry = 1;
    all_modes(name, prep, op);
    ovl_cap = 0;
    retry = 0;
}
static void test_ovl_append(void **state)
{
    (void)state;
    ovl_modes("ovl-append", ST_OVL_CAP, prep_base, op_delta);
    ovl_modes("ovl-append+tree", ST_OVL_CAP, prep_base, op_delta_tree);
}
static void test_ovl_append2(void **state)
{
    (void)state;
    ovl_modes("ovl-append2", ST_OVL_CAP, prep_ovl, op_delta23);
    ovl_modes("ovl-append2+tree", ST_OVL_CAP, prep_ovl, op_delta23_tree);
}
static void test_ovl_fold(void **state)
{
    (void)state;
    ovl_modes("ovl-fold", 12, prep_ovl, op_delta23);
    ovl_modes("ovl-fold+tree", 12, prep_ovl, op_delta23_tree);
}
static void test_ovl_install(void **state)
{
    (void)state;
    ovl_modes("ovl-install", ST_OVL_CAP, prep_ovl, op_install3);
}
static void test_gc(void **state) { (void)state; all_modes("gc(compact)", prep_meta_full, op_counter); }
static void test_gc_wrap(void **state)
{
    (void)state;
    all_modes("gc(compact round the ring)", prep_ring_wrap, op_counter);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install),  cmocka_unit_test(test_delta),
        cmocka_unit_test(test_delta_tree), cmocka_unit_test(test_counter),
        cmocka_unit_test(test_settings), cmocka_unit_test(test_audit),
        cmocka_unit_test(test_audit_wrap), cmocka_unit_test(test_ack),
        cmocka_unit_test(test_gc), cmocka_unit_test(test_gc_wrap),
        cmocka_unit_test(test_ovl_append), cmocka_unit_test(test_ovl_append2),
        cmocka_unit_test(test_ovl_fold), cmocka_unit_test(test_ovl_install),
    };
    int rc = cmocka_run_group_tests_name("store power loss", tests, NULL, NULL);
    printf("store power loss: %lu power-loss points exercised in total, %lu lookups through "
           "the page fence index agreeing with the map path\n", points_total, pidx_total);
    return rc;
}
