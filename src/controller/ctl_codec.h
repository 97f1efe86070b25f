/*
 * ctl_codec.h - the controller's two persistent blobs as pure functions
 * (no agent, no file, no store), so the fuzzers can link them alone
 * (fuzz/fuzz_ctl_blobs.c): the settings blob kept in the store
 * (ctl_agent.c) and the identity file (ctl_identity.c).
 */
#ifndef KEYSUP_CTL_CODEC_H
#define KEYSUP_CTL_CODEC_H

#include "ctl_agent.h"

/* ----- settings blob (layout in ctl_codec.c) ----- */
void ctl_settings_encode(const ctl_settings *s, uint8_t out[CTL_SETTINGS_SIZE]);
/* KS_OK and s filled, or KS_E_FORMAT (s untouched) when in is not a blob
 * of this layout and version. */
int ctl_settings_decode(ctl_settings *s, const uint8_t *in, uint32_t len);

/* ----- identity file (layout in ctl_identity.c) ----- */
#define CTL_ID_MAGIC "KSID"
#define CTL_ID_VERSION 2      /* version 1 (256 bytes, no TLS pins) is still read */
#define CTL_ID_SIZE_V1 256
#define CTL_ID_BODY_V1 224
#define CTL_ID_SIZE 328
#define CTL_ID_BODY 296

typedef struct ctl_ident {
    uint64_t controller_id;
    uint32_t scope;
    uint8_t seed[32], secret[32];
    ks_trust trust;
    uint8_t tls_pins;            /* bit i: tls_pin[i] set (as in the settings) */
    uint8_t tls_pin[2][32];      /* the supervisor's TLS pins: current, next */
    uint8_t set_floor;           /* byte 20: the oldest settings version the unit may read */
} ctl_ident;

/* KS_OK and out filled when b[0..n) is an identity file (version 1 or 2)
 * whose hash checks and that names a controller; else KS_E_FORMAT. The
 * caller wipes out. */
int ctl_identity_decode(const ks_crypto *c, const uint8_t *b, size_t n, ctl_ident *out);

#endif
