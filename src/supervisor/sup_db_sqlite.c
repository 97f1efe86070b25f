/*
 * sup_db_sqlite.c - the SQLite backend of sup_db.h.
 *
 * Durability: WAL journal, synchronous=FULL by default, so a transaction
 * whose COMMIT returned is on disk and survives kill -9 (and power loss).
 * Prepared statements are kept per connection, by their SQL text
 * (sq_stmt_get): at 1,000 heartbeats/s sqlite3_prepare_v2 was 18 % of
 * keysupd's CPU (issue 13, the heartbeat's diagnosis and the soft-state
 * flush run the same few statements all the time). SQLite re-prepares a
 * kept statement by itself when the schema changes, so the cache needs no
 * invalidation; a statement is reset before it goes back, so none holds a
 * read open across a COMMIT.
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_db.h"

/* Kept statements: direct-mapped by the hash of the SQL text (the text
 * is compared, never the pointer: some callers print SQL into a buffer). */
#define SQ_CACHE 256

typedef struct sq_slot {
    char *sql;
    sqlite3_stmt *st;
} sq_slot;

typedef struct sq_db {
    sup_db base;   /* first: a sup_db * is a sq_db * */
    sqlite3 *h;
    sq_slot cache[SQ_CACHE];
} sq_db;

static size_t sq_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & (SQ_CACHE - 1);
}

/* A statement for sql: the kept one (*kept = 1, give it back with
 * sq_stmt_put) or, when that one is running (a callback's own query), a
 * new one the caller finalizes. */
static int sq_stmt_get(sq_db *s, const char *sql, sqlite3_stmt **st, int *kept)
{
    sq_slot *c = &s->cache[sq_hash(sql)];
    char *copy;
    int rc;
    *kept = 0;
    if (c->sql && strcmp(c->sql, sql) == 0) {
        if (!sqlite3_stmt_busy(c->st)) {
            *st = c->st;
            *kept = 1;
            return SQLITE_OK;
        }
        return sqlite3_prepare_v2(s->h, sql, -1, st, NULL); /* nested: not kept */
    }
    rc = sqlite3_prepare_v3(s->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK || !*st || (c->sql && sqlite3_stmt_busy(c->st)) || !(copy = strdup(sql)))
        return rc; /* not kept: an empty statement, the slot in use, or no memory */
    sqlite3_finalize(c->st);
    free(c->sql);
    c->sql = copy;
    c->st = *st;
    *kept = 1;
    return SQLITE_OK;
}

static void sq_stmt_put(sqlite3_stmt *st, int kept)
{
    if (!kept) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* the bound texts are the caller's (SQLITE_STATIC) */
}

sup_dbv sup_dbv_text(const char *s)
{
    sup_dbv v = {KS_DBV_NULL, 0, NULL, 0};
    if (s) {
        v.type = KS_DBV_TEXT;
        v.p = s;
        v.n = strlen(s);
    }
    return v;
}

int sup_db_sqlite_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return KS_DB_OK;
    case SQLITE_CONSTRAINT:
        return KS_DB_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return KS_DB_BUSY;
    default:
        return KS_DB_ERR;
    }
}

#define KS_DB_MAXCOL 48

static int sq_exec(sup_db *db, const char *sql, const sup_dbv *params, int nparams,
                   sup_db_row_fn fn, void *ctx)
{
    sq_db *s = (sq_db *)db;
    sqlite3_stmt *st = NULL;
    int rc, ret = KS_DB_OK, kept = 0;

    rc = sq_stmt_get(s, sql, &st, &kept);
    if (rc != SQLITE_OK)
        return sup_db_sqlite_rc(rc) ? sup_db_sqlite_rc(rc) : KS_DB_ERR;
    for (int i = 0; i < nparams; i++) {
        const sup_dbv *v = &params[i];
        switch (v->type) {
        case KS_DBV_INT: rc = sqlite3_bind_int64(st, i + 1, v->i); break;
        case KS_DBV_TEXT: rc = sqlite3_bind_text(st, i + 1, v->p, (int)v->n, SQLITE_STATIC); break;
        case KS_DBV_BLOB: rc = sqlite3_bind_blob64(st, i + 1, v->p, v->n, SQLITE_STATIC); break;
        default: rc = sqlite3_bind_null(st, i + 1); break;
        }
        if (rc != SQLITE_OK) {
            ret = KS_DB_ERR;
            goto cleanup;
        }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sup_dbv cols[KS_DB_MAXCOL];
        const char *names[KS_DB_MAXCOL];
        int n = sqlite3_column_count(st);
        if (!fn)
            continue;
        if (n > KS_DB_MAXCOL)
            n = KS_DB_MAXCOL;
        for (int c = 0; c < n; c++) {
            names[c] = sqlite3_column_name(st, c);
            cols[c].i = 0;
            cols[c].p = NULL;
            cols[c].n = 0;
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER:
            case SQLITE_FLOAT:
                cols[c].type = KS_DBV_INT;
                cols[c].i = sqlite3_column_int64(st, c);
                break;
            case SQLITE_TEXT:
                cols[c].type = KS_DBV_TEXT;
                cols[c].p = sqlite3_column_text(st, c);
                cols[c].n = (size_t)sqlite3_column_bytes(st, c);
                break;
            case SQLITE_BLOB:
                cols[c].type = KS_DBV_BLOB;
                cols[c].p = sqlite3_column_blob(st, c);
                cols[c].n = (size_t)sqlite3_column_bytes(st, c);
                break;
            default:
                cols[c].type = KS_DBV_NULL;
                break;
            }
        }
        if (fn(ctx, n, cols, names))
            goto cleanup;  /* the caller has what it wanted */
    }
    ret = sup_db_sqlite_rc(rc);
cleanup:
    sq_stmt_put(st, kept);
    return ret;
}

static int sq_simple(sup_db *db, const char *sql)
{
    sq_db *s = (sq_db *)db;
    return sup_db_sqlite_rc(sqlite3_exec(s->h, sql, NULL, NULL, NULL));
}

static int sq_begin(sup_db *db)
{
    sq_db *s = (sq_db *)db;
    /* Every use of the database is serialised by the caller (sup_ctx.lock), so
     * a transaction still open here was left by a COMMIT and a ROLLBACK that
     * both failed (a full disk, an I/O error). End it: otherwise one storage
     * error would make every later write fail with "cannot start a
     * transaction within a transaction". Its changes were never committed. */
    if (!sqlite3_get_autocommit(s->h))
        (void)sq_simple(db, "ROLLBACK");
    return sq_simple(db, "BEGIN IMMEDIATE");
}
static int sq_commit(sup_db *db) { return sq_simple(db, "COMMIT"); }
static int sq_rollback(sup_db *db) { return sq_simple(db, "ROLLBACK"); }
static int64_t sq_last_id(sup_db *db) { return sqlite3_last_insert_rowid(((sq_db *)db)->h); }
static int64_t sq_changes(sup_db *db) { return sqlite3_changes(((sq_db *)db)->h); }
static const char *sq_errmsg(sup_db *db) { return sqlite3_errmsg(((sq_db *)db)->h); }

static void sq_close(sup_db *db)
{
    sq_db *s = (sq_db *)db;
    for (size_t i = 0; i < SQ_CACHE; i++) {
        sqlite3_finalize(s->cache[i].st);
        free(s->cache[i].sql);
    }
    sqlite3_close_v2(s->h);
    free(s);
}

static const sup_db_ops sq_ops = {
    "sqlite", sq_exec, sq_begin, sq_commit, sq_rollback,
    sq_last_id, sq_changes, sq_errmsg, sq_close,
};

sup_db *sup_db_open_sqlite(const char *path, const sup_db_opts *o, char *err, size_t errlen)
{
    sq_db *s = calloc(1, sizeof *s);
    char pragma[160];
    int rc;

    if (!s) {
        snprintf(err ? err : pragma, err ? errlen : sizeof pragma, "out of memory");
        return NULL;
    }
    s->base.ops = &sq_ops;
    rc = sqlite3_open_v2(path, &s->h,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(s->h, o && o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000);
    snprintf(pragma, sizeof pragma,
             "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=%s;",
             (!o || o->sync_full) ? "FULL" : "NORMAL");
    rc = sqlite3_exec(s->h, pragma, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    return &s->base;
fail:
    if (err)
        snprintf(err, errlen, "%s: %s", path, s->h ? sqlite3_errmsg(s->h) : "cannot open");
    sqlite3_close_v2(s->h);
    free(s);
    return NULL;
}

void *sup_db_sqlite_handle(sup_db *db)
{
    return db && db->ops == &sq_ops ? ((sq_db *)db)->h : NULL;
}
