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

#define SECTOR 4096u
#define PROG 16u
#define CHANGES 1000u
#define LOOKUPS 1000000u
#define INDEX_STRIDE 32u

static uint32_t mem_find(const uint8_t *recs, uint32_t n, const uint8_t *key)
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

int main(void)
{
    ks_crypto c;
    ks_flash_emu emu;
    ks_store st;
    ks_store_cfg cfg;
    static ks_counter counters[64];
    static uint8_t buf[64 * 1024];
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

    /* device: metadata 2x2 sectors, audit 4, two areas for n + changes records */
    uint32_t area = ((n + CHANGES) * (KS_RECORD_SIZE + 4) + 512 + SECTOR - 1) / SECTOR + 1;
    uint32_t sectors = 2 * 2 + 4 + 2 * area;
    if (ks_flash_emu_init(&emu, SECTOR, sectors, PROG, 0xFF) != 0)
        return 1;
    memset(&cfg, 0, sizeof cfg);
    cfg.flash = &emu.flash;
    cfg.crypto = &c;
    cfg.meta_sectors = 2;
    cfg.audit_sectors = 4;
    cfg.counters = counters;
    cfg.counter_cap = 64;
    cfg.buf = buf;
    cfg.buf_size = sizeof buf;
    /* the optional RAM index: one key id per 4 KiB of records (32 records) */
    uint32_t stride = getenv("KS_BENCH_STRIDE") ? (uint32_t)strtoul(getenv("KS_BENCH_STRIDE"), NULL, 10) : INDEX_STRIDE;
    cfg.index_cap = KS_STORE_INDEX_CAP(n + CHANGES, stride);
    cfg.index = malloc((size_t)cfg.index_cap * KS_KEYID_SIZE);
    if (ks_store_format(&st, &cfg, &trust) != 0)
        return 1;

    printf("store bench: %u credentials, emulated flash %u x %u B sectors, prog unit %u B, "
           "work buffer %zu B\n", n, sectors, SECTOR, PROG, sizeof buf);
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

    /* a delta of 1,000 changes: 400 updates, 300 insertions, 300 removals */
    uint32_t n2 = n;
    uint8_t *recs2 = malloc(((size_t)n + CHANGES) * KS_RECORD_SIZE);
    memcpy(recs2, recs, (size_t)n * KS_RECORD_SIZE);
    for (uint32_t i = 0; i < 400; i++) {
        ks_record r;
        uint8_t *p = recs2 + (size_t)(((uint64_t)i * 2477 + 13) % n) * KS_RECORD_SIZE;
        ks_record_decode(&r, p, NULL);
        r.privileges ^= KS_PRIV_REFUND;
        ks_record_encode(&r, p);
    }
    for (uint32_t i = 0; i < 300; i++) /* mark removals by a zero key id, then compact */
        memset(recs2 + (size_t)(((uint64_t)i * 3301 + 7) % n) * KS_RECORD_SIZE, 0, 1);
    {
        uint32_t w = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t *p = recs2 + (size_t)i * KS_RECORD_SIZE;
            if (p[0] == 0 && memcmp(p, recs + (size_t)i * KS_RECORD_SIZE, 1) != 0)
                continue;
            if (w != i)
                memmove(recs2 + (size_t)w * KS_RECORD_SIZE, p, KS_RECORD_SIZE);
            w++;
        }
        n2 = w;
    }
    for (uint32_t i = 0; i < 300; i++)
        bench_record(&c, n + i, recs2 + (size_t)(n2++) * KS_RECORD_SIZE);
    qsort(recs2, n2, KS_RECORD_SIZE, bench_cmp_rec);
    uint8_t *snap2 = malloc(KS_SNAP_HEADER_SIZE + (size_t)n2 * KS_RECORD_SIZE);
    memset(&h, 0, sizeof h);
    h.version = 2;
    h.created_at = 1700000100;
    if (ks_snapshot_write(&c, &h, recs2, n2, sk, snap2,
                          KS_SNAP_HEADER_SIZE + (size_t)n2 * KS_RECORD_SIZE) != 0)
        return 1;
    ks_recsrc a, b;
    ks_snap_header h1;
    size_t need;
    ks_recsrc_mem(&a, recs, n);
    ks_recsrc_mem(&b, recs2, n2);
    ks_snap_header_decode(&h1, snap, NULL);
    ks_delta_write(&a, &h1, &b, snap2, NULL, 0, &need);
    uint8_t *delta = malloc(need);
    if (ks_delta_write(&a, &h1, &b, snap2, delta, need, &need) != 0)
        return 1;
    ks_delta dl;
    ks_delta_parse(&dl, delta, need, NULL);
    size_t change_bytes = (size_t)dl.n_upserts * KS_RECORD_SIZE + (size_t)dl.n_removals * KS_KEYID_SIZE;

    /* tree cache of the applied state (the controller keeps it in RAM) */
    ks_tree tree;
    unsigned bits = h1.bucket_bits;
    uint8_t(*nodes)[32] = malloc(ks_tree_nodes(bits) * 32);
    ks_store_records(&st, &src);
    t0 = bench_now();
    if (ks_tree_build(&tree, &c, &src, bits, nodes, ks_tree_nodes(bits)) != 0)
        return 1;
    t1 = bench_now();
    printf("tree cache:     built from flash in %.1f ms (%u bucket bits, %.1f MB RAM)\n",
           (t1 - t0) * 1e3, bits, ks_tree_nodes(bits) * 32 / 1e6);

    ks_flash_emu_reset_stats(&emu);
    t0 = bench_now();
    rc = ks_store_apply_delta(&st, delta, need, 0, &tree, NULL);
    t1 = bench_now();
    if (rc != 0) {
        printf("delta failed: %d\n", rc);
        return 1;
    }
    printf("delta (tree):   %u upserts + %u removals applied in %.1f ms; %.1f MB programmed = "
           "%.0f bytes per byte of change (%zu B of change); %llu erases; %llu progs\n",
           dl.n_upserts, dl.n_removals, (t1 - t0) * 1e3, emu.prog_bytes / 1e6,
           (double)emu.prog_bytes / (double)change_bytes, change_bytes,
           (unsigned long long)emu.erases, (unsigned long long)emu.progs);

    /* the same shape of delta without a tree: verified by rehashing from flash */
    for (uint32_t i = 0; i < 400; i++) {
        ks_record r;
        uint8_t *p = recs2 + (size_t)(((uint64_t)i * 2477 + 13) % n2) * KS_RECORD_SIZE;
        ks_record_decode(&r, p, NULL);
        r.privileges ^= KS_PRIV_VOID;
        ks_record_encode(&r, p);
    }
    uint8_t *snap3 = malloc(KS_SNAP_HEADER_SIZE + (size_t)n2 * KS_RECORD_SIZE);
    memset(&h, 0, sizeof h);
    h.version = 3;
    h.created_at = 1700000200;
    ks_snapshot_write(&c, &h, recs2, n2, sk, snap3, KS_SNAP_HEADER_SIZE + (size_t)n2 * KS_RECORD_SIZE);
    ks_snap_header h2;
    ks_snap_header_decode(&h2, snap2, NULL);
    ks_recsrc_mem(&a, snap2 + KS_SNAP_HEADER_SIZE, n2);
    ks_recsrc_mem(&b, recs2, n2);
    ks_delta_write(&a, &h2, &b, snap3, NULL, 0, &need);
    uint8_t *delta3 = malloc(need);
    ks_delta_write(&a, &h2, &b, snap3, delta3, need, &need);
    ks_flash_emu_reset_stats(&emu);
    t0 = bench_now();
    rc = ks_store_apply_delta(&st, delta3, need, 0, NULL, NULL);
    t1 = bench_now();
    printf("delta (no tree): 400 updates applied in %.1f ms (rehash of %u records read back "
           "from flash), rc %d; %llu erases\n", (t1 - t0) * 1e3, n2, rc,
           (unsigned long long)emu.erases);

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
    free(recs);
    free(recs2);
    free(snap);
    free(snap2);
    free(snap3);
    free(delta);
    free(delta3);
    free(nodes);
    free(order);
    free(keys);
    free(cfg.index);
    return 0;
}
