/*
 * bench_store_util.h - database versions for the store benches: a version's
 * sorted records, its signed snapshot, and the 1,000-change delta from the
 * version before it (bench_store, bench_store_fold).
 */
#ifndef KS_BENCH_STORE_UTIL_H
#define KS_BENCH_STORE_UTIL_H

#include "bench_util.h"

#define CHANGES 1000u

#define SECTOR 4096u
#define PROG 16u
/* Overlay: halves of 72 sectors = 2,048 entries of 144 B, table of 2,048
 * entries (36 B each, 72 KiB of RAM): two 1,000-change deltas fit, the
 * third folds. */
#define OVL_HALF 72u
#define OVL_CAP 2048u

/* Sectors of the bench device for n records: metadata 2x2, audit 4, the
 * overlay (two halves of OVL_HALF), two layout 1 areas for n + changes
 * records (a paged layout gets the same device, so the runs compare). */
static inline uint32_t bench_store_sectors(uint32_t n)
{
    uint32_t area = ((n + 2 * CHANGES) * (KS_RECORD_SIZE + 4) + 512 + SECTOR - 1) / SECTOR + 1;
    return 2 * 2 + 4 + 2 * OVL_HALF + 2 * area;
}

/* The layout KS_BENCH_LAYOUT asks for: 1, 2, 4, or (default) 3. */
static inline int bench_store_layout(void)
{
    const char *e = getenv("KS_BENCH_LAYOUT");
    return e && strcmp(e, "1") == 0   ? 1
           : e && strcmp(e, "2") == 0 ? 2
           : e && strcmp(e, "4") == 0 ? 4
                                      : 3;
}

/*
 * A flash over emu that counts every sector's erases and every byte
 * programmed. With life (and how) set, a sector wears out
 * (ks_flash_emu_wear, loudly or silently as how says) at the erase that
 * reaches its life.
 */
typedef struct bench_cflash {
    ks_flash_emu *emu;
    uint32_t *erases, *life;
    uint8_t *how;
    uint64_t erase_total, prog_bytes;
} bench_cflash;

static inline int bench_cf_read(void *ctx, uint32_t s, uint32_t o, void *b, uint32_t l)
{
    bench_cflash *w = ctx;
    return w->emu->flash.read(w->emu->flash.ctx, s, o, b, l);
}
static inline int bench_cf_prog(void *ctx, uint32_t s, uint32_t o, const void *b, uint32_t l)
{
    bench_cflash *w = ctx;
    w->prog_bytes += l;
    return w->emu->flash.prog(w->emu->flash.ctx, s, o, b, l);
}
static inline int bench_cf_erase(void *ctx, uint32_t s)
{
    bench_cflash *w = ctx;
    w->erase_total++;
    if (s < w->emu->flash.sector_count) {
        w->erases[s]++;
        if (w->life && w->erases[s] >= w->life[s] && !w->emu->worn[s])
            ks_flash_emu_wear(w->emu, s, w->how[s]);
    }
    return w->emu->flash.erase(w->emu->flash.ctx, s);
}
static inline int bench_cf_sync(void *ctx)
{
    bench_cflash *w = ctx;
    return w->emu->flash.sync(w->emu->flash.ctx);
}

/* Wraps emu (already made) into w and the flash f the store is given: 0,
 * or -1 when the counters cannot be allocated. */
static inline int bench_cflash_init(bench_cflash *w, ks_flash *f, ks_flash_emu *emu)
{
    memset(w, 0, sizeof *w);
    w->emu = emu;
    w->erases = calloc(emu->flash.sector_count, sizeof *w->erases);
    if (!w->erases)
        return -1;
    *f = emu->flash;
    f->ctx = w;
    f->read = bench_cf_read;
    f->prog = bench_cf_prog;
    f->erase = bench_cf_erase;
    f->sync = bench_cf_sync;
    return 0;
}

/*
 * The store configuration of the benches on flash f: 2 metadata sectors a
 * block (layout 4: a ring of eight blocks), 4 audit sectors, the overlay, a 64 KiB work buffer, an index of index_cap
 * key ids, and layout 1, 2 (sector map) or 3 (sector map and erase
 * counts). The tables are static: one store per bench process. 0, or -1
 * when an allocation fails.
 */
static inline int bench_store_cfg(ks_store_cfg *cfg, ks_flash *f, const ks_crypto *c,
                                  uint32_t index_cap, int layout)
{
    static ks_counter counters[64];
    static uint8_t buf[64 * 1024];
    static ks_ovl_ent ovl[OVL_CAP];
    uint32_t sectors = f->sector_count;

    memset(cfg, 0, sizeof *cfg);
    cfg->flash = f;
    cfg->crypto = c;
    cfg->meta_sectors = 2;
    cfg->audit_sectors = 4;
    cfg->counters = counters;
    cfg->counter_cap = 64;
    cfg->buf = buf;
    cfg->buf_size = sizeof buf;
    cfg->overlay_sectors = 2 * OVL_HALF;
    cfg->overlay = ovl;
    cfg->overlay_cap = OVL_CAP;
    cfg->index_cap = index_cap;
    cfg->index = malloc((size_t)index_cap * KS_KEYID_SIZE);
    if (!cfg->index)
        return -1;
    if (layout >= 2 && !(cfg->sector_map = calloc(KS_STORE_SECTOR_MAP_BYTES(sectors), 1)))
        return -1;
    if (layout >= 3 && !(cfg->erase_counts = calloc(KS_STORE_ERASE_COUNTS_LEN(sectors),
                                                    sizeof *cfg->erase_counts)))
        return -1;
    /* layout 4: the overlay's and the maps' sectors bound to pool sectors */
    cfg->vmap_cap = KS_STORE_VMAP_LEN(sectors, f->sector_size, cfg->overlay_sectors);
    if (layout >= 4 && !(cfg->vmap = calloc(cfg->vmap_cap, sizeof *cfg->vmap)))
        return -1;
    /* layout 4: the metadata a ring of eight blocks (docs/store.md, "The
     * metadata ring": sized for these benches' compaction rate);
     * KS_BENCH_META_BLOCKS=2 gives the pair of older images */
    if (layout >= 4)
        cfg->meta_blocks = getenv("KS_BENCH_META_BLOCKS")
                               ? (uint32_t)strtoul(getenv("KS_BENCH_META_BLOCKS"), NULL, 10)
                               : 8u;
    return 0;
}

/* The in-memory binary search a store lookup is compared with: the index
 * of key in n sorted records, UINT32_MAX when absent. */
static inline uint32_t mem_find(const uint8_t *recs, uint32_t n, const uint8_t *key)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(recs + (size_t)mid * KS_RECORD_SIZE, key, KS_KEYID_SIZE);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return UINT32_MAX;
}

/* One version of the database: its records, signed snapshot, and the
 * delta from the version before it. */
typedef struct bench_ver {
    uint8_t *recs;
    uint32_t n;
    uint8_t *snap;
    uint8_t *delta;
    size_t delta_len;
    int owned;
} bench_ver;

static inline void bench_ver_free(bench_ver *v)
{
    if (v->owned) {
        free(v->recs);
        free(v->snap);
        free(v->delta);
    }
    memset(v, 0, sizeof *v);
}

/* The next version: 400 updates, 300 removals, 300 insertions (holder ids
 * from first_new), signed, and the delta from v. */
static inline int bench_next(const ks_crypto *c, const uint8_t sk[64], const bench_ver *v,
                      uint32_t version, uint32_t first_new, bench_ver *nv)
{
    uint8_t *drop = calloc(v->n, 1);
    ks_snap_header h, ho;
    ks_recsrc a, b;
    size_t need;

    memset(nv, 0, sizeof *nv);
    nv->owned = 1;
    nv->recs = malloc(((size_t)v->n + CHANGES) * KS_RECORD_SIZE);
    memcpy(nv->recs, v->recs, (size_t)v->n * KS_RECORD_SIZE);
    for (uint32_t i = 0; i < 400; i++) {
        ks_record r;
        uint8_t *p = nv->recs + (size_t)(((uint64_t)i * 2477 + 13 * version) % v->n) * KS_RECORD_SIZE;
        ks_record_decode(&r, p, NULL);
        r.privileges ^= KS_PRIV_REFUND;
        ks_record_encode(&r, p);
    }
    for (uint32_t i = 0, k = 0; k < 300; i++) {
        uint32_t j = (uint32_t)(((uint64_t)i * 3301 + 7 * version + 1) % v->n);
        if (!drop[j] && (uint32_t)(((uint64_t)j + v->n - 13 * version) % 2477)) {
            drop[j] = 1;
            k++;
        }
    }
    uint32_t w = 0;
    for (uint32_t i = 0; i < v->n; i++)
        if (!drop[i])
            memmove(nv->recs + (size_t)w++ * KS_RECORD_SIZE,
                    nv->recs + (size_t)i * KS_RECORD_SIZE, KS_RECORD_SIZE);
    free(drop);
    for (uint32_t i = 0; i < 300; i++)
        bench_record(c, first_new + i, nv->recs + (size_t)w++ * KS_RECORD_SIZE);
    nv->n = w;
    qsort(nv->recs, nv->n, KS_RECORD_SIZE, bench_cmp_rec);
    size_t len = KS_SNAP_HEADER_SIZE + (size_t)nv->n * KS_RECORD_SIZE;
    nv->snap = malloc(len);
    memset(&h, 0, sizeof h);
    h.version = version;
    h.created_at = 1700000000 + version * 100;
    if (ks_snapshot_write(c, &h, nv->recs, nv->n, sk, nv->snap, len) != 0)
        return 1;
    ks_recsrc_mem(&a, v->recs, v->n);
    ks_recsrc_mem(&b, nv->recs, nv->n);
    ks_snap_header_decode(&ho, v->snap, NULL);
    ks_delta_write(&a, &ho, &b, nv->snap, NULL, 0, &need);
    nv->delta = malloc(need);
    nv->delta_len = need;
    return ks_delta_write(&a, &ho, &b, nv->snap, nv->delta, need, &need) != 0;
}

#endif
