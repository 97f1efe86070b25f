/*
 * answer_sign.c - the attacker's signer for tests/e2e/mitm_e2e.sh: signs
 * the 122 envelope bytes of a supervisor answer (hex, built by the Python
 * proxy from docs/formats.md alone) with a key file that is NOT the
 * supervisor's. Prints "PUBKEY_HEX SIG_HEX". A controller that accepts the
 * signature as genuine (and then refuses the key as unpinned, KSE-700)
 * shows the Python reading of the layout matches the C one byte for byte.
 *   usage: answer_sign KEYFILE ENVELOPE_HEX
 */
#include <stdio.h>
#include <string.h>

#include <keysup/keysup.h>
#include <sodium.h>

#include "ks_hex.h"
#include "ks_keyfile.h"

int main(int argc, char **argv)
{
    uint8_t pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE], m[16 + KS_ANSWER_SIGNED_SIZE], sig[64];
    char pkh[65], sh[129];
    ks_diag d = {0, 0, NULL};
    if (argc != 3 || strlen(argv[2]) != 2 * KS_ANSWER_SIGNED_SIZE || sodium_init() < 0) {
        fprintf(stderr, "usage: answer_sign KEYFILE ENVELOPE_HEX(244)\n");
        return 2;
    }
    if (ks_keyfile_load(argv[1], NULL, 0, pk, sk, &d) != KS_OK) {
        fprintf(stderr, "answer_sign: cannot load %s\n", argv[1]);
        return 1;
    }
    memcpy(m, KS_ANSWER_LABEL, 16);
    if (ks_unhex(m + 16, KS_ANSWER_SIGNED_SIZE, argv[2]) != 0) {
        fprintf(stderr, "answer_sign: bad hex\n");
        return 2;
    }
    crypto_sign_detached(sig, NULL, m, sizeof m, sk);
    sodium_memzero(sk, sizeof sk);
    ks_hex(pkh, pk, sizeof pk);
    ks_hex(sh, sig, sizeof sig);
    printf("%s %s\n", pkh, sh);
    return 0;
}
