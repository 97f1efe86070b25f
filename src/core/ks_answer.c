/*
 * ks_answer.c - the signed envelope of a supervisor answer (ks_answer.h,
 * docs/formats.md). Fixed size: hashes stand in for the variable parts, so
 * the core signs and verifies it without a buffer as large as the answer.
 */
#include <keysup/ks_answer.h>

#include <string.h>

#include "ks_sign.h"

/* The core links against nothing but mem* (scripts/arm-core.sh). */
static size_t cstrlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

void ks_answer_bind(const ks_crypto *c, ks_answer *a, const char *method, const char *path,
                    const uint8_t *body, size_t len)
{
    ks_iov req[3] = {{method, cstrlen(method)}, {"", 1}, {path, cstrlen(path)}};
    ks_iov b = {body ? (const void *)body : (const void *)"", body ? len : 0};
    c->hash(c->ctx, a->request_hash, req, 3);
    c->hash(c->ctx, a->body_hash, &b, 1);
}

void ks_answer_challenge(const ks_crypto *c, uint8_t out[KS_ANSWER_NONCE_SIZE],
                         const uint8_t nonce[KS_ANSWER_NONCE_SIZE],
                         const uint8_t challenge[KS_ANSWER_CHALLENGE_SIZE])
{
    ks_iov iov[3] = {{"KEYSUP-ANSWER-CH", 16},
                     {nonce, KS_ANSWER_NONCE_SIZE},
                     {challenge, KS_ANSWER_CHALLENGE_SIZE}};
    c->hash(c->ctx, out, iov, 3);
}

void ks_answer_encode(const ks_answer *a, uint8_t out[KS_ANSWER_SIGNED_SIZE])
{
    ks_st64(out, a->controller_id);
    memcpy(out + 8, a->device_key_id, KS_KEYID_SIZE);
    memcpy(out + 24, a->nonce, KS_ANSWER_NONCE_SIZE);
    ks_st16(out + 56, a->status);
    memcpy(out + 58, a->request_hash, KS_HASH_SIZE);
    memcpy(out + 90, a->body_hash, KS_HASH_SIZE);
}

int ks_answer_sign(const ks_crypto *c, const ks_answer *a, const uint8_t sk[KS_SECKEY_SIZE],
                   uint8_t sig[KS_SIG_SIZE])
{
    uint8_t m[KS_ANSWER_SIGNED_SIZE];
    ks_answer_encode(a, m);
    return ks_sign_labelled(c, sig, KS_ANSWER_LABEL, m, sizeof m, sk);
}

int ks_answer_verify_key(const ks_crypto *c, const ks_answer *a, const uint8_t sig[KS_SIG_SIZE],
                         const uint8_t pk[KS_PUBKEY_SIZE])
{
    uint8_t m[KS_ANSWER_SIGNED_SIZE];
    ks_answer_encode(a, m);
    return ks_verify_labelled(c, sig, KS_ANSWER_LABEL, m, sizeof m, pk) == 0
               ? KS_OK : KS_E_ANSWER_NOT_AUTHENTIC;
}

int ks_answer_verify(const ks_crypto *c, const ks_answer *a, const uint8_t sig[KS_SIG_SIZE],
                     const ks_trust *t, uint32_t *signer)
{
    for (uint32_t i = 0; i < t->count && i < KS_TRUST_MAX; i++)
        if (ks_answer_verify_key(c, a, sig, t->keys[i]) == KS_OK) {
            if (signer)
                *signer = i;
            return KS_OK;
        }
    return KS_E_ANSWER_NOT_AUTHENTIC;
}
