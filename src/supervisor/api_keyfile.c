/*
 * api_keyfile.c - POST /v1/keyfile (operator): turns the secret seed that
 * POST /v1/keys {generate: true} answered once into a key file
 * (docs/keyfile.md) the holder's tools read, so the console can offer "download
 * the key file" without a key-file encoder of its own in the browser.
 *   body: {secret_seed: 64 hex, passphrase?: 10..256 characters}
 *   200 application/octet-stream: 168 bytes; sealed with Argon2id (the
 *   interactive cost) under the passphrase, or a plain file without one.
 * Nothing is stored or logged; the seed, the passphrase and the body are
 * wiped as the request ends (SUP_SECRET fields: the dispatcher does it).
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ks_keyfile.h"
#include "sup_console.h"

typedef struct keyfile_in {
    uint8_t seed[KS_KEYFILE_SEED_SIZE];
    const char *pass;
} keyfile_in;

static void keyfile(sup_req *rq, sup_resp *rs)
{
    const keyfile_in *in = rq->in;
    const char *pass = in->pass;
    uint8_t *out = NULL;
    int rc;

    out = malloc(KS_KEYFILE_SIZE);
    if (!out) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        return;
    }
    rc = ks_keyfile_encode(out, in->seed, pass, pass ? strlen(pass) : 0, &ks_kdf_interactive);
    if (rc != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot seal the key file (%s)", ks_err_name(rc));
        goto cleanup;
    }
    {
        /* The audit names the key (its id), never the secret. */
        uint8_t pk[KS_PUBKEY_SIZE], sk[64], kid[KS_KEYID_SIZE];
        char target[2 * KS_KEYID_SIZE + 8];
        crypto_sign_seed_keypair(pk, sk, in->seed);
        sodium_memzero(sk, sizeof sk);
        ks_key_id(&rq->s->crypto, kid, pk);
        memcpy(target, "key:", 4);
        ks_hex(target + 4, kid, sizeof kid);
        sup_audit(rq->s, 0, rq->actor, "key.keyfile", target, "ok", NULL,
                  pass ? "sealed with a passphrase" : "plain");
    }
    rs->status = 200;
    rs->bin = out;
    rs->bin_len = KS_KEYFILE_SIZE;
    out = NULL;
cleanup:
    free(out);
}

static const sup_field keyfile_fields[] = {
    SUP_HEX("secret_seed", SUP_REQUIRED | SUP_SECRET, KS_KEYFILE_SEED_SIZE, keyfile_in, seed,
            "the secret seed POST /v1/keys {generate: true} answered"),
    SUP_STR_LEN("passphrase", SUP_SECRET, KS_OPERATOR_PW_MIN, KS_OPERATOR_PW_MAX, keyfile_in, pass,
                "seals the file (Argon2id); absent: a plain file"),
    SUP_END,
};
static const sup_schema keyfile_schema = {sizeof(keyfile_in), SUP_BODY_FIELDS, keyfile_fields};

const sup_api_route sup_routes_keyfile[] = {
    {"POST", "/v1/keyfile", KS_ROLE_OPERATOR, keyfile, &keyfile_schema,
     "a generated key's secret seed as a key file (application/octet-stream)"},
    {.method = NULL},
};
