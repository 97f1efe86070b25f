/*
 * bench_auth.c - the decision time of the authentication engine for a
 * supervisor key on a store of 1,000,000 credentials (in-memory emulated
 * flash), beside the bare libsodium Ed25519 verify of the same message in
 * the same run. The decision includes everything a controller does per
 * presentation: response parse, lockout checks, binary search on flash
 * with CRC checks, record checks, challenge binding, the signature, the
 * use counter persisted, privileges, gates, and the audit record appended.
 * Target: median decision <= 1.2x median bare verify.
 */
#include "bench_util.h"
#include "ks_flash_file.h"

#define NREC 1000000u
#define ROUNDS 3000
#define T0 1750000000ull

static uint64_t fake_now = T0;

static int b_rtc(void *ctx, uint64_t *t)
{
    (void)ctx;
    *t = fake_now;
    return 0;
}

static int b_rng(void *ctx, uint8_t *b, size_t n)
{
    (void)ctx;
    randombytes_buf(b, n);
    return 0;
}

int main(void)
{
    static ks_flash_emu emu;
    static ks_store st;
    static ks_counter counters[256];
    static uint8_t buf[65536];
    static ks_auth a;
    static ks_auth_session sessions[8];
    static ks_auth_pending pending[8];
    ks_store_cfg scfg;
    ks_auth_cfg acfg;
    ks_crypto c;
    ks_trust trust;
    ks_snap_header h;
    ks_recsrc src;
    ks_record r;
    uint8_t spk[32], ssk[64], kpk[32], ksk[64], ch[32], resp[KS_RESPONSE_SIZE];
    uint8_t msg[16 + 64];
    const uint8_t reader[16] = "bench-reader---";
    double *td = malloc(sizeof(double) * ROUNDS), *tv = malloc(sizeof(double) * ROUNDS);
    uint8_t *recs, *snap;
    size_t snap_len = KS_SNAP_HEADER_SIZE + (size_t)NREC * KS_RECORD_SIZE;
    double t;
    int err;

    if (ks_sodium_crypto(&c))
        return 1;
    ks_sodium_keypair(spk, ssk);
    ks_sodium_keypair(kpk, ksk);
    ks_trust_init(&trust);
    ks_trust_add(&trust, &c, spk);

    t = bench_now();
    recs = bench_records(&c, NREC);
    /* record 0 becomes our supervisor key, then re-sort */
    memset(&r, 0, sizeof r);
    memcpy(r.public_key, kpk, 32);
    ks_key_id(&c, r.key_id, kpk);
    r.privileges = KS_PRIV_OPERATOR | KS_PRIV_SUPERVISOR | KS_PRIV_VOID;
    r.valid_from = 1700000000u;
    r.record_version = KS_RECORD_VERSION;
    r.key_format = 1;
    r.algorithm = KS_ALG_ED25519;
    ks_record_encode(&r, recs);
    qsort(recs, NREC, KS_RECORD_SIZE, bench_cmp_rec);
    snap = malloc(snap_len);
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.created_at = T0 - 10;
    if (ks_snapshot_write(&c, &h, recs, NREC, ssk, snap, snap_len)) {
        fprintf(stderr, "snapshot write failed\n");
        return 1;
    }
    if (ks_flash_emu_init(&emu, 65536, 2 * 2 + 4 + 2 * 2100, 16, 0xFF)) {
        fprintf(stderr, "flash emulator: no memory\n");
        return 1;
    }
    memset(&scfg, 0, sizeof scfg);
    scfg.flash = &emu.flash;
    scfg.crypto = &c;
    scfg.meta_sectors = 2;
    scfg.audit_sectors = 4;
    scfg.counters = counters;
    scfg.counter_cap = 256;
    scfg.buf = buf;
    scfg.buf_size = sizeof buf;
    if ((err = ks_store_format(&st, &scfg, &trust)) != 0) {
        fprintf(stderr, "format: %s\n", ks_err_name(err));
        return 1;
    }
    ks_recsrc_mem(&src, snap + KS_SNAP_HEADER_SIZE, NREC);
    if ((err = ks_store_install(&st, snap, &src, 0, NULL)) != 0) {
        fprintf(stderr, "install: %s (area capacity %u)\n", ks_err_name(err),
                ks_store_area_capacity(&st));
        return 1;
    }
    printf("setup: %u records generated, signed and installed in %.1f s\n", NREC,
           bench_now() - t);
    free(snap);
    free(recs);

    ks_auth_cfg_default(&acfg);
    memcpy(acfg.controller_id, "bench-controller", 16);
    acfg.sessions = sessions;
    acfg.session_cap = 8;
    acfg.pending = pending;
    acfg.pending_cap = 8;
    acfg.crypto = &c;
    acfg.store = &st;
    acfg.hal.rtc = b_rtc;
    acfg.hal.rng = b_rng;
    if ((err = ks_auth_init(&a, &acfg)) != 0) {
        fprintf(stderr, "auth init: %s\n", ks_err_name(err));
        return 1;
    }

    for (int i = 0; i < ROUNDS; i++) {
        if (ks_auth_challenge(&a, reader, KS_ACT_VOID, ch))
            return 1;
        ks_response_make(&c, ch, (uint64_t)i + 1, kpk, ksk, resp);
        /* the bare verify: the same labelled message, the same key */
        memcpy(msg, "KEYSUP-RESPONSE1", 16);
        memcpy(msg + 16, resp, 64);
        /* Alternate which goes first so neither gets the warmer cache. */
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (i % 2 == 0)) {
                t = bench_now();
                err = crypto_sign_verify_detached(resp + 64, msg, sizeof msg, kpk);
                tv[i] = bench_now() - t;
                if (err)
                    return 1;
            } else {
                t = bench_now();
                err = ks_auth_respond(&a, reader, resp, sizeof resp, 0, NULL);
                td[i] = bench_now() - t;
                if (err) {
                    fprintf(stderr, "decision refused: %s\n", ks_err_name(err));
                    return 1;
                }
            }
        }
        if (i % 500 == 499)
            fake_now++;
    }
    {
        double md = bench_median(td, ROUNDS), mv = bench_median(tv, ROUNDS);
        printf("decision, supervisor key, %u credentials: median %.1f us (%d rounds)\n", NREC,
               md * 1e6, ROUNDS);
        printf("bare crypto_sign_verify_detached:            median %.1f us\n", mv * 1e6);
        printf("ratio decision / bare verify: %.3fx (target <= 1.2x)\n", md / mv);
        printf("p90: decision %.1f us, bare verify %.1f us\n", td[ROUNDS * 9 / 10] * 1e6,
               tv[ROUNDS * 9 / 10] * 1e6);
        printf("flash emulator: %llu progs, %llu erases, %llu syncs during the run\n",
               (unsigned long long)emu.progs, (unsigned long long)emu.erases,
               (unsigned long long)emu.syncs);
    }
    ks_flash_emu_close(&emu);
    free(td);
    free(tv);
    return 0;
}
