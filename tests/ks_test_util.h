/*
 * ks_test_util.h - shared fixtures for the cmocka tests: deterministic keys
 * and records, so failures reproduce.
 */
#ifndef KS_TEST_UTIL_H
#define KS_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <keysup/keysup.h>
#include <sodium.h>

#include "ks_sodium.h"

/* Deterministic Ed25519 key pair from a small integer. */
static inline void kt_keypair(uint32_t n, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32] = {0};
    memcpy(seed, "keysup-test-seed", 16);
    ks_st32(seed + 16, n);
    crypto_sign_seed_keypair(pk, sk, seed);
}

/* A valid record for key n (its key id from its public key). */
static inline void kt_record(const ks_crypto *c, uint32_t n, uint8_t out[KS_RECORD_SIZE])
{
    ks_record r;
    uint8_t sk[64];
    memset(&r, 0, sizeof r);
    kt_keypair(n, r.public_key, sk);
    ks_key_id(c, r.key_id, r.public_key);
    r.privileges = KS_PRIV_OPERATOR | ((n % 3 == 0) ? KS_PRIV_SUPERVISOR : 0);
    r.valid_from = 1700000000u;
    r.valid_until = 0;
    r.holder_id = n;
    r.record_version = KS_RECORD_VERSION;
    r.key_format = 1;
    r.algorithm = KS_ALG_ED25519;
    r.state = KS_STATE_ACTIVE;
    r.form_factor = KS_FORM_SOFTWARE;
    ks_record_encode(&r, out);
}

static int kt_cmp_rec(const void *a, const void *b)
{
    return memcmp(a, b, KS_KEYID_SIZE);
}

/* Records for keys first..first+count-1, sorted by key id. */
static inline void kt_records(const ks_crypto *c, uint32_t first, uint32_t count, uint8_t *out)
{
    for (uint32_t i = 0; i < count; i++)
        kt_record(c, first + i, out + (size_t)i * KS_RECORD_SIZE);
    qsort(out, count, KS_RECORD_SIZE, kt_cmp_rec);
}

#endif
