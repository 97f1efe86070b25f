/*
 * bench_store_life.c - issue 18's long mode: a paged store (layout 3,
 * least-erased-first allocation, overlay on; KS_BENCH_LAYOUT=2 for layout
 * 2, =4 for layout 4, what keysup-controller formats; with the page fence
 * index unless KS_BENCH_PIDX=0) of 1,000,000 keys living through years of change on a flash
 * that wears out. Each simulated day brings 10 deltas of 1,000 changes
 * (400 updates, 300 removals, 300 insertions: 10,000 changes a day); every
 * sector is rated for 10,000 erases, and a seeded PRNG picks pool sectors
 * that die early (between 50 and 2,000 erases), loudly or silently. Every
 * KS_BENCH_REPORT days (100) it prints the erase spread (pool and device,
 * as counted by the flash and as the store reports it), the write
 * amplification, the retired sectors, the projected life and the CPU a
 * day costs (generator and store apart). Every day it looks up every key
 * the day's last delta changed and 1,000 random keys; at the end every
 * record is looked up against the generator's copy and the Merkle root is
 * proven from flash (ks_store_check).
 *
 * The deltas are made the way a supervisor with a tree cache makes them:
 * the changed buckets are rehashed and the header signed over the cached
 * tree (O(change) hashing, from leaf hashes kept beside the records), and
 * the delta is written from the change alone, so the run is bounded by the
 * store and one O(n) copy per delta, not by re-hashing or re-comparing a
 * million records (1.83 s of CPU a simulated day before, 0.63 after).
 *
 * KS_BENCH_DAYS (default 36: 360 deltas; KEYSUP_LONG=1: 3,650 = ten years),
 * KS_BENCH_N (1,000,000), KS_BENCH_ENDURANCE (10,000). A store that refuses
 * a delta (the failures outran its spare) ends the run, and says when.
 */
#include "bench_store_util.h"

#include "ks_wear.h"

#define PER_DAY 10u
#define N_UPD 400u
#define N_RM 300u
#define N_ADD 300u

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* First index in recs[0..n) whose key id falls in bucket b or later. */
static uint32_t bucket_start(const uint8_t *recs, uint32_t n, uint32_t b, unsigned bits)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ks_bucket_of(recs + (size_t)mid * KS_RECORD_SIZE, bits) < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* RFC 6962 MTH of bucket b's records (ks_merkle.h), into the cached tree,
 * from the records' leaf hashes (kept beside them: only a changed record's
 * leaf is hashed again). */
static void rehash_bucket(const ks_crypto *c, ks_tree *t, const uint8_t *recs,
                          const uint8_t (*leaves)[32], uint32_t n, uint32_t b)
{
    uint32_t lo = bucket_start(recs, n, b, t->bits), hi = bucket_start(recs, n, b + 1, t->bits);
    ks_mth m;
    uint8_t h[32];
    ks_mth_init(&m);
    for (uint32_t i = lo; i < hi; i++)
        ks_mth_push(&m, c, leaves[i]);
    ks_mth_final(&m, c, h);
    ks_tree_set_bucket(t, c, b, h);
}

typedef struct gen {
    const ks_crypto *c;
    const uint8_t *sk;
    uint8_t *recs, *tmp; /* the current version's sorted records; the next one's */
    uint8_t (*leaf)[32], (*ltmp)[32]; /* their leaf hashes (ks_merkle_leaf) */
    uint32_t n;
    uint8_t *op;         /* per record of recs: 0 keep, 1 update, 2 remove */
    ks_tree tree;
    uint8_t hdr[KS_SNAP_HEADER_SIZE];
    uint64_t holder;
    uint8_t *delta;
    size_t delta_cap, delta_len;
    /* the last delta's change, in key order: the old records it updated or
     * removed, and the new records it upserted (updates and insertions) */
    uint8_t cold[N_UPD + N_RM][KS_RECORD_SIZE], cnew[N_UPD + N_ADD][KS_RECORD_SIZE];
    uint32_t ncold, ncnew;
    int checked; /* the first delta was compared with the full walk's */
} gen;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * The next version (into g->tmp and a new header) and the delta to it.
 * O(change) but for one copy of the records: the unchanged runs between
 * change points go over in one memcpy each, and the delta is written from
 * the change alone (the old records it touches against the new ones: the
 * same removals and upserts, in the same key order, as ks_delta_write over
 * both whole versions gives, which the first delta checks byte for byte).
 */
static int gen_next(gen *g, uint64_t version, uint64_t created_at)
{
    static uint8_t add[N_ADD][KS_RECORD_SIZE];
    static uint32_t idx[N_UPD + N_RM], bk[N_UPD + N_RM + N_ADD], at[N_ADD];
    uint32_t nb = 0, w = 0, a = 0, k = 0, i = 0;
    const size_t R = KS_RECORD_SIZE;
    for (uint32_t j = 0; j < N_UPD + N_RM; j++) { /* distinct: the count stays n */
        do
            idx[j] = rnd() % g->n;
        while (g->op[idx[j]]);
        g->op[idx[j]] = j < N_UPD ? 1 : 2;
    }
    for (uint32_t j = 0; j < N_ADD; j++)
        bench_record(g->c, g->holder++, add[j]);
    qsort(add, N_ADD, KS_RECORD_SIZE, bench_cmp_rec);
    for (uint32_t j = 0; j < N_UPD + N_RM; j++)
        bk[nb++] = ks_bucket_of(g->recs + (size_t)idx[j] * R, g->tree.bits);
    for (uint32_t j = 0; j < N_ADD; j++) {
        bk[nb++] = ks_bucket_of(add[j], g->tree.bits);
        /* where it goes: before the first record above it (new key ids) */
        uint32_t lo = 0, hi = g->n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (memcmp(g->recs + (size_t)mid * R, add[j], KS_KEYID_SIZE) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        at[j] = lo;
    }
    qsort(idx, N_UPD + N_RM, sizeof idx[0], cmp_u32);
    /* merge: unchanged runs, insertions, updates and removals, in key order */
    g->ncold = g->ncnew = 0;
    for (;;) {
        uint32_t next = k < N_UPD + N_RM ? idx[k] : g->n;
        if (a < N_ADD && at[a] < next)
            next = at[a];
        memcpy(g->tmp + (size_t)w * R, g->recs + (size_t)i * R, (size_t)(next - i) * R);
        memcpy(g->ltmp[w], g->leaf[i], (size_t)(next - i) * 32);
        w += next - i;
        i = next;
        if (a < N_ADD && at[a] == i) {
            ks_merkle_leaf(g->c, g->ltmp[w], add[a]);
            memcpy(g->tmp + (size_t)w++ * R, add[a], R);
            memcpy(g->cnew[g->ncnew++], add[a++], R);
        } else if (k < N_UPD + N_RM && idx[k] == i) {
            const uint8_t *r = g->recs + (size_t)i * R;
            memcpy(g->cold[g->ncold++], r, R);
            if (g->op[i] == 1) {
                uint8_t *o = g->tmp + (size_t)w++ * R;
                ks_record rec;
                if (ks_record_decode(&rec, r, NULL) != 0)
                    return 1;
                rec.privileges ^= KS_PRIV_REFUND;
                ks_record_encode(&rec, o);
                ks_merkle_leaf(g->c, g->ltmp[w - 1], o);
                memcpy(g->cnew[g->ncnew++], o, R);
            }
            g->op[i] = 0;
            i++;
            k++;
        } else {
            break;
        }
    }
    qsort(bk, nb, sizeof bk[0], cmp_u32);
    for (uint32_t j = 0; j < nb; j++)
        if (!j || bk[j] != bk[j - 1])
            rehash_bucket(g->c, &g->tree, g->tmp, (const uint8_t(*)[32])g->ltmp, w, bk[j]);

    ks_snap_header old, h;
    uint8_t hdr[KS_SNAP_HEADER_SIZE];
    if (ks_snap_header_decode(&old, g->hdr, NULL) != 0)
        return 1;
    memset(&h, 0, sizeof h);
    h.version = version;
    h.created_at = created_at;
    h.format = KS_SNAP_FORMAT;
    h.bucket_bits = (uint8_t)g->tree.bits;
    h.record_count = w;
    memcpy(h.root, ks_tree_root(&g->tree), KS_HASH_SIZE);
    ks_snap_header_encode(&h, hdr);
    if (ks_snap_header_sign(g->c, hdr, g->sk) != 0)
        return 1;
    ks_recsrc sa, sb;
    ks_recsrc_mem(&sa, g->cold[0], g->ncold);
    ks_recsrc_mem(&sb, g->cnew[0], g->ncnew);
    if (ks_delta_write(&sa, &old, &sb, hdr, g->delta, g->delta_cap, &g->delta_len) != 0)
        return 1;
    if (!g->checked) { /* the change-only delta is the whole walk's, byte for byte */
        uint8_t *full = malloc(g->delta_cap);
        size_t len = 0;
        ks_recsrc_mem(&sa, g->recs, g->n);
        ks_recsrc_mem(&sb, g->tmp, w);
        int bad = !full ||
                  ks_delta_write(&sa, &old, &sb, hdr, full, g->delta_cap, &len) != 0 ||
                  len != g->delta_len || memcmp(full, g->delta, len) != 0;
        free(full);
        if (bad)
            return 1;
        g->checked = 1;
    }
    uint8_t *t = g->recs, (*lt)[32] = g->leaf;
    g->recs = g->tmp;
    g->tmp = t;
    g->leaf = g->ltmp;
    g->ltmp = lt;
    g->n = w;
    memcpy(g->hdr, hdr, sizeof hdr);
    return 0;
}

/*
 * A day's sample of lookups: every key the last delta upserted (its new
 * record) or removed (not found), and 1,000 random keys of the version:
 * the number answered wrong. Every key is looked up at the end.
 */
static uint32_t sample(ks_store *st, gen *g)
{
    uint8_t rec[KS_RECORD_SIZE];
    uint32_t wrong = 0;
    for (uint32_t j = 0; j < g->ncnew; j++)
        wrong += ks_store_lookup(st, g->cnew[j], rec) != 0 ||
                 memcmp(rec, g->cnew[j], KS_RECORD_SIZE) != 0;
    for (uint32_t j = 0, u = 0; j < g->ncold; j++) {
        while (u < g->ncnew && memcmp(g->cnew[u], g->cold[j], KS_KEYID_SIZE) < 0)
            u++;
        if (u < g->ncnew && memcmp(g->cnew[u], g->cold[j], KS_KEYID_SIZE) == 0)
            continue; /* updated, checked above */
        wrong += ks_store_lookup(st, g->cold[j], rec) != KS_E_NOTFOUND;
    }
    for (uint32_t j = 0; j < 1000; j++) {
        /* a PRNG of its own: the deltas stay the sequence they always were */
        static uint64_t x = 0x9E3779B97F4A7C15ull;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const uint8_t *r = g->recs + (size_t)((uint32_t)(x >> 11) % g->n) * KS_RECORD_SIZE;
        wrong += ks_store_lookup(st, r, rec) != 0 || memcmp(rec, r, KS_RECORD_SIZE) != 0;
    }
    return wrong;
}

typedef struct spread {
    uint32_t pool_max, dev_max, pool_worn;
    double pool_mean, dev_mean;
} spread;

static void measure(const bench_cflash *w, const ks_store *st, uint32_t sectors, spread *o)
{
    uint64_t ps = 0, ds = 0;
    memset(o, 0, sizeof *o);
    for (uint32_t s = 0; s < sectors; s++) {
        ds += w->erases[s];
        o->dev_max = w->erases[s] > o->dev_max ? w->erases[s] : o->dev_max;
        if (s >= st->pool_first && s < st->pool_first + st->pool_sectors) {
            ps += w->erases[s];
            o->pool_max = w->erases[s] > o->pool_max ? w->erases[s] : o->pool_max;
            o->pool_worn += w->emu->worn[s] != 0;
        }
    }
    o->pool_mean = (double)ps / st->pool_sectors;
    o->dev_mean = (double)ds / sectors;
}

int main(void)
{
    ks_crypto c;
    ks_flash_emu emu;
    ks_flash f;
    bench_cflash lf;
    ks_store st;
    ks_store_cfg cfg;
    uint8_t pk[32], sk[64];
    ks_trust trust;
    uint32_t n = 1000000, days = getenv("KEYSUP_LONG") ? 3650 : 36, endurance = 10000;
    uint32_t report = 100;
    int layout = bench_store_layout();

    if (getenv("KS_BENCH_N"))
        n = (uint32_t)strtoul(getenv("KS_BENCH_N"), NULL, 10);
    if (getenv("KS_BENCH_DAYS"))
        days = (uint32_t)strtoul(getenv("KS_BENCH_DAYS"), NULL, 10);
    if (getenv("KS_BENCH_ENDURANCE"))
        endurance = (uint32_t)strtoul(getenv("KS_BENCH_ENDURANCE"), NULL, 10);
    if (getenv("KS_BENCH_REPORT"))
        report = (uint32_t)strtoul(getenv("KS_BENCH_REPORT"), NULL, 10);
    if (n < 1000 || !endurance || !report || ks_sodium_crypto(&c) != 0)
        return 1;
    ks_sodium_keypair(pk, sk);
    ks_trust_init(&trust);
    ks_trust_add(&trust, &c, pk);

    /* the device of bench_store_fold: room for two layout 1 areas; layout
     * 3 unless KS_BENCH_LAYOUT=2 (the run needs a paged store) */
    uint32_t sectors = bench_store_sectors(n);
    if (layout < 2 || ks_flash_emu_init(&emu, SECTOR, sectors, PROG, 0xFF) != 0 ||
        bench_cflash_init(&lf, &f, &emu) != 0)
        return 1;
    lf.life = malloc(sectors * sizeof *lf.life);
    lf.how = calloc(sectors, 1);
    if (!lf.life || !lf.how)
        return 1;
    for (uint32_t s = 0; s < sectors; s++)
        lf.life[s] = endurance;
    f.endurance = endurance;
    if (bench_store_cfg(&cfg, &f, &c, KS_STORE_INDEX_CAP(n + CHANGES, 24), layout) != 0)
        return 1;
    /* the page fence index and its proof map, as keysup-controller mounts
     * (the lookups below go through it); KS_BENCH_PIDX=0 leaves it out */
    if (!getenv("KS_BENCH_PIDX") || atoi(getenv("KS_BENCH_PIDX"))) {
        cfg.page_index_cap = sectors;
        if (!(cfg.page_index = malloc(KS_STORE_PAGE_INDEX_LEN(sectors) * sizeof(uint64_t))) ||
            !(cfg.page_index_sectors = malloc(KS_STORE_PAGE_INDEX_SECTORS_BYTES(sectors))))
            return 1;
    }
    if (ks_store_format(&st, &cfg, &trust) != 0 || !st.paged)
        return 1;
    /* early deaths: 1 pool sector in 4,000, after 50..2,000 erases */
    uint32_t early = 0;
    for (uint32_t s = 0; s < st.pool_sectors; s++)
        if (rnd() % 4000 == 0) {
            lf.life[st.pool_first + s] = 50 + rnd() % 1950;
            lf.how[st.pool_first + s] = rnd() % 2 ? KS_EMU_WORN_LOUD : KS_EMU_WORN_SILENT;
            early++;
        }
    printf("store life bench: %u keys, layout %d, %u days of %u deltas of 1,000 changes, "
           "%u x %u B sectors (pool %u), endurance %u, %u pool sectors die early\n",
           n, st.levelled ? 4 : st.counted ? 3 : 2, days, PER_DAY, sectors, SECTOR, st.pool_sectors, endurance,
           early);

    static gen g; /* (its change lists are 200 KB) */
    memset(&g, 0, sizeof g);
    g.c = &c;
    g.sk = sk;
    g.n = n;
    /* both buffers alternate as the current and the next version */
    g.recs = malloc(((size_t)n + N_ADD) * KS_RECORD_SIZE);
    g.tmp = malloc(((size_t)n + N_ADD) * KS_RECORD_SIZE);
    uint8_t *first = bench_records(&c, n);
    if (!g.recs || !first)
        return 1;
    memcpy(g.recs, first, (size_t)n * KS_RECORD_SIZE);
    free(first);
    g.op = calloc(n + N_ADD, 1);
    g.leaf = malloc(((size_t)n + N_ADD) * 32);
    g.ltmp = malloc(((size_t)n + N_ADD) * 32);
    if (!g.leaf || !g.ltmp)
        return 1;
    for (uint32_t i = 0; i < n; i++)
        ks_merkle_leaf(&c, g.leaf[i], g.recs + (size_t)i * KS_RECORD_SIZE);
    g.holder = n;
    g.delta_cap = ks_delta_size(N_UPD + N_ADD, N_RM);
    g.delta = malloc(g.delta_cap);
    size_t snap_len = KS_SNAP_HEADER_SIZE + (size_t)n * KS_RECORD_SIZE;
    uint8_t *snap = malloc(snap_len);
    ks_snap_header h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.created_at = 1700000000;
    if (!g.tmp || !g.op || !g.delta || !snap ||
        ks_snapshot_write(&c, &h, g.recs, n, sk, snap, snap_len) != 0)
        return 1;
    memcpy(g.hdr, snap, KS_SNAP_HEADER_SIZE);
    ks_recsrc src;
    ks_recsrc_mem(&src, g.recs, n);
    size_t nodes = ks_tree_nodes(h.bucket_bits);
    uint8_t(*gnodes)[32] = malloc(nodes * 32), (*snodes)[32] = malloc(nodes * 32);
    if (!gnodes || !snodes || ks_tree_build(&g.tree, &c, &src, h.bucket_bits, gnodes, nodes) ||
        memcmp(ks_tree_root(&g.tree), h.root, 32) != 0)
        return 1;
    ks_recsrc_mem(&src, snap + KS_SNAP_HEADER_SIZE, n);
    double t0 = bench_now();
    if (ks_store_install(&st, snap, &src, 0, NULL) != 0)
        return 1;
    free(snap);
    ks_tree stree;
    ks_store_records(&st, &src);
    if (ks_tree_build(&stree, &c, &src, h.bucket_bits, snodes, nodes) != 0)
        return 1;
    printf("install and tree: %.1f s\n", bench_now() - t0);

    uint64_t version = 1, change = 0, base_prog = lf.prog_bytes;
    uint32_t folds = 0, day = 0, refused = 0, swrong = 0;
    double tgen = 0, tstore = 0, tlook = 0, t1, c0 = bench_cpu_now();
    t0 = bench_now();
    for (day = 1; day <= days && !refused; day++) {
        for (uint32_t k = 0; k < PER_DAY; k++) {
            uint32_t nold = g.n;
            version++;
            t1 = bench_cpu_now();
            if (gen_next(&g, version, 1700000000ull + day * 86400ull + k * 8640ull) != 0) {
                printf("generator failed at version %llu\n", (unsigned long long)version);
                return 1;
            }
            tgen += bench_cpu_now() - t1;
            t1 = bench_cpu_now();
            int rc = ks_store_apply_delta(&st, g.delta, g.delta_len, 0, &stree, NULL);
            tstore += bench_cpu_now() - t1;
            if (rc != 0) {
                printf("day %u: the store refused delta %llu: %s (KSE-%03d); its failures "
                       "outran its spare\n", day, (unsigned long long)version, ks_err_name(rc),
                       ks_err_kse(rc));
                refused = 1;
                uint8_t *t = g.recs, (*lt)[32] = g.leaf; /* the store holds the version before */
                g.recs = g.tmp;
                g.tmp = t;
                g.leaf = g.ltmp;
                g.ltmp = lt;
                g.n = nold;
                break;
            }
            change += (uint64_t)(N_UPD + N_ADD) * KS_RECORD_SIZE + (uint64_t)N_RM * KS_KEYID_SIZE;
            folds += st.cur.ovl_gen == 0;
        }
        if (!refused) {
            t1 = bench_cpu_now();
            swrong += sample(&st, &g);
            tlook += bench_cpu_now() - t1;
        }
        if (day % report == 0 || day == days || refused) {
            ks_wear_report r;
            spread sp;
            ks_wear_report_get(&st, 0, &r);
            measure(&lf, &st, sectors, &sp);
            printf("day %u (%.1f y, %.0f s): %llu deltas, %u folds; pool erases max %u mean "
                   "%.1f (%.2f); device max %u mean %.2f (%.1f), reported max %u mean %.2f; "
                   "write amp %.1f; retired %u (pool sectors worn %u); life left %.1f years "
                   "at 10 a day; per day %.2f s of CPU (generator %.2f, store %.2f, sampled "
                   "lookups %.3f; %u wrong so far)\n",
                   day, day / 365.25, bench_now() - t0, (unsigned long long)(version - 1),
                   folds, sp.pool_max, sp.pool_mean, sp.pool_max / sp.pool_mean, sp.dev_max,
                   sp.dev_mean, sp.dev_max / sp.dev_mean, r.erase_max, r.erase_mean,
                   (double)(lf.prog_bytes - base_prog) / (double)change, r.retired,
                   sp.pool_worn, r.life_commits / PER_DAY / 365.25,
                   (bench_cpu_now() - c0) / day, tgen / day, tstore / day,
                   tlook / day, swrong);
            fflush(stdout);
        }
    }

    /* every record answered exactly, and the root proven from flash */
    uint8_t rec[KS_RECORD_SIZE];
    uint32_t wrong = 0, refusedl = 0;
    for (uint32_t i = 0; i < g.n; i++) {
        int rc = ks_store_lookup(&st, g.recs + (size_t)i * KS_RECORD_SIZE, rec);
        if (rc == KS_E_STORE_CORRUPT || rc == KS_E_IO)
            refusedl++;
        else
            wrong += rc != 0 || memcmp(rec, g.recs + (size_t)i * KS_RECORD_SIZE,
                                       KS_RECORD_SIZE) != 0;
    }
    ks_diag d = {0, 0, NULL};
    int crc = refused ? 0 : ks_store_check(&st, &d);
    printf("after %llu deltas: %u of %u lookups wrong, %u refused (sampled daily: %u wrong); "
           "root %s\n",
           (unsigned long long)(version - 1), wrong, g.n, refusedl, swrong,
           refused ? "not checked (the store refused)" : crc == 0 ? "proven" : ks_err_name(crc));
    return wrong || swrong || (!refused && crc);
}
