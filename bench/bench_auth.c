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

#define NREC 1000000u
#define ROUNDS 3000

int main(void)
{
    static bench_engine e;
    uint8_t kpk[32], ksk[64], ch[32], resp[KS_RESPONSE_SIZE];
    uint8_t msg[16 + 64];
    const uint8_t reader[16] = "bench-reader---";
    double *td = malloc(sizeof(double) * ROUNDS), *tv = malloc(sizeof(double) * ROUNDS);
    double t;
    int err;

    ks_sodium_keypair(kpk, ksk);
    if (!td || !tv || bench_engine_setup(&e, NREC, (const uint8_t(*)[32])kpk, 1))
        return 1;

    for (int i = 0; i < ROUNDS; i++) {
        if (ks_auth_challenge(&e.a, reader, KS_ACT_VOID, ch))
            return 1;
        ks_response_make(&e.c, ch, (uint64_t)i + 1, kpk, ksk, resp);
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
                err = ks_auth_respond(&e.a, reader, resp, sizeof resp, 0, NULL);
                td[i] = bench_now() - t;
                if (err) {
                    fprintf(stderr, "decision refused: %s\n", ks_err_name(err));
                    return 1;
                }
            }
        }
        if (i % 500 == 499)
            e.now++;
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
               (unsigned long long)e.emu.progs, (unsigned long long)e.emu.erases,
               (unsigned long long)e.emu.syncs);
    }
    ks_flash_emu_close(&e.emu);
    free(td);
    free(tv);
    return 0;
}
