/*
 * ks_cred.c - the one-time code tag of Replace Supervisor Credential and
 * key fingerprints (ks_cred.h).
 */
#include "ks_cred.h"

#include <string.h>

#include <sodium.h>

int ks_cred_tag(const char *code, uint64_t controller_id, const uint8_t device_key_id[16],
                const uint8_t pk[KS_PUBKEY_SIZE], uint32_t ops, uint32_t mem_kib,
                uint8_t tag[KS_CRED_TAG_SIZE])
{
    uint8_t in[13 + 8 + 16 + KS_PUBKEY_SIZE], salt[crypto_pwhash_SALTBYTES];
    if (ops < 1 || ops > KS_CRED_OPS_MAX || mem_kib < 8 || mem_kib > KS_CRED_MEM_KIB_MAX)
        return KS_E_INVAL;
    memcpy(in, "KEYSUP-RSC-V1", 13);
    ks_st64(in + 13, controller_id);
    memcpy(in + 21, device_key_id, 16);
    memcpy(in + 37, pk, KS_PUBKEY_SIZE);
    crypto_generichash(salt, sizeof salt, in, sizeof in, NULL, 0);
    if (crypto_pwhash(tag, KS_CRED_TAG_SIZE, code, strlen(code), salt, ops,
                      (size_t)mem_kib * 1024u, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return KS_E_CRYPTO;
    return KS_OK;
}

void ks_key_fingerprint(const ks_crypto *c, const uint8_t pk[KS_PUBKEY_SIZE],
                        char out[KS_FINGERPRINT_LEN + 1])
{
    static const char hx[] = "0123456789abcdef";
    uint8_t id[KS_KEYID_SIZE];
    size_t o = 0;
    ks_key_id(c, id, pk);
    for (int i = 0; i < KS_KEYID_SIZE; i++) {
        if (i && i % 2 == 0)
            out[o++] = '-';
        out[o++] = hx[id[i] >> 4];
        out[o++] = hx[id[i] & 15];
    }
    out[o] = '\0';
}
