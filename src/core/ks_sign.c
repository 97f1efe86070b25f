/*
 * ks_sign.c - domain-separated Ed25519 through the caller's ops table.
 */
#include "ks_sign.h"

#include <string.h>

static size_t assemble(uint8_t *msg, const char *label, const uint8_t *body, size_t len)
{
    memcpy(msg, label, KS_LABEL_SIZE);
    memcpy(msg + KS_LABEL_SIZE, body, len);
    return KS_LABEL_SIZE + len;
}

int ks_sign_labelled(const ks_crypto *c, uint8_t sig[KS_SIG_SIZE], const char *label,
                     const uint8_t *body, size_t len, const uint8_t sk[KS_SECKEY_SIZE])
{
    uint8_t msg[KS_LABEL_SIZE + KS_SIGNED_BODY_MAX];
    if (!c->sign)
        return KS_E_CRYPTO;
    if (len > KS_SIGNED_BODY_MAX)
        return KS_E_INVAL;
    size_t n = assemble(msg, label, body, len);
    return c->sign(c->ctx, sig, msg, n, sk) == 0 ? KS_OK : KS_E_CRYPTO;
}

int ks_verify_labelled(const ks_crypto *c, const uint8_t sig[KS_SIG_SIZE], const char *label,
                       const uint8_t *body, size_t len, const uint8_t pk[KS_PUBKEY_SIZE])
{
    uint8_t msg[KS_LABEL_SIZE + KS_SIGNED_BODY_MAX];
    if (len > KS_SIGNED_BODY_MAX)
        return -1;
    size_t n = assemble(msg, label, body, len);
    return c->verify(c->ctx, sig, msg, n, pk) == 0 ? 0 : -1;
}
