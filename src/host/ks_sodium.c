/*
 * ks_sodium.c - libsodium implementation of the ks_crypto ops table.
 */
#include "ks_sodium.h"

#include <sodium.h>

static void sodium_hash(void *ctx, uint8_t out[32], const ks_iov *iov, size_t n)
{
    crypto_generichash_blake2b_state st;
    (void)ctx;
    crypto_generichash_blake2b_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < n; i++)
        crypto_generichash_blake2b_update(&st, iov[i].p, iov[i].n);
    crypto_generichash_blake2b_final(&st, out, 32);
}

/*
 * crypto_sign_verify_detached in libsodium >= 1.0.16 already rejects
 * non-canonical S, small-order and non-canonical public keys and R values;
 * the signature length is fixed at 64 by the parameter type, so the core
 * never hands over a truncated or padded signature.
 */
static int sodium_verify(void *ctx, const uint8_t sig[64], const uint8_t *msg, size_t len,
                         const uint8_t pk[32])
{
    (void)ctx;
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -1;
}

static int sodium_sign(void *ctx, uint8_t sig[64], const uint8_t *msg, size_t len,
                       const uint8_t sk[64])
{
    (void)ctx;
    return crypto_sign_detached(sig, NULL, msg, len, sk) == 0 ? 0 : -1;
}

int ks_sodium_crypto(ks_crypto *c)
{
    if (sodium_init() < 0)
        return KS_E_CRYPTO;
    c->ctx = NULL;
    c->hash = sodium_hash;
    c->verify = sodium_verify;
    c->sign = sodium_sign;
    return KS_OK;
}

void ks_sodium_keypair(uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE])
{
    crypto_sign_keypair(pk, sk);
}
