/*
 * test_store_life.c - accelerated life of a paged store (layout 3, overlay
 * on) on a flash that wears out (st_wearflash, tests/store_util.h).
 *
 * Phase 1, life within the spare: every sector has a finite endurance and a
 * seeded PRNG picks pool sectors that die early, loudly (erase/prog fail)
 * or silently (a prog keeps a wrong bit). Thousands of deltas of mixed
 * sizes (small ones that append to the overlay, medium and large ones that
 * fold, now and then a full install), with power cuts sprinkled in (torn
 * and out-of-order writes, then a remount from the image). The store must
 * take every delta (a dying pool sector is retired and its page written
 * elsewhere), answer every lookup as the reference model says, prove its
 * Merkle root (ks_store_check), count its retired sectors right, and keep
 * the erase spread and the write amplification inside the bounds stated
 * here and in docs/store.md ("Wear", "Accelerated life").
 *
 * Phase 2, past the end of life: every sector is given a few erases more,
 * and deltas and installs go on until the store refuses them all. Every
 * refusal is clean (KS_E_IO, KSE-301, KS_E_NOSPC), the applied state is the
 * one before, and no lookup ever answers wrong: right, or refused.
 *
 * KEYSUP_LONG=1 runs 20,000 deltas instead of 2,500 (docs/store.md).
 */
#include <stdlib.h>

#include "ks_wear.h"
#include "store_util.h"

/* Geometry: 1 KiB sectors (7 records a page), 256 key slots of which 96..224
 * are present, a pool of 94 pages (the database takes 20..35 of them; the
 * maps hold the pool's erase counts too, layout 3). */
#define LK 256u
#define L_OVL 6u
#define L_OVL_CAP 24u
#define L_REST 100u /* two 2-sector page maps and 96 pool sectors */
/* Layout 4 formats a metadata ring of L_RING blocks (docs/store.md, "The
 * metadata ring"), on a device larger by the blocks it adds, so the pool
 * is the same 96 sectors; the other layouts keep two blocks. */
#define L_RING 4u
#define L_SECTORS (L_RING * ST_META + ST_AUDIT + L_OVL + L_REST)
#define L_INDEX 16u
#define L_HIST 64u

/* Bounds (docs/store.md, "Accelerated life"), measured on today's store at
 * this size with margin. The pool is levelled next-fit: its max/mean stays
 * near 1 (issue 18's goal 1.5). The device-wide spread is set by the fixed
 * regions (overlay halves, page maps, metadata) that nothing levels yet:
 * the goal is 1.5 as well; a device-wide leveller (in progress elsewhere)
 * should tighten L_DEV_SPREAD to it. */
#define L_POOL_SPREAD 1.5 /* measured 1.05 */
#define L_DEV_SPREAD 3.5 /* measured 2.45 */
#define L_WRITE_AMP 8.0  /* measured 6.55 */
/* Layout 4 (KS_STORE_TEST_LAYOUT=4): the overlay and the maps are pool
 * sectors too, and the metadata a ring of four blocks, so the device's
 * spread is the pool's (it was 2.05 with the metadata pair, then the most
 * erased). */
#define L_DEV_SPREAD4 1.25 /* measured 1.11 (the pool's 1.07 plus the retired) */

static st_fix F;
static st_wearflash W;
static uint8_t smap[KS_STORE_SECTOR_MAP_BYTES(L_SECTORS)];
static uint32_t lcounts[L_SECTORS]; /* layout 3: one erase count per sector */
static uint32_t lvmap[KS_STORE_VMAP_LEN(L_SECTORS, ST_SECTOR, L_OVL)]; /* layout 4 */
static uint8_t lindex[L_INDEX][KS_KEYID_SIZE];
static ks_ovl_ent lovl[L_OVL_CAP];

/* Every key's record, plain and revoked, and the key order of the slots. */
static uint8_t rec_ok[LK][KS_RECORD_SIZE], rec_rev[LK][KS_RECORD_SIZE];
static uint32_t order[LK];

/* The reference model: which keys a version holds, which are revoked. */
typedef struct model {
    uint64_t have[LK / 64], rev[LK / 64];
    uint64_t version;
} model;
static model hist[L_HIST]; /* hist[v % L_HIST] is version v while it is recent */
static uint64_t top;       /* the highest version made */

static int bit(const uint64_t *b, uint32_t i)
{
    return (int)(b[i / 64] >> (i % 64) & 1);
}

static void flip(uint64_t *b, uint32_t i)
{
    b[i / 64] ^= 1ull << (i % 64);
}

static uint32_t count(const model *m)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < LK / 64; i++)
        n += (uint32_t)__builtin_popcountll(m->have[i]);
    return n;
}

static int cmp_slot(const void *a, const void *b)
{
    return memcmp(rec_ok[*(const uint32_t *)a], rec_ok[*(const uint32_t *)b], KS_KEYID_SIZE);
}

static void keys_init(void)
{
    for (uint32_t i = 0; i < LK; i++) {
        ks_record r;
        kt_record(&F.c, 1000 + i, rec_ok[i]);
        assert_int_equal(ks_record_decode(&r, rec_ok[i], NULL), 0);
        r.state = KS_STATE_REVOKED;
        ks_record_encode(&r, rec_rev[i]);
        order[i] = i;
    }
    qsort(order, LK, sizeof order[0], cmp_slot);
}

static uint8_t snap_a[KS_SNAP_HEADER_SIZE + LK * KS_RECORD_SIZE];
static uint8_t snap_b[KS_SNAP_HEADER_SIZE + LK * KS_RECORD_SIZE];
static uint8_t dbuf[KS_DELTA_PREFIX + 2 * LK * KS_RECORD_SIZE];

/* The signed snapshot of m (header + sorted records); its record count. */
static uint32_t build(const model *m, uint8_t *out)
{
    uint8_t *recs = out + KS_SNAP_HEADER_SIZE;
    ks_snap_header h;
    uint32_t n = 0;
    for (uint32_t j = 0; j < LK; j++) {
        uint32_t i = order[j];
        if (bit(m->have, i))
            memcpy(recs + (size_t)n++ * KS_RECORD_SIZE, bit(m->rev, i) ? rec_rev[i] : rec_ok[i],
                   KS_RECORD_SIZE);
    }
    memset(&h, 0, sizeof h);
    h.version = m->version;
    h.created_at = 1700000000u + m->version * 8640u; /* ten deltas a day */
    assert_int_equal(ks_snapshot_write(&F.c, &h, recs, n, F.sk, out,
                                       KS_SNAP_HEADER_SIZE + (size_t)n * KS_RECORD_SIZE), 0);
    return n;
}

/* A new version from m with k changes: add, remove, revoke or reinstate. */
static void step(model *m, unsigned k)
{
    for (unsigned c = 0; c < k; c++) {
        uint32_t i = (uint32_t)rand() % LK, n = count(m);
        if (bit(m->have, i) && rand() % 3 == 0)
            flip(m->rev, i);
        else if (!bit(m->have, i) && n < 224)
            flip(m->have, i);
        else if (bit(m->have, i) && n > 96)
            flip(m->have, i);
    }
    m->version = ++top;
}

static const model *held(void)
{
    const ks_snap_header *h = ks_store_header(&F.st);
    assert_non_null(h);
    const model *m = &hist[h->version % L_HIST];
    assert_true(m->version == h->version); /* a version the test made, and recent */
    return m;
}

/*
 * Every key answers as the applied version says. strict: no refusal
 * either (phase 1); otherwise a refusal as damage is allowed (phase 2),
 * a wrong answer never. Returns the refusals.
 */
static unsigned answers(int strict, uint32_t stride)
{
    const model *m = held();
    unsigned refused = 0;
    for (uint32_t i = (uint32_t)rand() % stride; i < LK; i += stride) {
        uint8_t rec[KS_RECORD_SIZE];
        int rc = st_lookup(&F, rec_ok[i], rec);
        if (!strict && (rc == KS_E_STORE_CORRUPT || rc == KS_E_IO)) {
            refused++;
            continue;
        }
        if (!bit(m->have, i)) {
            assert_int_equal(rc, KS_E_NOTFOUND);
            continue;
        }
        assert_int_equal(rc, KS_OK);
        assert_memory_equal(rec, bit(m->rev, i) ? rec_rev[i] : rec_ok[i], KS_RECORD_SIZE);
    }
    return refused;
}

/* Takes the store from the version it holds to next: a delta, or an install. */
static int update(const model *next, int install)
{
    const model *from = held();
    uint32_t nb = build(next, snap_b);
    ks_recsrc a, b;
    if (install) {
        ks_recsrc_mem(&b, snap_b + KS_SNAP_HEADER_SIZE, nb);
        return ks_store_install(&F.st, snap_b, &b, 0, NULL);
    }
    uint32_t na = build(from, snap_a);
    ks_snap_header h;
    size_t need;
    ks_recsrc_mem(&a, snap_a + KS_SNAP_HEADER_SIZE, na);
    ks_recsrc_mem(&b, snap_b + KS_SNAP_HEADER_SIZE, nb);
    assert_int_equal(ks_snap_header_decode(&h, snap_a, NULL), 0);
    assert_int_equal(ks_delta_write(&a, &h, &b, snap_b, dbuf, sizeof dbuf, &need), 0);
    return ks_store_apply_delta(&F.st, dbuf, need, 0, NULL, NULL);
}

/* Changes in the next delta: mostly small (overlay appends), some medium,
 * now and then a large one (a fold whatever the overlay holds). */
static unsigned delta_size(void)
{
    unsigned r = (unsigned)rand() % 100;
    if (r < 70)
        return 1 + (unsigned)rand() % 4;
    if (r < 95)
        return 5 + (unsigned)rand() % 20;
    return 40 + (unsigned)rand() % 80;
}

static uint32_t l_sectors; /* the device: L_SECTORS, less the ring's blocks off layout 4 */

static void setup_store(uint32_t endurance)
{
    const char *lay = getenv("KS_STORE_TEST_LAYOUT");
    int lev = lay && strcmp(lay, "4") == 0;
    st_fixture(&F);
    ks_flash_emu_close(&F.emu);
    l_sectors = L_SECTORS - (lev ? 0 : (L_RING - 2) * ST_META);
    assert_int_equal(ks_flash_emu_init(&F.emu, ST_SECTOR, l_sectors, ST_PROG, 0xFF), 0);
    st_wf_init(&W, &F.emu, endurance);
    F.cfg.flash = &W.flash;
    F.cfg.sector_map = smap;
    F.cfg.erase_counts = lcounts;
    F.cfg.index = lindex;
    F.cfg.index_cap = L_INDEX;
    F.cfg.overlay_sectors = L_OVL;
    F.cfg.overlay = lovl;
    F.cfg.overlay_cap = L_OVL_CAP;
    F.cfg.meta_blocks = 2;
    if (lev) { /* the whole device levelled, the metadata a ring */
        F.cfg.vmap = lvmap;
        F.cfg.vmap_cap = sizeof lvmap / sizeof lvmap[0];
        F.cfg.meta_blocks = L_RING;
    }
    keys_init();
    assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), 0);
    assert_true(F.st.paged);
    /* layout 3: the maps also hold the pool's erase-count table */
    assert_true(F.st.counted);
    if (F.cfg.vmap) { /* layout 4: every sector after the audit ring */
        assert_true(F.st.levelled);
        assert_int_equal(F.st.pool_sectors, L_SECTORS - L_RING * ST_META - ST_AUDIT);
    } else {
        assert_int_equal(F.st.pool_sectors, 94);
    }
    /* Pool sectors picked to die early (1 in 10): between a tenth and half
     * of the endurance, half of them silently. */
    for (uint32_t s = 0; s < F.st.pool_sectors; s++)
        if (rand() % 10 == 0) {
            W.life[F.st.pool_first + s] = endurance / 10 + (uint32_t)rand() % (endurance * 2 / 5);
            W.how[F.st.pool_first + s] = rand() % 2 ? KS_EMU_WORN_LOUD : KS_EMU_WORN_SILENT;
        }
    memset(hist, 0, sizeof hist);
    top = 0;
    model *m = &hist[1];
    for (uint32_t i = 0; i < 160; i++)
        flip(m->have, (uint32_t)rand() % LK);
    m->version = top = 1;
    uint32_t n = build(m, snap_b);
    ks_recsrc b;
    ks_recsrc_mem(&b, snap_b + KS_SNAP_HEADER_SIZE, n);
    assert_int_equal(ks_store_install(&F.st, snap_b, &b, 0, NULL), 0);
}

/* No record of the applied snapshot lies in a worn sector, and every
 * retired sector is a worn pool sector, listed once. */
static void retired_right(void)
{
    for (uint32_t i = 0; i < F.st.cur.count; i++) {
        uint32_t s = st_rec_addr(&F, &F.st.cur, i) / ST_SECTOR;
        assert_int_equal(F.emu.worn[s], 0);
    }
    for (uint32_t i = 0; i < F.st.retired_n; i++) {
        assert_true(F.st.retired[i] < F.st.pool_sectors);
        assert_int_not_equal(F.emu.worn[F.st.pool_first + F.st.retired[i]], 0);
        for (uint32_t j = 0; j < i; j++)
            assert_int_not_equal(F.st.retired[i], F.st.retired[j]);
    }
}

static void test_life(void **state)
{
    (void)state;
    const int lng = getenv("KEYSUP_LONG") != NULL;
    const unsigned deltas = lng ? 20000 : 2500;
    const uint32_t endurance = lng ? 3000 : 400;
    unsigned cuts = 0, folds_or_installs = 0;
    srand(1118);
    setup_store(endurance);

    /* ----- phase 1: life within the spare ----- */
    for (unsigned i = 0; i < deltas; i++) {
        model next = *held();
        uint64_t from = next.version;
        int install = rand() % 150 == 0;
        step(&next, delta_size());
        hist[next.version % L_HIST] = next;
        int cut = rand() % 25 == 0;
        if (cut)
            ks_flash_emu_cut(&F.emu, 1 + rand() % 40,
                             KS_EMU_TORN | (rand() % 2 ? KS_EMU_REORDER : 0), (uint64_t)i + 1);
        uint32_t gen = (uint32_t)F.st.cur.gen;
        int rc = update(&next, install);
        if (cut) {
            int was_cut = !F.emu.powered;
            ks_flash_emu_power_on(&F.emu);
            if (was_cut) {
                cuts++;
                assert_int_equal(st_mount(&F), 0);
            } else {
                assert_int_equal(rc, KS_OK);
            }
            /* the old or the new version, or (a cut COMMIT) the fallback */
            uint64_t v = ks_store_header(&F.st)->version;
            assert_true(v == next.version || v <= from);
        } else {
            assert_int_equal(rc, KS_OK); /* within the spare: every delta goes in */
            assert_int_equal(ks_store_header(&F.st)->version, next.version);
        }
        if ((uint32_t)F.st.cur.gen != gen)
            folds_or_installs++;
        answers(1, i % 50 == 0 ? 1 : 17);
        if (i % 500 == 499) {
            ks_diag d = {0, 0, NULL};
            assert_int_equal(ks_store_check(&F.st, &d), KS_OK); /* root proven from flash */
        }
    }
    answers(1, 1);
    ks_diag d = {0, 0, NULL};
    assert_int_equal(ks_store_check(&F.st, &d), KS_OK);
    retired_right();

    /* Erase spread: the pool's (real counts), the device's (real, and as
     * the store reports it), and the write amplification. */
    ks_wear_report r;
    ks_wear_report_get(&F.st, 0, &r);
    uint64_t pool_sum = 0, dev_sum = 0;
    uint32_t pool_max = 0, dev_max = 0, worn_pool = 0;
    for (uint32_t s = 0; s < l_sectors; s++) {
        dev_sum += W.erases[s];
        dev_max = W.erases[s] > dev_max ? W.erases[s] : dev_max;
        if (s >= F.st.pool_first) {
            pool_sum += W.erases[s];
            pool_max = W.erases[s] > pool_max ? W.erases[s] : pool_max;
            worn_pool += F.emu.worn[s] != 0;
        }
    }
    double pool_mean = (double)pool_sum / F.st.pool_sectors, dev_mean = (double)dev_sum / l_sectors;
    print_message("life: %u deltas (%u folds or installs, %u power cuts), endurance %u; "
                  "pool erase max %u mean %.1f (max/mean %.2f); device max %u mean %.1f "
                  "(%.2f), reported max %u mean %.1f (%.2f); write amp %.2f; "
                  "retired %u (listed %u, worn pool sectors %u); projected life %.0f deltas\n",
                  deltas, folds_or_installs, cuts, endurance, pool_max, pool_mean,
                  pool_max / pool_mean, dev_max, dev_mean, dev_max / dev_mean, r.erase_max,
                  r.erase_mean, r.erase_max / r.erase_mean, r.write_amp, r.retired,
                  F.st.retired_n, worn_pool, r.life_commits);
    assert_true(cuts > 0);
    assert_true(worn_pool > 0 && F.st.retired_n > 0); /* early deaths happened, were retired */
    assert_true(r.retired >= F.st.retired_n);           /* a retirement a cut lost counts again */
    /* Every pool sector that died was met by an erase of the store, which
     * retired it; only a retirement a power cut kept from its COMMIT is
     * forgotten until the sector fails again (not so in this seeded run). */
    assert_int_equal(F.st.retired_n, worn_pool);
    assert_true(pool_max / pool_mean <= L_POOL_SPREAD);
    /* the report's max is the flash's within the erases a power cut keeps
     * from being recorded (docs/store.md, "Wear": they under-report) */
    assert_true(r.erase_max <= dev_max + 1 && r.erase_max + dev_max / 20 >= dev_max);
    assert_true(r.erase_max / r.erase_mean <= (F.st.levelled ? L_DEV_SPREAD4 : L_DEV_SPREAD));
    assert_true(r.write_amp > 1.0 && r.write_amp <= L_WRITE_AMP);
    assert_true(r.endurance == endurance && r.life_commits > 0);
    assert_int_equal(F.emu.violations, 0);

    /* ----- phase 2: past the end of life ----- */
    for (uint32_t s = 0; s < l_sectors; s++)
        if (!F.emu.worn[s])
            W.life[s] = W.erases[s] + 1 + (uint32_t)rand() % 12;
    unsigned refused_in_row = 0, refusals = 0, i;
    for (i = 0; refused_in_row < 8 && i < 5000; i++) {
        model next = *held();
        uint64_t from = next.version;
        step(&next, delta_size());
        hist[next.version % L_HIST] = next;
        /* after a refusal, the full download the supervisor would send */
        int rc = update(&next, refused_in_row > 0);
        uint64_t v = ks_store_header(&F.st)->version;
        if (rc == KS_OK) {
            assert_int_equal(v, next.version);
            refused_in_row = 0;
        } else {
            assert_true(rc == KS_E_IO || rc == KS_E_STORE_CORRUPT || rc == KS_E_NOSPC);
            assert_true(v == from); /* refused clean: the state before */
            refused_in_row++;
            refusals++;
        }
        answers(0, 1);
    }
    assert_int_equal(refused_in_row, 8); /* it did wear out */
    /* a reboot of the dead device: it mounts (degraded) and answers right
     * or refuses, or refuses to mount at all */
    int mrc = st_mount(&F);
    assert_true(mrc == KS_OK || mrc == KS_E_STORE_CORRUPT || mrc == KS_E_IO);
    unsigned after = 0;
    if (mrc == KS_OK && ks_store_header(&F.st))
        after = answers(0, 1);
    print_message("past end of life: %u updates, %u refused; then mount %d, %u of %u lookups "
                  "refused\n", i, refusals, mrc, after, LK);
    st_wf_free(&W);
    st_free(&F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_life),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
