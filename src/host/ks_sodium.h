/*
 * ks_sodium.h - the host crypto backend: libsodium behind the core's
 * ks_crypto ops table. Lives outside src/core/ so the core stays portable.
 */
#ifndef KEYSUP_KS_SODIUM_H
#define KEYSUP_KS_SODIUM_H

#include <keysup/keysup.h>

/*
 * Fills c with libsodium's BLAKE2b-256, Ed25519 verify and Ed25519 sign.
 * Returns KS_OK, or KS_E_CRYPTO when sodium_init() fails.
 */
int ks_sodium_crypto(ks_crypto *c);

/* New Ed25519 key pair from the system RNG. sk is seed || pk. */
void ks_sodium_keypair(uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE]);

#endif
