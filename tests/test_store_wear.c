/*
 * test_store_wear.c - the store's wear accounting (ks_store_wear.c): the
 * per-region counts are exact against a flash that counts every sector's
 * erases itself (so "first sector = most erased, last = least" holds), they
 * survive a remount as of the last WEAR or END record and never
 * over-count erases after a power cut, and the report (ks_wear.c) derives
 * min/mean/max, write amplification and projected life from them.
 * Hundreds of random deltas of mixed sizes over a small database, with
 * overlay appends, folds and metadata compactions; KEYSUP_LONG=1 runs
 * thousands.
 */
#include <stdlib.h>

#include "ks_wear.h"
#include "store_util.h"

static st_fix F;

/* A flash that passes every call to the emulator and counts per sector. */
typedef struct counting {
    ks_flash_emu *emu;
    uint32_t erases[ST_SECTORS + ST_OVL];
    uint64_t prog_bytes;
} counting;
static counting C;
static ks_flash CF;

static int c_read(void *ctx, uint32_t s, uint32_t off, void *buf, uint32_t len)
{
    counting *c = ctx;
    return c->emu->flash.read(c->emu->flash.ctx, s, off, buf, len);
}

static int c_prog(void *ctx, uint32_t s, uint32_t off, const void *buf, uint32_t len)
{
    counting *c = ctx;
    c->prog_bytes += len;
    return c->emu->flash.prog(c->emu->flash.ctx, s, off, buf, len);
}

static int c_erase(void *ctx, uint32_t s)
{
    counting *c = ctx;
    c->erases[s]++;
    return c->emu->flash.erase(c->emu->flash.ctx, s);
}

static int c_sync(void *ctx)
{
    counting *c = ctx;
    return c->emu->flash.sync(c->emu->flash.ctx);
}

static void use_counting_flash(void)
{
    memset(&C, 0, sizeof C);
    C.emu = &F.emu;
    CF = F.emu.flash;
    CF.ctx = &C;
    CF.read = c_read;
    CF.prog = c_prog;
    CF.erase = c_erase;
    CF.sync = c_sync;
    CF.map = NULL;
    CF.endurance = 50000;
    F.cfg.flash = &CF;
}

/* Every region's counts agree with what the flash saw, sector by sector. */
static void counts_exact(const ks_store *st)
{
    const ks_store_wear *w = &st->wear;
    uint32_t first = 0;
    for (unsigned r = 0; r < KS_WEAR_REGIONS; r++) {
        uint32_t n = ks_store_wear_sectors(st, r), sum = 0, mx = 0, mn = UINT32_MAX;
        if (r == 3)
            first = st->ovl_first;
        else if (r == 5)
            first = st->area_first[0];
        else if (r == 6)
            first = st->area_first[1];
        else if (r == 7)
            first = st->pool_first;
        for (uint32_t s = first; s < first + n; s++) {
            sum += C.erases[s];
            if (C.erases[s] > mx)
                mx = C.erases[s];
            if (C.erases[s] < mn)
                mn = C.erases[s];
        }
        if (!n)
            continue;
        if (w->erases[r] != sum)
            fail_msg("region %u: the store counts %u erases, the flash %u", r, w->erases[r], sum);
        if (r == 7 && st->counted) { /* layout 3: every pool sector's own count */
            for (uint32_t s = 0; s < n; s++)
                assert_int_equal(st->cfg.erase_counts[s], C.erases[first + s]);
            assert_int_equal(w->first[r], mx);
            assert_true(w->last[r] <= mn); /* the least: as of the last record */
            first += n;
            continue;
        }
        if (r == 7) { /* the page pool (layout 2): bounds, by the allocator's laps */
            assert_true(w->first[r] >= mx);
            assert_true(w->last[r] <= mn);
            first += n;
            continue;
        }
        assert_int_equal(w->first[r], mx);      /* front to back: the first is the most */
        assert_int_equal(w->last[r], mn);       /* and the last the least */
        if (r != 2) { /* the audit ring goes round from its head */
            assert_int_equal(w->first[r], C.erases[first]);
            assert_int_equal(w->last[r], C.erases[first + n - 1]);
        }
        first += n;
    }
    assert_int_equal(w->prog_bytes, C.prog_bytes);
}

/* A random database of keys 0..47: present or not, revoked or not. */
typedef struct db {
    uint64_t have, revoked, version;
    uint32_t n;
    uint8_t snap[KS_SNAP_HEADER_SIZE + 48 * KS_RECORD_SIZE];
} db;

static void db_build(db *d)
{
    uint8_t *recs = d->snap + KS_SNAP_HEADER_SIZE;
    ks_snap_header h;
    d->n = 0;
    for (uint32_t i = 0; i < 48; i++) {
        if (!(d->have >> i & 1))
            continue;
        kt_record(&F.c, i, recs + d->n * KS_RECORD_SIZE);
        if (d->revoked >> i & 1) {
            ks_record r;
            assert_int_equal(ks_record_decode(&r, recs + d->n * KS_RECORD_SIZE, NULL), 0);
            r.state = KS_STATE_REVOKED;
            ks_record_encode(&r, recs + d->n * KS_RECORD_SIZE);
        }
        d->n++;
    }
    qsort(recs, d->n, KS_RECORD_SIZE, kt_cmp_rec);
    memset(&h, 0, sizeof h);
    h.version = d->version;
    h.created_at = 1700000000u + d->version * 3600u; /* a delta an hour */
    assert_int_equal(ks_snapshot_write(&F.c, &h, recs, d->n, F.sk, d->snap,
                                       KS_SNAP_HEADER_SIZE + (size_t)d->n * KS_RECORD_SIZE), 0);
}

/* The next version: 1..max changes, 10..30 keys. */
static void db_step(db *d, unsigned max)
{
    unsigned k = 1 + (unsigned)rand() % max;
    for (unsigned i = 0; i < k; i++) {
        unsigned key = (unsigned)rand() % 48;
        unsigned n = (unsigned)__builtin_popcountll(d->have);
        if (rand() % 3 == 0 && (d->have >> key & 1))
            d->revoked ^= 1ull << key;
        else if (!(d->have >> key & 1) && n < 30)
            d->have |= 1ull << key;
        else if ((d->have >> key & 1) && n > 10)
            d->have &= ~(1ull << key);
    }
    d->version++;
    db_build(d);
}

static uint8_t dbuf[KS_DELTA_PREFIX + 96 * KS_RECORD_SIZE];

static void apply(const db *from, const db *to)
{
    ks_recsrc a, b;
    ks_snap_header h;
    ks_diag d = {0, 0, NULL};
    size_t need;
    ks_recsrc_mem(&a, from->snap + KS_SNAP_HEADER_SIZE, from->n);
    ks_recsrc_mem(&b, to->snap + KS_SNAP_HEADER_SIZE, to->n);
    assert_int_equal(ks_snap_header_decode(&h, from->snap, NULL), 0);
    assert_int_equal(ks_delta_write(&a, &h, &b, to->snap, dbuf, sizeof dbuf, &need), 0);
    assert_int_equal(ks_store_apply_delta(&F.st, dbuf, need, 0, NULL, &d), 0);
}

static void answers(const db *d)
{
    for (uint32_t i = 0; i < 48; i += 3) {
        uint8_t rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
        kt_record(&F.c, i, want);
        int rc = ks_store_lookup(&F.st, want, rec);
        assert_int_equal(rc, (d->have >> i & 1) ? KS_OK : KS_E_NOTFOUND);
    }
}

static void test_counts_exact_and_persisted(void **state)
{
    (void)state;
    static db cur, next;
    unsigned rounds = getenv("KEYSUP_LONG") ? 5000 : 400;
    srand(18);
    st_fixture(&F);
    st_overlay(&F, ST_OVL_CAP);
    use_counting_flash();
    assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), 0);
    counts_exact(&F.st);
    memset(&cur, 0, sizeof cur);
    cur.have = 0xFFFFF; /* keys 0..19 */
    cur.version = 1;
    db_build(&cur);
    assert_int_equal(st_install(&F, cur.snap, cur.n), 0);
    counts_exact(&F.st);
    assert_int_equal(F.st.wear.commits, 1);
    assert_int_equal(F.st.wear.change_bytes, (uint64_t)cur.n * KS_RECORD_SIZE);

    uint64_t change = F.st.wear.change_bytes;
    for (unsigned i = 0; i < rounds; i++) {
        next = cur;
        db_step(&next, i % 7 == 0 ? 12 : 3); /* mixed sizes: some fold at once */
        apply(&cur, &next);
        cur = next;
        for (unsigned j = (unsigned)rand() % 12; j > 0; j--) { /* the audit ring turns too */
            uint8_t pl[KS_AUDIT_PAYLOAD];
            st_payload(pl, i * 16 + j);
            assert_int_equal(ks_store_audit_append(&F.st, pl, NULL), 0);
        }
        counts_exact(&F.st);
        assert_true(F.st.wear.change_bytes >= change);
        change = F.st.wear.change_bytes;
        if (i % 50 == 49) {
            /* A remount gives back the counts as of the last record: never
             * more than the flash saw, and the flash's own count is kept. */
            ks_store_wear before = F.st.wear;
            static uint32_t counts[64];
            memcpy(counts, F.erase_counts, sizeof counts);
            assert_int_equal(st_mount(&F), 0);
            for (unsigned r = 0; r < KS_WEAR_REGIONS; r++)
                assert_true(F.st.wear.erases[r] <= before.erases[r]);
            /* Layout 4: the erases of overlay and root sectors since the
             * last fold ride in the applied root (its count list), so a
             * remount mid-epoch gives back every pool sector's count as
             * the flash has it (no write was cut here). */
            if (F.st.levelled)
                for (uint32_t s = 0; s < F.st.pool_sectors; s++)
                    if (F.erase_counts[s] != C.erases[F.st.pool_first + s])
                        fail_msg("pool sector %u after a remount: the store says %u erases, "
                                 "the flash %u (before the remount %u)",
                                 s, F.erase_counts[s], C.erases[F.st.pool_first + s], counts[s]);
            assert_true(F.st.wear.prog_bytes <= before.prog_bytes);
            F.st.wear = before; /* carry on comparing with the device's counts */
            answers(&cur);
        }
    }
    assert_int_equal(F.st.wear.commits, rounds + 1);
    /* After an install (WEAR before its COMMIT) a remount is exact. */
    next = cur;
    next.version++;
    db_build(&next);
    assert_int_equal(st_install(&F, next.snap, next.n), 0);
    ks_store_wear before = F.st.wear;
    assert_int_equal(st_mount(&F), 0);
    /* erases and change exact; the bytes of the slots after WEAR (the
     * changed-keys record and the COMMIT) come with the next record */
    assert_memory_equal(F.st.wear.erases, before.erases, sizeof before.erases);
    assert_memory_equal(F.st.wear.first, before.first, sizeof before.first);
    assert_memory_equal(F.st.wear.last, before.last, sizeof before.last);
    assert_int_equal(F.st.wear.change_bytes, before.change_bytes);
    assert_int_equal(F.st.wear.commits, before.commits);
    assert_true(F.st.wear.prog_bytes <= before.prog_bytes &&
                F.st.wear.prog_bytes + 4 * 256 >= before.prog_bytes);
    F.st.wear = before;
    answers(&next);

    /* The report over these counts. */
    ks_wear_report w;
    ks_wear_report_get(&F.st, 0, &w);
    assert_int_equal(w.endurance, 50000); /* from the flash HAL */
    assert_int_equal(w.sectors, ST_SECTORS + ST_OVL);
    uint32_t mx = 0, mn = UINT32_MAX;
    uint64_t sum = 0;
    for (uint32_t s = 0; s < ST_SECTORS + ST_OVL; s++) {
        mx = C.erases[s] > mx ? C.erases[s] : mx;
        mn = C.erases[s] < mn ? C.erases[s] : mn;
        sum += C.erases[s];
    }
    if (F.st.counted) { /* layout 3: the pool's own counts; its least as of WEAR */
        assert_int_equal(w.erase_max, mx);
        assert_true(w.erase_min <= mn);
    } else if (F.st.paged) { /* the pool's counts are bounds (ks_store_wear.c) */
        assert_true(w.erase_max >= mx);
        assert_true(w.erase_min <= mn);
    } else {
        assert_int_equal(w.erase_max, mx);
        assert_int_equal(w.erase_min, mn);
    }
    assert_true(w.erase_mean > (double)sum / w.sectors - 1e-9 &&
                w.erase_mean < (double)sum / w.sectors + 1e-9);
    assert_true(w.write_amp > 1.0);
    assert_int_equal(w.commits, rounds + 2);
    /* one delta an hour: 24 a day */
    assert_true(w.rate_per_day > 23.5 && w.rate_per_day < 24.5);
    double life = (double)(50000 - mx) * w.commits / mx;
    assert_true(w.life_commits > life - 1e-6 && w.life_commits < life + 1e-6);
    assert_true(w.life_days > life / 24.5 && w.life_days < life / 23.5);
    assert_true(ks_wear_life_days(&w, 1440) < ks_wear_life_days(&w, 10));
    ks_wear_report_get(&F.st, 100, &w); /* an explicit endurance wins; worn out: 0 left */
    assert_int_equal(w.endurance, 100);
    if (mx >= 100)
        assert_true(w.life_commits == 0);
    print_message("wear after %u deltas: erase min %u mean %.1f max %u, write amp %.1f\n",
                  rounds, mn, (double)sum / (ST_SECTORS + ST_OVL), mx,
                  (double)F.st.wear.prog_bytes / (double)F.st.wear.change_bytes);
    assert_int_equal(F.emu.violations, 0);
    st_free(&F);
}

/* A power cut anywhere in a fold leaves counts that never exceed the erases
 * the flash saw, and a mount that answers as the old or the new state. */
static void test_power_cut_never_overcounts(void **state)
{
    (void)state;
    static db a, b;
    srand(7);
    memset(&a, 0, sizeof a);
    a.have = 0x3FFFFF;
    a.version = 1;
    for (uint64_t k = 1;; k++) {
        st_fixture(&F);
        st_overlay(&F, 4); /* a tiny table: the 8-change delta folds */
        use_counting_flash();
        assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), 0);
        db_build(&a);
        assert_int_equal(st_install(&F, a.snap, a.n), 0);
        b = a;
        b.have ^= 0xFF00;
        b.version = 2;
        db_build(&b);
        ks_flash_emu_cut(&F.emu, (long)k, KS_EMU_TORN, k);
        ks_recsrc x, y;
        ks_snap_header h;
        size_t need;
        ks_recsrc_mem(&x, a.snap + KS_SNAP_HEADER_SIZE, a.n);
        ks_recsrc_mem(&y, b.snap + KS_SNAP_HEADER_SIZE, b.n);
        assert_int_equal(ks_snap_header_decode(&h, a.snap, NULL), 0);
        assert_int_equal(ks_delta_write(&x, &h, &y, b.snap, dbuf, sizeof dbuf, &need), 0);
        int rc = ks_store_apply_delta(&F.st, dbuf, need, 0, NULL, NULL);
        int cut = !F.emu.powered;
        ks_flash_emu_power_on(&F.emu);
        assert_int_equal(st_mount(&F), 0);
        uint64_t total = 0, seen = 0;
        for (unsigned r = 0; r < KS_WEAR_REGIONS; r++)
            total += F.st.wear.erases[r];
        for (uint32_t s = 0; s < ST_SECTORS + ST_OVL; s++)
            seen += C.erases[s];
        assert_true(total <= seen);
        /* Layout 3: each pool sector's count as mounted is its true count,
         * or one less (erased by the fold the cut stopped before COMMIT). */
        for (uint32_t s = 0; F.st.counted && s < F.st.pool_sectors; s++) {
            uint32_t got = F.cfg.erase_counts[s], want = C.erases[F.st.pool_first + s];
            assert_true(got <= want && want <= got + 1);
        }
        answers(F.st.hdr.version == 2 ? &b : &a);
        st_free(&F);
        if (!cut) {
            assert_int_equal(rc, 0);
            break;
        }
    }
}

/* A fresh layout 3 (or 4) store on the counting flash; the test is skipped
 * under KS_STORE_TEST_LAYOUT=1 or 2, which keep no per-sector counts. */
static void counted_store(void)
{
    st_fixture(&F);
    if (!F.cfg.erase_counts) {
        st_free(&F);
        skip();
    }
    use_counting_flash();
    assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), 0);
}

/*
 * Least-erased first (layouts 3 and 4): free pool sectors with high counts
 * are passed over while less-erased free ones remain, and the counts as
 * set survive a fold's map and a remount. Layout 4 takes a fold's map
 * sector and root from the same allocator as its pages: a fold takes four
 * sectors there, two in layout 3.
 */
static void test_least_erased_first(void **state)
{
    (void)state;
    static db cur, next;
    counted_store();
    memset(&cur, 0, sizeof cur);
    cur.have = 0xFF; /* keys 0..7: two pages of 7 */
    cur.version = 1;
    db_build(&cur);
    assert_int_equal(st_install(&F, cur.snap, cur.n), 0);
    /* Every free sector but what two folds take from them looks worn (as
     * if a long life had passed); the second fold also takes the two pages
     * the first one frees. */
    uint32_t per_fold = F.st.levelled ? 4u : 2u, want = 2 * per_fold - 2;
    uint32_t cool[6], nc = 0;
    for (uint32_t s = 0; s < F.st.pool_sectors; s++) {
        if ((F.sector_map[s >> 3] >> (s & 7)) & 1)
            continue;
        if (nc < want)
            cool[nc++] = s;
        else
            F.cfg.erase_counts[s] = 1000;
    }
    assert_int_equal(nc, want);
    uint32_t before[ST_SECTORS + ST_OVL];
    memcpy(before, C.erases, sizeof C.erases);
    next = cur;
    next.revoked = 0xFF; /* touches both pages: two new ones */
    next.version = 2;
    db_build(&next);
    apply(&cur, &next);
    uint32_t taken = 0;
    for (uint32_t s = 0; s < F.st.pool_sectors; s++) {
        uint32_t d = C.erases[F.st.pool_first + s] - before[F.st.pool_first + s], in = 0;
        for (uint32_t i = 0; i < nc; i++)
            in |= s == cool[i];
        assert_int_equal(d, in && d ? 1u : 0u); /* once, and only a cool one */
        taken += d;
    }
    assert_int_equal(taken, per_fold);
    if (F.st.levelled) /* the counts come back exact (map, then the root's list) */
        assert_int_equal(st_mount(&F), 0);
    for (uint32_t s = 0; s < F.st.pool_sectors && F.st.levelled; s++)
        if (F.cfg.erase_counts[s] != 1000)
            assert_int_equal(F.cfg.erase_counts[s], C.erases[F.st.pool_first + s]);
    /* The next fold takes the two pages the last one freed (count 1) before
     * any sector counted 1000; the counts came back from the map. */
    assert_int_equal(st_mount(&F), 0);
    assert_int_equal(F.cfg.erase_counts[cool[0]], C.erases[F.st.pool_first + cool[0]]);
    for (uint32_t s = 0; s < F.st.pool_sectors; s++)
        if (s != cool[0] && s != cool[1] && F.cfg.erase_counts[s] != 1000)
            assert_int_equal(F.cfg.erase_counts[s], C.erases[F.st.pool_first + s]);
    memcpy(before, C.erases, sizeof C.erases);
    cur = next;
    next.revoked = 0;
    next.version = 3;
    db_build(&next);
    apply(&cur, &next);
    for (uint32_t s = 0; s < F.st.pool_sectors; s++)
        if (F.cfg.erase_counts[s] >= 1000)
            assert_int_equal(C.erases[F.st.pool_first + s], before[F.st.pool_first + s]);
    assert_int_equal(F.st.wear.first[7], 1000);
    answers(&next);
    assert_int_equal(F.emu.violations, 0);
    st_free(&F);
}

/*
 * Static levelling (layouts 3 and 4): pages no fold touches sit on sectors erased
 * far less than the free ones; a fold moves them (bounded per fold), so
 * their cold sectors go back to the allocator.
 */
static void test_static_levelling(void **state)
{
    (void)state;
    static db cur, next;
    counted_store();
    memset(&cur, 0, sizeof cur);
    cur.have = 0xFFFFFFF; /* keys 0..27: four full pages */
    cur.version = 1;
    db_build(&cur);
    assert_int_equal(st_install(&F, cur.snap, cur.n), 0);
    assert_int_equal(F.st.cur.pages, 4);
    /* A long life on the free sectors (as if many folds had passed there). */
    for (uint32_t s = 0; s < F.st.pool_sectors; s++)
        if (!((F.sector_map[s >> 3] >> (s & 7)) & 1))
            F.cfg.erase_counts[s] = 10;
    /* One key changes per fold; the remount finds the free level (10). */
    for (unsigned v = 2; v <= 3; v++) {
        next = cur;
        next.revoked ^= 1ull << v;
        next.version = v;
        db_build(&next);
        apply(&cur, &next);
        cur = next;
        assert_int_equal(st_mount(&F), 0);
    }
    /* No page is left on a sector only the install erased: two one-key
     * folds leave at least two of the four pages untouched, and those were
     * moved (the second fold saw the pool's most-erased count, 11). The
     * applied state's pages, found through its records: layout 4 also
     * keeps the fallback's pages marked in the bitmap until the next fold. */
    for (uint32_t i = 0; i < F.st.cur.count; i++) {
        uint32_t s = st_rec_addr(&F, &F.st.cur, i) / ST_SECTOR - F.st.pool_first;
        assert_true(s < F.st.pool_sectors);
        assert_true(F.cfg.erase_counts[s] >= 2);
    }
    answers(&cur);
    assert_int_equal(F.emu.violations, 0);
    st_free(&F);
}

/*
 * Accelerated life: the counting flash wears out. Every sector dies at a
 * lifetime drawn at random (some early, most at the rated endurance), as a
 * loud failure (erase/prog refused) or a silent one (a prog that keeps a
 * wrong bit). Deltas of mixed sizes run until the store cannot apply one.
 * Through it all no lookup is ever wrong: each answers as the snapshot
 * version the store has applied, or is refused as damage (KSE-301); a
 * failure surfaces as an error, never as a changed answer. The erase
 * spread and the write amplification stay inside the bounds the present
 * design meets at this size (docs/store.md, "Wear": no levelling yet).
 */
#define LIFE_ENDURANCE 120u
static uint32_t life_of[ST_SECTORS + ST_OVL];
static int wearing;

static int l_erase(void *ctx, uint32_t s)
{
    counting *c = ctx;
    if (wearing && c->erases[s] + 1 >= life_of[s])
        ks_flash_emu_wear(c->emu, s, (s & 1) ? KS_EMU_WORN_LOUD : KS_EMU_WORN_SILENT);
    return c_erase(ctx, s);
}

static db hist[4096];

static void answers_as_applied(unsigned nhist)
{
    const ks_snap_header *h = ks_store_header(&F.st);
    if (!h)
        return;
    const db *d = NULL;
    for (unsigned i = 0; i < nhist; i++)
        if (hist[i].version == h->version)
            d = &hist[i];
    assert_non_null(d);
    for (uint32_t i = 0; i < 48; i++) {
        uint8_t rec[KS_RECORD_SIZE], want[KS_RECORD_SIZE];
        kt_record(&F.c, i, want);
        int rc = ks_store_lookup(&F.st, want, rec);
        if (rc == KS_E_STORE_CORRUPT || rc == KS_E_IO)
            continue; /* refused as damage: never a wrong answer */
        assert_int_equal(rc, (d->have >> i & 1) ? KS_OK : KS_E_NOTFOUND);
        if (rc == KS_OK) {
            ks_record r;
            assert_int_equal(ks_record_decode(&r, rec, NULL), 0);
            assert_int_equal(r.state == KS_STATE_REVOKED, (int)(d->revoked >> i & 1));
        }
    }
}

static void test_accelerated_life(void **state)
{
    (void)state;
    unsigned endurance = getenv("KEYSUP_LONG") ? 1000 : LIFE_ENDURANCE, n = 0, fails = 0;
    srand(1018);
    st_fixture(&F);
    st_overlay(&F, ST_OVL_CAP);
    use_counting_flash();
    CF.erase = l_erase;
    CF.endurance = endurance;
    for (uint32_t s = 0; s < ST_SECTORS + ST_OVL; s++)
        life_of[s] = rand() % 8 == 0 ? endurance / 3 + (unsigned)rand() % endurance
                                     : endurance + (unsigned)rand() % (endurance / 4);
    assert_int_equal(ks_store_format(&F.st, &F.cfg, &F.trust), 0);
    memset(&hist[0], 0, sizeof hist[0]);
    hist[0].have = 0xFFFFF;
    hist[0].version = 1;
    db_build(&hist[0]);
    assert_int_equal(st_install(&F, hist[0].snap, hist[0].n), 0);
    wearing = 1;
    ks_store_wear at_first_failure;
    memset(&at_first_failure, 0, sizeof at_first_failure);
    for (n = 1; n < sizeof hist / sizeof hist[0]; n++) {
        hist[n] = hist[n - 1];
        db_step(&hist[n], n % 5 == 0 ? 14 : 3);
        /* deltas are made from the state the store holds, as the supervisor would */
        const ks_snap_header *h = ks_store_header(&F.st);
        unsigned from = n - 1;
        for (unsigned i = 0; h && i < n; i++)
            if (hist[i].version == h->version)
                from = i;
        ks_recsrc a, b;
        ks_snap_header hh;
        size_t need;
        ks_recsrc_mem(&a, hist[from].snap + KS_SNAP_HEADER_SIZE, hist[from].n);
        ks_recsrc_mem(&b, hist[n].snap + KS_SNAP_HEADER_SIZE, hist[n].n);
        assert_int_equal(ks_snap_header_decode(&hh, hist[from].snap, NULL), 0);
        assert_int_equal(ks_delta_write(&a, &hh, &b, hist[n].snap, dbuf, sizeof dbuf, &need), 0);
        int rc = ks_store_apply_delta(&F.st, dbuf, need, 0, NULL, NULL);
        if (rc != KS_OK) {
            if (!fails++)
                at_first_failure = F.st.wear;
            /* the flash gave out: the store said so, and still answers right */
            assert_true(rc == KS_E_IO || rc == KS_E_STORE_CORRUPT || rc == KS_E_NOSPC ||
                        rc == KS_E_BASE);
        }
        answers_as_applied(n + 1);
        if (fails >= 5)
            break;
    }
    assert_true(fails > 0); /* it did wear out within the run */
    /* a reboot on the worn device: mounts (perhaps degraded), answers right or refuses */
    int mrc = st_mount(&F);
    assert_true(mrc == KS_OK || mrc == KS_E_STORE_CORRUPT);
    if (F.st.mounted)
        answers_as_applied(n + 1);

    /* Spread and amplification until the first failure, against the bounds
     * of the present design at this size (issue 18's goals, max/mean <= 1.5
     * and <= 40 bytes per byte at 1M keys, need levelling and bucketed
     * folding, which the store does not do yet). */
    uint64_t total = 0;
    uint32_t mx = 0, sectors = 0;
    for (unsigned r = 0; r < KS_WEAR_REGIONS; r++) {
        total += at_first_failure.erases[r];
        sectors += ks_store_wear_sectors(&F.st, r);
        if (at_first_failure.first[r] > mx)
            mx = at_first_failure.first[r];
    }
    double mean = (double)total / sectors;
    double wa = (double)at_first_failure.prog_bytes / (double)at_first_failure.change_bytes;
    print_message("accelerated life (endurance %u): first failure after %u deltas; erase max %u, "
                  "mean %.1f, max/mean %.2f; write amplification %.1f\n",
                  endurance, at_first_failure.commits, mx, mean, mx / mean, wa);
    assert_true(mx / mean <= 2.5);
    assert_true(wa <= 12.0);
    st_free(&F);
    wearing = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_exact_and_persisted),
        cmocka_unit_test(test_power_cut_never_overcounts),
        cmocka_unit_test(test_least_erased_first),
        cmocka_unit_test(test_static_levelling),
        cmocka_unit_test(test_accelerated_life),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
