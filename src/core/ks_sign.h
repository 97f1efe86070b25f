/*
 * ks_sign.h - internal: domain-separated signing and verification.
 * Every signed structure is signed as label(16 bytes) || body, so a signature
 * made for one kind of record can never be replayed as another kind.
 */
#ifndef KEYSUP_KS_SIGN_H
#define KEYSUP_KS_SIGN_H

#include <keysup/ks_base.h>

#define KS_LABEL_SIZE 16
#define KS_LABEL_SNAPSHOT "KEYSUP-SNAPSHOT1"
#define KS_LABEL_ROTATION "KEYSUP-ROTATION1"
/* Largest body signed through these helpers. */
#define KS_SIGNED_BODY_MAX 128

int ks_sign_labelled(const ks_crypto *c, uint8_t sig[KS_SIG_SIZE], const char *label,
                     const uint8_t *body, size_t len, const uint8_t sk[KS_SECKEY_SIZE]);
/* 0 when valid. */
int ks_verify_labelled(const ks_crypto *c, const uint8_t sig[KS_SIG_SIZE], const char *label,
                       const uint8_t *body, size_t len, const uint8_t pk[KS_PUBKEY_SIZE]);

#endif
