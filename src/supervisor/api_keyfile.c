/*
 * api_keyfile.c - POST /v1/keyfile (operator): turns the secret seed that
 * POST /v1/keys {generate: true} answered once into a key file
 * (docs/keyfile.md) the holder's tools read, so the console can offer "download
 * the key file" without a key-file encoder of its own in the browser.
 *   body: {secret_seed: 64 hex, passphrase?: 10..256 characters}
 *   200 application/octet-stream: 168 bytes; sealed with Argon2id (the
 *   interactive cost) under the passphrase, or a plain file without one.
 * Nothing is stored or logged; the seed, the passphrase and the body are
 * wiped before the answer leaves.
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ks_keyfile.h"
#include "sup_console.h"

static void keyfile(sup_req *rq, sup_resp *rs)
{
    json_t *b = api_body(rq, rs);
    const char *pass = NULL;
    uint8_t seed[KS_KEYFILE_SEED_SIZE];
    uint8_t *out = NULL;
    int rc;

    if (!b)
        return;
    if (api_hex(rs, b, "secret_seed", 1, seed, sizeof seed) < 0 ||
        api_str(rs, b, "passphrase", 0, KS_OPERATOR_PW_MAX, &pass) < 0)
        goto cleanup;
    if (pass && strlen(pass) < KS_OPERATOR_PW_MIN) {
        api_error(rs, 400, "BAD_REQUEST", "field 'passphrase': at least %d characters, or none"
                  " for a plain file", KS_OPERATOR_PW_MIN);
        goto cleanup;
    }
    out = malloc(KS_KEYFILE_SIZE);
    if (!out) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        goto cleanup;
    }
    rc = ks_keyfile_encode(out, seed, pass, pass ? strlen(pass) : 0, &ks_kdf_interactive);
    if (rc != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot seal the key file (%s)", ks_err_name(rc));
        goto cleanup;
    }
    {
        /* The audit names the key (its id), never the secret. */
        uint8_t pk[KS_PUBKEY_SIZE], sk[64], kid[KS_KEYID_SIZE];
        char target[2 * KS_KEYID_SIZE + 8];
        crypto_sign_seed_keypair(pk, sk, seed);
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
    sodium_memzero(seed, sizeof seed);
    if (pass)
        sodium_memzero((char *)pass, strlen(pass));
    {
        /* jansson's copy of the seed's hex */
        const char *h = json_string_value(json_object_get(b, "secret_seed"));
        if (h)
            sodium_memzero((char *)h, strlen(h));
    }
    if (rq->body)
        sodium_memzero((char *)rq->body, rq->body_len);
    json_decref(b);
}

const sup_route sup_routes_keyfile[] = {
    {"POST", "/v1/keyfile", KS_ROLE_OPERATOR, keyfile},
    {NULL, NULL, 0, NULL},
};
