/*
 * bench_store_fold.c - issue 18: what a stream of deltas costs the flash
 * over a fill cycle, folds included, on a paged store (layout 2) beside the
 * same device run as layout 1. KS_BENCH_N credentials (default 1,000,000),
 * KS_BENCH_DELTAS 1,000-change deltas one after another (default 60: 20
 * overlay cycles of two appends and a fold), each proven with the tree
 * cache. Prints amortized bytes programmed per byte of change, erases per
 * delta, erase spread per sector (a counting flash wrapper sees every
 * erase), lookup ratio against an in-memory binary search, delta time, and
 * the projected life on 10,000-cycle flash at 10 and 1,440 deltas a day.
 * KS_BENCH_LAYOUT=1 runs the same sequence on layout 1 (full-area folds),
 * KS_BENCH_LAYOUT=2 on layout 2 (paged, no per-sector erase counts: next-fit
 * allocation), KS_BENCH_LAYOUT=4 on layout 4 (the overlay and maps taken from
 * the pool too); the default is layout 3 (least-erased-first). Lookups run
 * with the page fence index (cfg.page_index) and through the map in the
 * same alternating rounds as the in-memory search; KS_BENCH_PIDX=0 formats
 * and mounts without the fence index.
 */
#include "bench_store_util.h"

#include "ks_flash_file.h"

#define LOOKUPS 1000000u

int main(void)
{
    ks_crypto c;
    ks_flash_emu emu;
    ks_flash f;
    bench_cflash cnt;
    ks_store st;
    ks_store_cfg cfg;
    uint8_t pk[32], sk[64], rec[KS_RECORD_SIZE];
    ks_trust trust;
    ks_snap_header h;
    ks_recsrc src;
    uint32_t n = 1000000, deltas = 60;
    double t0, t1;

    if (getenv("KS_BENCH_N"))
        n = (uint32_t)strtoul(getenv("KS_BENCH_N"), NULL, 10);
    if (getenv("KS_BENCH_DELTAS"))
        deltas = (uint32_t)strtoul(getenv("KS_BENCH_DELTAS"), NULL, 10);
    if (ks_sodium_crypto(&c) != 0)
        return 1;
    ks_sodium_keypair(pk, sk);
    ks_trust_init(&trust);
    ks_trust_add(&trust, &c, pk);

    /* the same device as bench_store: two layout 1 areas for n + changes */
    uint32_t sectors = bench_store_sectors(n);
    if (ks_flash_emu_init(&emu, SECTOR, sectors, PROG, 0xFF) != 0 ||
        bench_cflash_init(&cnt, &f, &emu) != 0)
        return 1;
    /* the RAM index: one key id per 4 KiB page (layout 2 pages hold 27-31
     * records after folds; layout 1 gets the same RAM); KS_BENCH_LAYOUT
     * picks the layout (bench_store_layout) */
    if (bench_store_cfg(&cfg, &f, &c, KS_STORE_INDEX_CAP(n + 60 * 300 + CHANGES, 24),
                        bench_store_layout()) != 0)
        return 1;
    /* the page fence index (paged layouts) and its map of the applied
     * pages: room for every sector of the device, so it never runs short;
     * KS_BENCH_PIDX=0 leaves it out */
    if (!getenv("KS_BENCH_PIDX") || atoi(getenv("KS_BENCH_PIDX"))) {
        cfg.page_index_cap = sectors;
        if (!(cfg.page_index = malloc(KS_STORE_PAGE_INDEX_LEN(sectors) * sizeof(uint64_t))) ||
            !(cfg.page_index_sectors = malloc(KS_STORE_PAGE_INDEX_SECTORS_BYTES(sectors))))
            return 1;
    }
    if (ks_store_format(&st, &cfg, &trust) != 0)
        return 1;
    printf("store fold bench: %u credentials, layout %d, %u x %u B sectors (%s), overlay of "
           "%u entries, %u deltas of 1,000 changes\n",
           n, st.levelled ? 4 : st.counted ? 3 : st.paged ? 2 : 1, sectors, SECTOR,
           st.paged ? "two page maps and a page pool" : "two areas", OVL_CAP, deltas);
    if (st.paged)
        printf("  pages: %u records each, pool of %u sectors, maps of %u sectors\n", st.page_k,
               st.pool_sectors, st.area_sectors);

    uint8_t *recs = bench_records(&c, n);
    size_t snap_len = KS_SNAP_HEADER_SIZE + (size_t)n * KS_RECORD_SIZE;
    uint8_t *snap = malloc(snap_len);
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.created_at = 1700000000;
    if (ks_snapshot_write(&c, &h, recs, n, sk, snap, snap_len) != 0)
        return 1;
    ks_recsrc_mem(&src, snap + KS_SNAP_HEADER_SIZE, n);
    t0 = bench_now();
    if (ks_store_install(&st, snap, &src, 0, NULL) != 0)
        return 1;
    t1 = bench_now();
    printf("install: %.2f s, %.1f MB programmed, %llu erases\n", t1 - t0, cnt.prog_bytes / 1e6,
           (unsigned long long)cnt.erase_total);
    t0 = bench_now();
    int rc = ks_store_mount(&st, &cfg, NULL);
    t1 = bench_now();
    printf("mount: %.1f ms (full scan), rc %d\n", (t1 - t0) * 1e3, rc);

    ks_snap_header h1;
    ks_tree tree;
    ks_snap_header_decode(&h1, snap, NULL);
    uint8_t(*nodes)[32] = malloc(ks_tree_nodes(h1.bucket_bits) * 32);
    ks_store_records(&st, &src);
    if (ks_tree_build(&tree, &c, &src, h1.bucket_bits, nodes, ks_tree_nodes(h1.bucket_bits)))
        return 1;

    /* the stream of deltas, measured from after the install */
    uint64_t base_prog = cnt.prog_bytes, base_erase = cnt.erase_total, change = 0;
    uint32_t *after_install = malloc(sectors * sizeof *after_install);
    memcpy(after_install, cnt.erases, sectors * sizeof *after_install);
    double t_app = 0, t_fold = 0;
    uint32_t n_app = 0, n_fold = 0;
    uint64_t fold_prog = 0, fold_erase = 0;
    bench_ver v = {recs, n, snap, NULL, 0, 0};
    for (uint32_t i = 0; i < deltas; i++) {
        bench_ver nv;
        ks_delta dl;
        if (bench_next(&c, sk, &v, i + 2, n + 300u * i, &nv) != 0)
            return 1;
        ks_delta_parse(&dl, nv.delta, nv.delta_len, NULL);
        change += (uint64_t)dl.n_upserts * KS_RECORD_SIZE + (uint64_t)dl.n_removals * KS_KEYID_SIZE;
        uint64_t p0 = cnt.prog_bytes, e0 = cnt.erase_total;
        t0 = bench_now();
        rc = ks_store_apply_delta(&st, nv.delta, nv.delta_len, 0, &tree, NULL);
        t1 = bench_now();
        if (rc != 0) {
            printf("delta %u failed: %d\n", i, rc);
            return 1;
        }
        if (st.cur.ovl_gen) {
            t_app += t1 - t0;
            n_app++;
        } else {
            t_fold += t1 - t0;
            n_fold++;
            fold_prog += cnt.prog_bytes - p0;
            fold_erase += cnt.erase_total - e0;
        }
        if (i > 0)
            bench_ver_free(&v);
        v = nv;
    }
    uint64_t prog = cnt.prog_bytes - base_prog, er = cnt.erase_total - base_erase;
    printf("deltas: %u appends (%.1f ms each), %u folds (%.1f ms each, %.2f MB and %.0f erases "
           "each)\n", n_app, n_app ? t_app / n_app * 1e3 : 0, n_fold,
           n_fold ? t_fold / n_fold * 1e3 : 0, n_fold ? fold_prog / 1e6 / n_fold : 0,
           n_fold ? (double)fold_erase / n_fold : 0);
    printf("amortized over %u deltas: %.1f bytes programmed per byte of change (goal <= 40, "
           "layout 1: 467), %.0f erases per delta (goal <= 1,200, layout 1: 10,766)\n",
           deltas, (double)prog / (double)change, (double)er / deltas);

    /* erase spread: the whole device, and the snapshot region alone */
    uint32_t first = st.audit_first + 4 + 2 * OVL_HALF, mx = 0, mxs = 0, mn = UINT32_MAX;
    uint64_t sum = 0, sum_delta = 0;
    for (uint32_t s = 0; s < sectors; s++) {
        sum += cnt.erases[s];
        if (cnt.erases[s] > mx)
            mx = cnt.erases[s], mxs = s;
        if (cnt.erases[s] < mn)
            mn = cnt.erases[s];
        sum_delta += cnt.erases[s] - after_install[s];
    }
    double mean = (double)sum / sectors;
    /* the metadata: each compaction raises the epoch by one (format: 1) */
    printf("metadata: %u blocks of %u sectors, %llu compactions since format\n",
           st.cfg.meta_blocks, st.cfg.meta_sectors, (unsigned long long)st.meta_epoch - 1);
    printf("erases per sector (install + deltas), whole device: min %u mean %.2f max %u "
           "(sector %u, %s) max/mean %.1f\n", mn, mean, mx, mxs,
           mxs < st.audit_first ? "metadata" : mxs < first ? "audit/overlay"
           : (st.paged && mxs < st.pool_first) ? "page map" : "snapshot",
           mean > 0 ? mx / mean : 0);
    {
        uint32_t rmx = 0;
        uint64_t rsum = 0;
        uint32_t lo = st.paged ? st.pool_first : first, hi = st.paged ? st.pool_first + st.pool_sectors
                                                                     : sectors;
        for (uint32_t s = lo; s < hi; s++) {
            rsum += cnt.erases[s];
            if (cnt.erases[s] > rmx)
                rmx = cnt.erases[s];
        }
        double rmean = (double)rsum / (hi - lo);
        printf("  %s: mean %.2f max %u (max/mean %.2f)\n", st.paged ? "page pool" : "areas",
               rmean, rmx, rmean > 0 ? rmx / rmean : 0);
    }
    /* Life: the most-erased sector reaches 10,000 erases at the rate the
     * deltas wore it here (erases per delta on it). */
    {
        uint32_t dmx = 0;
        for (uint32_t s = 0; s < sectors; s++)
            if (cnt.erases[s] - after_install[s] > dmx)
                dmx = cnt.erases[s] - after_install[s];
        double per_delta = (double)dmx / deltas;
        double life = per_delta > 0 ? 10000.0 / per_delta : 0;
        double spread = (double)sum_delta / sectors / deltas;
        printf("projected life on 10,000-cycle flash: most-erased sector %.3f erases per delta "
               "-> %.0f deltas = %.1f years at 10/day, %.1f days at 1,440/day; with perfect "
               "levelling (%.4f erases per sector per delta) %.1f years at 1,440/day\n",
               per_delta, life, life / 10 / 365.25, life / 1440,
               spread, spread > 0 ? 10000.0 / spread / 1440 / 365.25 : 0);
    }

    /* lookups: the store (mapped, RAM index) against the in-memory search */
    {
        uint8_t *keys = malloc((size_t)LOOKUPS * KS_KEYID_SIZE);
        uint64_t rs = 7;
        volatile unsigned long sink = 0;
        for (uint32_t i = 0; i < LOOKUPS; i++) {
            rs = rs * 6364136223846793005ull + 1442695040888963407ull;
            memcpy(keys + (size_t)i * KS_KEYID_SIZE, v.recs + (size_t)((rs >> 33) % v.n) * KS_RECORD_SIZE,
                   KS_KEYID_SIZE);
        }
        f.map = emu.mem;
        /* every record of the final version, answered exactly */
        uint32_t wrong = 0;
        for (uint32_t i = 0; i < v.n; i++)
            wrong += ks_store_lookup(&st, v.recs + (size_t)i * KS_RECORD_SIZE, rec) != 0 ||
                     memcmp(rec, v.recs + (size_t)i * KS_RECORD_SIZE, KS_RECORD_SIZE) != 0;
        printf("every record of version %u looked up: %u wrong\n", deltas + 1, wrong);
        /* Alternating rounds: the in-memory search, the store with the page
         * fence index (no map entry per lookup), the store through the map
         * (its RAM index of one key id per page; st.pidx_n = 0 switches the
         * fence index off for that round only). Median of 5 each. */
        double rm[5], rst[5], rmap[5], cm[5], cst[5], cmap[5], c0;
        uint32_t hits = 0, pidx_n = st.pidx_n;
        for (int r = 0; r < 5; r++) {
            t0 = bench_now();
            c0 = bench_cpu_now();
            for (uint32_t i = 0; i < LOOKUPS; i++)
                sink += mem_find(v.recs, v.n, keys + (size_t)i * KS_KEYID_SIZE);
            t1 = bench_now();
            cm[r] = LOOKUPS / (bench_cpu_now() - c0);
            rm[r] = LOOKUPS / (t1 - t0);
            hits = 0;
            t0 = bench_now();
            c0 = bench_cpu_now();
            for (uint32_t i = 0; i < LOOKUPS; i++)
                hits += ks_store_lookup(&st, keys + (size_t)i * KS_KEYID_SIZE, rec) == 0;
            t1 = bench_now();
            cst[r] = LOOKUPS / (bench_cpu_now() - c0);
            rst[r] = LOOKUPS / (t1 - t0);
            st.pidx_n = 0;
            t0 = bench_now();
            c0 = bench_cpu_now();
            for (uint32_t i = 0; i < LOOKUPS; i++)
                sink += ks_store_lookup(&st, keys + (size_t)i * KS_KEYID_SIZE, rec) == 0;
            t1 = bench_now();
            cmap[r] = LOOKUPS / (bench_cpu_now() - c0);
            st.pidx_n = pidx_n;
            rmap[r] = LOOKUPS / (t1 - t0);
        }
        double sm = bench_median(rm, 5), ss = bench_median(rst, 5), sp = bench_median(rmap, 5);
        printf("lookups (mapped, overlay %u entries, median of 5 alternating rounds): in-memory "
               "%.2f M/s; store with the page fence index (%u pages, %.2f bytes per key) %.2f M/s, "
               "ratio %.2f; through the map (RAM index, one key id per page) %.2f M/s, ratio "
               "%.2f (%u of %u hit) [%lu]\n",
               st.cur.ovl_gen ? st.ovl_n : 0, sm / 1e6, pidx_n,
               pidx_n ? 24.0 * pidx_n / st.cur.count : 0, ss / 1e6, ss / sm, sp / 1e6,
               sp / sm, hits, LOOKUPS, sink % 7);
        /* the same rounds per CPU second of this thread: a loaded machine's
         * preemptions (the wall figures' main noise) do not count */
        sm = bench_median(cm, 5);
        ss = bench_median(cst, 5);
        sp = bench_median(cmap, 5);
        printf("  per CPU second: in-memory %.2f M/s; page fence index %.2f M/s, ratio %.2f; "
               "through the map %.2f M/s, ratio %.2f\n",
               sm / 1e6, ss / 1e6, ss / sm, sp / 1e6, sp / sm);
        /* mount (full scan) with no RAM index, with cfg.index alone, and with
         * the page fence index (which fills cfg.index in the same pass),
         * alternating, best of 3 each */
        double mt[3] = {1e9, 1e9, 1e9};
        for (int r = 0; r < 9; r++) {
            int w = r % 3;
            ks_store_cfg c2 = cfg;
            if (w < 2) {
                c2.page_index = NULL;
                c2.page_index_cap = 0;
            }
            if (w == 0) {
                c2.index = NULL;
                c2.index_cap = 0;
            }
            t0 = bench_now();
            rc = ks_store_mount(&st, &c2, NULL);
            t1 = bench_now();
            if ((t1 - t0) * 1e3 < mt[w])
                mt[w] = (t1 - t0) * 1e3;
            if (rc != 0)
                return 1;
        }
        printf("mount (full scan; best of 3, alternating): %.1f ms with no RAM index, %.1f ms "
               "with cfg.index, %.1f ms with the page fence index (%u pages)\n", mt[0], mt[1],
               mt[2], st.pidx_n);
        free(keys);
    }
    return 0;
}
