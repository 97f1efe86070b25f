/*
 * ks_auth_wire.c - the authentication engine's wire formats: the challenge
 * derivation, the key's response, the supervisor's time token and licence.
 *
 * The three signed structures share one shape (docs/auth.md): 128 bytes,
 * a 4-byte magic, a version byte, three reserved zero bytes, 56 bytes of
 * body, then an Ed25519 signature over label(16) || bytes[0..64). Decoders
 * check structure only; the engine checks binding and signatures.
 */
#include <string.h>

#include "ks_auth_int.h"

void ks__challenge_derive(const ks_crypto *c, uint8_t out[KS_CHALLENGE_SIZE],
                          const uint8_t ctrl[KS_CTRL_ID_SIZE],
                          const uint8_t reader[KS_READER_ID_SIZE], uint16_t action,
                          uint64_t time, uint64_t counter, const uint8_t nonce[KS_NONCE_SIZE])
{
    uint8_t fixed[18];
    ks_iov iov[5];

    ks_st16(fixed, action);
    ks_st64(fixed + 2, time);
    ks_st64(fixed + 10, counter);
    iov[0].p = KS_LABEL_CHALLENGE;
    iov[0].n = KS_LABEL_SIZE;
    iov[1].p = ctrl;
    iov[1].n = KS_CTRL_ID_SIZE;
    iov[2].p = reader;
    iov[2].n = KS_READER_ID_SIZE;
    iov[3].p = fixed;
    iov[3].n = sizeof fixed;
    iov[4].p = nonce;
    iov[4].n = KS_NONCE_SIZE;
    c->hash(c->ctx, out, iov, 5);
}

/* Magic, version and reserved bytes of a 128-byte signed structure. */
/* names[]: what to report for size, magic, version, reserved. */
static int check_head(const uint8_t *in, size_t len, size_t size, const char *magic,
                      uint8_t version, const char *const names[4], ks_diag *d)
{
    if (!in || len != size)
        return ks_fail(d, KS_E_FORMAT, 0, names[0]);
    if (memcmp(in, magic, 4) != 0)
        return ks_fail(d, KS_E_FORMAT, 0, names[1]);
    if (in[4] != version)
        return ks_fail(d, KS_E_FORMAT, 4, names[2]);
    if (in[5] | in[6] | in[7])
        return ks_fail(d, KS_E_FORMAT, 5, names[3]);
    return KS_OK;
}

static const char *const response_names[4] = {"response.size", "response.magic",
                                              "response.version", "response.reserved"};
static const char *const token_names[4] = {"time_token.size", "time_token.magic",
                                           "time_token.version", "time_token.reserved"};
static const char *const licence_names[4] = {"licence.size", "licence.magic",
                                             "licence.version", "licence.reserved"};

static void put_head(uint8_t *out, const char *magic, uint8_t version)
{
    memcpy(out, magic, 4);
    out[4] = version;
    out[5] = out[6] = out[7] = 0;
}

/* ----- response ----- */

int ks_response_make(const ks_crypto *c, const uint8_t challenge[KS_CHALLENGE_SIZE],
                     uint64_t use_counter, const uint8_t pk[KS_PUBKEY_SIZE],
                     const uint8_t sk[KS_SECKEY_SIZE], uint8_t out[KS_RESPONSE_SIZE])
{
    put_head(out, KS_RESPONSE_MAGIC, KS_RESPONSE_VERSION);
    ks_key_id(c, out + 8, pk);
    memcpy(out + 24, challenge, KS_CHALLENGE_SIZE);
    ks_st64(out + 56, use_counter);
    return ks_sign_labelled(c, out + 64, KS_LABEL_RESPONSE, out, KS_AUTH_SIGNED_SIZE, sk);
}

int ks_response_decode(ks_response *r, const uint8_t *in, size_t len, ks_diag *d)
{
    int err = check_head(in, len, KS_RESPONSE_SIZE, KS_RESPONSE_MAGIC, KS_RESPONSE_VERSION,
                         response_names, d);
    if (err)
        return err;
    memcpy(r->key_id, in + 8, KS_KEYID_SIZE);
    memcpy(r->challenge, in + 24, KS_CHALLENGE_SIZE);
    r->use_counter = ks_ld64(in + 56);
    memcpy(r->signature, in + 64, KS_SIG_SIZE);
    return KS_OK;
}

int ks_response_verify(const ks_crypto *c, const uint8_t in[KS_RESPONSE_SIZE],
                       const uint8_t pk[KS_PUBKEY_SIZE])
{
    return ks_verify_labelled(c, in + 64, KS_LABEL_RESPONSE, in, KS_AUTH_SIGNED_SIZE, pk);
}

/* ----- time token ----- */

static int sign_with_id(const ks_crypto *c, uint8_t *out, const char *label,
                        const uint8_t sk[KS_SECKEY_SIZE])
{
    /* sk is seed || public key: the signer id is the public key's id. */
    ks_key_id(c, out + 48, sk + 32);
    return ks_sign_labelled(c, out + 64, label, out, KS_AUTH_SIGNED_SIZE, sk);
}

int ks_time_token_make(const ks_crypto *c, ks_time_token *t, const uint8_t sk[KS_SECKEY_SIZE],
                       uint8_t out[KS_TIME_TOKEN_SIZE])
{
    int err;
    put_head(out, KS_TIME_TOKEN_MAGIC, KS_TIME_TOKEN_VERSION);
    memcpy(out + 8, t->controller_id, KS_CTRL_ID_SIZE);
    ks_st64(out + 24, t->time);
    memcpy(out + 32, t->nonce, KS_NONCE_SIZE);
    if ((err = sign_with_id(c, out, KS_LABEL_TIMETOKEN, sk)) != 0)
        return err;
    memcpy(t->signer_id, out + 48, KS_KEYID_SIZE);
    memcpy(t->signature, out + 64, KS_SIG_SIZE);
    return KS_OK;
}

int ks_time_token_decode(ks_time_token *t, const uint8_t *in, size_t len, ks_diag *d)
{
    int err = check_head(in, len, KS_TIME_TOKEN_SIZE, KS_TIME_TOKEN_MAGIC,
                         KS_TIME_TOKEN_VERSION, token_names, d);
    if (err)
        return err;
    memcpy(t->controller_id, in + 8, KS_CTRL_ID_SIZE);
    t->time = ks_ld64(in + 24);
    memcpy(t->nonce, in + 32, KS_NONCE_SIZE);
    memcpy(t->signer_id, in + 48, KS_KEYID_SIZE);
    memcpy(t->signature, in + 64, KS_SIG_SIZE);
    if (t->time == 0)
        return ks_fail(d, KS_E_FORMAT, 24, "time_token.time");
    return KS_OK;
}

/* ----- licence ----- */

int ks_licence_make(const ks_crypto *c, ks_licence *l, const uint8_t sk[KS_SECKEY_SIZE],
                    uint8_t out[KS_LICENCE_SIZE])
{
    int err;
    put_head(out, KS_LICENCE_MAGIC, KS_LICENCE_VERSION);
    memcpy(out + 8, l->controller_id, KS_CTRL_ID_SIZE);
    ks_st64(out + 24, l->features);
    ks_st64(out + 32, l->issued_at);
    ks_st64(out + 40, l->expires_at);
    if ((err = sign_with_id(c, out, KS_LABEL_LICENCE, sk)) != 0)
        return err;
    l->version = KS_LICENCE_VERSION;
    memcpy(l->signer_id, out + 48, KS_KEYID_SIZE);
    memcpy(l->signature, out + 64, KS_SIG_SIZE);
    return KS_OK;
}

/* Version 2 (docs/formats.md): v1's first 64 bytes, then serial, the bound
 * key and its window, and the signature over bytes 0..96. */
int ks_licence_make_v2(const ks_crypto *c, ks_licence *l, const uint8_t sk[KS_SECKEY_SIZE],
                       uint8_t out[KS_LICENCE_SIZE_V2])
{
    int err;
    if (ks__is_zero(l->bound_key, KS_KEYID_SIZE) != (l->bound_window == 0))
        return KS_E_INVAL; /* a key needs a window, a window needs a key */
    memset(out, 0, KS_LICENCE_SIZE_V2);
    put_head(out, KS_LICENCE_MAGIC, KS_LICENCE_VERSION_BOUND);
    memcpy(out + 8, l->controller_id, KS_CTRL_ID_SIZE);
    ks_st64(out + 24, l->features);
    ks_st64(out + 32, l->issued_at);
    ks_st64(out + 40, l->expires_at);
    ks_key_id(c, out + 48, sk + 32);
    ks_st64(out + 64, l->serial);
    ks_st32(out + 72, l->bound_window);
    memcpy(out + 80, l->bound_key, KS_KEYID_SIZE);
    if ((err = ks_sign_labelled(c, out + KS_LICENCE_V2_SIGNED, KS_LABEL_LICENCE, out,
                                KS_LICENCE_V2_SIGNED, sk)) != 0)
        return err;
    l->version = KS_LICENCE_VERSION_BOUND;
    memcpy(l->signer_id, out + 48, KS_KEYID_SIZE);
    memcpy(l->signature, out + KS_LICENCE_V2_SIGNED, KS_SIG_SIZE);
    return KS_OK;
}

int ks_licence_decode(ks_licence *l, const uint8_t *in, size_t len, ks_diag *d)
{
    int v2 = in && len == KS_LICENCE_SIZE_V2 && len > 4 && in[4] == KS_LICENCE_VERSION_BOUND;
    int err = v2 ? check_head(in, len, KS_LICENCE_SIZE_V2, KS_LICENCE_MAGIC,
                              KS_LICENCE_VERSION_BOUND, licence_names, d)
                 : check_head(in, len, KS_LICENCE_SIZE, KS_LICENCE_MAGIC, KS_LICENCE_VERSION,
                              licence_names, d);
    if (err)
        return err;
    memset(l, 0, sizeof *l);
    l->version = in[4];
    memcpy(l->controller_id, in + 8, KS_CTRL_ID_SIZE);
    l->features = ks_ld64(in + 24);
    l->issued_at = ks_ld64(in + 32);
    l->expires_at = ks_ld64(in + 40);
    memcpy(l->signer_id, in + 48, KS_KEYID_SIZE);
    if (v2) {
        l->serial = ks_ld64(in + 64);
        l->bound_window = ks_ld32(in + 72);
        memcpy(l->bound_key, in + 80, KS_KEYID_SIZE);
        memcpy(l->signature, in + KS_LICENCE_V2_SIGNED, KS_SIG_SIZE);
        if (ks_ld32(in + 76) != 0)
            return ks_fail(d, KS_E_FORMAT, 76, "licence.reserved");
        if (ks__is_zero(l->bound_key, KS_KEYID_SIZE) != (l->bound_window == 0))
            return ks_fail(d, KS_E_FORMAT, 72, "licence.bound_window");
    } else {
        memcpy(l->signature, in + 64, KS_SIG_SIZE);
    }
    if (l->expires_at && l->expires_at <= l->issued_at)
        return ks_fail(d, KS_E_FORMAT, 40, "licence.expires_at");
    return KS_OK;
}

int ks_licence_bound(const ks_licence *l)
{
    return l->version == KS_LICENCE_VERSION_BOUND && !ks__is_zero(l->bound_key, KS_KEYID_SIZE);
}
