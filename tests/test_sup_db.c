/*
 * test_sup_db.c - the supervisor storage interface on SQLite: migrations are
 * idempotent and versioned, constraint errors map to KS_DB_CONSTRAINT, a
 * rolled-back transaction leaves nothing, rows come back typed, and at
 * most one repair of a kind is pending per controller (migration 7).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sup_db.h"
#include "sup_db_pg.h"

static char path[64];

/* KS_PG_URL (tests/pg_unit.sh): the same cases on PostgreSQL, each on an
 * emptied schema. */
static int setup(void **state)
{
    sup_db_opts o = {1000, 0};
    char err[256];
    int fd;
    const char *url = getenv("KS_PG_URL");
    if (url) {
        sup_db *db = sup_db_open_pg(url, err, sizeof err);
        if (!db)
            return -1;
        if (sup_db_exec(db, "DROP SCHEMA public CASCADE", NULL, 0, NULL, NULL) ||
            sup_db_exec(db, "CREATE SCHEMA public", NULL, 0, NULL, NULL)) {
            sup_db_close(db);
            return -1;
        }
        sup_db_pg_forget_tables(db);
        path[0] = '\0';
        *state = db;
        return 0;
    }
    snprintf(path, sizeof path, "/tmp/ks_test_db_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    *state = sup_db_open_sqlite(path, &o, err, sizeof err);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    char p[96];
    sup_db_close(*state);
    if (!path[0])
        return 0;
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    return 0;
}

static void migrate_twice(void **state)
{
    sup_db *db = *state;
    int v1 = 0, v2 = 0;
    int64_t n = 0;
    assert_int_equal(sup_db_migrate(db, &v1), KS_DB_OK);
    assert_true(v1 >= 2);
    assert_int_equal(sup_db_migrate(db, &v2), KS_DB_OK);
    assert_int_equal(v1, v2);
    assert_int_equal(sup_db_int(db, "SELECT COUNT(*) FROM schema_version", NULL, 0, &n), KS_DB_OK);
    assert_int_equal(n, v1);
    assert_int_equal(sup_db_int(db, "SELECT COUNT(*) FROM policies", NULL, 0, &n), KS_DB_OK);
    assert_true(n >= 15);
}

static void constraint_and_rollback(void **state)
{
    sup_db *db = *state;
    uint8_t id[16] = {1}, pk[32] = {2};
    sup_dbv p[4] = {sup_dbv_blob(id, 16), sup_dbv_blob(pk, 32), sup_dbv_int(0), sup_dbv_int(0)};
    const char *ins = "INSERT INTO keys(key_id, public_key, privileges, valid_from, valid_until,"
                      " state, scope, form_factor, key_format, created_at, updated_at)"
                      " VALUES (?,?,?,?,0,0,0,0,1,0,0)";
    int64_t n = -1;
    assert_int_equal(sup_db_migrate(db, NULL), KS_DB_OK);
    assert_int_equal(sup_db_exec(db, ins, p, 4, NULL, NULL), KS_DB_OK);
    assert_int_equal(sup_db_last_id(db), 1);
    assert_int_equal(sup_db_exec(db, ins, p, 4, NULL, NULL), KS_DB_CONSTRAINT);
    /* a transaction rolled back leaves nothing behind */
    id[0] = 9;
    pk[0] = 9;
    assert_int_equal(sup_db_begin(db), KS_DB_OK);
    assert_int_equal(sup_db_exec(db, ins, p, 4, NULL, NULL), KS_DB_OK);
    assert_int_equal(sup_db_rollback(db), KS_DB_OK);
    assert_int_equal(sup_db_int(db, "SELECT COUNT(*) FROM keys", NULL, 0, &n), KS_DB_OK);
    assert_int_equal(n, 1);
    /* a transaction left open (its COMMIT and ROLLBACK failed) does not wedge
     * the next one: begin ends it, uncommitted, and starts afresh */
    assert_int_equal(sup_db_begin(db), KS_DB_OK);
    assert_int_equal(sup_db_exec(db, ins, p, 4, NULL, NULL), KS_DB_OK);
    assert_int_equal(sup_db_begin(db), KS_DB_OK);
    assert_int_equal(sup_db_commit(db), KS_DB_OK);
    assert_int_equal(sup_db_int(db, "SELECT COUNT(*) FROM keys", NULL, 0, &n), KS_DB_OK);
    assert_int_equal(n, 1);
    /* no row: 1, value untouched */
    n = 77;
    assert_int_equal(sup_db_int(db, "SELECT id FROM keys WHERE id = 99", NULL, 0, &n), 1);
    assert_int_equal(n, 77);
    /* foreign keys are on */
    {
        sup_dbv h = sup_dbv_int(12345);
        assert_int_equal(sup_db_exec(db, "UPDATE keys SET holder_id = ?", &h, 1, NULL, NULL),
                         KS_DB_CONSTRAINT);
    }
}

static int blob_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    int *ok = ctx;
    *ok = ncol == 2 && c[0].type == KS_DBV_BLOB && c[0].n == 3 && c[1].type == KS_DBV_TEXT &&
          strcmp(names[1], "t") == 0;
    return 0;
}

static void typed_rows(void **state)
{
    sup_db *db = *state;
    uint8_t b[3] = {1, 2, 3};
    sup_dbv p[2] = {sup_dbv_blob(b, 3), sup_dbv_text("x")};
    int ok = 0;
    assert_int_equal(sup_db_exec(db, "SELECT ? AS b, ? AS t", p, 2, blob_row, &ok), KS_DB_OK);
    assert_true(ok);
    /* numbered parameters, used twice and out of order, on both backends */
    {
        sup_dbv q[2] = {sup_dbv_text("x"), sup_dbv_blob(b, 3)};
        ok = 0;
        assert_int_equal(sup_db_exec(db, "SELECT ?2 AS b, ?1 AS t WHERE ?1 = 'x' AND ?1 <> 'y'",
                                     q, 2, blob_row, &ok), KS_DB_OK);
        assert_true(ok);
    }
    assert_int_equal(sup_db_exec(db, "SELEC nonsense", NULL, 0, NULL, NULL), KS_DB_ERR);
    /* numbered placeholders (?N, one value used twice) mean the same on
     * both backends: PostgreSQL's $N, not a renumbered $1N */
    {
        sup_dbv q[2] = {sup_dbv_int(20), sup_dbv_int(1)};
        int64_t v = 0;
        assert_int_equal(sup_db_int(db, "SELECT ?1 + ?1 + ?2", q, 2, &v), KS_DB_OK);
        assert_int_equal(v, 41);
    }
}

/* The PostgreSQL spelling of the portable DDL (no server needed). */
static void pg_dialect(void **state)
{
    char out[512];
    (void)state;
    assert_int_equal(sup_db_pg_ddl("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, n INTEGER NOT"
                                   " NULL, s INTEGER PRIMARY KEY AUTOINCREMENT, c TEXT DEFAULT"
                                   " 'INTEGER BLOB', INTEGERS INTEGER)", out, sizeof out), 0);
    assert_string_equal(out, "CREATE TABLE t(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY"
                             " KEY, b BYTEA, n BIGINT NOT NULL, s BIGINT GENERATED BY DEFAULT AS"
                             " IDENTITY PRIMARY KEY, c TEXT DEFAULT 'INTEGER BLOB', INTEGERS"
                             " BIGINT)");
    /* respelling is idempotent: the backend may see a statement twice */
    {
        char again[512];
        assert_int_equal(sup_db_pg_ddl(out, again, sizeof again), 0);
        assert_string_equal(again, out);
    }
    assert_int_equal(sup_db_pg_ddl("CREATE TABLE t(a INTEGER)", out, 20), -1);
    assert_true(sup_db_is_pg_url("postgresql://u@h/db"));
    assert_true(sup_db_is_pg_url("postgres://h/db"));
    assert_false(sup_db_is_pg_url("sqlite:///x"));
    assert_false(sup_db_is_pg_url(NULL));
}

/*
 * Two keysupd on one PostgreSQL database may both diagnose a controller: the
 * database itself keeps one pending diagnosis repair per controller and
 * command, and the insert sup_diag_repair.c makes is a no-op for the second.
 * Operators' commands and repairs already run are not constrained.
 */
static void one_pending_repair(void **state)
{
    sup_db *db = *state;
    const char *plain = "INSERT INTO commands(controller_id, command, args, state, created_by,"
                        " created_at) VALUES (1, 'initialize', '{}', 'pending', ?, 0)";
    const char *idem = "INSERT INTO commands(controller_id, command, args, state, created_by,"
                       " created_at) VALUES (1, 'initialize', '{}', 'pending',"
                       " 'keysupd:diagnosis', 0) ON CONFLICT (controller_id, command) WHERE"
                       " state = 'pending' AND created_by = 'keysupd:diagnosis' DO NOTHING";
    sup_dbv diag = sup_dbv_text("keysupd:diagnosis"), op = sup_dbv_text("token:admin");
    int64_t n = -1;

    assert_int_equal(sup_db_migrate(db, NULL), KS_DB_OK);
    assert_int_equal(sup_db_exec(db, "INSERT INTO controllers(name, scope, min_key_format,"
                                     " created_at) VALUES ('c1', 1, 1, 0)", NULL, 0, NULL, NULL),
                     KS_DB_OK);
    assert_int_equal(sup_db_exec(db, plain, &diag, 1, NULL, NULL), KS_DB_OK);
    /* the second instance's copy: refused outright, or a no-op */
    assert_int_equal(sup_db_exec(db, plain, &diag, 1, NULL, NULL), KS_DB_CONSTRAINT);
    assert_int_equal(sup_db_exec(db, idem, NULL, 0, NULL, NULL), KS_DB_OK);
    assert_int_equal(sup_db_changes(db), 0);
    /* an operator may still queue the same command */
    assert_int_equal(sup_db_exec(db, plain, &op, 1, NULL, NULL), KS_DB_OK);
    assert_int_equal(sup_db_int(db, "SELECT COUNT(*) FROM commands WHERE state = 'pending'",
                                NULL, 0, &n), KS_DB_OK);
    assert_int_equal(n, 2);
    /* once run, the next repair of that kind can be queued */
    assert_int_equal(sup_db_exec(db, "UPDATE commands SET state = 'done' WHERE created_by ="
                                     " 'keysupd:diagnosis'", NULL, 0, NULL, NULL), KS_DB_OK);
    assert_int_equal(sup_db_exec(db, idem, NULL, 0, NULL, NULL), KS_DB_OK);
    assert_int_equal(sup_db_changes(db), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pg_dialect),
        cmocka_unit_test_setup_teardown(migrate_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(constraint_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(typed_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(one_pending_repair, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
