/*
 * test_sup_db_cache.c - the SQLite backend keeps its statements prepared
 * (sup_db_sqlite.c): a statement run once stays prepared and is reused;
 * the results are those of a fresh statement whatever happened before
 * (other parameters, fewer parameters, a callback that stopped early, a
 * schema change, a row callback running the same SQL again, more texts
 * than the table has slots), and a table a kept statement reads can still
 * be dropped.
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
#include <sqlite3.h>
#include <cmocka.h>

#include "sup_db.h"

static char path[64];

static int setup(void **state)
{
    sup_db_opts o = {1000, 0};
    char err[256];
    int fd;
    snprintf(path, sizeof path, "/tmp/ks_test_dbc_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    *state = sup_db_open_sqlite(path, &o, err, sizeof err);
    if (!*state)
        return -1;
    return sup_db_exec(*state, "CREATE TABLE t (x INTEGER, s TEXT)", NULL, 0, NULL, NULL) ||
                   sup_db_exec(*state, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
                               NULL, 0, NULL, NULL)
               ? -1
               : 0;
}

static int teardown(void **state)
{
    char p[96];
    sup_db_close(*state);
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    return 0;
}

typedef struct acc {
    sup_db *db;
    int rows, sum, ncol, stop_after, nested;
    int is_null;
} acc;

static int add_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    acc *a = ctx;
    (void)names;
    a->rows++;
    a->ncol = ncol;
    a->is_null = c[0].type == KS_DBV_NULL;
    if (c[0].type == KS_DBV_INT)
        a->sum += (int)c[0].i;
    if (a->nested) { /* the same SQL again while this statement steps */
        acc in = {0};
        sup_dbv p = sup_dbv_int(c[0].i);
        assert_int_equal(sup_db_exec(a->db, "SELECT x FROM t WHERE x >= ? ORDER BY x", &p, 1,
                                     add_row, &in), KS_DB_OK);
        a->nested += in.sum;
    }
    return a->stop_after && a->rows >= a->stop_after;
}

static int kept(sup_db *db)
{
    int n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(sup_db_sqlite_handle(db), NULL); st;
         st = sqlite3_next_stmt(sup_db_sqlite_handle(db), st))
        n++;
    return n;
}

static void reused_with_fresh_results(void **state)
{
    sup_db *db = *state;
    const char *q = "SELECT x FROM t WHERE x >= ? ORDER BY x";
    sup_dbv p = sup_dbv_int(2);
    acc a = {0};
    int before = kept(db);

    assert_int_equal(sup_db_exec(db, q, &p, 1, add_row, &a), KS_DB_OK);
    assert_int_equal(a.sum, 5);
    assert_int_equal(kept(db), before + 1); /* kept, not finalized */
    p = sup_dbv_int(1);
    memset(&a, 0, sizeof a);
    assert_int_equal(sup_db_exec(db, q, &p, 1, add_row, &a), KS_DB_OK);
    assert_int_equal(a.sum, 6);
    assert_int_equal(kept(db), before + 1); /* the same one */
    /* stopped after one row: the next run starts from the first row */
    memset(&a, 0, sizeof a);
    a.stop_after = 1;
    assert_int_equal(sup_db_exec(db, q, &p, 1, add_row, &a), KS_DB_OK);
    assert_int_equal(a.sum, 1);
    memset(&a, 0, sizeof a);
    assert_int_equal(sup_db_exec(db, q, &p, 1, add_row, &a), KS_DB_OK);
    assert_int_equal(a.rows, 3);
}

static void bindings_do_not_outlive_the_call(void **state)
{
    sup_db *db = *state;
    char *txt = strdup("gone after the call");
    sup_dbv p;
    acc a = {0};
    assert_non_null(txt);
    p = sup_dbv_text(txt);
    assert_int_equal(sup_db_exec(db, "SELECT ?", &p, 1, add_row, &a), KS_DB_OK);
    free(txt); /* a kept binding would now dangle (ASan) */
    memset(&a, 0, sizeof a);
    assert_int_equal(sup_db_exec(db, "SELECT ?", NULL, 0, add_row, &a), KS_DB_OK);
    assert_int_equal(a.rows, 1);
    assert_true(a.is_null);
}

static void nested_same_sql(void **state)
{
    sup_db *db = *state;
    sup_dbv p = sup_dbv_int(1);
    acc a = {0};
    a.db = db;
    a.nested = 1;
    assert_int_equal(sup_db_exec(db, "SELECT x FROM t WHERE x >= ? ORDER BY x", &p, 1, add_row,
                                 &a), KS_DB_OK);
    assert_int_equal(a.rows, 3);
    assert_int_equal(a.sum, 6);
    assert_int_equal(a.nested, 1 + 6 + 5 + 3); /* each inner run saw its own rows */
}

static void schema_change_and_drop(void **state)
{
    sup_db *db = *state;
    acc a = {0};
    assert_int_equal(sup_db_exec(db, "SELECT * FROM t", NULL, 0, add_row, &a), KS_DB_OK);
    assert_int_equal(a.ncol, 2);
    assert_int_equal(sup_db_exec(db, "ALTER TABLE t ADD COLUMN y INTEGER", NULL, 0, NULL, NULL),
                     KS_DB_OK);
    memset(&a, 0, sizeof a);
    assert_int_equal(sup_db_exec(db, "SELECT * FROM t", NULL, 0, add_row, &a), KS_DB_OK);
    assert_int_equal(a.ncol, 3);
    assert_int_equal(sup_db_exec(db, "DROP TABLE t", NULL, 0, NULL, NULL), KS_DB_OK);
    assert_int_not_equal(sup_db_exec(db, "SELECT * FROM t", NULL, 0, add_row, &a), KS_DB_OK);
}

static void more_texts_than_slots(void **state)
{
    sup_db *db = *state;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 300; i++) {
            char q[64];
            acc a = {0};
            snprintf(q, sizeof q, "SELECT x + %d FROM t WHERE x = 1", i);
            assert_int_equal(sup_db_exec(db, q, NULL, 0, add_row, &a), KS_DB_OK);
            assert_int_equal(a.sum, 1 + i);
        }
    assert_true(kept(db) <= 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reused_with_fresh_results, setup, teardown),
        cmocka_unit_test_setup_teardown(bindings_do_not_outlive_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(nested_same_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(schema_change_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(more_texts_than_slots, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
