/*
 * store_util.h - fixtures for the flash store tests: a small emulated
 * device, a supervisor key, snapshots v1/v2 and the delta between them, and
 * a digest of everything a store answers (so "exactly the old or exactly
 * the new state" is one comparison).
 */
#ifndef KS_STORE_UTIL_H
#define KS_STORE_UTIL_H

#include "ks_test_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "ks_flash_file.h"

/* Small geometry: 1 KiB sectors, 16-byte program unit. */
#define ST_SECTOR 1024u
#define ST_PROG 16u
#define ST_META 4u
#define ST_AUDIT 2u
#define ST_AREA 8u  /* layout 2: two 1-sector maps and a pool of 14 pages */
#define ST_SECTORS (2 * ST_META + ST_AUDIT + 2 * ST_AREA)
#define ST_COUNTERS 8u
#define ST_BUF 2048u  /* a page (1 KiB) plus the map's staging (layout 2) */

#define ST_NREC 24u   /* records in v1 */
#define ST_MAXREC 40u
#define ST_INDEX 8u   /* RAM index entries: stride 4 for v1/v2 */
#define ST_OVL 6u     /* overlay sectors (st_overlay): halves of 21 entries */
#define ST_OVL_CAP 24u

typedef struct st_fix {
    ks_crypto c;
    ks_flash_emu emu;
    ks_store st;
    ks_store_cfg cfg;
    ks_counter counters[ST_COUNTERS];
    uint8_t buf[ST_BUF];
    uint8_t sector_map[KS_STORE_SECTOR_MAP_BYTES(64)];
    uint32_t erase_counts[64];
    uint32_t vmap[64];   /* layout 4: virtual sector bindings */
    uint8_t index[ST_INDEX][KS_KEYID_SIZE];
    uint64_t page_index[KS_STORE_PAGE_INDEX_LEN(256)];
    uint8_t page_index_sectors[KS_STORE_PAGE_INDEX_SECTORS_BYTES(64)];
    unsigned long pidx_agreed; /* st_lookup: answers compared with the map path */
    ks_trust trust;
    uint8_t pk[32], sk[64];

    /* v1: keys 0..23; v2: keys 4..29 with key 10 revoked (a delta of
     * removals, insertions and one change); snapshots are header+records */
    uint8_t snap1[KS_SNAP_HEADER_SIZE + ST_MAXREC * KS_RECORD_SIZE];
    uint8_t snap2[KS_SNAP_HEADER_SIZE + ST_MAXREC * KS_RECORD_SIZE];
    uint32_t n1, n2;
    uint8_t delta[KS_DELTA_PREFIX + 2 * ST_MAXREC * KS_RECORD_SIZE];
    size_t delta_len;
    /* v3 (overlay tests): keys 6..33 without 29, keys 10 and 24 revoked;
     * delta23 takes v2 to v3 (removes 4, 5 and 29, changes 24, adds 30..33) */
    uint8_t snap3[KS_SNAP_HEADER_SIZE + ST_MAXREC * KS_RECORD_SIZE];
    uint32_t n3;
    uint8_t delta23[KS_DELTA_PREFIX + 2 * ST_MAXREC * KS_RECORD_SIZE];
    size_t delta23_len;
    ks_ovl_ent ovl[ST_OVL_CAP];
    /* every key id in v1, v2 or v3, for lookups */
    uint8_t probe[64][KS_KEYID_SIZE];
    uint32_t nprobe;
} st_fix;

/* KS_STORE_TEST_RING=K (3..5): a metadata ring of K blocks (docs/store.md,
 * "The metadata ring"); the device grows by the blocks it adds, so every
 * other region keeps its size. 2 (two blocks) otherwise. */
static inline uint32_t st_ring(void)
{
    const char *r = getenv("KS_STORE_TEST_RING");
    uint32_t k = r ? (uint32_t)atoi(r) : 2u;
    return k >= 3 && k <= 5 ? k : 2u;
}
#define ST_RING_EXTRA ((st_ring() - 2u) * ST_META)

static inline void st_cfg(st_fix *f)
{
    memset(&f->cfg, 0, sizeof f->cfg);
    f->cfg.flash = &f->emu.flash;
    f->cfg.crypto = &f->c;
    f->cfg.meta_sectors = ST_META;
    f->cfg.meta_blocks = st_ring();
    f->cfg.audit_sectors = ST_AUDIT;
    f->cfg.counters = f->counters;
    f->cfg.counter_cap = ST_COUNTERS;
    f->cfg.buf = f->buf;
    f->cfg.buf_size = ST_BUF;
    f->cfg.index = f->index;
    f->cfg.index_cap = ST_INDEX;
    /* the page fence index (paged layouts only; layout 1 ignores it);
     * KS_STORE_TEST_PIDX=0 leaves it out */
    const char *px = getenv("KS_STORE_TEST_PIDX");
    if (!px || strcmp(px, "0") != 0) {
        f->cfg.page_index = f->page_index;
        f->cfg.page_index_cap = 256;
        f->cfg.page_index_sectors = f->page_index_sectors;
    }
    /* Paged snapshots with per-sector erase counts (layout 3) unless
     * KS_STORE_TEST_LAYOUT asks for 2 (no counts) or 1 (the two contiguous
     * areas of older images). */
    const char *lay = getenv("KS_STORE_TEST_LAYOUT");
    if (!lay || strcmp(lay, "1") != 0)
        f->cfg.sector_map = f->sector_map;
    if (!lay || (strcmp(lay, "1") != 0 && strcmp(lay, "2") != 0))
        f->cfg.erase_counts = f->erase_counts;
    /* KS_STORE_TEST_LAYOUT=4: the whole device levelled (overlay and maps
     * bound to pool sectors through cfg.vmap). */
    if (lay && strcmp(lay, "4") == 0) {
        f->cfg.vmap = f->vmap;
        f->cfg.vmap_cap = 64;
    }
}

/* The device address behind a store address: layout 4's overlay and maps
 * are virtual sectors bound to pool sectors (cfg.vmap); others are as is. */
static inline uint32_t st_dev(const st_fix *f, uint32_t addr)
{
    const ks_store *st = &f->st;
    uint32_t s = addr / ST_SECTOR;
    if (!st->levelled || s < st->virt_first)
        return addr;
    assert_true(s - st->virt_first < st->virt_n);
    assert_true(st->cfg.vmap[s - st->virt_first] < st->pool_sectors);
    return (st->pool_first + st->cfg.vmap[s - st->virt_first]) * ST_SECTOR + addr % ST_SECTOR;
}

/* Device address of record i of commit c (either layout). */
static inline uint32_t st_rec_addr(st_fix *f, const ks_store_commit *c, uint32_t i)
{
    uint32_t addr = 0;
    assert_int_equal(ks_store_record_addr(&f->st, c, i, &addr), 0);
    return addr;
}

/* The k-th sector the next install or fold writes (layout 1: of the spare
 * area; layout 2: the k-th free pool sector from the allocation cursor). */
static inline uint32_t st_spare_sector(st_fix *f, uint32_t k)
{
    const ks_store *st = &f->st;
    if (!st->paged)
        return st->area_first[st->cur.valid ? st->cur.area ^ 1u : 0u] + k;
    if (st->counted) { /* layout 3: the allocator's own walk (ks_store_pagec.c) */
        uint8_t used[sizeof f->sector_map];
        uint32_t next = st->pool_next, thr = st->pool_thr, p = st->pool_sectors;
        memcpy(used, f->sector_map, sizeof used);
        for (;;) {
            uint32_t lo = UINT32_MAX, t, s = 0;
            for (t = 0; t < p; t++) {
                s = (next + t) % p;
                if ((used[s >> 3] >> (s & 7)) & 1)
                    continue;
                if (st->cfg.erase_counts[s] <= thr)
                    break;
                lo = st->cfg.erase_counts[s] < lo ? st->cfg.erase_counts[s] : lo;
            }
            if (t == p) {
                if (lo == UINT32_MAX)
                    fail_msg("no free pool sector");
                thr = lo;
                continue;
            }
            if (k-- == 0)
                return st->pool_first + s;
            used[s >> 3] |= (uint8_t)(1u << (s & 7));
            next = (s + 1) % p;
        }
    }
    for (uint32_t t = 0; t < st->pool_sectors; t++) {
        uint32_t s = (st->pool_next + t) % st->pool_sectors;
        if (!((f->sector_map[s >> 3] >> (s & 7)) & 1) && k-- == 0)
            return st->pool_first + s;
    }
    fail_msg("no free pool sector");
    return 0;
}

static inline void st_snap(st_fix *f, uint8_t *out, uint64_t version, uint32_t first,
                           uint32_t count, int revoke)
{
    uint8_t *recs = out + KS_SNAP_HEADER_SIZE;
    ks_snap_header h;
    kt_records(&f->c, first, count, recs);
    if (revoke >= 0)
        for (uint32_t i = 0; i < count; i++) {
            ks_record r;
            assert_int_equal(ks_record_decode(&r, recs + i * KS_RECORD_SIZE, NULL), 0);
            if (r.holder_id == (uint64_t)revoke) {
                r.state = KS_STATE_REVOKED;
                ks_record_encode(&r, recs + i * KS_RECORD_SIZE);
            }
        }
    memset(&h, 0, sizeof h);
    h.version = version;
    h.created_at = 1700000000u + version;
    h.expires_at = 0;
    assert_int_equal(ks_snapshot_write(&f->c, &h, recs, count, f->sk, out,
                                       KS_SNAP_HEADER_SIZE + (size_t)count * KS_RECORD_SIZE),
                     0);
}

static inline void st_fixture(st_fix *f)
{
    ks_recsrc a, b;
    ks_snap_header h1;
    size_t need;

    memset(f, 0, sizeof *f);
    assert_int_equal(ks_sodium_crypto(&f->c), 0);
    kt_keypair(9000, f->pk, f->sk);
    ks_trust_init(&f->trust);
    assert_int_equal(ks_trust_add(&f->trust, &f->c, f->pk), 0);
    f->n1 = ST_NREC;
    f->n2 = 26;
    st_snap(f, f->snap1, 1, 0, f->n1, -1);
    st_snap(f, f->snap2, 2, 4, f->n2, 10);
    ks_recsrc_mem(&a, f->snap1 + KS_SNAP_HEADER_SIZE, f->n1);
    ks_recsrc_mem(&b, f->snap2 + KS_SNAP_HEADER_SIZE, f->n2);
    assert_int_equal(ks_snap_header_decode(&h1, f->snap1, NULL), 0);
    assert_int_equal(ks_delta_write(&a, &h1, &b, f->snap2, NULL, 0, &need), 0);
    assert_true(need <= sizeof f->delta);
    assert_int_equal(ks_delta_write(&a, &h1, &b, f->snap2, f->delta, need, &need), 0);
    f->delta_len = need;
    {
        uint8_t *recs = f->snap3 + KS_SNAP_HEADER_SIZE;
        ks_snap_header h3, h2;
        f->n3 = 0;
        for (uint32_t i = 6; i <= 33; i++) {
            ks_record r;
            if (i == 29)
                continue;
            kt_record(&f->c, i, recs + f->n3 * KS_RECORD_SIZE);
            if (i == 10 || i == 24) {
                assert_int_equal(ks_record_decode(&r, recs + f->n3 * KS_RECORD_SIZE, NULL), 0);
                r.state = KS_STATE_REVOKED;
                ks_record_encode(&r, recs + f->n3 * KS_RECORD_SIZE);
            }
            f->n3++;
        }
        qsort(recs, f->n3, KS_RECORD_SIZE, kt_cmp_rec);
        memset(&h3, 0, sizeof h3);
        h3.version = 3;
        h3.created_at = 1700000003u;
        assert_int_equal(ks_snapshot_write(&f->c, &h3, recs, f->n3, f->sk, f->snap3,
                                           KS_SNAP_HEADER_SIZE + (size_t)f->n3 * KS_RECORD_SIZE),
                         0);
        ks_recsrc_mem(&a, f->snap2 + KS_SNAP_HEADER_SIZE, f->n2);
        ks_recsrc_mem(&b, recs, f->n3);
        assert_int_equal(ks_snap_header_decode(&h2, f->snap2, NULL), 0);
        assert_int_equal(ks_delta_write(&a, &h2, &b, f->snap3, NULL, 0, &f->delta23_len), 0);
        assert_true(f->delta23_len <= sizeof f->delta23);
        assert_int_equal(ks_delta_write(&a, &h2, &b, f->snap3, f->delta23, f->delta23_len,
                                        &f->delta23_len), 0);
    }
    for (uint32_t i = 0; i < 34; i++) {
        uint8_t rec[KS_RECORD_SIZE];
        kt_record(&f->c, i, rec);
        memcpy(f->probe[f->nprobe++], rec, KS_KEYID_SIZE);
    }
    /* and some keys never enrolled */
    for (uint32_t i = 0; i < 8; i++) {
        uint8_t rec[KS_RECORD_SIZE];
        kt_record(&f->c, 500 + i, rec);
        memcpy(f->probe[f->nprobe++], rec, KS_KEYID_SIZE);
    }
    assert_int_equal(ks_flash_emu_init(&f->emu, ST_SECTOR, ST_SECTORS + ST_RING_EXTRA, ST_PROG, 0xFF), 0);
    st_cfg(f);
}

/* Gives the fixture a delta overlay (a bigger device) with a table of cap. */
static inline void st_overlay(st_fix *f, uint32_t cap)
{
    ks_flash_emu_close(&f->emu);
    assert_int_equal(ks_flash_emu_init(&f->emu, ST_SECTOR, ST_SECTORS + ST_OVL + ST_RING_EXTRA, ST_PROG,
                                       0xFF), 0);
    f->cfg.overlay_sectors = ST_OVL;
    f->cfg.overlay = f->ovl;
    f->cfg.overlay_cap = cap;
}

static inline void st_free(st_fix *f)
{
    ks_flash_emu_close(&f->emu);
}

/*
 * For a test file whose tests each run on a fresh fixture: declares the
 * fixture F and the cmocka hooks `setup` (st_fixture) and `teardown`
 * (st_free) that its cmocka_unit_test_setup_teardown entries name.
 */
#define ST_FIXTURE_HOOKS(F)                                                                      \
    static st_fix F;                                                                             \
    static int setup(void **state)                                                               \
    {                                                                                            \
        (void)state;                                                                             \
        st_fixture(&F);                                                                          \
        return 0;                                                                                \
    }                                                                                            \
    static int teardown(void **state)                                                            \
    {                                                                                            \
        (void)state;                                                                             \
        st_free(&F);                                                                             \
        return 0;                                                                                \
    }

static inline int st_install(st_fix *f, const uint8_t *snap, uint32_t n)
{
    ks_recsrc s;
    ks_recsrc_mem(&s, snap + KS_SNAP_HEADER_SIZE, n);
    return ks_store_install(&f->st, snap, &s, 0, NULL);
}

/* The answer snapshot snap (n records) gives for key: *rc, and the record
 * when found. What a lookup on the store must agree with. */
static inline void st_expected(const uint8_t *snap, uint32_t n, const uint8_t key[KS_KEYID_SIZE],
                               int *rc, uint8_t rec[KS_RECORD_SIZE])
{
    ks_recsrc mem;
    uint32_t idx;
    ks_recsrc_mem(&mem, snap + KS_SNAP_HEADER_SIZE, n);
    *rc = ks_recsrc_find(&mem, key, &idx);
    if (*rc == KS_OK)
        memcpy(rec, snap + KS_SNAP_HEADER_SIZE + (size_t)idx * KS_RECORD_SIZE, KS_RECORD_SIZE);
}

static inline void st_counter(ks_counter *c, uint32_t n, uint64_t use)
{
    memset(c, 0, sizeof *c);
    memset(c->id, (int)n, KS_KEYID_SIZE);
    c->kind = (uint8_t)(n & 1);
    c->use_counter = use;
    c->fails = n;
    c->locked_until = use * 7;
}

static inline void st_payload(uint8_t p[KS_AUDIT_PAYLOAD], uint32_t n)
{
    memset(p, (int)(n * 7 + 1), KS_AUDIT_PAYLOAD);
    ks_st32(p, n);
}

static int st_cmp_counter(const void *a, const void *b)
{
    const ks_counter *x = a, *y = b;
    int c = memcmp(x->id, y->id, KS_KEYID_SIZE);
    return c ? c : x->kind - y->kind;
}

/*
 * A lookup; when the page fence index is in use, the same lookup through
 * the map as well (the index switched off for it), and both must give the
 * same answer (code, and record on a hit). Every sweep that checks answers
 * through this (st_digest, the life run) so checks the index at each of
 * its points: deltas, folds, remounts, power cuts, bit flips.
 */
static inline int st_lookup(st_fix *f, const uint8_t key[KS_KEYID_SIZE],
                            uint8_t rec[KS_RECORD_SIZE])
{
    uint8_t r2[KS_RECORD_SIZE];
    uint32_t n = f->st.pidx_n;
    int rc = ks_store_lookup(&f->st, key, rec);
    if (n) {
        f->st.pidx_n = 0;
        memset(r2, 0, sizeof r2);
        int rc2 = ks_store_lookup(&f->st, key, r2);
        f->st.pidx_n = n;
        if (rc2 != rc || (rc == KS_OK && memcmp(rec, r2, KS_RECORD_SIZE) != 0))
            fail_msg("page fence index: answer %d, through the map %d", rc, rc2);
        f->pidx_agreed++;
    }
    return rc;
}

/*
 * Digest of everything the store answers: applied header, every probe
 * lookup (code and record), the counter table (sorted), settings, trust,
 * the pending audit entries and the acknowledged sequence. mode_flags:
 * whether to include the flags word (not for the bit-flip sweep).
 */
static inline void st_digest(st_fix *f, uint8_t out[32])
{
    crypto_generichash_state h;
    ks_store *st = &f->st;
    uint8_t rec[KS_RECORD_SIZE], pl[KS_AUDIT_PAYLOAD], set[KS_SETTINGS_MAX];
    ks_counter rows[ST_COUNTERS];
    uint32_t n = ks_store_counter_count(st);
    uint64_t seq = 0;
    int rc;

    crypto_generichash_init(&h, NULL, 0, 32);
    const ks_snap_header *hd = ks_store_header(st);
    crypto_generichash_update(&h, (const uint8_t *)"H", 1);
    if (hd)
        crypto_generichash_update(&h, st->cur.header, KS_SNAP_HEADER_SIZE);
    for (uint32_t i = 0; i < f->nprobe; i++) {
        memset(rec, 0, sizeof rec);
        rc = st_lookup(f, f->probe[i], rec);
        crypto_generichash_update(&h, (const uint8_t *)&rc, sizeof rc);
        crypto_generichash_update(&h, rec, sizeof rec);
    }
    memset(rows, 0, sizeof rows);
    for (uint32_t i = 0; i < n; i++)
        rows[i] = *ks_store_counter_at(st, i);
    qsort(rows, n, sizeof rows[0], st_cmp_counter);
    crypto_generichash_update(&h, (const uint8_t *)&n, sizeof n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t e[64];
        memset(e, 0, sizeof e);
        memcpy(e, rows[i].id, 16);
        e[16] = rows[i].kind;
        e[17] = rows[i].flags;
        ks_st16(e + 18, rows[i].lock_level);
        ks_st32(e + 20, rows[i].fails);
        ks_st64(e + 24, rows[i].use_counter);
        ks_st64(e + 32, rows[i].window_start);
        ks_st64(e + 40, rows[i].locked_until);
        crypto_generichash_update(&h, e, sizeof e);
    }
    uint32_t sl = ks_store_settings_get(st, set, sizeof set);
    crypto_generichash_update(&h, (const uint8_t *)&sl, sizeof sl);
    crypto_generichash_update(&h, set, sl);
    const ks_trust *t = ks_store_trust(st);
    crypto_generichash_update(&h, (const uint8_t *)&t->count, sizeof t->count);
    crypto_generichash_update(&h, t->keys[0], (size_t)t->count * KS_PUBKEY_SIZE);
    crypto_generichash_update(&h, (const uint8_t *)&st->audit_acked, 8);
    while (ks_store_audit_read(st, seq, pl, &seq) == KS_OK) {
        crypto_generichash_update(&h, (const uint8_t *)&seq, 8);
        crypto_generichash_update(&h, pl, sizeof pl);
    }
    crypto_generichash_final(&h, out, 32);
}

/* Formats with trust and installs v1 plus a little of everything. */
static inline void st_base(st_fix *f)
{
    ks_counter c;
    uint8_t pl[KS_AUDIT_PAYLOAD];
    assert_int_equal(ks_store_format(&f->st, &f->cfg, &f->trust), 0);
    assert_int_equal(st_install(f, f->snap1, f->n1), 0);
    for (uint32_t i = 1; i <= 3; i++) {
        st_counter(&c, i, 100 + i);
        assert_int_equal(ks_store_counter_put(&f->st, &c), 0);
    }
    assert_int_equal(ks_store_settings_set(&f->st, "door=1;relay=2", 14), 0);
    for (uint32_t i = 1; i <= 3; i++) {
        st_payload(pl, i);
        assert_int_equal(ks_store_audit_append(&f->st, pl, NULL), 0);
    }
}

static inline int st_mount(st_fix *f)
{
    return ks_store_mount(&f->st, &f->cfg, NULL);
}

/*
 * A flash that wears out, for the accelerated-life tests: a ks_flash over
 * the emulator that counts every sector's erases and, at the erase that
 * reaches the sector's life (life[s], set by the test: the rated endurance
 * or, for sectors picked to die early, less), wears it out the way real
 * flash does (ks_flash_emu_wear): loudly (its erases and progs fail) or
 * silently (progs return 0 but keep a wrong bit; only a read-back sees it).
 * An erase issued while the power is cut is not counted.
 */
typedef struct st_wearflash {
    ks_flash flash;   /* give &wf->flash to the store */
    ks_flash_emu *emu;
    uint32_t *erases; /* per sector */
    uint32_t *life;   /* per sector: the erase count at which it wears out */
    uint8_t *how;     /* per sector: KS_EMU_WORN_LOUD or KS_EMU_WORN_SILENT */
    uint64_t prog_bytes;
} st_wearflash;

static inline int st_wf_read(void *ctx, uint32_t s, uint32_t off, void *buf, uint32_t len)
{
    st_wearflash *w = ctx;
    return w->emu->flash.read(w->emu->flash.ctx, s, off, buf, len);
}

static inline int st_wf_prog(void *ctx, uint32_t s, uint32_t off, const void *buf, uint32_t len)
{
    st_wearflash *w = ctx;
    if (w->emu->powered)
        w->prog_bytes += len;
    return w->emu->flash.prog(w->emu->flash.ctx, s, off, buf, len);
}

static inline int st_wf_erase(void *ctx, uint32_t s)
{
    st_wearflash *w = ctx;
    if (s < w->emu->flash.sector_count && w->emu->powered &&
        ++w->erases[s] >= w->life[s] && !w->emu->worn[s])
        ks_flash_emu_wear(w->emu, s, w->how[s]);
    return w->emu->flash.erase(w->emu->flash.ctx, s);
}

static inline int st_wf_sync(void *ctx)
{
    st_wearflash *w = ctx;
    return w->emu->flash.sync(w->emu->flash.ctx);
}

/* Wraps emu; every sector lives `endurance` erases until the test says otherwise. */
static inline void st_wf_init(st_wearflash *w, ks_flash_emu *emu, uint32_t endurance)
{
    uint32_t n = emu->flash.sector_count;
    memset(w, 0, sizeof *w);
    w->emu = emu;
    w->erases = calloc(n, sizeof *w->erases);
    w->life = calloc(n, sizeof *w->life);
    w->how = calloc(n, 1);
    assert_true(w->erases && w->life && w->how);
    for (uint32_t s = 0; s < n; s++) {
        w->life[s] = endurance;
        w->how[s] = KS_EMU_WORN_LOUD;
    }
    w->flash = emu->flash;
    w->flash.ctx = w;
    w->flash.read = st_wf_read;
    w->flash.prog = st_wf_prog;
    w->flash.erase = st_wf_erase;
    w->flash.sync = st_wf_sync;
    w->flash.endurance = endurance;
}

static inline void st_wf_free(st_wearflash *w)
{
    free(w->erases);
    free(w->life);
    free(w->how);
    memset(w, 0, sizeof *w);
}

/*
 * The bit-flip sweeps' stride. KS_STORE_BITFLIP_STEP=s (ctest's runs on the
 * layouts a new controller does not format) flips one bit in every s; bit k
 * of the sweep is st_flip_bit(k, s), rotating through the bit positions so
 * every byte is still hit when s is 8. KEYSUP_LONG=1 flips every bit.
 */
static inline uint64_t st_flip_step(void)
{
    const char *e = getenv("KS_STORE_BITFLIP_STEP");
    return e && !getenv("KEYSUP_LONG") && atoi(e) > 1 ? (uint64_t)atoi(e) : 1;
}

static inline uint64_t st_flip_bit(uint64_t k, uint64_t step)
{
    return k * step + k % step;
}

#endif
