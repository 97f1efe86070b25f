/*
 * sup_db_pg.c - the PostgreSQL backend of sup_db.h, through libpq.
 *
 * Callers write the portable dialect with `?` placeholders (or SQLite's
 * numbered `?N`, kept as `$N`); this backend rewrites them to $1..$n
 * (outside string literals) and sends the values
 * out of line: integers as int8 text, text as untyped text (PostgreSQL
 * infers the column's type), blobs as binary bytea. Results come back in
 * text format and are converted by column type: integer, numeric and bool
 * columns become KS_DBV_INT, bytea becomes KS_DBV_BLOB (hex decoded into a
 * per-row scratch buffer), everything else text.
 *
 * Writers: SQLite's BEGIN IMMEDIATE makes every write transaction run alone;
 * several keysupd on one PostgreSQL database would otherwise interleave
 * read-modify-write sequences (dirty counters, key counters). begin() takes
 * a transaction-scoped advisory lock, so write transactions on PostgreSQL are
 * serialised across every instance exactly as they are on SQLite, and
 * READ COMMITTED inside one is then as good as serializable.
 *
 * last_id: an INSERT into a table whose `id` column is generated gets
 * " RETURNING id" appended (the tables are learnt from the catalogue once);
 * lastval() would name the change-log trigger's sequence instead.
 */
#define _POSIX_C_SOURCE 200809L
#include <libpq-fe.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_db.h"
#include "sup_db_pg.h"
#include "sup_diag.h"

#define PG_MAXCOL 48
#define PG_MAXPARAM 64
#define PG_WRITE_LOCK 0x6b657973 /* "keys": the writers' advisory lock */

typedef struct pg_db {
    sup_db base;           /* first: a sup_db * is a pg_db * */
    PGconn *c;
    int64_t last_id, changes;
    char err[512];
    char **id_tables;      /* tables with a generated id column */
    size_t n_id_tables;
    int id_tables_loaded;
} pg_db;

static int pg_code(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!st)
        return KS_DB_ERR;
    if (strncmp(st, "23", 2) == 0)
        return KS_DB_CONSTRAINT;
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0)
        return KS_DB_BUSY;
    return KS_DB_ERR;
}

static void pg_seterr(pg_db *p, const PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(p->c);
    snprintf(p->err, sizeof p->err, "%s", m && *m ? m : "unknown PostgreSQL error");
    p->err[strcspn(p->err, "\n")] = '\0';
}

/* `?` -> $n outside '...' literals and "..." identifiers, and `?NNN` (a
 * numbered parameter, which SQLite also takes) -> $NNN; a bare `?` after
 * it is one more than the largest number so far, as in SQLite. out has
 * room for strlen(sql) * 4 + 32. Returns the number of parameters. */
static int rewrite(const char *sql, char *out)
{
    int n = 0;
    char q = 0;
    for (; *sql; sql++) {
        if (q) {
            if (*sql == q)
                q = 0;
            *out++ = *sql;
        } else if (*sql == '\'' || *sql == '"') {
            q = *sql;
            *out++ = *sql;
        } else if (*sql == '?' && sql[1] >= '0' && sql[1] <= '9') {
            int k = 0;
            while (sql[1] >= '0' && sql[1] <= '9' && k < 100000)
                k = k * 10 + (*++sql - '0');
            out += sprintf(out, "$%d", k);
            if (k > n)
                n = k;
        } else if (*sql == '?') {
            out += sprintf(out, "$%d", ++n);
        } else {
            *out++ = *sql;
        }
    }
    *out = '\0';
    return n;
}

static int unhex(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* The table an INSERT writes to, or "" (lower case, unquoted). */
static void insert_table(const char *sql, char *t, size_t n)
{
    size_t i = 0;
    t[0] = '\0';
    while (*sql == ' ')
        sql++;
    if (strncasecmp(sql, "INSERT INTO ", 12) != 0)
        return;
    sql += 12;
    while (*sql == ' ')
        sql++;
    while (*sql && *sql != ' ' && *sql != '(' && i + 1 < n)
        t[i++] = *sql++;
    t[i] = '\0';
}

static int load_id_tables(pg_db *p)
{
    PGresult *r = PQexec(p->c, "SELECT table_name FROM information_schema.columns"
                               " WHERE table_schema = current_schema() AND column_name = 'id'"
                               " AND (is_identity = 'YES' OR column_default LIKE 'nextval%')");
    int rc = KS_DB_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_seterr(p, r);
        rc = pg_code(r);
        goto cleanup;
    }
    for (size_t i = 0; i < p->n_id_tables; i++)
        free(p->id_tables[i]);
    free(p->id_tables);
    p->n_id_tables = 0;
    p->id_tables = calloc((size_t)PQntuples(r) + 1, sizeof *p->id_tables);
    if (!p->id_tables) {
        snprintf(p->err, sizeof p->err, "out of memory");
        rc = KS_DB_ERR;
        goto cleanup;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        p->id_tables[i] = strdup(PQgetvalue(r, i, 0));
        if (!p->id_tables[i]) {
            rc = KS_DB_ERR;
            goto cleanup;
        }
        p->n_id_tables++;
    }
    p->id_tables_loaded = 1;
cleanup:
    PQclear(r);
    return rc;
}

static int has_id(pg_db *p, const char *table)
{
    for (size_t i = 0; i < p->n_id_tables; i++)
        if (strcmp(p->id_tables[i], table) == 0)
            return 1;
    return 0;
}

static int is_int_type(Oid t)
{
    /* int8, int2, int4, oid, bool, numeric, float4, float8 */
    return t == 20 || t == 21 || t == 23 || t == 26 || t == 16 || t == 1700 || t == 700 ||
           t == 701;
}

/* One row's columns, converted; blobs decoded into scratch (malloc'd). */
static int convert_row(pg_db *p, PGresult *r, int row, int n, sup_dbv *cols,
                       const char **names, uint8_t **scratch, size_t *cap)
{
    size_t need = 0, used = 0;
    for (int c = 0; c < n; c++)
        if (PQftype(r, c) == 17 && !PQgetisnull(r, row, c))
            need += (size_t)PQgetlength(r, row, c) / 2 + 1;
    if (need > *cap) {
        uint8_t *nb = realloc(*scratch, need);
        if (!nb) {
            snprintf(p->err, sizeof p->err, "out of memory");
            return KS_DB_ERR;
        }
        *scratch = nb;
        *cap = need;
    }
    for (int c = 0; c < n; c++) {
        const char *v = PQgetvalue(r, row, c);
        Oid t = PQftype(r, c);
        names[c] = PQfname(r, c);
        cols[c].i = 0;
        cols[c].p = NULL;
        cols[c].n = 0;
        if (PQgetisnull(r, row, c)) {
            cols[c].type = KS_DBV_NULL;
        } else if (t == 16) {
            cols[c].type = KS_DBV_INT;
            cols[c].i = v[0] == 't';
        } else if (is_int_type(t)) {
            cols[c].type = KS_DBV_INT;
            cols[c].i = strchr(v, '.') || strchr(v, 'e') ? (int64_t)strtod(v, NULL)
                                                         : strtoll(v, NULL, 10);
        } else if (t == 17) {
            /* bytea_output = hex: "\x" then two digits a byte */
            size_t len = (size_t)PQgetlength(r, row, c), k = 0;
            uint8_t *dst = *scratch + used;
            if (len < 2 || v[0] != '\\' || v[1] != 'x') {
                snprintf(p->err, sizeof p->err, "bytea column %s not in hex output", names[c]);
                return KS_DB_ERR;
            }
            for (size_t i = 2; i + 1 < len; i += 2) {
                int hi = unhex(v[i]), lo = unhex(v[i + 1]);
                if (hi < 0 || lo < 0) {
                    snprintf(p->err, sizeof p->err, "bad bytea text in column %s", names[c]);
                    return KS_DB_ERR;
                }
                dst[k++] = (uint8_t)(hi << 4 | lo);
            }
            cols[c].type = KS_DBV_BLOB;
            cols[c].p = dst;
            cols[c].n = k;
            used += k + 1;
        } else {
            cols[c].type = KS_DBV_TEXT;
            cols[c].p = v;
            cols[c].n = (size_t)PQgetlength(r, row, c);
        }
    }
    return KS_DB_OK;
}

static int pg_exec(sup_db *db, const char *sql, const sup_dbv *params, int nparams,
                   sup_db_row_fn fn, void *ctx)
{
    pg_db *p = (pg_db *)db;
    const char *vals[PG_MAXPARAM];
    int lens[PG_MAXPARAM], fmts[PG_MAXPARAM];
    Oid types[PG_MAXPARAM];
    char nums[PG_MAXPARAM][24], table[64];
    char *texts[PG_MAXPARAM] = {NULL};
    char *q = NULL;
    uint8_t *scratch = NULL;
    size_t cap = 0, sl = strlen(sql);
    PGresult *r = NULL;
    int ret = KS_DB_OK, want_id = 0, stop = 0;

    if (nparams > PG_MAXPARAM) {
        snprintf(p->err, sizeof p->err, "too many parameters (%d)", nparams);
        return KS_DB_ERR;
    }
    /* The server restarted or the link broke: reconnect between transactions
     * (inside one, the error goes back and the transaction is lost). */
    if (PQstatus(p->c) != CONNECTION_OK && PQtransactionStatus(p->c) != PQTRANS_INTRANS)
        PQreset(p->c);
    insert_table(sql, table, sizeof table);
    if (table[0] && !strstr(sql, "RETURNING")) {
        if (!p->id_tables_loaded && load_id_tables(p) != KS_DB_OK)
            return KS_DB_ERR;
        want_id = has_id(p, table);
    }
    q = malloc(sl * 4 + 64);
    if (!q) {
        snprintf(p->err, sizeof p->err, "out of memory");
        return KS_DB_ERR;
    }
    rewrite(sql, q);
    /* DDL in the portable spelling (tables created outside the migrations,
     * e.g. sup_restore.c's): respelled here, and the id cache relearnt. */
    if (strncasecmp(sql, "CREATE TABLE", 12) == 0 || strncasecmp(sql, "ALTER TABLE", 11) == 0) {
        char *t = malloc(sl * 4 + 64 + 1024);
        if (!t || sup_db_pg_ddl(q, t, sl * 4 + 64 + 1024)) {
            free(t);
            free(q);
            snprintf(p->err, sizeof p->err, "out of memory");
            return KS_DB_ERR;
        }
        free(q);
        q = t;
        p->id_tables_loaded = 0;
    }
    if (want_id)
        strcat(q, " RETURNING id");
    for (int i = 0; i < nparams; i++) {
        const sup_dbv *v = &params[i];
        fmts[i] = 0;
        types[i] = 0;
        lens[i] = 0;
        switch (v->type) {
        case KS_DBV_INT:
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)v->i);
            vals[i] = nums[i];
            types[i] = 20;
            break;
        case KS_DBV_TEXT:
            /* libpq wants NUL-terminated text; a sup_dbv is counted. */
            texts[i] = strndup(v->p ? v->p : "", v->n);
            if (!texts[i]) {
                ret = KS_DB_ERR;
                snprintf(p->err, sizeof p->err, "out of memory");
                goto cleanup;
            }
            vals[i] = texts[i];
            break;
        case KS_DBV_BLOB:
            vals[i] = v->p ? v->p : "";
            lens[i] = (int)v->n;
            fmts[i] = 1;
            types[i] = 17;
            break;
        default:
            vals[i] = NULL;
            break;
        }
    }
    /* Single-row mode: rows reach fn as they arrive, so reading a million
     * keys (the publisher's full rebuild) never holds them all as text. */
    if (!PQsendQueryParams(p->c, q, nparams, types, vals, lens, fmts, 0)) {
        pg_seterr(p, NULL);
        ret = KS_DB_ERR;
        goto cleanup;
    }
    (void)PQsetSingleRowMode(p->c);
    while ((r = PQgetResult(p->c)) != NULL) {
        switch (PQresultStatus(r)) {
        case PGRES_SINGLE_TUPLE:
            if (ret || stop)
                break; /* the rest is read and dropped: the connection must be idle */
            if (want_id) {
                p->last_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            } else if (fn) {
                sup_dbv cols[PG_MAXCOL];
                const char *names[PG_MAXCOL];
                int n = PQnfields(r) > PG_MAXCOL ? PG_MAXCOL : PQnfields(r);
                ret = convert_row(p, r, 0, n, cols, names, &scratch, &cap);
                if (!ret && fn(ctx, n, cols, names))
                    stop = 1; /* the caller has what it wanted */
            }
            break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK: {
            const char *ct = PQcmdTuples(r);
            p->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
            break;
        }
        default:
            if (!ret) {
                pg_seterr(p, r);
                ret = pg_code(r);
            }
            break;
        }
        PQclear(r);
    }
    r = NULL;
cleanup:
    for (int i = 0; i < nparams; i++)
        free(texts[i]);
    PQclear(r);
    free(q);
    free(scratch);
    return ret;
}

static int pg_simple(pg_db *p, const char *sql)
{
    PGresult *r = PQexec(p->c, sql);
    int rc = KS_DB_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_seterr(p, r);
        rc = pg_code(r);
    }
    PQclear(r);
    return rc;
}

static int pg_begin(sup_db *db)
{
    pg_db *p = (pg_db *)db;
    char sql[96];
    /* Same recovery as the SQLite backend: a transaction left open by a
     * failed COMMIT and ROLLBACK is ended, its changes were never committed. */
    if (PQtransactionStatus(p->c) != PQTRANS_IDLE)
        (void)pg_simple(p, "ROLLBACK");
    if (PQstatus(p->c) != CONNECTION_OK)
        PQreset(p->c); /* the server restarted or the link broke */
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%d)", PG_WRITE_LOCK);
    return pg_simple(p, sql);
}
static int pg_commit(sup_db *db) { return pg_simple((pg_db *)db, "COMMIT"); }
static int pg_rollback(sup_db *db) { return pg_simple((pg_db *)db, "ROLLBACK"); }
static int64_t pg_last_id(sup_db *db) { return ((pg_db *)db)->last_id; }
static int64_t pg_changes(sup_db *db) { return ((pg_db *)db)->changes; }
static const char *pg_errmsg(sup_db *db) { return ((pg_db *)db)->err; }

static void pg_close(sup_db *db)
{
    pg_db *p = (pg_db *)db;
    PQfinish(p->c);
    for (size_t i = 0; i < p->n_id_tables; i++)
        free(p->id_tables[i]);
    free(p->id_tables);
    free(p);
}

static const sup_db_ops pg_ops = {
    "postgresql", pg_exec, pg_begin, pg_commit, pg_rollback,
    pg_last_id, pg_changes, pg_errmsg, pg_close,
};

int sup_db_is_pg_url(const char *s)
{
    return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

int sup_db_is_pg(const sup_db *db)
{
    return db && db->ops == &pg_ops;
}

void *sup_db_pg_conn(sup_db *db)
{
    return sup_db_is_pg(db) ? ((pg_db *)db)->c : NULL;
}

void sup_db_pg_forget_tables(sup_db *db)
{
    if (sup_db_is_pg(db))
        ((pg_db *)db)->id_tables_loaded = 0;
}

void *sup_db_pg_connect(const char *url)
{
    /* Defaults first: a value in the URL overrides them. Without them a
     * database behind a dead link would hold keysupd's lock for the kernel's
     * TCP timeout (minutes); with them a request fails within seconds. */
    static const char *const keys[] = {"connect_timeout", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "tcp_user_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "5", "2", "3", "10000", "keysupd", url, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

sup_db *sup_db_open_pg(const char *url, char *err, size_t errlen)
{
    pg_db *p = calloc(1, sizeof *p);
    PGresult *r;

    if (!p) {
        if (err)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->base.ops = &pg_ops;
    p->c = sup_db_pg_connect(url);
    if (PQstatus(p->c) != CONNECTION_OK) {
        if (err) {
            /* The URL may hold a password: never echo it. */
            snprintf(err, errlen, "KSE-%03d DATABASE_UNREACHABLE: PostgreSQL: cannot connect: %s"
                     " (`keysup error show KSE-%03d`)", SUP_KSE(DATABASE_UNREACHABLE),
                     PQerrorMessage(p->c), SUP_KSE(DATABASE_UNREACHABLE));
            err[strcspn(err, "\n")] = '\0';
        }
        goto fail;
    }
    /* Quiet notices (CREATE IF NOT EXISTS), hex bytea, UTC. */
    r = PQexec(p->c, "SET client_min_messages = warning; SET bytea_output = hex;"
                     " SET TIME ZONE 'UTC'");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        if (err)
            snprintf(err, errlen, "PostgreSQL: %s", PQresultErrorMessage(r));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    return &p->base;
fail:
    PQfinish(p->c);
    free(p);
    return NULL;
}
