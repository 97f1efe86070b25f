/*
 * sup_open.c - creating (`keysupd init`) and opening a data directory.
 *
 * A data directory holds: keysupd.conf, keysup.db (SQLite, WAL) and the
 * supervisor key files (supervisor-N.key, sealed with the passphrase). The
 * first admin token exists only in init's output; the database keeps its
 * hash.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "ks_keyfile.h"
#include "ks_sodium.h"
#include "sup_db_pg.h"
#include "sup_soft.h"
#include "sup_restore.h"
#include "sup.h"
#include "sup_webhook.h"
#include "sup_console.h"
#include "sup_signer.h"
#include "sup_devcache.h"
#include "sup_keyview.h"
#include "sup_conmem.h"
#include "sup_srclock.h"
#include "sup_hbsess.h"
#include "sup_hbrep.h"

static sup_db *open_db(const char *dir, const sup_config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    sup_db_opts o = {5000, cfg->sync_full};
    sup_db *db;
    int ver = 0;

    if (cfg->database[0]) {
        /* Only PostgreSQL URLs pass sup_config_load; the URL is not echoed. */
        snprintf(path, sizeof path, "PostgreSQL");
        db = sup_db_open_pg(cfg->database, err, errlen);
    } else {
        snprintf(path, sizeof path, "%s/%s", dir, KS_SUP_DB_NAME);
        db = sup_db_open_sqlite(path, &o, err, errlen);
    }
    if (!db)
        return NULL;
    if (sup_db_migrate(db, &ver) != KS_DB_OK) {
        snprintf(err, errlen, "%s: schema migration failed: %s", path, sup_db_errmsg(db));
        sup_db_close(db);
        return NULL;
    }
    return db;
}

/*
 * The data directory holds the signing key and the token hashes: 0700 on
 * the directory and 0600 on every regular file in it, including what an
 * earlier run or the operator left there (an existing 0755 directory, a
 * 0644 database). Symbolic links are left alone (O_NOFOLLOW).
 */
static int tighten(const char *data_dir, char *err, size_t errlen)
{
    DIR *d;
    struct dirent *e;
    int rc = KS_OK;

    if (chmod(data_dir, 0700) != 0) {
        snprintf(err, errlen, "%s: cannot set mode 0700: %s", data_dir, strerror(errno));
        return KS_E_IO;
    }
    d = opendir(data_dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", data_dir, strerror(errno));
        return KS_E_IO;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        int fd;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue; /* a symbolic link or a socket: not ours to change */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600 &&
            fchmod(fd, 0600) != 0) {
            snprintf(err, errlen, "%s/%s: cannot set mode 0600: %s", data_dir, e->d_name,
                     strerror(errno));
            rc = KS_E_IO;
        }
        close(fd);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

int sup_init(const char *data_dir, const char *pass, size_t passlen, int kdf_fast,
                char token_out[80], uint8_t pk_out[KS_PUBKEY_SIZE], char *err, size_t errlen)
{
    return sup_init_db(data_dir, NULL, pass, passlen, kdf_fast, token_out, pk_out, err, errlen);
}

int sup_init_db(const char *data_dir, const char *db_url, const char *pass, size_t passlen,
                int kdf_fast, char token_out[80], uint8_t pk_out[KS_PUBKEY_SIZE], char *err,
                size_t errlen)
{
    sup_config cfg;
    ks_crypto c;
    sup_db *db = NULL;
    char path[PATH_MAX + 32];
    uint8_t seed[32], sk[KS_SECKEY_SIZE], hash[KS_HASH_SIZE];
    struct stat st;
    int rc = KS_E_IO, in_tx = 0;

    sup_config_defaults(&cfg);
    if (db_url && *db_url) {
        if (!sup_db_is_pg_url(db_url) || strlen(db_url) >= sizeof cfg.database) {
            snprintf(err, errlen, "--db must be a postgresql:// URL (at most %zu bytes)",
                     sizeof cfg.database - 1);
            return KS_E_INVAL;
        }
        snprintf(cfg.database, sizeof cfg.database, "%s", db_url);
    }
    if (ks_sodium_crypto(&c) != KS_OK) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return KS_E_CRYPTO;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", data_dir, strerror(errno));
        return KS_E_IO;
    }
    rc = tighten(data_dir, err, errlen);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_DB_NAME);
    if (stat(path, &st) == 0) {
        snprintf(err, errlen, "%s already exists: this directory is already initialised", path);
        return KS_E_INVAL;
    }
    /* With the registry in PostgreSQL there is no keysup.db: the key says it. */
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_KEY_NAME);
    if (stat(path, &st) == 0) {
        snprintf(err, errlen, "%s already exists: this directory is already initialised", path);
        return KS_E_INVAL;
    }
    if (cfg.database[0]) {
        /* A shared database is initialised once: the other keysupd get a copy
         * of this data directory (config and sealed key), not another init. */
        int64_t nkeys = 0;
        db = open_db(data_dir, &cfg, err, errlen);
        if (!db)
            return KS_E_IO;
        if (sup_db_int(db, "SELECT COUNT(*) FROM supervisor_keys", NULL, 0, &nkeys) < 0 ||
            nkeys > 0) {
            snprintf(err, errlen, "the PostgreSQL database already holds a supervisor: copy the"
                     " data directory of the first keysupd instead of running init again");
            sup_db_close(db);
            return KS_E_INVAL;
        }
        sup_db_close(db);
        db = NULL;
    }
    rc = KS_E_IO;
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_CONF_NAME);
    if (stat(path, &st) != 0 && sup_config_write(&cfg, path) != KS_OK) {
        snprintf(err, errlen, "%s: cannot write the config file: %s", path, strerror(errno));
        return KS_E_IO;
    }
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk_out, sk, seed);
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_KEY_NAME);
    rc = ks_keyfile_write(path, seed, pass, pass ? passlen : 0,
                          kdf_fast ? &ks_kdf_interactive : &ks_kdf_moderate, 0);
    if (rc) {
        snprintf(err, errlen, "%s: cannot write the supervisor key: %s", path, strerror(errno));
        goto cleanup;
    }
    db = open_db(data_dir, &cfg, err, errlen);
    if (!db) {
        rc = KS_E_IO;
        goto cleanup;
    }
    sup_token_new(&c, token_out, hash);
    {
        int64_t now = (int64_t)sup_now();
        sup_dbv pk[3] = {sup_dbv_blob(pk_out, KS_PUBKEY_SIZE), sup_dbv_text(KS_SUP_KEY_NAME),
                        sup_dbv_int(now)};
        sup_dbv tk[2] = {sup_dbv_blob(hash, sizeof hash), sup_dbv_int(now)};
        sup_dbv au[1] = {sup_dbv_int(now)};
        rc = sup_db_begin(db);
        in_tx = rc == 0;
        if (!rc)
            rc = sup_db_exec(db, "INSERT INTO supervisor_keys(seq, public_key, key_file, created_at)"
                                " VALUES (1,?,?,?)", pk, 3, NULL, NULL);
        if (!rc)
            rc = sup_db_exec(db, "INSERT INTO tokens(name, role, hash, created_at)"
                                " VALUES ('initial-admin','admin',?,?)", tk, 2, NULL, NULL);
        if (!rc)
            rc = sup_operator_bootstrap(db, data_dir); /* console admin (docs/console.md) */
        if (!rc)
            rc = sup_db_exec(db, "INSERT INTO audit(ts, actor, action, target, result)"
                                " VALUES (?,'keysup init','supervisor.init',"
                                "'supervisor-1','ok')", au, 1, NULL, NULL);
        if (!rc)
            rc = sup_db_commit(db);
        if (rc) {
            snprintf(err, errlen, "database: %s", sup_db_errmsg(db));
            rc = KS_E_IO;
            goto cleanup;
        }
        in_tx = 0;
    }
    rc = KS_OK;
cleanup:
    if (in_tx)
        sup_db_rollback(db);
    sup_db_close(db);
    /* What this run created (database, WAL files, key, config): 0600. */
    if (rc == KS_OK)
        rc = tighten(data_dir, err, errlen);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

int sup_open(sup_ctx *s, const char *data_dir, const char *cfg_path, const char *pass,
                size_t passlen, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    struct stat st;
    int rc;

    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->data_dir, sizeof s->data_dir, "%s", data_dir);
    sup_config_defaults(&s->cfg);
    if (ks_sodium_crypto(&s->crypto) != KS_OK) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return KS_E_CRYPTO;
    }
    if (cfg_path) {
        rc = sup_config_load(&s->cfg, cfg_path, err, errlen);
        if (rc)
            return rc;
    } else {
        snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_CONF_NAME);
        if (stat(path, &st) == 0) {
            rc = sup_config_load(&s->cfg, path, err, errlen);
            if (rc)
                return rc;
        }
    }
    sup_log_set_level(s->cfg.log_level);
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_DB_NAME);
    if (!s->cfg.database[0] && stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: no database; run `keysupd init --data %s` first", path,
                 data_dir);
        return KS_E_NOTFOUND;
    }
    s->db = open_db(data_dir, &s->cfg, err, errlen);
    if (!s->db)
        return KS_E_IO;
    if (sup_restore_load(s) != KS_OK) {
        snprintf(err, errlen, "%s: cannot read the restore history: %s", path, sup_db_errmsg(s->db));
        return KS_E_IO;
    }
    if (pass) {
        s->pass = malloc(passlen + 1);
        if (!s->pass) {
            snprintf(err, errlen, "out of memory");
            return KS_E_NOSPC;
        }
        memcpy(s->pass, pass, passlen);
        s->pass[passlen] = '\0';
        s->passlen = passlen;
    }
    s->hbsess = sup_hbsess_new(SUP_HBSESS_SLOTS, SUP_HBSESS_TTL);
    s->hbrep = sup_hbrep_new(SUP_HBREP_MAX);
    if (sup_keyview_new(s) != KS_OK || sup_devcache_new(s) != KS_OK || !s->hbsess || !s->hbrep) {
        snprintf(err, errlen, "out of memory");
        return KS_E_NOSPC;
    }
    rc = sup_sigkey_load(s, err, errlen);
    if (!rc)
        rc = sup_sigkey_adopt(s, err, errlen); /* signing_key = pkcs11:... */
    if (rc)
        return rc;
    s->nonces = sup_nonces_new(s->cfg.nonce_ttl, 1u << 16);
    if (!s->nonces) {
        snprintf(err, errlen, "out of memory");
        return KS_E_NOSPC;
    }
    return KS_OK;
}

void sup_close(sup_ctx *s)
{
    sup_webhook_stop(s); /* before the database: it may still log */
    sup_soft_stop(s);    /* the last batch of heartbeat soft state */
    sup_db_close(s->db);
    s->db = NULL;
    sup_nonces_free(s->nonces);
    s->nonces = NULL;
    if (s->pass) {
        sodium_memzero(s->pass, s->passlen);
        free(s->pass);
        s->pass = NULL;
    }
    sodium_memzero(s->sk, sizeof s->sk);
    sup_keyview_free(s);
    sup_devcache_free(s);
    sup_hbsess_free(s->hbsess); /* wipes the session keys */
    s->hbsess = NULL;
    sup_hbrep_free(s->hbrep);
    s->hbrep = NULL;
    sup_signer_free(s);
    sup_conmem_free(s);
    sup_srclock_free(s);
    pthread_mutex_destroy(&s->lock);
}
