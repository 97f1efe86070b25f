/*
 * sup_db.h - the supervisor's storage interface.
 *
 * Callers speak a small portable SQL dialect (standard DDL/DML, `?`
 * placeholders, no vendor functions) through one vtable, so a second backend
 * (PostgreSQL: placeholders rewritten to $n, last_id via RETURNING/lastval)
 * can be added without touching any caller. Every backend promises:
 *   - exec() runs one statement, binding params in order, and calls fn once
 *     per result row (fn returns non-zero to stop early, which is not an
 *     error);
 *   - begin/commit/rollback bracket a transaction: every write that spans
 *     rows goes through one, so nothing is half-applied;
 *   - errors come back as KS_DB_* codes and errmsg() says why.
 * A sup_db handle is not thread-safe: the registry serialises access.
 */
#ifndef KEYSUP_KS_DB_H
#define KEYSUP_KS_DB_H

#include <stddef.h>
#include <stdint.h>

enum sup_db_rc {
    KS_DB_OK = 0,
    KS_DB_ERR = -1,        /* anything else: errmsg() says what */
    KS_DB_CONSTRAINT = -2, /* unique / foreign key / check violated */
    KS_DB_BUSY = -3        /* lock not obtained within the busy timeout */
};

enum sup_dbv_type { KS_DBV_NULL = 0, KS_DBV_INT, KS_DBV_TEXT, KS_DBV_BLOB };

/* One bound parameter or one result column. p/n are borrowed. */
typedef struct sup_dbv {
    int type;
    int64_t i;
    const void *p;
    size_t n;
} sup_dbv;

static inline sup_dbv sup_dbv_int(int64_t v) { sup_dbv x = {KS_DBV_INT, v, NULL, 0}; return x; }
static inline sup_dbv sup_dbv_null(void) { sup_dbv x = {KS_DBV_NULL, 0, NULL, 0}; return x; }
static inline sup_dbv sup_dbv_blob(const void *p, size_t n) { sup_dbv x = {KS_DBV_BLOB, 0, p, n}; return x; }
/* A NUL-terminated string, or SQL NULL when s is NULL. */
sup_dbv sup_dbv_text(const char *s);

/* Row callback: ncol columns with their names; valid only during the call. */
typedef int (*sup_db_row_fn)(void *ctx, int ncol, const sup_dbv *cols, const char *const *names);

typedef struct sup_db sup_db;

typedef struct sup_db_ops {
    const char *name;
    int (*exec)(sup_db *db, const char *sql, const sup_dbv *params, int nparams,
                sup_db_row_fn fn, void *ctx);
    int (*begin)(sup_db *db);
    int (*commit)(sup_db *db);
    int (*rollback)(sup_db *db);
    int64_t (*last_id)(sup_db *db);   /* row id of the last INSERT */
    int64_t (*changes)(sup_db *db);   /* rows touched by the last statement */
    const char *(*errmsg)(sup_db *db);
    void (*close)(sup_db *db);
} sup_db_ops;

struct sup_db {
    const sup_db_ops *ops;
    /* Audit log lines of the open transaction, written when it ends
     * (sup_dbhold.c): a change whose commit failed is not logged as ok. */
    int in_tx;
    struct sup_db_held *held;
};

/* sup_dbhold.c: the transaction's edges, for the held log lines. */
int sup_db_tx_begun(sup_db *db, int rc);
int sup_db_tx_ended(sup_db *db, int rc, int commit);
void sup_db_held_free(sup_db *db);

/* Backend options; fields a backend does not know are ignored. */
typedef struct sup_db_opts {
    int busy_timeout_ms;  /* wait this long for a lock (SQLite) */
    int sync_full;        /* 1: fsync every commit (survives power loss) */
} sup_db_opts;

/* SQLite backend: WAL, foreign keys on, busy timeout. NULL on failure with
 * a message in err (if non-NULL, errlen bytes). */
sup_db *sup_db_open_sqlite(const char *path, const sup_db_opts *o, char *err, size_t errlen);

/* The sqlite3 * of an SQLite handle, NULL for another backend: for bulk
 * paths that keep one prepared statement for a million rows (sup_import_db.c). */
void *sup_db_sqlite_handle(sup_db *db);
/* An SQLite result code as a KS_DB_* code (the bulk import steps SQLite itself). */
int sup_db_sqlite_rc(int sqlite_rc);

/* Convenience wrappers over the vtable. */
static inline int sup_db_exec(sup_db *db, const char *sql, const sup_dbv *p, int n,
                             sup_db_row_fn fn, void *ctx)
{
    return db->ops->exec(db, sql, p, n, fn, ctx);
}
static inline int sup_db_begin(sup_db *db) { return sup_db_tx_begun(db, db->ops->begin(db)); }
static inline int sup_db_commit(sup_db *db) { return sup_db_tx_ended(db, db->ops->commit(db), 1); }
static inline int sup_db_rollback(sup_db *db) { return sup_db_tx_ended(db, db->ops->rollback(db), 0); }
static inline int64_t sup_db_last_id(sup_db *db) { return db->ops->last_id(db); }
static inline int64_t sup_db_changes(sup_db *db) { return db->ops->changes(db); }
static inline const char *sup_db_errmsg(sup_db *db) { return db->ops->errmsg(db); }
static inline void sup_db_close(sup_db *db)
{
    if (db) {
        sup_db_held_free(db);
        db->ops->close(db);
    }
}

/* First column of the first row as an integer (*v untouched when no row).
 * Returns KS_DB_OK, 1 when there was no row, or an error. */
int sup_db_int(sup_db *db, const char *sql, const sup_dbv *p, int n, int64_t *v);

/* Applies the schema migrations this build knows, each in its own
 * transaction, recording them in schema_version. *version gets the result. */
int sup_db_migrate(sup_db *db, int *version);

#endif
