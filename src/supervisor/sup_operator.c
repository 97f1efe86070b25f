/*
 * sup_operator.c - console operator accounts: Argon2id password hashes
 * (libsodium's crypto_pwhash_str, the same KDF as key files), the first
 * admin made at init, and sign-in with a pam_faillock-style lock: failures
 * within console_fail_interval lock the account for console_unlock_time,
 * during which even the right password is refused without being checked
 * (KSE-740). console_deny failures lock it for their source only,
 * console_deny_global from all sources for every address the operator has
 * not signed in from (sup_srclock.c: so nobody on the LAN can keep it
 * locked from the operator's desk).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup_console.h"
#include "sup_conmem.h"
#include "sup_srclock.h"
#include "sup_familiar.h"

const char sup_console_schema[] =
    "CREATE TABLE operators(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL, pw_hash TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " failures INTEGER NOT NULL DEFAULT 0, first_failure INTEGER, locked_until INTEGER,"
    " last_signin INTEGER);"
    "CREATE TABLE console_sessions(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
    " operator_id INTEGER NOT NULL REFERENCES operators(id) ON DELETE CASCADE,"
    " csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_used INTEGER NOT NULL,"
    " address TEXT);"
    "CREATE INDEX console_sessions_op ON console_sessions(operator_id);";

int sup_operator_hash(const char *password, char out[128])
{
    /* crypto_pwhash_STRBYTES is 128: the string and its NUL fit. */
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return KS_E_CRYPTO;
    return KS_OK;
}

/* 20 characters from an alphabet without look-alikes (about 100 bits). */
static void random_password(char out[21])
{
    static const char al[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (int i = 0; i < 20; i++)
        out[i] = al[randombytes_uniform((uint32_t)(sizeof al - 1))];
    out[20] = '\0';
}

int sup_operator_bootstrap(sup_db *db, const char *data_dir)
{
    char pw[32], hash[128], path[PATH_MAX + 64];
    int fd = -1, rc = KS_E_IO;
    size_t len;
    sup_dbv p[2];

    random_password(pw);
    if (sup_operator_hash(pw, hash) != KS_OK) {
        rc = KS_E_CRYPTO;
        goto cleanup;
    }
    p[0] = sup_dbv_text(hash);
    p[1] = sup_dbv_int((int64_t)sup_now());
    if (sup_db_exec(db, "INSERT INTO operators(name, role, pw_hash, created_at)"
                        " VALUES ('admin','admin',?,?)", p, 2, NULL, NULL) != KS_DB_OK)
        goto cleanup;
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_CONSOLE_ADMIN_PW_FILE);
    /* init refuses a directory with a database, so a file here is left from
     * an init that failed later: replaced, and 0600 whatever it was. */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && fchmod(fd, 0600) != 0) {
        sup_log(KS_LOG_ERROR, "console.bootstrap", "file=%s error=\"%s\"", path, strerror(errno));
        goto cleanup;
    }
    if (fd < 0) {
        sup_log(KS_LOG_ERROR, "console.bootstrap", "file=%s error=\"%s\"", path, strerror(errno));
        goto cleanup;
    }
    pw[20] = '\n';
    len = 21;
    if (write(fd, pw, len) != (ssize_t)len || fsync(fd) != 0) {
        sup_log(KS_LOG_ERROR, "console.bootstrap", "file=%s error=\"%s\"", path, strerror(errno));
        goto cleanup;
    }
    rc = KS_OK;
cleanup:
    if (fd >= 0 && close(fd) != 0)
        rc = KS_E_IO;
    sodium_memzero(pw, sizeof pw);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

typedef struct op_row {
    int64_t id, failures, first_failure, locked_until;
    int role, found;
    char name[64];
    char hash[128];
} op_row;

static int op_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    op_row *o = ctx;
    char role[16];
    (void)names;
    if (ncol < 7 || c[2].type != KS_DBV_TEXT || c[3].type != KS_DBV_TEXT || c[3].n >= sizeof o->hash)
        return 1;
    o->id = c[0].i;
    snprintf(o->name, sizeof o->name, "%.*s", (int)c[1].n, (const char *)c[1].p);
    snprintf(role, sizeof role, "%.*s", (int)c[2].n, (const char *)c[2].p);
    o->role = sup_role_from_name(role);
    memcpy(o->hash, c[3].p, c[3].n);
    o->hash[c[3].n] = '\0';
    o->failures = c[4].type == KS_DBV_INT ? c[4].i : 0;
    o->first_failure = c[5].type == KS_DBV_INT ? c[5].i : 0;
    o->locked_until = c[6].type == KS_DBV_INT ? c[6].i : 0;
    o->found = 1;
    return 1;
}

/* A hash to check unknown names against, so that they cost what known ones
 * do and the answer's timing does not tell which names exist. */
static char dummy_hash[128];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void dummy_init(void)
{
    char pw[21];
    random_password(pw);
    if (sup_operator_hash(pw, dummy_hash) != KS_OK)
        dummy_hash[0] = '\0';
    sodium_memzero(pw, sizeof pw);
}

/* Counts one failure on operator id within the pam_faillock-style window
 * (failures within fail_interval of the first of them; an older series
 * starts again) and locks at console_deny_global. One statement reads and writes
 * the count, so concurrent attempts each count (SET expressions all see the
 * old row). Lock held. */
static int count_failure(sup_ctx *s, int64_t id, uint64_t now)
{
    sup_dbv u[5] = {sup_dbv_int((int64_t)now), sup_dbv_int(s->cfg.console.fail_interval),
                    sup_dbv_int((int64_t)now + s->cfg.console.unlock_time),
                    sup_dbv_int(s->cfg.console.deny_global), sup_dbv_int(id)};
    int rc = sup_db_exec(s->db, "UPDATE operators SET"
                                " failures = CASE WHEN first_failure IS NULL"
                                "   OR ?1 - first_failure > ?2 THEN 1 ELSE failures + 1 END,"
                                " first_failure = CASE WHEN first_failure IS NULL"
                                "   OR ?1 - first_failure > ?2 THEN ?1 ELSE first_failure END"
                                " WHERE id = ?5", u, 5, NULL, NULL);
    if (!rc)
        rc = sup_db_exec(s->db, "UPDATE operators SET locked_until = ?3 WHERE id = ?5"
                                " AND failures >= ?4", u, 5, NULL, NULL);
    return rc;
}

/* Under the lock: is name refused without a check from this source (out
 * filled)? Else counts the attempt as a failure, before its password is
 * checked: the check takes a while without the lock, and guesses sent in
 * parallel must meet the lock their predecessors are about to set, not the
 * account as it was (a right password clears it). Per source at
 * console_deny, for the name at console_deny_global, which does not bind an
 * address the operator signed in from (sup_srclock.c). A name that is no
 * operator goes the same way, so the answers do not tell which names exist
 * (sup_conmem.c). 1 when refused, 0 when counted, -1 on a database error. */
static int gate(sup_ctx *s, const op_row *o, const char *name, const sup_client *from,
                uint64_t now, int familiar, sup_signin *out)
{
    sup_signin g;
    if (sup_srclock_locked(s, name, from, now, out))
        return 1;
    memset(&g, 0, sizeof g);
    if (o->found && o->locked_until > 0 && (uint64_t)o->locked_until > now && !familiar) {
        out->locked = 1;
        out->retry_after = (uint64_t)o->locked_until - now;
        out->failures = (uint32_t)o->failures;
        return 1;
    }
    if (!o->found && sup_conmem_ghost_locked(s, name, now, out))
        return 1;
    sup_srclock_fail(s, name, from, now, out);
    if (o->found)
        return count_failure(s, o->id, now) == KS_DB_OK ? 0 : -1;
    sup_conmem_ghost_fail(s, name, now, &g);
    if (g.locked && !out->locked) { /* the global count locked it: say so, as for operators */
        out->locked = 1;
        out->retry_after = g.retry_after;
    }
    return 0;
}

int sup_operator_signin(sup_ctx *s, const char *name, const char *password,
                        const sup_client *from, sup_signin *out)
{
    op_row o, n;
    sup_dbv p[2];
    uint64_t now = sup_now();
    int good, rc, familiar = 0, refused = 0;

    memset(&o, 0, sizeof o);
    memset(&n, 0, sizeof n);
    memset(out, 0, sizeof *out);
    p[0] = sup_dbv_text(name);
    pthread_mutex_lock(&s->lock);
    rc = sup_db_exec(s->db, "SELECT id, name, role, pw_hash, failures, first_failure,"
                            " locked_until FROM operators WHERE name = ?", p, 1, op_cb, &o);
    if (rc == KS_DB_OK) {
        /* This process's memory first; then the database, which every
         * keysupd of it shares and a restart keeps (sup_familiar.c). */
        familiar = o.found && (sup_srclock_familiar(s, name, from) ||
                               sup_familiar_has(s, o.id, from, now));
        refused = gate(s, &o, name, from, now, familiar, out);
        if (refused < 0)
            rc = KS_DB_ERR;
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != KS_DB_OK) {
        sodium_memzero(o.hash, sizeof o.hash);
        return KS_E_IO;
    }
    if (refused) {
        snprintf(out->name, sizeof out->name, "%s", o.found ? o.name : name);
        sodium_memzero(o.hash, sizeof o.hash);
        return KS_E_OPERATOR_LOCKED;
    }
    /* The slow part (Argon2id, 64 MiB) runs without the lock. */
    if (o.found) {
        good = crypto_pwhash_str_verify(o.hash, password, strlen(password)) == 0;
    } else {
        pthread_once(&dummy_once, dummy_init);
        if (dummy_hash[0])
            (void)crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
        good = 0;
    }
    sodium_memzero(o.hash, sizeof o.hash);
    if (!o.found)
        return KS_E_BAD_CREDENTIALS;
    out->operator_id = o.id;
    out->role = o.role;
    snprintf(out->name, sizeof out->name, "%s", o.name);
    pthread_mutex_lock(&s->lock);
    if (good) {
        p[0] = sup_dbv_int((int64_t)now);
        p[1] = sup_dbv_int(o.id);
        rc = sup_db_exec(s->db, "UPDATE operators SET failures = 0, first_failure = NULL,"
                                " locked_until = NULL, last_signin = ? WHERE id = ?", p, 2,
                         NULL, NULL);
        sup_srclock_good(s, name, from, now);
        if (!rc && sup_familiar_note(s, o.id, from, now) != KS_DB_OK)
            sup_log(KS_LOG_WARN, "console.familiar", "operator=%s error=\"%s\" note=\"the"
                    " address is familiar to this keysupd only\"", o.name, sup_db_errmsg(s->db));
    } else {
        /* Already counted (out has this source's count): report the name's
         * lock as it stands, which binds this source unless familiar. */
        p[0] = sup_dbv_text(name);
        rc = sup_db_exec(s->db, "SELECT id, name, role, pw_hash, failures, first_failure,"
                                " locked_until FROM operators WHERE name = ?", p, 1, op_cb, &n);
        sodium_memzero(n.hash, sizeof n.hash);
        if (!familiar && n.locked_until > 0 && (uint64_t)n.locked_until > now &&
            (uint64_t)n.locked_until - now > out->retry_after) {
            out->locked = 1;
            out->retry_after = (uint64_t)n.locked_until - now;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != KS_DB_OK)
        return KS_E_IO;
    return good ? KS_OK : KS_E_BAD_CREDENTIALS;
}
