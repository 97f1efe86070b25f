/*
 * bench_store.c - the flash store on an emulated in-memory device holding
 * KS_BENCH_N credentials (default 1,000,000): install rate, lookups from
 * the store against an in-memory binary search over the same records in
 * the same run, a delta of 1,000 changes (time, bytes programmed per byte
 * of change, erases), and mount time (full CRC scan).
 * KS_BENCH_STRIDE=k sets the RAM index stride (records per entry, default 32).
 */
#include "bench_util.h"

#include "ks_flash_file.h"
#include "ks_wear.h"
#include "bench_store_util.h"

#define LOOKUPS 1000000u
#define INDEX_STRIDE 32u

int main(void)
{
    ks_crypto c;
    ks_flash_emu emu;
    ks_store st;
    ks_store_cfg cfg;
    uint8_t pk[32], sk[64], rec[KS_RECORD_SIZE];
    ks_trust trust;
    ks_snap_header h;
    ks_recsrc src;
    uint32_t n = 1000000;
    const char *env = getenv("KS_BENCH_N");
    double t0, t1;

    if (env)
        n = (uint32_t)strtoul(env, NULL, 10);
    if (ks_sodium_crypto(&c) != 0)
        return 1;
    ks_sodium_keypair(pk, sk);
    ks_trust_init(&trust);
    ks_trust_add(&trust, &c, pk);

    /* device: metadata 2x2 sectors, audit 4, the overlay (two halves of
     * OVL_HALF sectors), two areas for n + changes records; layout 1 */
    uint32_t sectors = bench_store_sectors(n);
    if (ks_flash_emu_init(&emu, SECTOR, sectors, PROG, 0xFF) != 0)
        return 1;
    /* the optional RAM index: one key id per 4 KiB of records (32 records) */
    uint32_t stride = getenv("KS_BENCH_STRIDE") ? (uint32_t)strtoul(getenv("KS_BENCH_STRIDE"), NULL, 10) : INDEX_STRIDE;
    if (bench_store_cfg(&cfg, &emu.flash, &c, KS_STORE_INDEX_CAP(n + CHANGES, stride), 1) != 0)
        return 1;
    if (ks_store_format(&st, &cfg, &trust) != 0)
        return 1;

    printf("store bench: %u credentials, emulated flash %u x %u B sectors, prog unit %u B, "
           "work buffer %u B\n", n, sectors, SECTOR, PROG, cfg.buf_size);
    uint8_t *recs = bench_records(&c, n);
    size_t snap_len = KS_SNAP_HEADER_SIZE + (size_t)n * KS_RECORD_SIZE;
    uint8_t *snap = malloc(snap_len);
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.created_at = 1700000000;
    if (ks_snapshot_write(&c, &h, recs, n, sk, snap, snap_len) != 0)
        return 1;

    /* install */
    ks_flash_emu_reset_stats(&emu);
    ks_recsrc_mem(&src, snap + KS_SNAP_HEADER_SIZE, n);
    t0 = bench_now();
    int rc = ks_store_install(&st, snap, &src, 0, NULL);
    t1 = bench_now();
    if (rc != 0) {
        printf("install failed: %d\n", rc);
        return 1;
    }
    printf("install:        %.0f records/s (%.2f s for %u, incl. erase, program+read-back, "
           "Merkle root re-read from flash); %.1f MB programmed, %llu erases\n",
           n / (t1 - t0), t1 - t0, n, emu.prog_bytes / 1e6, (unsigned long long)emu.erases);

    /* mount: full CRC scan of every record */
    t0 = bench_now();
    rc = ks_store_mount(&st, &cfg, NULL);
    t1 = bench_now();
    printf("mount:          %.1f ms (full CRC scan of %u records), rc %d\n", (t1 - t0) * 1e3, n,
           rc);

    /*
     * Lookups, same random keys, interleaved rounds: the in-memory binary
     * search over the same records (the baseline), then the store on the
     * mapped flash with the RAM index and the device's CRC engine (the
     * configuration the figure is for), without the index, and with the
     * portable CRC-32C instead of the engine. A second context mounted on
     * the same device, without an index, gives the unindexed figure.
     */
    ks_store plain;
    ks_store_cfg pcfg = cfg;
    pcfg.index = NULL;
    pcfg.index_cap = 0;
    if (ks_store_mount(&plain, &pcfg, NULL) != 0)
        return 1;
    uint32_t (*hw_crc)(void *, uint32_t, const void *, size_t) = emu.flash.crc32c;
    uint32_t *order = malloc(LOOKUPS * sizeof *order);
    /*
     * The keys looked up, copied out of the records into their own array,
     * as a reader hands a key id to the controller. Both searches read them
     * from here: taking them from the baseline's own records would warm the
     * very line its last probe lands on, and flatter it.
     */
    uint8_t *keys = malloc((size_t)LOOKUPS * KS_KEYID_SIZE);
    for (uint32_t i = 0; i < LOOKUPS; i++) {
        order[i] = randombytes_uniform(n);
        memcpy(keys + (size_t)i * KS_KEYID_SIZE, recs + (size_t)order[i] * KS_RECORD_SIZE,
               KS_KEYID_SIZE);
    }
    double rm[5], rs[5], rp[5], rc5[5];
    unsigned long sink = 0;
    for (int round = 0; round < 5; round++) {
        t0 = bench_now();
        for (uint32_t i = 0; i < LOOKUPS; i++)
            sink += mem_find(recs, n, keys + (size_t)i * KS_KEYID_SIZE);
        t1 = bench_now();
        rm[round] = LOOKUPS / (t1 - t0);
        for (int v = 0; v < 3; v++) {
            ks_store *s = v == 1 ? &plain : &st;
            emu.flash.crc32c = v == 2 ? NULL : hw_crc;
            t0 = bench_now();
            for (uint32_t i = 0; i < LOOKUPS; i++) {
                if (ks_store_lookup(s, keys + (size_t)i * KS_KEYID_SIZE, rec) != 0)
                    return 2;
                sink += rec[20];
            }
            t1 = bench_now();
            (v == 0 ? rs : v == 1 ? rp : rc5)[round] = LOOKUPS / (t1 - t0);
        }
        emu.flash.crc32c = hw_crc;
    }
    double ms = bench_median(rm, 5), ss = bench_median(rs, 5), sp = bench_median(rp, 5),
           sc = bench_median(rc5, 5);
    /* through the read() callback (flash not memory-mapped), with the index */
    const uint8_t *map = emu.flash.map;
    emu.flash.map = NULL;
    double rr[3];
    for (int round = 0; round < 3; round++) {
        t0 = bench_now();
        for (uint32_t i = 0; i < LOOKUPS; i++) {
            if (ks_store_lookup(&st, keys + (size_t)i * KS_KEYID_SIZE, rec) != 0)
                return 2;
            sink += rec[20];
        }
        t1 = bench_now();
        rr[round] = LOOKUPS / (t1 - t0);
    }
    emu.flash.map = map;
    double sr = bench_median(rr, 3);
    printf("lookups (mapped): store %.2f M/s, in-memory binary search %.2f M/s, ratio %.2f "
           "(target >= 0.8; median of 5 warm rounds of %u random hits, interleaved; RAM index "
           "of %u key ids = %u B, one per %u records; CRC-32C by the device's engine%s; "
           "every answer CRC-checked) [%lu]\n",
           ss / 1e6, ms / 1e6, ss / ms, LOOKUPS, cfg.index_cap,
           cfg.index_cap * KS_KEYID_SIZE, stride,
           hw_crc ? " (SSE4.2)" : ": none here, portable code", sink % 7);
    printf("lookups (mapped, no index):            %.2f M/s, ratio %.2f\n", sp / 1e6, sp / ms);
    printf("lookups (mapped, index, portable CRC): %.2f M/s, ratio %.2f\n", sc / 1e6, sc / ms);
    printf("lookups (read callback, index):        %.2f M/s, ratio %.2f (median of 3)\n",
           sr / 1e6, sr / ms);

    /*
     * Deltas of 1,000 changes (400 updates, 300 insertions, 300 removals),
     * each from the previous version. "Before" is the full rewrite of the
     * spare area every delta took before the overlay (and every fold still
     * takes): the overlay is switched off for that one delta by giving the
     * store a table of 0 entries, which sends it down the folding path.
     */
    ks_tree tree;
    ks_snap_header h1;
    ks_snap_header_decode(&h1, snap, NULL);
    unsigned bits = h1.bucket_bits;
    uint8_t(*nodes)[32] = malloc(ks_tree_nodes(bits) * 32);
    ks_store_records(&st, &src);
    t0 = bench_now();
    if (ks_tree_build(&tree, &c, &src, bits, nodes, ks_tree_nodes(bits)) != 0)
        return 1;
    t1 = bench_now();
    printf("tree cache:     built from flash in %.1f ms (%u bucket bits, %.1f MB RAM)\n",
           (t1 - t0) * 1e3, bits, ks_tree_nodes(bits) * 32 / 1e6);

    bench_ver v = {recs, n, snap, NULL, 0, 0};
    static const char *const label[] = {
        "delta, before (full rewrite of the spare area)",
        "delta, after (overlay append, new epoch)",
        "delta, after (overlay append, 2nd segment)",
        "delta, overlay full: fold into the spare area"};
    uint64_t ovl_bytes = 0, ovl_erases = 0, before_bytes = 0, before_erases = 0;
    uint64_t fold_bytes = 0, fold_erases = 0;
    size_t ovl_change = 0, before_change = 0, fold_change = 0;
    for (int step = 0; step < 4; step++) {
        bench_ver nv;
        if (bench_next(&c, sk, &v, (uint32_t)step + 2, n + 300u * (uint32_t)step, &nv) != 0)
            return 1;
        ks_delta dl;
        ks_delta_parse(&dl, nv.delta, nv.delta_len, NULL);
        size_t change_bytes =
            (size_t)dl.n_upserts * KS_RECORD_SIZE + (size_t)dl.n_removals * KS_KEYID_SIZE;
        uint32_t cap = st.cfg.overlay_cap;
        if (step == 0)
            st.cfg.overlay_cap = 0;
        ks_flash_emu_reset_stats(&emu);
        t0 = bench_now();
        rc = ks_store_apply_delta(&st, nv.delta, nv.delta_len, 0, &tree, NULL);
        t1 = bench_now();
        st.cfg.overlay_cap = cap;
        if (rc != 0) {
            printf("delta failed: %d\n", rc);
            return 1;
        }
        printf("%-47s %u upserts + %u removals (tree) in %.1f ms: %.3f MB programmed = %.1f "
               "bytes per byte of change (%zu B of change); %llu erases; overlay %u entries\n",
               label[step], dl.n_upserts, dl.n_removals, (t1 - t0) * 1e3, emu.prog_bytes / 1e6,
               (double)emu.prog_bytes / (double)change_bytes, change_bytes,
               (unsigned long long)emu.erases, st.cur.ovl_gen ? st.ovl_n : 0);
        if (step == 0) {
            before_bytes = emu.prog_bytes;
            before_erases = emu.erases;
            before_change = change_bytes;
        } else if (step == 3) {
            fold_bytes = emu.prog_bytes;
            fold_erases = emu.erases;
            fold_change = change_bytes;
        } else {
            ovl_bytes += emu.prog_bytes;
            ovl_erases += emu.erases;
            ovl_change += change_bytes;
        }
        if (step == 2) { /* lookups answered through a non-empty overlay, interleaved
                          * with the in-memory baseline over the original records */
            uint32_t hits = 0;
            double ro[3], rb[3];
            for (int round = 0; round < 3; round++) {
                t0 = bench_now();
                for (uint32_t i = 0; i < LOOKUPS; i++)
                    sink += mem_find(recs, n, keys + (size_t)i * KS_KEYID_SIZE);
                t1 = bench_now();
                rb[round] = LOOKUPS / (t1 - t0);
                hits = 0;
                t0 = bench_now();
                for (uint32_t i = 0; i < LOOKUPS; i++)
                    hits += ks_store_lookup(&st, keys + (size_t)i * KS_KEYID_SIZE, rec) == 0;
                t1 = bench_now();
                ro[round] = LOOKUPS / (t1 - t0);
            }
            double so = bench_median(ro, 3), sb = bench_median(rb, 3);
            printf("lookups (mapped, index, %u overlay entries): %.2f M/s (%u of %u keys "
                   "still enrolled), in-memory %.2f M/s: ratio %.2f (median of 3, interleaved)"
                   " [%lu]\n", st.ovl_n, so / 1e6, hits, LOOKUPS, sb / 1e6, so / sb, sink % 7);
        }
        if (step > 0)
            bench_ver_free(&v);
        v = nv;
    }
    {
        uint32_t per_fill = OVL_CAP < OVL_HALF * SECTOR / 144 ? OVL_CAP : OVL_HALF * SECTOR / 144;
        /* a cycle: per_fill / 1,000 appends, then one fold */
        double k = (double)(per_fill / CHANGES);
        printf("1,000-change delta at %u records: before %.0f bytes programmed per byte of "
               "change, %llu erases; after (overlay append) %.2f bytes per byte, %.1f erases; "
               "with one fold every %.0f deltas (overlay of %u entries) %.1f bytes per byte, "
               "%.0f erases per delta on average\n",
               n, (double)before_bytes / (double)before_change,
               (unsigned long long)before_erases, (double)ovl_bytes / (double)ovl_change,
               ovl_erases / 2.0, k + 1, per_fill,
               ((double)ovl_bytes / 2 * k + (double)fold_bytes) / (k + 1) /
                   ((double)(ovl_change / 2 * k + fold_change) / (k + 1)),
               (ovl_erases / 2.0 * k + (double)fold_erases) / (k + 1));
    }

    /* a smaller delta without a tree: the merged view is rehashed from flash */
    {
        bench_ver nv;
        if (bench_next(&c, sk, &v, 6, n + 1200u, &nv) != 0)
            return 1;
        ks_flash_emu_reset_stats(&emu);
        t0 = bench_now();
        rc = ks_store_apply_delta(&st, nv.delta, nv.delta_len, 0, NULL, NULL);
        t1 = bench_now();
        printf("delta (no tree): 1,000 changes into the overlay in %.1f ms (rehash of %u records "
               "read back through the merged view), rc %d; %llu erases\n",
               (t1 - t0) * 1e3, nv.n, rc, (unsigned long long)emu.erases);
        bench_ver_free(&v);
        v = nv;
    }

    /* Wear so far (issue 18): the store's own counts over the install and
     * every delta above, before the counter and audit loops below add
     * their compactions. Projected life on 10,000-cycle flash assumes the
     * deltas keep wearing the most-erased sector as they did here. */
    {
        ks_wear_report w;
        ks_wear_report_get(&st, 10000, &w);
        printf("wear after %u commits (install + deltas): erases per sector min %u mean %.2f "
               "max %u (max/mean %.1f), %.1f erases per commit, write amplification %.1f "
               "bytes per byte of change; projected life on 10,000-cycle flash: %.0f deltas, "
               "%.1f years at 10 deltas/day, %.1f days at 1,440 deltas/day\n",
               w.commits, w.erase_min, w.erase_mean, w.erase_max,
               w.erase_mean > 0 ? w.erase_max / w.erase_mean : 0, w.erases_per_commit,
               w.write_amp, w.life_commits, ks_wear_life_days(&w, 10) / 365.25,
               ks_wear_life_days(&w, 1440));
    }

    /* small writes: counter update and audit append */
    ks_counter k;
    memset(&k, 0, sizeof k);
    uint8_t pl[KS_AUDIT_PAYLOAD];
    memset(pl, 3, sizeof pl);
    ks_flash_emu_reset_stats(&emu);
    t0 = bench_now();
    for (uint32_t i = 0; i < 10000; i++) {
        k.use_counter = i;
        if (ks_store_counter_put(&st, &k) != 0)
            return 3;
    }
    t1 = bench_now();
    printf("counter update: %.2f us each (incl. compactions), %.1f B programmed and %.3f "
           "erases per update\n", (t1 - t0) * 1e6 / 10000, emu.prog_bytes / 10000.0,
           emu.erases / 10000.0);
    ks_flash_emu_reset_stats(&emu);
    t0 = bench_now();
    for (uint32_t i = 0; i < 10000; i++)
        if (ks_store_audit_append(&st, pl, NULL) != 0)
            return 3;
    t1 = bench_now();
    printf("audit append:   %.2f us each, %.1f B programmed and %.3f erases per entry\n",
           (t1 - t0) * 1e6 / 10000, emu.prog_bytes / 10000.0, emu.erases / 10000.0);
    ks_flash_emu_close(&emu);
    bench_ver_free(&v);
    free(recs);
    free(snap);
    free(nodes);
    free(order);
    free(keys);
    free(cfg.index);
    return 0;
}
