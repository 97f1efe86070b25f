/*
 * bench_hsm.c - a decision whose key answers on a PKCS#11 token (SoftHSM2),
 * beside the same decision with a software key and beside a bare C_Sign on
 * the token, in one run (issue 11). Each round times, in alternating order:
 *   token:    the token signs the response (ks_response_make through the
 *             token's ks_crypto: C_SignInit + C_Sign) + the decision;
 *   software: libsodium signs the response + the same decision;
 *   bare:     C_SignInit + C_Sign of an 80-byte message on the same token
 *             (the physical limit: the token's own signing time).
 * Target: median token decision <= 1.2x median bare C_Sign.
 * The token lives in a temporary directory made by softhsm2-util.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setenv, clock_gettime */
#include <unistd.h>

#include "bench_util.h"
#include "ks_flash_file.h"
#include "ks_p11.h"

#define NREC 100000u
#define ROUNDS 2000
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
    uint8_t msg[16 + 64], tpk[32], tsk[64] = {0}, sig[64];
    static char dir[] = "/tmp/bench_hsm_XXXXXX";
    char path[256], uri[512], cmd[300];
    ks_p11 *tok = NULL;
    ks_crypto tc;
    int ok;
    const uint8_t reader[16] = "bench-reader---";
    double *td = malloc(sizeof(double) * ROUNDS), *tv = malloc(sizeof(double) * ROUNDS);
    double *ts = malloc(sizeof(double) * ROUNDS);
    uint8_t *recs, *snap;
    size_t snap_len = KS_SNAP_HEADER_SIZE + (size_t)NREC * KS_RECORD_SIZE;
    double t;
    int err;

    if (ks_sodium_crypto(&c))
        return 1;
    ks_sodium_keypair(spk, ssk);
    ks_sodium_keypair(kpk, ksk);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/softhsm2.conf", dir);
    {
        FILE *f = fopen(path, "w");
        if (!f)
            return 1;
        fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir);
        fclose(f);
    }
    setenv("SOFTHSM2_CONF", path, 1);
    if (system("softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 "
               ">/dev/null") != 0) {
        fprintf(stderr, "softhsm2-util failed (install softhsm2)\n");
        return 1;
    }
    snprintf(uri, sizeof uri, "pkcs11:token=bench;object=k?module-path=%s",
             access("/usr/lib/softhsm/libsofthsm2.so", R_OK) == 0
                 ? "/usr/lib/softhsm/libsofthsm2.so"
                 : "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so");
    if ((err = ks_p11_open(uri, &tok)) || (err = ks_p11_login(tok, "1234", 4)) ||
        (err = ks_p11_keygen(tok, tpk)) || (err = ks_p11_crypto(tok, &tc))) {
        fprintf(stderr, "token: %s: %s\n", ks_err_name(err), ks_p11_detail(tok));
        return 1;
    }
    memcpy(tsk + 32, tpk, 32);
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
    /* record 1 is the token's key */
    memcpy(r.public_key, tpk, 32);
    ks_key_id(&c, r.key_id, tpk);
    ks_record_encode(&r, recs + KS_RECORD_SIZE);
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
        memcpy(msg, "KEYSUP-RESPONSE1", 16);
        randombytes_buf(msg + 16, 64);
        /* Rotate which goes first so none gets the warmer cache. */
        for (int k = 0; k < 3; k++) {
            switch ((k + i) % 3) {
            case 0: /* the token answers, the controller decides */
                if (ks_auth_challenge(&a, reader, KS_ACT_VOID, ch))
                    return 1;
                t = bench_now();
                ok = ks_response_make(&tc, ch, (uint64_t)i + 1, tpk, tsk, resp) == 0 &&
                     ks_auth_respond(&a, reader, resp, sizeof resp, 0, NULL) == 0;
                td[i] = bench_now() - t;
                break;
            case 1: /* a software key answers, the same decision */
                if (ks_auth_challenge(&a, reader, KS_ACT_VOID, ch))
                    return 1;
                t = bench_now();
                ok = ks_response_make(&c, ch, (uint64_t)i + 1, kpk, ksk, resp) == 0 &&
                     ks_auth_respond(&a, reader, resp, sizeof resp, 0, NULL) == 0;
                ts[i] = bench_now() - t;
                break;
            default: /* the bare token signature */
                t = bench_now();
                ok = ks_p11_sign(tok, sig, msg, sizeof msg) == 0;
                tv[i] = bench_now() - t;
                break;
            }
            if (!ok) {
                fprintf(stderr, "round %d step %d failed: %s\n", i, k, ks_p11_detail(tok));
                return 1;
            }
        }
        if (i % 500 == 499)
            fake_now++;
    }
    {
        double md = bench_median(td, ROUNDS), ms = bench_median(ts, ROUNDS);
        double mv = bench_median(tv, ROUNDS);
        printf("decision, key answering on SoftHSM2, %u credentials: median %.1f us (%d rounds)\n",
               NREC, md * 1e6, ROUNDS);
        printf("decision, software key answering:                median %.1f us\n", ms * 1e6);
        printf("bare C_SignInit + C_Sign on the token (limit):   median %.1f us\n", mv * 1e6);
        printf("ratio token decision / bare C_Sign: %.3fx (target <= 1.2x)\n", md / mv);
        printf("ratio token decision / software decision: %.2fx\n", md / ms);
    }
    ks_p11_close(tok);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    ks_flash_emu_close(&emu);
    free(td);
    free(tv);
    free(ts);
    return 0;
}
