/*
 * bench_ctl_wear.c - issue 18: where keysup-controller's own flash wears.
 *
 * The store is the agent's: ctl_open_mem builds it with the controller's
 * geometry and configuration (src/controller/ctl_agent.c: 1,024 sectors of
 * 4 KiB, 24-sector metadata blocks, a 64-sector audit ring, a 16-sector
 * overlay, 256 counter rows, layout 4 with the fence index), then a
 * counting flash (bench_cflash) is put under it and it is formatted again,
 * so every erase from the format on is seen per sector. Only the metadata
 * block count and size vary (KS_BENCH_RINGS, a list of KxM, default
 * "2x24,3x16"; "2x24" is what agents before the ring formatted).
 *
 * The workload is what the agent writes for a day (ctl_sync.c): R deltas,
 * each applied as delta_bytes() does (no tree cache) and followed by the
 * settings save of synced(); the hourly settings save when no delta came
 * within the hour (two per delta at 10 a day, none at 1,440); and D access
 * decisions, each an audit record appended and uploaded on its own
 * heartbeat (the worst case), its acknowledgement written to flash at once
 * (one metadata slot each, as agents before ctl_audit_ack_save did) or as
 * the agent does now (at most every CTL_ACK_PERSIST_S). Delta sizes are the
 * accelerated-life test's mix: 70 % change 1-4 keys, 25 % 5-24, 5 % 40-119.
 * KS_BENCH_N keys (default 5,000); each case runs with no decisions and
 * with KS_BENCH_DECISIONS a day (default 1,000) both ways;
 * KS_BENCH_COUNTERS rows kept in the counter table (default 64, as an
 * engine with use counters and lockouts keeps), KS_BENCH_DELTAS deltas per
 * run (default 2,000 at 1,440 a day and a quarter of that at 10 a day);
 * KS_BENCH_DEAD_BLOCK=b fails metadata block b's first sector after the
 * install (a ring passes it over; a pair stops committing).
 *
 * Prints, per configuration, rate and decisions: each region's erases per
 * sector per day after the install (metadata, audit ring, pool), the
 * hottest region and the projected life on 10,000-cycle flash, the
 * device's min/mean/max now; and the store's own wear report (ks_wear.c,
 * what `keysup flash wear` and the health report state) beside it.
 */
#include "bench_store_util.h"

#include "ctl_agent.h"
#include "ks_wear.h"

#define ENDURANCE 10000.0

typedef struct gen {
    const ks_crypto *c;
    uint8_t sk[64];
    uint8_t *recs, *snap, *delta;
    uint32_t n, cap;
    size_t snap_len, delta_len;
    uint64_t version, next_holder, rng;
} gen;

static uint32_t rnd(gen *g, uint32_t n)
{
    g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((g->rng >> 33) % n);
}

/* The mix of delta sizes of tests/test_store_life.c. */
static uint32_t delta_size(gen *g)
{
    uint32_t p = rnd(g, 100);
    return p < 70 ? 1 + rnd(g, 4) : p < 95 ? 5 + rnd(g, 20) : 40 + rnd(g, 80);
}

/* Signs the current records as version g->version into g->snap. */
static int gen_sign(gen *g, uint64_t created_at)
{
    ks_snap_header h;
    memset(&h, 0, sizeof h);
    h.version = g->version;
    h.created_at = created_at;
    g->snap_len = KS_SNAP_HEADER_SIZE + (size_t)g->n * KS_RECORD_SIZE;
    return ks_snapshot_write(g->c, &h, g->recs, g->n, g->sk, g->snap, g->snap_len);
}

/* The next version, k changes (a third each updated, removed, added), and
 * the delta to it. */
static int gen_next(gen *g, uint32_t k, uint64_t created_at)
{
    uint8_t *old = malloc((size_t)g->cap * KS_RECORD_SIZE + 1);
    uint8_t *old_snap = malloc(g->snap_len);
    uint32_t old_n = g->n;
    ks_snap_header ho;
    ks_recsrc a, b;
    size_t need;
    int err = 1;

    if (!old || !old_snap)
        goto cleanup;
    memcpy(old, g->recs, (size_t)g->n * KS_RECORD_SIZE);
    memcpy(old_snap, g->snap, g->snap_len);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t what = i % 3;
        if (what == 1 && g->n > 16) { /* remove one */
            uint32_t j = rnd(g, g->n);
            memmove(g->recs + (size_t)j * KS_RECORD_SIZE, g->recs + (size_t)(j + 1) * KS_RECORD_SIZE,
                    (size_t)(g->n - j - 1) * KS_RECORD_SIZE);
            g->n--;
        } else if (what == 2 && g->n < g->cap) { /* add one (sorted in below) */
            bench_record(g->c, g->next_holder++, g->recs + (size_t)g->n++ * KS_RECORD_SIZE);
            qsort(g->recs, g->n, KS_RECORD_SIZE, bench_cmp_rec);
        } else { /* update one */
            ks_record r;
            uint8_t *p = g->recs + (size_t)rnd(g, g->n) * KS_RECORD_SIZE;
            ks_record_decode(&r, p, NULL);
            r.privileges ^= KS_PRIV_REFUND;
            ks_record_encode(&r, p);
        }
    }
    g->version++;
    if (gen_sign(g, created_at) != 0)
        goto cleanup;
    ks_recsrc_mem(&a, old, old_n);
    ks_recsrc_mem(&b, g->recs, g->n);
    ks_snap_header_decode(&ho, old_snap, NULL);
    if (ks_delta_write(&a, &ho, &b, g->snap, NULL, 0, &need) != 0 && need == 0)
        goto cleanup;
    free(g->delta);
    if (!(g->delta = malloc(need)))
        goto cleanup;
    g->delta_len = need;
    err = ks_delta_write(&a, &ho, &b, g->snap, g->delta, need, &need) != 0;
cleanup:
    free(old);
    free(old_snap);
    return err;
}

typedef struct region {
    uint32_t min, max;
    double mean;
} region;

static region span(const uint32_t *e, uint32_t lo, uint32_t hi)
{
    region r = {UINT32_MAX, 0, 0};
    uint64_t sum = 0;
    for (uint32_t s = lo; s < hi; s++) {
        sum += e[s];
        r.min = e[s] < r.min ? e[s] : r.min;
        r.max = e[s] > r.max ? e[s] : r.max;
    }
    r.mean = hi > lo ? (double)sum / (hi - lo) : 0;
    if (hi <= lo)
        r.min = 0;
    return r;
}

/*
 * One run: a fresh controller store with K blocks of M sectors, n keys,
 * `deltas` deltas at `per_day` a day and `decisions` decisions a day.
 */
static int run(const ks_crypto *c, uint32_t k, uint32_t m, uint32_t n, uint32_t deltas,
               uint32_t per_day, uint32_t decisions, int lazy, uint32_t counters)
{
    ctl_agent *a = calloc(1, sizeof *a);
    ctl_opts o;
    bench_cflash cnt;
    ks_flash f;
    ks_trust trust;
    uint8_t pk[32];
    gen g;
    int rc = 1;

    memset(&g, 0, sizeof g);
    memset(&o, 0, sizeof o);
    if (!a)
        return 1;
    o.meta_blocks = k;
    o.meta_sectors = m;
    g.c = c;
    g.rng = 0x5eed0000u + k * 131 + m;
    g.version = 1;
    g.next_holder = n;
    g.n = n;
    g.cap = n + deltas * 120;
    ks_sodium_keypair(pk, g.sk);
    ks_trust_init(&trust);
    ks_trust_add(&trust, c, pk);
    /* the agent's own set-up, then the counting flash under a fresh format */
    if (ctl_open_mem(a, &o) != KS_OK || bench_cflash_init(&cnt, &f, &a->flash) != 0) {
        fprintf(stderr, "controller store %ux%u: set-up failed\n", k, m);
        goto cleanup;
    }
    a->scfg.flash = &f;
    if (ctl_store_format(a, &trust) != KS_OK) {
        fprintf(stderr, "controller store %ux%u: format failed\n", k, m);
        goto cleanup;
    }
    for (uint32_t i = 0; i < counters; i++) { /* an engine's rows: use counters, lockouts */
        ks_counter row;
        memset(&row, 0, sizeof row);
        row.id[0] = (uint8_t)i;
        row.id[1] = (uint8_t)(i >> 8);
        row.use_counter = i;
        if (ks_store_counter_put(&a->store, &row) != KS_OK)
            goto cleanup;
    }
    /* the database, installed as a full download is */
    g.recs = malloc((size_t)g.cap * KS_RECORD_SIZE + 1);
    g.snap = malloc(KS_SNAP_HEADER_SIZE + (size_t)g.cap * KS_RECORD_SIZE);
    uint8_t *first = bench_records(c, n);
    if (!g.recs || !g.snap || !first)
        goto cleanup;
    memcpy(g.recs, first, (size_t)n * KS_RECORD_SIZE);
    free(first);
    const uint64_t t0 = 1750000000u;
    ks_recsrc src;
    if (gen_sign(&g, t0) != 0)
        goto cleanup;
    ks_recsrc_mem(&src, g.snap + KS_SNAP_HEADER_SIZE, g.n);
    if (ks_store_install(&a->store, g.snap, &src, 0, NULL) != KS_OK) {
        fprintf(stderr, "controller store %ux%u: install of %u keys failed\n", k, m, n);
        goto cleanup;
    }
    (void)ctl_settings_save(a);
    /* KS_BENCH_DEAD_BLOCK=b: metadata block b's first sector fails its
     * erases and programs from here on, as a sector dying early does (the
     * ring passes the block over; the pair cannot compact any more) */
    if (getenv("KS_BENCH_DEAD_BLOCK"))
        ks_flash_emu_wear(&a->flash, (uint32_t)strtoul(getenv("KS_BENCH_DEAD_BLOCK"), NULL, 10) * m,
                          KS_EMU_WORN_LOUD);

    /* the days: deltas evenly, hourly saves between them, decisions */
    const double gap = 86400.0 / per_day;
    const uint32_t hourly = gap > 3600 ? (uint32_t)((gap - 1) / 3600) : 0;
    const double dec_per_delta = (double)decisions / per_day;
    uint64_t meta_writes = 0, acked = 0, dec_n = 0;
    double dec_due = 0, ack_t = -1e9;
    uint8_t payload[KS_AUDIT_PAYLOAD];
    memset(payload, 0x5a, sizeof payload);
    uint32_t audit_lo = a->store.audit_first, pool_lo = a->store.pool_first;
    region bm = span(cnt.erases, 0, audit_lo), ba = span(cnt.erases, audit_lo, pool_lo),
           bp = span(cnt.erases, pool_lo, f.sector_count);
    for (uint32_t i = 0; i < deltas; i++) {
        uint64_t when = t0 + (uint64_t)((i + 1) * gap);
        ks_diag d = {0};
        if (gen_next(&g, delta_size(&g), when) != 0)
            goto cleanup;
        int err = ks_store_apply_delta(&a->store, g.delta, g.delta_len, 0, NULL, &d);
        if (err != KS_OK) {
            fprintf(stderr, "delta %u refused: %s %s\n", i, ks_err_name(err), d.what ? d.what : "");
            goto cleanup;
        }
        (void)ctl_settings_save(a); /* synced(changed = 1) */
        for (uint32_t h = 0; h < hourly; h++)
            (void)ctl_settings_save(a), meta_writes++;
        /* each decision uploaded on its own heartbeat; its acknowledgement
         * written at once (agents before this bench) or as ctl_audit_ack_save
         * does: at most every CTL_ACK_PERSIST_S, or a quarter ring behind */
        for (dec_due += dec_per_delta; dec_due >= 1; dec_due -= 1) {
            uint64_t seq;
            double t = (double)dec_n++ * 86400.0 / decisions; /* evenly over the day */
            ks_store_info info;
            if (ks_store_audit_append(&a->store, payload, &seq) != KS_OK)
                goto cleanup;
            ks_store_get_info(&a->store, &info);
            if (lazy && t - ack_t < CTL_ACK_PERSIST_S && (seq - acked) * 4 < info.audit_capacity)
                continue;
            if (ks_store_audit_ack(&a->store, seq) != KS_OK)
                goto cleanup;
            acked = seq;
            ack_t = t;
            meta_writes++;
        }
    }

    /* the regions as the counting flash saw them: the rate is the
     * region's mean after the install to the end (levelled regions: the
     * pair's blocks alternate, the ring and the audit ring go round, the
     * pool is taken least-erased first, so each sector wears at it) */
    const double days = (double)deltas / per_day;
    region rm = span(cnt.erases, 0, audit_lo), ra = span(cnt.erases, audit_lo, pool_lo),
           rp = span(cnt.erases, pool_lo, f.sector_count), rd = span(cnt.erases, 0, f.sector_count);
    double vm = (rm.mean - bm.mean) / days, va = (ra.mean - ba.mean) / days,
           vp = (rp.mean - bp.mean) / days, vmax = vm > va ? vm : va;
    vmax = vp > vmax ? vp : vmax;
    const char *hot = vmax == vm ? "metadata" : vmax == va ? "audit ring" : "pool";
    printf("%ux%-2u %4u/day %5u dec/day%s | erases per sector per day: metadata (%u s) %.4f, audit "
           "(%u s) %.4f, pool (%u s) %.4f | hottest %s: %.1f years (metadata %.1f, pool %.1f) | "
           "now min/mean/max %u/%.2f/%u, max/mean %.2f; metadata sectors min/max %u/%u\n",
           k, m, per_day, decisions, decisions ? lazy ? " (ack/10 min)" : " (ack each)  " : "",
           audit_lo, vm, pool_lo - audit_lo, va,
           f.sector_count - pool_lo, vp, hot, ENDURANCE / vmax / 365.25,
           vm > 0 ? ENDURANCE / vm / 365.25 : 0, vp > 0 ? ENDURANCE / vp / 365.25 : 0, rd.min,
           rd.mean, rd.max, rd.max / rd.mean, rm.min, rm.max);
    /* each block's sectors: how evenly the ring goes round */
    printf("      metadata blocks (max erases):");
    for (uint32_t b = 0; b < k; b++)
        printf(" %u", span(cnt.erases, b * m, (b + 1) * m).max);
    printf("\n");
    /* the store's own report, as `keysup flash wear` and the health report state it */
    ks_wear_report w;
    ks_wear_report_get(&a->store, 0, &w);
    printf("      store's report: %u sectors, min %u mean %.2f max %u (flash: %u / %.2f / %u), "
           "%u commits, %.2f erases/commit, %.0f commits a day observed, life %.1f years; "
           "%llu compactions, %llu metadata writes besides the deltas'\n",
           w.sectors, w.erase_min, w.erase_mean, w.erase_max, rd.min, rd.mean, rd.max, w.commits,
           w.erases_per_commit, w.rate_per_day, w.life_days / 365.25,
           (unsigned long long)a->store.meta_epoch - 1, (unsigned long long)meta_writes);
    rc = 0;
cleanup:
    free(g.recs);
    free(g.snap);
    free(g.delta);
    free(cnt.erases);
    ctl_close(a);
    free(a);
    return rc;
}

int main(void)
{
    ks_crypto c;
    uint32_t n = 5000, deltas = 2000, counters = 64;
    uint32_t decisions[2] = {0, 1000};
    const char *rings = getenv("KS_BENCH_RINGS") ? getenv("KS_BENCH_RINGS") : "2x24,3x16";

    if (getenv("KS_BENCH_N"))
        n = (uint32_t)strtoul(getenv("KS_BENCH_N"), NULL, 10);
    if (getenv("KS_BENCH_DELTAS"))
        deltas = (uint32_t)strtoul(getenv("KS_BENCH_DELTAS"), NULL, 10);
    if (getenv("KS_BENCH_DECISIONS"))
        decisions[1] = (uint32_t)strtoul(getenv("KS_BENCH_DECISIONS"), NULL, 10);
    if (getenv("KS_BENCH_COUNTERS"))
        counters = (uint32_t)strtoul(getenv("KS_BENCH_COUNTERS"), NULL, 10);
    if (ks_sodium_crypto(&c) != 0)
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0); /* each case as it ends */
    printf("controller wear bench: the agent's store (%u sectors of %u B), %u keys, %u counter "
           "rows, delta mix 70%% 1-4 / 25%% 5-24 / 5%% 40-119 changes, each followed by its "
           "settings save; life on %.0f-cycle flash\n",
           CTL_DEFAULT_SECTORS, CTL_SECTOR_SIZE, n, counters, ENDURANCE);
    for (const char *p = rings; *p;) {
        unsigned k, m;
        if (sscanf(p, "%ux%u", &k, &m) != 2)
            return 2;
        for (int d = 0; d < 3; d++)
            if (run(&c, k, m, n, deltas, 1440, decisions[d > 0], d == 2, counters) != 0 ||
                run(&c, k, m, n, deltas / 4, 10, decisions[d > 0], d == 2, counters) != 0)
                return 1;
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    return 0;
}
