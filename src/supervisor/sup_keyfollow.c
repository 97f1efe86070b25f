/*
 * sup_keyfollow.c - see sup_keyfollow.h.
 *
 * The wrapping key of rotation seq is BLAKE2b (keyed with the label) of the
 * previous key's Ed25519 signature over "keysup-key-wrap-v1" || seq (u64
 * LE) || the new public key. Ed25519 signatures are deterministic, so every
 * holder of the previous key derives the same wrapping key, whether that key
 * is a file's or a token's (the token signs, its secret never leaves it);
 * the database alone (a dump, a read-only role) does not open it. Holding
 * the previous key already lets anyone sign a rotation record to a key of
 * their own, so wrapping under it gives nobody more than they had.
 *
 * A rotation to a token (a pkcs11: URI) wraps nothing: every instance opens
 * the token the URI names with its own PIN file.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "ks_keyfile.h"
#include "ks_p11.h"
#include "sup_db_pg.h"
#include "sup_diag.h"
#include "sup_keyfollow.h"
#include "sup_keyview.h"
#include "sup_signer.h"

#define WRAP_LABEL "keysup-key-wrap-v1"

/* The wrapping key of rotation seq to npk under the 64-byte key sk. */
static int wrap_key(sup_ctx *s, const uint8_t sk[KS_SECKEY_SIZE], int64_t seq,
                    const uint8_t npk[KS_PUBKEY_SIZE], uint8_t key[32])
{
    uint8_t msg[sizeof WRAP_LABEL - 1 + 8 + KS_PUBKEY_SIZE], sig[64];
    size_t o = sizeof WRAP_LABEL - 1;
    int rc;
    memcpy(msg, WRAP_LABEL, o);
    for (int i = 0; i < 8; i++)
        msg[o++] = (uint8_t)((uint64_t)seq >> (8 * i));
    memcpy(msg + o, npk, KS_PUBKEY_SIZE);
    rc = s->crypto.sign(s->crypto.ctx, sig, msg, sizeof msg, sk);
    if (rc == KS_OK)
        crypto_generichash(key, 32, sig, sizeof sig, (const uint8_t *)WRAP_LABEL,
                           sizeof WRAP_LABEL - 1);
    sodium_memzero(sig, sizeof sig);
    return rc;
}

int sup_keyfollow_store(sup_ctx *s, int64_t seq, const uint8_t npk[KS_PUBKEY_SIZE],
                        const uint8_t seed[32])
{
    uint8_t key[32], w[SUP_KEYWRAP_SIZE];
    int rc;
    if (!s->cluster)
        return KS_DB_OK;
    if (wrap_key(s, s->sk, seq, npk, key) != KS_OK)
        return KS_DB_ERR;
    randombytes_buf(w, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(w + crypto_secretbox_NONCEBYTES, seed, 32, w, key);
    sodium_memzero(key, sizeof key);
    {
        sup_dbv p[2] = {sup_dbv_int(seq), sup_dbv_blob(w, sizeof w)};
        rc = sup_db_exec(s->db, "INSERT INTO cluster_keys(seq, wrapped) VALUES (?, ?)", p, 2,
                         NULL, NULL);
    }
    return rc;
}

typedef struct next_key {
    int64_t seq;
    char file[PATH_MAX];
    uint8_t pk[KS_PUBKEY_SIZE];
    uint8_t wrapped[SUP_KEYWRAP_SIZE];
    int found, has_wrapped;
} next_key;

static int next_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    next_key *k = ctx;
    (void)names;
    if (ncol < 4 || c[1].type != KS_DBV_TEXT || c[2].type != KS_DBV_BLOB ||
        c[2].n != KS_PUBKEY_SIZE)
        return 1;
    k->seq = c[0].i;
    snprintf(k->file, sizeof k->file, "%.*s", (int)c[1].n, (const char *)c[1].p);
    memcpy(k->pk, c[2].p, KS_PUBKEY_SIZE);
    if (c[3].type == KS_DBV_BLOB && c[3].n == SUP_KEYWRAP_SIZE) {
        memcpy(k->wrapped, c[3].p, SUP_KEYWRAP_SIZE);
        k->has_wrapped = 1;
    }
    k->found = 1;
    return 1;
}

/* The sealing cost of the active key's file, for the one written here. */
static ks_kdf_cost seal_cost(sup_ctx *s)
{
    ks_kdf_cost cost = ks_kdf_interactive;
    ks_keyfile_info info;
    char file[PATH_MAX], path[PATH_MAX * 2];
    sup_dbv p = sup_dbv_int(s->key_seq);
    next_key k;
    memset(&k, 0, sizeof k);
    pthread_mutex_lock(&s->lock);
    (void)sup_db_exec(s->db, "SELECT seq, key_file, public_key, NULL FROM supervisor_keys"
                             " WHERE seq = ?", &p, 1, next_cb, &k);
    pthread_mutex_unlock(&s->lock);
    snprintf(file, sizeof file, "%s", k.file);
    sup_path(s, file, path, sizeof path);
    if (k.found && !ks_p11_is_uri(file) && ks_keyfile_load_info(path, &info, NULL) == KS_OK &&
        info.mode == KS_KEYFILE_ARGON2ID) {
        cost.opslimit = info.opslimit;
        cost.memlimit_kib = info.memlimit_kib;
    }
    return cost;
}

/*
 * The secret of key k into sk (checked against k->pk): the data directory's
 * file when it holds it, else the wrapped seed opened with the active key
 * (old_sk) and sealed into the data directory. 0, or -1 with why set.
 */
static int take_file_key(sup_ctx *s, const next_key *k, const uint8_t old_sk[KS_SECKEY_SIZE],
                         uint8_t sk[KS_SECKEY_SIZE], char *why, size_t whylen)
{
    char path[PATH_MAX * 2];
    uint8_t pk[KS_PUBKEY_SIZE], key[32], seed[32];
    ks_kdf_cost cost;
    int rc = -1;

    sup_path(s, k->file, path, sizeof path);
    if (ks_keyfile_load(path, s->pass, s->pass ? s->passlen : 0, pk, sk, NULL) == KS_OK &&
        memcmp(pk, k->pk, KS_PUBKEY_SIZE) == 0)
        return 0; /* copied here by the operator, or written at an earlier try */
    if (!k->has_wrapped) {
        snprintf(why, whylen, "%s is not in this data directory and the database holds no "
                 "wrapped copy (rotated by an older keysupd?)", k->file);
        goto cleanup;
    }
    if (wrap_key(s, old_sk, k->seq, k->pk, key) != KS_OK) {
        snprintf(why, whylen, "the active key cannot sign to open the wrapped key");
        goto cleanup;
    }
    if (crypto_secretbox_open_easy(seed, k->wrapped + crypto_secretbox_NONCEBYTES,
                                   SUP_KEYWRAP_SIZE - crypto_secretbox_NONCEBYTES, k->wrapped,
                                   key) != 0) {
        snprintf(why, whylen, "the wrapped key does not open with this instance's key");
        goto cleanup;
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    if (memcmp(pk, k->pk, KS_PUBKEY_SIZE) != 0) {
        snprintf(why, whylen, "the wrapped key is not the registered public key");
        goto cleanup;
    }
    /* Sealed here too, so a restart loads it like any key of this instance. */
    cost = seal_cost(s);
    rc = ks_keyfile_write(path, seed, s->pass, s->pass ? s->passlen : 0, &cost, 0);
    if (rc != KS_OK && errno != EEXIST) {
        snprintf(why, whylen, "%s: cannot write the key file: %s", path, strerror(errno));
        rc = -1;
        goto cleanup;
    }
    rc = 0;
cleanup:
    sodium_memzero(key, sizeof key);
    sodium_memzero(seed, sizeof seed);
    if (rc)
        sodium_memzero(sk, KS_SECKEY_SIZE);
    return rc;
}

int sup_keyfollow(sup_ctx *s)
{
    /* The last key that could not be taken, so a failure is logged once per
     * key and not at every publisher round. */
    static _Atomic int64_t failed_seq;
    uint8_t old_sk[KS_SECKEY_SIZE], sk[KS_SECKEY_SIZE], pk[KS_PUBKEY_SIZE];
    char why[PATH_MAX + 160];
    int rc = KS_OK;

    for (;;) {
        next_key k;
        int64_t have;
        sup_dbv p;
        int q;

        memset(&k, 0, sizeof k);
        pthread_mutex_lock(&s->lock);
        have = s->key_seq;
        memcpy(old_sk, s->sk, sizeof old_sk);
        p = sup_dbv_int(have);
        /* The wrapped copies live in a cluster table: on SQLite (one
         * instance) there is nothing to follow. */
        q = sup_db_is_pg(s->db) ? sup_db_exec(s->db, "SELECT k.seq, k.key_file, k.public_key, w.wrapped"
                                     " FROM supervisor_keys k LEFT JOIN cluster_keys w ON"
                                     " w.seq = k.seq WHERE k.seq > ? ORDER BY k.seq LIMIT 1",
                                     &p, 1, next_cb, &k)
                       : KS_DB_OK;
        pthread_mutex_unlock(&s->lock);
        if (q != KS_DB_OK) {
            rc = KS_E_IO; /* the database: logged by its own path, tried again next round */
            break;
        }
        if (!k.found)
            break;
        why[0] = '\0';
        if (ks_p11_is_uri(k.file)) {
            if (sup_signer_token(s, k.file, pk, sk, why, sizeof why) != KS_OK)
                rc = KS_E_SIGNING_KEY_NOT_FOLLOWED;
            else if (memcmp(pk, k.pk, KS_PUBKEY_SIZE) != 0) {
                snprintf(why, sizeof why, "the token's key is not the registered public key");
                rc = KS_E_SIGNING_KEY_NOT_FOLLOWED;
            }
        } else if (take_file_key(s, &k, old_sk, sk, why, sizeof why) != 0) {
            rc = KS_E_SIGNING_KEY_NOT_FOLLOWED;
        }
        if (rc) {
            if (atomic_exchange(&failed_seq, k.seq) != k.seq)
                sup_log(KS_LOG_ERROR, "signing_key.not_followed", "code=KSE-%03d seq=%lld"
                        " key=\"%s\" reason=\"%s\"", SUP_KSE(SIGNING_KEY_NOT_FOLLOWED),
                        (long long)k.seq, k.file, why);
            break;
        }
        pthread_mutex_lock(&s->lock);
        if (s->key_seq == have) { /* nobody moved it meanwhile (a local rotation) */
            memcpy(s->sk, sk, KS_SECKEY_SIZE);
            memcpy(s->pk, k.pk, KS_PUBKEY_SIZE);
            s->key_seq = k.seq;
            sup_keyview_set(s); /* answers are signed by the followed key from now */
        }
        pthread_mutex_unlock(&s->lock);
        sup_log(KS_LOG_INFO, "signing_key.followed", "seq=%lld key=\"%s\"", (long long)k.seq,
                k.file);
    }
    sodium_memzero(old_sk, sizeof old_sk);
    sodium_memzero(sk, sizeof sk);
    return rc;
}
