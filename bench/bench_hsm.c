/*
 * bench_hsm.c - a decision whose key answers on a PKCS#11 token (SoftHSM2),
 * beside the same decision with a software key and beside a bare C_Sign on
 * the token, in one run (issue 11). Each round times, in rotating order:
 *   token:    the token signs the response (ks_response_make through the
 *             token's ks_crypto: C_SignInit + C_Sign on the kept session
 *             and key handle) + the decision; the two parts are also timed
 *             apart;
 *   software: libsodium signs the response + the same decision;
 *   bare:     C_SignInit + C_Sign of an 80-byte message on the same token
 *             (the physical limit of the token's part);
 *   verify:   a bare libsodium Ed25519 verify of such a message (the
 *             physical limit of the controller's part: the decision must
 *             verify what the key signed).
 * Target: median token decision <= 1.2x median bare C_Sign. Printed too:
 * the decision against bare C_Sign + bare verify, which is what a decision
 * that verifies cannot go below, and, over fewer rounds, what opening the
 * token per signature (C_OpenSession, C_Login, C_FindObjects) would cost.
 * The token lives in a temporary directory made by softhsm2-util.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setenv, clock_gettime */
#include <unistd.h>

#include "bench_util.h"
#include "ks_p11.h"

#define NREC 100000u
#define ROUNDS 2000
#define REOPEN_ROUNDS 200

int main(void)
{
    static bench_engine e;
    uint8_t keys[2][32], ksk[64], ch[32], resp[KS_RESPONSE_SIZE];
    uint8_t msg[16 + 64], tsk[64] = {0}, sig[64], vsig[64];
    static char dir[] = "/tmp/bench_hsm_XXXXXX";
    char path[256], uri[512], cmd[300];
    ks_p11 *tok = NULL;
    ks_crypto tc;
    int ok;
    const uint8_t reader[16] = "bench-reader---";
    const uint8_t *kpk = keys[0], *tpk = keys[1];
    double *td = malloc(sizeof(double) * ROUNDS), *tv = malloc(sizeof(double) * ROUNDS);
    double *ts = malloc(sizeof(double) * ROUNDS), *tx = malloc(sizeof(double) * ROUNDS);
    double *tds = malloc(sizeof(double) * ROUNDS), *tdd = malloc(sizeof(double) * ROUNDS);
    double *tr = malloc(sizeof(double) * REOPEN_ROUNDS);
    double t, t1;
    int err;

    if (!td || !tv || !ts || !tx || !tds || !tdd || !tr)
        return 1;
    ks_sodium_keypair(keys[0], ksk);
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
        (err = ks_p11_keygen(tok, keys[1])) || (err = ks_p11_crypto(tok, &tc))) {
        fprintf(stderr, "token: %s: %s\n", ks_err_name(err), ks_p11_detail(tok));
        return 1;
    }
    memcpy(tsk + 32, tpk, 32);
    /* both keys are supervisor keys in a store of NREC credentials */
    if (bench_engine_setup(&e, NREC, (const uint8_t(*)[32])keys, 2))
        return 1;

    for (int i = 0; i < ROUNDS; i++) {
        memcpy(msg, "KEYSUP-RESPONSE1", 16);
        randombytes_buf(msg + 16, 64);
        crypto_sign_detached(vsig, NULL, msg, sizeof msg, ksk);
        /* Rotate which goes first so none gets the warmer cache. */
        for (int k = 0; k < 4; k++) {
            switch ((k + i) % 4) {
            case 0: /* the token answers, the controller decides */
                if (ks_auth_challenge(&e.a, reader, KS_ACT_VOID, ch))
                    return 1;
                t = bench_now();
                ok = ks_response_make(&tc, ch, (uint64_t)i + 1, tpk, tsk, resp) == 0;
                t1 = bench_now();
                ok = ok && ks_auth_respond(&e.a, reader, resp, sizeof resp, 0, NULL) == 0;
                td[i] = bench_now() - t;
                tds[i] = t1 - t;
                tdd[i] = td[i] - tds[i];
                break;
            case 1: /* a software key answers, the same decision */
                if (ks_auth_challenge(&e.a, reader, KS_ACT_VOID, ch))
                    return 1;
                t = bench_now();
                ok = ks_response_make(&e.c, ch, (uint64_t)i + 1, kpk, ksk, resp) == 0 &&
                     ks_auth_respond(&e.a, reader, resp, sizeof resp, 0, NULL) == 0;
                ts[i] = bench_now() - t;
                break;
            case 2: /* the bare token signature */
                t = bench_now();
                ok = ks_p11_sign(tok, sig, msg, sizeof msg) == 0;
                tv[i] = bench_now() - t;
                break;
            default: /* the bare verify the controller must do */
                t = bench_now();
                ok = crypto_sign_verify_detached(vsig, msg, sizeof msg, kpk) == 0;
                tx[i] = bench_now() - t;
                break;
            }
            if (!ok) {
                fprintf(stderr, "round %d step %d failed: %s\n", i, k, ks_p11_detail(tok));
                return 1;
            }
        }
        if (i % 500 == 499)
            e.now++;
    }
    /* What the kept session saves: the token opened (module loaded and
     * initialised), logged in and its key found for every signature, as a
     * process that does not keep its handle would. */
    for (int i = 0; i < REOPEN_ROUNDS; i++) {
        ks_p11 *o = NULL;
        uint8_t opk[32];
        t = bench_now();
        ok = ks_p11_open(uri, &o) == 0 && ks_p11_login(o, "1234", 4) == 0 &&
             ks_p11_find_key(o, opk) == 0 && ks_p11_sign(o, sig, msg, sizeof msg) == 0;
        ks_p11_close(o);
        tr[i] = bench_now() - t;
        if (!ok) {
            fprintf(stderr, "re-open round %d failed\n", i);
            return 1;
        }
    }
    {
        double md = bench_median(td, ROUNDS), ms = bench_median(ts, ROUNDS);
        double mv = bench_median(tv, ROUNDS), mx = bench_median(tx, ROUNDS);
        double mds = bench_median(tds, ROUNDS), mdd = bench_median(tdd, ROUNDS);
        double mr = bench_median(tr, REOPEN_ROUNDS);
        printf("decision, key answering on SoftHSM2, %u credentials: median %.1f us (%d rounds)\n",
               NREC, md * 1e6, ROUNDS);
        printf("  of which the token's signature (kept session):  median %.1f us\n", mds * 1e6);
        printf("  of which the controller's decision:             median %.1f us\n", mdd * 1e6);
        printf("decision, software key answering:                median %.1f us\n", ms * 1e6);
        printf("bare C_SignInit + C_Sign on the token (limit):   median %.1f us\n", mv * 1e6);
        printf("bare Ed25519 verify, libsodium (limit):          median %.1f us\n", mx * 1e6);
        printf("ratio token decision / bare C_Sign: %.3fx (target <= 1.2x)\n", md / mv);
        printf("ratio token decision / (bare C_Sign + bare verify): %.3fx\n", md / (mv + mx));
        printf("ratio token decision / software decision: %.2fx\n", md / ms);
        printf("open + login + find key + sign + close, per signature: median %.1f us "
               "(%.1fx the kept session's signature; %d rounds)\n", mr * 1e6, mr / mds,
               REOPEN_ROUNDS);
    }
    ks_p11_close(tok);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    ks_flash_emu_close(&e.emu);
    sodium_memzero(ksk, sizeof ksk);
    free(td);
    free(tv);
    free(ts);
    free(tx);
    free(tds);
    free(tdd);
    free(tr);
    return 0;
}
