/*
 * fuzz_fixture.h - the fixed world the snapshot and delta fuzzers verify
 * against: one supervisor key and a small base database, rebuilt
 * identically by the fuzzers and by the seed generator so that seeds are
 * valid inputs and the fuzzer starts from deep inside the parsers.
 */
#ifndef KS_FUZZ_FIXTURE_H
#define KS_FUZZ_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include <keysup/keysup.h>
#include <sodium.h>

#include "ks_sodium.h"

#define FX_BASE_RECORDS 24
#define FX_BASE_VERSION 10
#define FX_NOW 1800000000u

typedef struct fx_world {
    ks_crypto c;
    uint8_t pk[32], sk[64];
    ks_trust trust;
    uint8_t base_img[KS_SNAP_HEADER_SIZE + FX_BASE_RECORDS * KS_RECORD_SIZE];
    ks_snap_header base;
} fx_world;

static void fx_key(uint32_t n, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32] = {0};
    memcpy(seed, "keysup-fuzz-seed", 16);
    seed[16] = (uint8_t)n;
    seed[17] = (uint8_t)(n >> 8);
    crypto_sign_seed_keypair(pk, sk, seed);
}

static void fx_record(const ks_crypto *c, uint32_t n, uint8_t out[KS_RECORD_SIZE])
{
    ks_record r;
    uint8_t sk[64];
    memset(&r, 0, sizeof r);
    fx_key(1000 + n, r.public_key, sk);
    ks_key_id(c, r.key_id, r.public_key);
    r.privileges = (n & 1) ? KS_PRIV_SUPERVISOR : KS_PRIV_OPERATOR;
    r.valid_from = 1700000000u;
    r.record_version = KS_RECORD_VERSION;
    r.key_format = 1;
    r.algorithm = KS_ALG_ED25519;
    ks_record_encode(&r, out);
}

static int fx_cmp(const void *a, const void *b) { return memcmp(a, b, KS_KEYID_SIZE); }

/* Records n0..n0+count-1, sorted, into out. */
static void fx_records(const ks_crypto *c, uint32_t n0, uint32_t count, uint8_t *out)
{
    for (uint32_t i = 0; i < count; i++)
        fx_record(c, n0 + i, out + (size_t)i * KS_RECORD_SIZE);
    qsort(out, count, KS_RECORD_SIZE, fx_cmp);
}

static int fx_init(fx_world *w)
{
    if (ks_sodium_crypto(&w->c))
        return -1;
    fx_key(1, w->pk, w->sk);
    ks_trust_init(&w->trust);
    ks_trust_add(&w->trust, &w->c, w->pk);
    uint8_t recs[FX_BASE_RECORDS * KS_RECORD_SIZE];
    fx_records(&w->c, 0, FX_BASE_RECORDS, recs);
    memset(&w->base, 0, sizeof w->base);
    w->base.version = FX_BASE_VERSION;
    w->base.created_at = FX_NOW - 60;
    w->base.expires_at = FX_NOW + 86400;
    return ks_snapshot_write(&w->c, &w->base, recs, FX_BASE_RECORDS, w->sk, w->base_img,
                             sizeof w->base_img);
}

/* The one world of this fuzzer process, made on the first input (libFuzzer
 * has no setup hook every target shares); aborts when it cannot be made. */
static inline const fx_world *fx_world_get(void)
{
    static fx_world w;
    static int ready;
    if (!ready) {
        if (fx_init(&w))
            abort();
        ready = 1;
    }
    return &w;
}

#endif
