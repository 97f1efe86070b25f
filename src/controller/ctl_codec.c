/*
 * ctl_codec.c - decoding and encoding of the controller's persistent blobs
 * (ctl_codec.h). Kept apart from the agent so that the fuzzer drives the
 * very code the agent runs on bytes read back from flash and disk.
 */
#include "ctl_codec.h"

#include <string.h>

#include <sodium.h>

#define SET_MAGIC "KSCS"
#define SET_VERSION CTL_SETTINGS_VERSION

/*
 * Settings blob layout (version 4: 176 bytes, little-endian):
 *   0 magic "KSCS"  4 version u16  6 min_key_format u8  7 degraded u8
 *   8 controller_id u64  16 scope u32  20 max_offline u32
 *  24 device_seed[32]  56 last_sync u64  64 unit_tag u64 (0: written before
 *  the identity file existed; ctl_identity.c)
 *  72 tls_pins u8 (bit 0: current, bit 1: next; other bits zero)
 *  73 reserved[7] (zero)  80 tls_pin current[32]  112 tls_pin next[32]
 * Version 3 (licence enforcement, docs/licences.md) is version 2 with
 *  73 lic_enforce u8 (feature bits 0..7 enforced)  74 reserved[2] (zero)
 *  76 lic_grace u32 (seconds after a licence's expiry it still counts)
 * Version 4 (rollback guards, docs/security.md) is version 3 (144 bytes) and
 * 144 lic_seq u64 (the licence policy's sequence last applied)
 * 152 lic_held u8 (enum ctl_lic_held)  153 reserved[7] (zero)
 * 160 lic_hash[16] (BLAKE2b-128 of the licence file taken last; zero unless
 *     lic_held is 1)
 * Version 1 (written before TLS) is the first 72 bytes; it reads as a
 * controller without pins. Versions 1 and 2 read as nothing enforced,
 * versions 1 to 3 as no sequence and any licence, and every version is
 * written back as version 4. Whether an older version may be read at all is
 * the identity file's to say (ctl_rollback.c).
 */
void ctl_settings_encode(const ctl_settings *s, uint8_t out[CTL_SETTINGS_SIZE])
{
    memset(out, 0, CTL_SETTINGS_SIZE);
    memcpy(out, SET_MAGIC, 4);
    ks_st16(out + 4, SET_VERSION);
    out[6] = s->min_key_format;
    out[7] = s->degraded;
    ks_st64(out + 8, s->controller_id);
    ks_st32(out + 16, s->scope);
    ks_st32(out + 20, s->max_offline);
    memcpy(out + 24, s->device_seed, 32);
    ks_st64(out + 56, s->last_sync);
    ks_st64(out + 64, s->unit_tag);
    out[72] = s->tls_pins & 3;
    out[73] = s->lic_enforce;
    ks_st32(out + 76, s->lic_grace);
    memcpy(out + 80, s->tls_pin[0], 32);
    memcpy(out + 112, s->tls_pin[1], 32);
    ks_st64(out + 144, s->lic_seq);
    out[152] = s->lic_held;
    if (s->lic_held == CTL_LIC_HELD_HASH)
        memcpy(out + 160, s->lic_hash, 16);
}

int ctl_settings_decode(ctl_settings *s, const uint8_t *in, uint32_t len)
{
    static const uint8_t zero[7];
    unsigned v;
    if (len < CTL_SETTINGS_SIZE_V1 || memcmp(in, SET_MAGIC, 4) != 0)
        return KS_E_FORMAT;
    v = ks_ld16(in + 4);
    if (!((v == 1 && len == CTL_SETTINGS_SIZE_V1) ||
          ((v == 2 || v == 3) && len == CTL_SETTINGS_SIZE_V2) ||
          (v == 4 && len == CTL_SETTINGS_SIZE)))
        return KS_E_FORMAT;
    if (v == 2 && ((in[72] & ~3u) != 0 || memcmp(in + 73, zero, sizeof zero) != 0))
        return KS_E_FORMAT; /* reserved bits and bytes are zero */
    if (v >= 3 && ((in[72] & ~3u) != 0 || in[74] != 0 || in[75] != 0))
        return KS_E_FORMAT;
    if (v == 4 && (in[152] > CTL_LIC_HELD_NONE || memcmp(in + 153, zero, sizeof zero) != 0))
        return KS_E_FORMAT;
    if (v == 4 && in[152] != CTL_LIC_HELD_HASH) {
        static const uint8_t zero16[16];
        if (memcmp(in + 160, zero16, 16) != 0)
            return KS_E_FORMAT; /* a hash only beside "this licence" */
    }
    s->min_key_format = in[6];
    s->degraded = in[7];
    s->controller_id = ks_ld64(in + 8);
    s->scope = ks_ld32(in + 16);
    s->max_offline = ks_ld32(in + 20);
    memcpy(s->device_seed, in + 24, 32);
    s->last_sync = ks_ld64(in + 56);
    s->unit_tag = ks_ld64(in + 64);
    s->tls_pins = 0;
    memset(s->tls_pin, 0, sizeof s->tls_pin);
    s->lic_enforce = v >= 3 ? in[73] : 0;
    s->lic_grace = v >= 3 ? ks_ld32(in + 76) : 0;
    s->lic_seq = v == 4 ? ks_ld64(in + 144) : 0;
    s->lic_held = v == 4 ? in[152] : CTL_LIC_HELD_ANY;
    memset(s->lic_hash, 0, sizeof s->lic_hash);
    if (v == 4)
        memcpy(s->lic_hash, in + 160, 16);
    s->version = (uint8_t)v;
    if (v >= 2) {
        s->tls_pins = in[72];
        memcpy(s->tls_pin[0], in + 80, 32);
        memcpy(s->tls_pin[1], in + 112, 32);
    }
    return KS_OK;
}

int ctl_identity_decode(const ks_crypto *c, const uint8_t *b, size_t n, ctl_ident *out)
{
    static const uint8_t zero[7];
    uint8_t h[KS_HASH_SIZE];
    unsigned v;
    size_t body;

    if (n < CTL_ID_SIZE_V1 || memcmp(b, CTL_ID_MAGIC, 4) != 0)
        return KS_E_FORMAT;
    v = ks_ld16(b + 4);
    if (v == 1 && n == CTL_ID_SIZE_V1)
        body = CTL_ID_BODY_V1;
    else if (v == 2 && n == CTL_ID_SIZE)
        body = CTL_ID_BODY;
    else
        return KS_E_FORMAT;
    ks_iov iov = {b, body};
    c->hash(c->ctx, h, &iov, 1);
    if (sodium_memcmp(h, b + body, KS_HASH_SIZE) != 0)
        return KS_E_FORMAT;
    if (v == 2 && ((b[224] & ~3u) != 0 || memcmp(b + 225, zero, sizeof zero) != 0))
        return KS_E_FORMAT; /* reserved bits and bytes are zero */
    memset(out, 0, sizeof *out);
    out->controller_id = ks_ld64(b + 8);
    out->scope = ks_ld32(b + 16);
    memcpy(out->seed, b + 24, 32);
    memcpy(out->secret, b + 56, 32);
    ks_trust_init(&out->trust);
    for (uint32_t i = 0; i < ks_ld16(b + 6) && i < KS_TRUST_MAX; i++)
        if (ks_trust_add(&out->trust, c, b + 96 + 32 * i) != KS_OK)
            return KS_E_FORMAT;
    out->trust.rotation_seq = ks_ld64(b + 88);
    out->set_floor = b[20]; /* 0 in files written before rollback guards */
    if (v == 2) {
        out->tls_pins = b[224];
        memcpy(out->tls_pin[0], b + 232, 32);
        memcpy(out->tls_pin[1], b + 264, 32);
    }
    return out->controller_id ? KS_OK : KS_E_FORMAT;
}
