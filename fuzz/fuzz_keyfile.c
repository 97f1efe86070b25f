/*
 * fuzz_keyfile.c - libFuzzer target for the key file parser
 * (ks_keyfile_inspect / ks_keyfile_parse in src/host/ks_keyfile.c).
 *
 * Properties checked beyond "no crash, no sanitizer report":
 *   - a parse either succeeds with the public key stored in the file, or
 *     fails with one of the documented errors and leaves sk all zero;
 *   - inspect and parse agree on whether the structure is sound.
 * Argon2id is only run when the input asks for a tiny cost (the seed
 * corpus has such a file under passphrase "fuzz"), so iterations stay fast;
 * the parser's own caps are what keeps larger costs out, and the cmocka
 * test covers those.
 */
#include <stdlib.h>
#include <string.h>

#include "ks_keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zero[KS_SECKEY_SIZE];
    uint8_t pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE];
    ks_keyfile_info info;
    ks_diag d = {0, 0, NULL};
    const char *pass = NULL;
    int ri, rp;

    ri = ks_keyfile_inspect(data, size, &info, &d);
    if (size == KS_KEYFILE_SIZE && ks_ld32(data + 8) <= 2 && ks_ld32(data + 12) <= 64)
        pass = "fuzz";
    memset(sk, 0xa5, sizeof sk);
    rp = ks_keyfile_parse(data, size, pass, pass ? 4 : 0, pk, sk, &d);

    switch (rp) {
    case KS_OK:
        if (ri != KS_OK || memcmp(pk, data + 56, KS_PUBKEY_SIZE) != 0)
            abort();
        break;
    case KS_E_FORMAT:
    case KS_E_PASSPHRASE:
    case KS_E_CRYPTO:
        if (memcmp(sk, zero, sizeof sk) != 0)
            abort();
        /* A structural refusal from parse must also be one from inspect;
         * only decryption-stage failures may pass inspect. */
        if (rp == KS_E_FORMAT && ri == KS_OK && info.mode == KS_KEYFILE_PLAIN)
            abort();
        if (rp == KS_E_PASSPHRASE && ri != KS_OK)
            abort();
        break;
    default:
        abort();
    }
    return 0;
}
