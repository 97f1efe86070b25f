/*
 * fuzz_ctl_blobs.c - libFuzzer target for the controller's persistent
 * blobs (src/controller/ctl_codec.c): the settings blob read back from the
 * store and the identity file read back from disk. Both are what the agent
 * trusts at start, so both are decoded from arbitrary bytes here.
 *
 * Byte 0 picks the blob (even: settings, odd: identity file); the rest is
 * the blob. Properties beyond "no crash":
 *   - settings: a blob that decodes encodes back to the same bytes (a
 *     version 1 blob as version 2 with the same fields); one
 *     that does not leaves the settings untouched;
 *   - identity: a file that decodes names a controller, holds at most
 *     KS_TRUST_MAX pins and carries the BLAKE2b-256 of its body; any
 *     one-bit change of it is refused (the agent would otherwise take a
 *     damaged or forged file for this unit's identity).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl_codec.h"
#include "ks_sodium.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void settings(const uint8_t *b, size_t n)
{
    ctl_settings s, before;
    uint8_t out[CTL_SETTINGS_SIZE];
    memset(&s, 0xa5, sizeof s);
    memcpy(&before, &s, sizeof s);
    int err = ctl_settings_decode(&s, b, (uint32_t)(n > 0xffffffffu ? 0xffffffffu : n));
    if (err == KS_OK) {
        ctl_settings_encode(&s, out);
        /* Version 4 comes back byte for byte; versions 1 (72 bytes), 2 and
         * 3 (144) come back as version 4 with the same bytes but the
         * version, and zero after them. */
        static const uint8_t zero[CTL_SETTINGS_SIZE];
        if (n == CTL_SETTINGS_SIZE && b[4] == 4 ? memcmp(out, b, n) != 0
            : (n != CTL_SETTINGS_SIZE_V1 && n != CTL_SETTINGS_SIZE_V2) ||
                  memcmp(out, b, 4) != 0 || memcmp(out + 6, b + 6, n - 6) != 0 ||
                  memcmp(out + n, zero, CTL_SETTINGS_SIZE - n) != 0)
            abort();
    } else if (err != KS_E_FORMAT || memcmp(&s, &before, sizeof s) != 0) {
        abort();
    }
}

static void identity(const ks_crypto *c, const uint8_t *b, size_t n)
{
    ctl_ident id;
    uint8_t h[32], copy[CTL_ID_SIZE];
    int err = ctl_identity_decode(c, b, n, &id);
    if (err == KS_E_FORMAT)
        return;
    size_t body = n == CTL_ID_SIZE ? CTL_ID_BODY : CTL_ID_BODY_V1;
    if (err != KS_OK || (n != CTL_ID_SIZE && n != CTL_ID_SIZE_V1) || !id.controller_id ||
        id.trust.count > KS_TRUST_MAX || id.controller_id != ks_ld64(b + 8) ||
        memcmp(id.seed, b + 24, 32) != 0 || (n == CTL_ID_SIZE_V1 && id.tls_pins != 0))
        abort();
    crypto_generichash(h, sizeof h, b, body, NULL, 0);
    if (memcmp(h, b + body, sizeof h) != 0)
        abort();
    /* Every one-bit change of an accepted file is refused. */
    for (uint32_t bit = 0; bit < n * 8; bit += 7) {
        memcpy(copy, b, n);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (ctl_identity_decode(c, copy, n, &id) != KS_E_FORMAT)
            abort();
    }
    sodium_memzero(&id, sizeof id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ks_crypto c;
    static int init;
    if (!init) {
        if (ks_sodium_crypto(&c) != 0)
            abort();
        init = 1;
    }
    if (size < 1)
        return 0;
    if (data[0] & 1)
        identity(&c, data + 1, size - 1);
    else
        settings(data + 1, size - 1);
    return 0;
}
