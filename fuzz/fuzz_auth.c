/*
 * fuzz_auth.c - libFuzzer target for the authentication engine's parsers:
 * the first byte picks what the rest is fed to.
 *   0: a key's response, decoded, then decided by a live engine on a small
 *      store (challenge issued first), so the whole decision path runs on
 *      hostile bytes;
 *   1: a time token, decoded and applied;
 *   2: a licence, decoded and set;
 *   3: a run of audit records, verified.
 * Invariants: decoders accept only exact sizes; an engine never grants a
 * response it did not verify; parsing never reads out of bounds (ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../tests/auth_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static at_fix f;
    static int ready;
    uint8_t ch[32];
    ks_auth_result res;
    ks_diag d = {0, 0, NULL};

    if (!ready) {
        at_setup(&f);
        ready = 1;
    }
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0: {
        ks_response r;
        int dec = ks_response_decode(&r, data + 1, size - 1, &d);
        if (dec == 0 && size - 1 != KS_RESPONSE_SIZE)
            abort();
        if (ks_auth_challenge(&f.a, RA, KS_ACT_VOID, ch) == 0) {
            int err = ks_auth_respond(&f.a, RA, data + 1, size - 1, 0, &res);
            /* Nobody can sign a fresh random challenge without a key. */
            if (err == KS_OK || err == KS_AUTH_SECOND)
                abort();
        }
        /* keep the reader usable */
        (void)ks_auth_admin_unlock(&f.a, KS_COUNTER_READER, RA, RB);
        break;
    }
    case 1: {
        ks_time_token t;
        if (ks_time_token_decode(&t, data + 1, size - 1, &d) == 0 &&
            size - 1 != KS_TIME_TOKEN_SIZE)
            abort();
        if (ks_auth_time_apply(&f.a, data + 1, size - 1, &d) == 0)
            abort(); /* unsigned by the pinned key: never accepted */
        break;
    }
    case 2: {
        ks_licence l;
        if (ks_licence_decode(&l, data + 1, size - 1, &d) == 0 &&
            !(size - 1 == KS_LICENCE_SIZE && l.version == 1) &&
            !(size - 1 == KS_LICENCE_SIZE_V2 && l.version == 2))
            abort();
        if (ks_auth_set_licence(&f.a, data + 1, size - 1, &d) == 0)
            abort();
        break;
    }
    default: {
        size_t n = (size - 1) / KS_AUDIT_PAYLOAD, bad = 0;
        (void)ks_audit_verify(&f.c, data + 1, n, NULL, NULL, &bad);
        if (n && bad >= n)
            abort();
        break;
    }
    }
    return 0;
}
