/*
 * ks_db.h - the supervisor's storage interface.
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
 * A ks_db handle is not thread-safe: the registry serialises access.
 */
#ifndef KEYSUP_KS_DB_H
#define KEYSUP_KS_DB_H

#include <stddef.h>
#include <stdint.h>

enum ks_db_rc {
    KS_DB_OK = 0,
    KS_DB_ERR = -1,        /* anything else: errmsg() says what */
    KS_DB_CONSTRAINT = -2, /* unique / foreign key / check violated */
    KS_DB_BUSY = -3        /* lock not obtained within the busy timeout */
};

enum ks_dbv_type { KS_DBV_NULL = 0, KS_DBV_INT, KS_DBV_TEXT, KS_DBV_BLOB };

/* One bound parameter or one result column. p/n are borrowed. */
typedef struct ks_dbv {
    int type;
    int64_t i;
    const void *p;
    size_t n;
} ks_dbv;

static inline ks_dbv ks_dbv_int(int64_t v) { ks_dbv x = {KS_DBV_INT, v, NULL, 0}; return x; }
static inline ks_dbv ks_dbv_null(void) { ks_dbv x = {KS_DBV_NULL, 0, NULL, 0}; return x; }
static inline ks_dbv ks_dbv_blob(const void *p, size_t n) { ks_dbv x = {KS_DBV_BLOB, 0, p, n}; return x; }
/* A NUL-terminated string, or SQL NULL when s is NULL. */
ks_dbv ks_dbv_text(const char *s);

/* Row callback: ncol columns with their names; valid only during the call. */
typedef int (*ks_db_row_fn)(void *ctx, int ncol, const ks_dbv *cols, const char *const *names);

typedef struct ks_db ks_db;

typedef struct ks_db_ops {
    const char *name;
    int (*exec)(ks_db *db, const char *sql, const ks_dbv *params, int nparams,
                ks_db_row_fn fn, void *ctx);
    int (*begin)(ks_db *db);
    int (*commit)(ks_db *db);
    int (*rollback)(ks_db *db);
    int64_t (*last_id)(ks_db *db);   /* row id of the last INSERT */
    int64_t (*changes)(ks_db *db);   /* rows touched by the last statement */
    const char *(*errmsg)(ks_db *db);
    void (*close)(ks_db *db);
} ks_db_ops;

struct ks_db {
    const ks_db_ops *ops;
};

/* Backend options; fields a backend does not know are ignored. */
typedef struct ks_db_opts {
    int busy_timeout_ms;  /* wait this long for a lock (SQLite) */
    int sync_full;        /* 1: fsync every commit (survives power loss) */
} ks_db_opts;

/* SQLite backend: WAL, foreign keys on, busy timeout. NULL on failure with
 * a message in err (if non-NULL, errlen bytes). */
ks_db *ks_db_open_sqlite(const char *path, const ks_db_opts *o, char *err, size_t errlen);

/* Convenience wrappers over the vtable. */
static inline int ks_db_exec(ks_db *db, const char *sql, const ks_dbv *p, int n,
                             ks_db_row_fn fn, void *ctx)
{
    return db->ops->exec(db, sql, p, n, fn, ctx);
}
static inline int ks_db_begin(ks_db *db) { return db->ops->begin(db); }
static inline int ks_db_commit(ks_db *db) { return db->ops->commit(db); }
static inline int ks_db_rollback(ks_db *db) { return db->ops->rollback(db); }
static inline int64_t ks_db_last_id(ks_db *db) { return db->ops->last_id(db); }
static inline int64_t ks_db_changes(ks_db *db) { return db->ops->changes(db); }
static inline const char *ks_db_errmsg(ks_db *db) { return db->ops->errmsg(db); }
static inline void ks_db_close(ks_db *db) { if (db) db->ops->close(db); }

/* First column of the first row as an integer (*v untouched when no row).
 * Returns KS_DB_OK, 1 when there was no row, or an error. */
int ks_db_int(ks_db *db, const char *sql, const ks_dbv *p, int n, int64_t *v);

/* Applies the schema migrations this build knows, each in its own
 * transaction, recording them in schema_version. *version gets the result. */
int ks_db_migrate(ks_db *db, int *version);

#endif
