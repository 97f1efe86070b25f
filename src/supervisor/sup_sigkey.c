/*
 * sup_sigkey.c - the supervisor signing key: loaded from its key file
 * (sealed with the passphrase), rotated with a rotation record signed by
 * the old and the new key, and the rotation chain controllers follow.
 *
 * The supervisor_keys table is the source of truth for which key is active
 * (highest seq); the key file it names holds the secret, or, when key_file
 * is a pkcs11: URI, the token it names does (sup_signer.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "ks_keyfile.h"
#include "ks_p11.h"
#include "sup.h"
#include "sup_db_pg.h"
#include "sup_keyfollow.h"
#include "sup_signer.h"
#include "sup_keyview.h"

typedef struct key_row {
    int64_t seq;
    char file[PATH_MAX];
    uint8_t pk[KS_PUBKEY_SIZE];
    int found;
} key_row;

static int key_row_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    key_row *k = ctx;
    (void)names;
    if (ncol < 3 || c[1].type != KS_DBV_TEXT || c[2].type != KS_DBV_BLOB ||
        c[2].n != KS_PUBKEY_SIZE)
        return 1;
    k->seq = c[0].i;
    snprintf(k->file, sizeof k->file, "%.*s", (int)c[1].n, (const char *)c[1].p);
    memcpy(k->pk, c[2].p, KS_PUBKEY_SIZE);
    k->found = 1;
    return 1;
}

/* The newest key this instance can load. On PostgreSQL another instance
 * may have rotated while this one was down: its newer key files are not
 * here yet, so the newest one that is is loaded and sup_keyfollow takes
 * the rest from the database. */
typedef struct local_row {
    const sup_ctx *s;
    key_row k;
    int64_t newest;
} local_row;

static int local_row_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    local_row *l = ctx;
    key_row r;
    char path[PATH_MAX * 2];
    memset(&r, 0, sizeof r);
    key_row_cb(&r, ncol, c, names);
    if (!r.found)
        return 1;
    if (!l->newest)
        l->newest = r.seq;
    sup_path(l->s, r.file, path, sizeof path);
    if (!sup_db_is_pg(l->s->db) || ks_p11_is_uri(r.file) || access(path, F_OK) == 0) {
        l->k = r;
        return 1;
    }
    return 0;
}

int sup_sigkey_load(sup_ctx *s, char *err, size_t errlen)
{
    local_row l;
    key_row k;
    char path[PATH_MAX * 2];
    uint8_t pk[KS_PUBKEY_SIZE];
    ks_diag d = {0, 0, NULL};
    int rc;

    memset(&l, 0, sizeof l);
    l.s = s;
    rc = sup_db_exec(s->db, "SELECT seq, key_file, public_key FROM supervisor_keys"
                           " ORDER BY seq DESC", NULL, 0, local_row_cb, &l);
    k = l.k;
    if (rc || !k.found) {
        snprintf(err, errlen, rc || !l.newest ? "no supervisor key in the database (run `keysupd "
                 "init`)" : "no supervisor key file of the database is in this data directory");
        return KS_E_NOTFOUND;
    }
    /* Installed before any thread runs: the sign op never changes later. */
    if (sup_signer_init(s) != KS_OK) {
        snprintf(err, errlen, "out of memory");
        return KS_E_NOSPC;
    }
    if (ks_p11_is_uri(k.file)) {
        rc = sup_signer_token(s, k.file, pk, s->sk, err, errlen);
        if (rc)
            return rc;
        goto check;
    }
    sup_path(s, k.file, path, sizeof path);
    rc = ks_keyfile_load(path, s->pass, s->passlen, pk, s->sk, &d);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == KS_E_PASSPHRASE ? "wrong or missing passphrase (--passphrase-file or "
                                         "KEYSUP_PASSPHRASE)"
                                       : ks_strerror(rc));
        return rc;
    }
check:
    if (memcmp(pk, k.pk, KS_PUBKEY_SIZE) != 0) {
        sodium_memzero(s->sk, sizeof s->sk);
        snprintf(err, errlen, "%s: does not hold the registered supervisor key", k.file);
        return KS_E_FORMAT;
    }
    memcpy(s->pk, pk, KS_PUBKEY_SIZE);
    s->key_seq = k.seq;
    if (k.seq < l.newest && (sup_keyfollow(s) != KS_OK || s->key_seq < l.newest)) {
        snprintf(err, errlen, "KSE-761: supervisor key %lld was rotated in by another keysupd and"
                 " cannot be taken here (see the log); copy its key file from that instance's"
                 " data directory", (long long)l.newest);
        return KS_E_SIGNING_KEY_NOT_FOLLOWED;
    }
    sup_keyview_set(s);
    return KS_OK;
}

int sup_sigkey_rotate(sup_ctx *s, int64_t *new_seq, char *err, size_t errlen)
{
    return sup_sigkey_rotate_to(s, NULL, new_seq, err, errlen);
}

int sup_sigkey_rotate_to(sup_ctx *s, const char *uri, int64_t *new_seq, char *err,
                         size_t errlen)
{
    uint8_t seed[32], npk[KS_PUBKEY_SIZE], nsk[KS_SECKEY_SIZE], rec[KS_ROTATION_SIZE];
    char file[PATH_MAX], path[PATH_MAX * 2], oldpath[PATH_MAX * 2];
    ks_keyfile_info info;
    ks_kdf_cost cost = ks_kdf_interactive;
    ks_rotation r;
    key_row k;
    int rc, locked = 0, in_tx = 0;

    pthread_mutex_lock(&s->lock);
    locked = 1;
    memset(&k, 0, sizeof k);
    rc = sup_db_exec(s->db, "SELECT seq, key_file, public_key FROM supervisor_keys"
                           " ORDER BY seq DESC LIMIT 1", NULL, 0, key_row_cb, &k);
    if (rc || !k.found) {
        snprintf(err, errlen, "no active supervisor key");
        rc = KS_E_NOTFOUND;
        goto cleanup;
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(nsk, sizeof nsk);
    if (uri) {
        /* The new key is a token's: it must exist there already (made with
         * `keysup key keygen --pkcs11`), so a typing error in the URI cannot
         * silently create a key nobody enrolled. */
        rc = sup_signer_token(s, uri, npk, nsk, err, errlen);
        if (rc)
            goto cleanup;
        if (memcmp(npk, s->pk, KS_PUBKEY_SIZE) == 0) {
            snprintf(err, errlen, "%s is already the active signing key", uri);
            rc = KS_E_INVAL;
            goto cleanup;
        }
        snprintf(file, sizeof file, "%s", uri);
        goto sign;
    }
    /* Seal the new key the way the old one is sealed. */
    sup_path(s, k.file, oldpath, sizeof oldpath);
    if (ks_keyfile_load_info(oldpath, &info, NULL) == KS_OK && info.mode == KS_KEYFILE_ARGON2ID) {
        cost.opslimit = info.opslimit;
        cost.memlimit_kib = info.memlimit_kib;
    }
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(npk, nsk, seed);
    snprintf(file, sizeof file, "supervisor-%lld.key", (long long)(k.seq + 1));
    sup_path(s, file, path, sizeof path);
    rc = ks_keyfile_write(path, seed, s->pass, s->pass ? s->passlen : 0, &cost, 0);
    if (rc) {
        snprintf(err, errlen, "%s: cannot write the new key file", path);
        goto cleanup;
    }
sign:
    memset(&r, 0, sizeof r);
    r.seq = (uint64_t)(k.seq + 1);
    r.created_at = sup_now();
    memcpy(r.old_pk, s->pk, KS_PUBKEY_SIZE);
    memcpy(r.new_pk, npk, KS_PUBKEY_SIZE);
    rc = ks_rotation_make(&s->crypto, &r, s->sk, nsk, rec);
    if (rc) {
        snprintf(err, errlen, "cannot sign the rotation record: %s", ks_strerror(rc));
        goto cleanup;
    }
    {
        sup_dbv p[5] = {sup_dbv_int(k.seq + 1), sup_dbv_blob(npk, sizeof npk), sup_dbv_text(file),
                       sup_dbv_int((int64_t)r.created_at), sup_dbv_blob(rec, sizeof rec)};
        rc = sup_db_begin(s->db);
        in_tx = rc == 0;
        if (!rc)
            rc = sup_db_exec(s->db, "INSERT INTO supervisor_keys(seq, public_key, key_file,"
                                   " created_at, rotation) VALUES (?,?,?,?,?)", p, 5, NULL, NULL);
        /* The other keysupd on the database take it from there (a token
         * key they open themselves). */
        if (!rc && !uri)
            rc = sup_keyfollow_store(s, k.seq + 1, npk, seed);
        if (!rc)
            rc = sup_pub_mark(s, KS_SCOPE_ALL);
        if (!rc)
            rc = sup_db_commit(s->db);
        if (rc) {
            snprintf(err, errlen, "database: %s", sup_db_errmsg(s->db));
            rc = KS_E_IO;
            goto cleanup;
        }
        in_tx = 0;
    }
    memcpy(s->sk, nsk, KS_SECKEY_SIZE);
    memcpy(s->pk, npk, KS_PUBKEY_SIZE);
    s->key_seq = k.seq + 1;
    sup_keyview_set(s); /* answers are signed by the new key from now */
    if (new_seq)
        *new_seq = s->key_seq;
    rc = KS_OK;
cleanup:
    if (in_tx)
        sup_db_rollback(s->db);
    if (locked)
        pthread_mutex_unlock(&s->lock);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(nsk, sizeof nsk);
    if (rc == KS_OK)
        sup_pub_kick(s);
    return rc;
}

static int count_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    (void)names;
    if (ncol >= 1)
        *(int64_t *)ctx = c[0].i;
    return 1;
}

int sup_sigkey_adopt(sup_ctx *s, char *err, size_t errlen)
{
    const char *uri = s->cfg.signing_key;
    int64_t seen = 0, seq = 0;
    sup_dbv p[1];
    int rc;

    if (!uri[0])
        return KS_OK;
    p[0] = sup_dbv_text(uri);
    rc = sup_db_exec(s->db, "SELECT COUNT(*) FROM supervisor_keys WHERE key_file = ?", p, 1,
                     count_cb, &seen);
    if (rc) {
        snprintf(err, errlen, "database: %s", sup_db_errmsg(s->db));
        return KS_E_IO;
    }
    if (seen) {
        key_row k;
        memset(&k, 0, sizeof k);
        if (sup_db_exec(s->db, "SELECT seq, key_file, public_key FROM supervisor_keys"
                               " ORDER BY seq DESC LIMIT 1", NULL, 0, key_row_cb, &k) == 0 &&
            k.found && strcmp(k.file, uri) != 0)
            sup_log(KS_LOG_WARN, "signing_key.not_adopted", "uri=\"%s\" reason=\"rotated away "
                    "from since; remove the signing_key line or name a new key\"", uri);
        return KS_OK;
    }
    rc = sup_sigkey_rotate_to(s, uri, &seq, err, errlen);
    if (rc)
        return rc;
    sup_log(KS_LOG_INFO, "signing_key.adopted", "uri=\"%s\" seq=%lld", uri, (long long)seq);
    return KS_OK;
}

typedef struct chain_ctx {
    uint8_t *buf;
    size_t len;
    int oom;
} chain_ctx;

static int chain_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    chain_ctx *x = ctx;
    uint8_t *nb;
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_BLOB || c[0].n != KS_ROTATION_SIZE)
        return 0;
    nb = realloc(x->buf, x->len + KS_ROTATION_SIZE);
    if (!nb) {
        x->oom = 1;
        return 1;
    }
    x->buf = nb;
    memcpy(x->buf + x->len, c[0].p, KS_ROTATION_SIZE);
    x->len += KS_ROTATION_SIZE;
    return 0;
}

int sup_sigkey_chain(sup_ctx *s, uint8_t **buf, size_t *len)
{
    chain_ctx x = {NULL, 0, 0};
    int rc = sup_db_exec(s->db, "SELECT rotation FROM supervisor_keys WHERE rotation IS NOT NULL"
                               " ORDER BY seq", NULL, 0, chain_cb, &x);
    if (rc || x.oom) {
        free(x.buf);
        return rc ? KS_E_IO : KS_E_NOSPC;
    }
    *buf = x.buf;
    *len = x.len;
    return KS_OK;
}
