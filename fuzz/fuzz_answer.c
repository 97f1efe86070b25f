/*
 * fuzz_answer.c - libFuzzer target for the signed answer envelope
 * (src/core/ks_answer.c, docs/formats.md "Signed answer").
 *
 * Input: byte 0 picks a mutation, bytes 1..58 are the envelope's fixed
 * fields (controller id, device key id, nonce, status), then three
 * NUL-separated strings (method, path, the X-Keysup-Answer-Signature header
 * as sent) and the body. Properties beyond "no crash":
 *   - the envelope the fixture key signs verifies, with the right signer
 *     index, and only with that key;
 *   - a signature taken from the header verifies only if it is, byte for
 *     byte, the one the key makes (Ed25519 in libsodium is not malleable);
 *   - any one-bit change of a bound field (controller, device key, nonce,
 *     status, method, path, body) or of the signature is refused.
 * The header is decoded the way ctl_answer.c does (exactly 128 hex digits).
 */
#include <stdlib.h>
#include <string.h>

#include <keysup/ks_answer.h>

#include "fuzz_fixture.h"
#include "ks_hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED 58

/* Next NUL-terminated piece of [*p, end) copied into out (cap), *p moved past it. */
static void piece(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    size_t n = 0;
    while (*p < end && **p && n + 1 < cap)
        out[n++] = (char)*(*p)++;
    while (*p < end && **p) /* too long: the rest is dropped */
        (*p)++;
    if (*p < end)
        (*p)++;
    out[n] = '\0';
}


static void flip(uint8_t *p, size_t n, uint32_t bit)
{
    p[(bit / 8) % n] ^= (uint8_t)(1u << (bit % 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fx_world w;
    static uint8_t other_pk[32], other_sk[64];
    static int init;
    char method[64], path[1024], hdr[256];
    ks_answer a, m;
    uint8_t sig[KS_SIG_SIZE], bad[KS_SIG_SIZE], in_sig[KS_SIG_SIZE];
    ks_trust two;
    uint32_t signer = 99;

    if (!init) {
        if (fx_init(&w) != 0)
            abort();
        fx_key(7, other_pk, other_sk);
        init = 1;
    }
    if (size < 1 + FIXED)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *p = data + 1 + FIXED, *end = data + size;
    memset(&a, 0, sizeof a);
    a.controller_id = ks_ld64(data + 1);
    memcpy(a.device_key_id, data + 9, KS_KEYID_SIZE);
    memcpy(a.nonce, data + 25, KS_ANSWER_NONCE_SIZE);
    a.status = ks_ld16(data + 57);
    piece(&p, end, method, sizeof method);
    piece(&p, end, path, sizeof path);
    piece(&p, end, hdr, sizeof hdr);
    const uint8_t *body = p;
    size_t blen = (size_t)(end - p);
    ks_answer_bind(&w.c, &a, method, path, blen ? body : NULL, blen);

    if (ks_answer_sign(&w.c, &a, w.sk, sig) != KS_OK)
        abort();
    if (ks_answer_verify(&w.c, &a, sig, &w.trust, &signer) != KS_OK || signer != 0)
        abort();
    /* Two pins, the signer second (every 8th selector: verifies are what
     * bounds the run time in ctest). */
    const ks_trust *pins = &w.trust;
    if (sel & 8) {
        if (ks_answer_verify_key(&w.c, &a, sig, other_pk) != KS_E_ANSWER_NOT_AUTHENTIC)
            abort();
        ks_trust_init(&two);
        ks_trust_add(&two, &w.c, other_pk);
        ks_trust_add(&two, &w.c, w.pk);
        if (ks_answer_verify(&w.c, &a, sig, &two, &signer) != KS_OK || signer != 1)
            abort();
        pins = &two;
    }

    /* The header's signature: accepted only when it is the genuine one. */
    if (ks_unhex(in_sig, sizeof in_sig, hdr) == 0 &&
        ks_answer_verify(&w.c, &a, in_sig, &w.trust, NULL) == KS_OK &&
        memcmp(in_sig, sig, sizeof sig) != 0)
        abort();

    /* One bit of one bound field changed: refused. */
    uint32_t bit = (uint32_t)(sel >> 4) * 37u + (uint32_t)size;
    m = a;
    memcpy(bad, sig, sizeof bad);
    char mm[64], mp[1024];
    memcpy(mm, method, sizeof mm);
    memcpy(mp, path, sizeof mp);
    uint8_t *mb = NULL;
    switch (sel & 7) {
    case 0: m.controller_id ^= 1ull << (bit % 64); break;
    case 1: flip(m.device_key_id, sizeof m.device_key_id, bit); break;
    case 2: flip(m.nonce, sizeof m.nonce, bit); break;
    case 3: m.status ^= (uint16_t)(1u << (bit % 16)); break;
    case 4: /* a method one bit off; an empty one gains a character */
        if (mm[0]) flip((uint8_t *)mm, strlen(mm), bit); else memcpy(mm, "G", 2);
        break;
    case 5:
        if (mp[0]) flip((uint8_t *)mp, strlen(mp), bit); else memcpy(mp, "/", 2);
        break;
    case 6: /* a body one bit off, or one byte longer */
        mb = malloc(blen + 1);
        if (!mb)
            return 0;
        memcpy(mb, body, blen);
        if (blen && (bit & 1))
            flip(mb, blen, bit >> 1);
        else
            mb[blen] = (uint8_t)bit;
        break;
    default: flip(bad, sizeof bad, bit); break;
    }
    if ((sel & 7) >= 4 && (sel & 7) <= 6) {
        const uint8_t *nb = mb ? mb : blen ? body : NULL;
        size_t nl = mb && !(blen && (bit & 1)) ? blen + 1 : blen;
        ks_answer_bind(&w.c, &m, mm, mp, nb, nl);
    }
    free(mb);
    if (ks_answer_verify(&w.c, &m, bad, pins, NULL) != KS_E_ANSWER_NOT_AUTHENTIC)
        abort();
    return 0;
}
