/*
 * test_sup_soft.c - heartbeat soft state (sup_soft.c, issue 13): held in
 * memory until a batch is written; several heartbeats of one controller
 * fold into one row (newest wins; last_sync, firmware and protocol only
 * move when a report carries them, as the single UPDATE did); the
 * diagnosis sees the pending row; sup_close writes what is left; the
 * console's GET /v1/fleet writes the pending batch before it reads, as
 * controller list/show do.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "sup.h"
#include "sup_api.h"
#include "sup_health.h"
#include "sup_soft.h"
#include "sup_util.h"

static sup_ctx S;
static char dir[64];

static int64_t add_ctrl(const char *name)
{
    sup_dbv p = sup_dbv_text(name);
    pthread_mutex_lock(&S.lock);
    assert_int_equal(sup_db_exec(S.db, "INSERT INTO controllers(name, scope, min_key_format,"
                                       " created_at) VALUES (?, 1, 1, 0)", &p, 1, NULL, NULL), 0);
    int64_t id = sup_db_last_id(S.db);
    pthread_mutex_unlock(&S.lock);
    return id;
}

static int64_t col(int64_t id, const char *c)
{
    char sql[128];
    int64_t v = -1;
    sup_dbv p = sup_dbv_int(id);
    snprintf(sql, sizeof sql, "SELECT COALESCE(%s, -1) FROM controllers WHERE id = ?", c);
    pthread_mutex_lock(&S.lock);
    assert_int_equal(sup_db_int(S.db, sql, &p, 1, &v), 0);
    pthread_mutex_unlock(&S.lock);
    return v;
}

static int64_t fw_is(int64_t id, const char *fw)
{
    int64_t v = 0;
    sup_dbv p[2] = {sup_dbv_int(id), sup_dbv_text(fw)};
    pthread_mutex_lock(&S.lock);
    assert_int_equal(sup_db_int(S.db, "SELECT COUNT(*) FROM controllers WHERE id = ? AND"
                                      " firmware_version = ?", p, 2, &v), 0);
    pthread_mutex_unlock(&S.lock);
    return v;
}

static void test_fold_and_flush(void **state)
{
    (void)state;
    int64_t a = add_ctrl("a"), b = add_ctrl("b"), seen = 0;
    char *h = NULL, *lv = NULL;
    sup_soft_row r;

    memset(&r, 0, sizeof r);
    r.id = a;
    r.last_seen = 100;
    r.last_sync = 100; /* in step at 100 */
    r.has_av = 1;
    r.applied_version = 7;
    r.firmware = "fw/1";
    r.has_protocol = 1;
    r.protocol = 1;
    r.health = "{\"n\":1}";
    assert_int_equal(sup_soft_put(&S, &r), 0);
    /* the next report: behind, no firmware or protocol named */
    memset(&r, 0, sizeof r);
    r.id = a;
    r.last_seen = 105;
    r.has_av = 1;
    r.applied_version = 6;
    r.lockout = 1;
    r.health = "{\"n\":2}";
    assert_int_equal(sup_soft_put(&S, &r), 0);
    memset(&r, 0, sizeof r);
    r.id = b;
    r.last_seen = 101;
    assert_int_equal(sup_soft_put(&S, &r), 0);

    /* pending: the diagnosis sees the newest report (unless the flusher
     * wrote the batch meanwhile: then the database has it) */
    if (sup_soft_peek(&S, a, &seen, &h, &lv)) {
        assert_int_equal(seen, 105);
        assert_string_equal(h, "{\"n\":2}");
        assert_null(lv);
        free(h);
    } else {
        assert_int_equal(col(a, "last_seen"), 105);
    }

    sup_soft_flush(&S);
    assert_int_equal(sup_soft_peek(&S, a, &seen, &h, &lv), 0);
    assert_null(h);
    assert_null(lv);
    assert_int_equal(col(a, "last_seen"), 105);
    assert_int_equal(col(a, "last_sync"), 100);        /* kept from the first report */
    assert_int_equal(col(a, "applied_version"), 6);    /* newest */
    assert_int_equal(col(a, "protocol_version"), 1);   /* kept */
    assert_int_equal(col(a, "lockout"), 1);
    assert_int_equal(fw_is(a, "fw/1"), 1);             /* kept */
    assert_int_equal(col(b, "last_seen"), 101);

    /* a row written by the flusher on its own, within a few batches */
    memset(&r, 0, sizeof r);
    r.id = b;
    r.last_seen = 200;
    assert_int_equal(sup_soft_put(&S, &r), 0);
    for (int i = 0; i < 50 && col(b, "last_seen") != 200; i++) {
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(col(b, "last_seen"), 200);

    /* many controllers in one batch (the index grows past its first size) */
    int64_t first = 0;
    for (int i = 0; i < 1000; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        int64_t id = add_ctrl(name);
        if (!first)
            first = id;
        memset(&r, 0, sizeof r);
        r.id = id;
        r.last_seen = 300 + i;
        assert_int_equal(sup_soft_put(&S, &r), 0);
    }
    sup_soft_flush(&S);
    assert_int_equal(col(first, "last_seen"), 300);
    assert_int_equal(col(first + 999, "last_seen"), 1299);

    /* what is pending at close is written by sup_close */
    memset(&r, 0, sizeof r);
    r.id = a;
    r.last_seen = 999;
    assert_int_equal(sup_soft_put(&S, &r), 0);
    assert_int_equal(sup_fixture_reopen(&S, dir), 0);
    assert_int_equal(col(a, "last_seen"), 999);
}

/* The route's handler, called as the dispatcher would after decoding an
 * empty query (every filter unset). */
static json_t *call_route(const char *method, const char *pattern)
{
    const sup_api_route *rt = NULL;
    sup_req rq;
    sup_resp rs;
    void *in;
    for (size_t t = 0; !rt && t < sup_api_ntables; t++)
        for (const sup_api_route *r = sup_api_tables[t]; r->method; r++)
            if (strcmp(r->method, method) == 0 && strcmp(r->pattern, pattern) == 0)
                rt = r;
    assert_non_null(rt);
    assert_non_null(rt->schema);
    in = calloc(1, rt->schema->size);
    assert_non_null(in);
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rq.s = &S;
    rq.method = method;
    rq.in = in;
    rq.schema = rt->schema;
    rq.role = KS_ROLE_ADMIN;
    rt->fn(&rq, &rs);
    free(in);
    assert_int_equal(rs.status, 200);
    return rs.json;
}

/* applied_version of controller id in a list answer's items. */
static int64_t listed_av(json_t *ans, int64_t id)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(ans, "items"), i, r)
        if (json_integer_value(json_object_get(r, "id")) == id)
            return json_integer_value(json_object_get(r, "applied_version"));
    return -1;
}

/*
 * A heartbeat's state is read back at once by the console's fleet view
 * (as by `controller list|show`), not a batch later. Each round puts a new applied version and reads it within
 * microseconds, far inside the 200 ms batch: without the readers' flush
 * every round would have to land just after the flusher's own write.
 */
static void test_readers_flush(void **state)
{
    (void)state;
    int64_t a = add_ctrl("reader");
    for (int round = 1; round <= 5; round++) {
        sup_soft_row r;
        json_t *ans;
        memset(&r, 0, sizeof r);
        r.id = a;
        r.last_seen = 1000 + round;
        r.has_av = 1;
        r.applied_version = 10 * round;
        assert_int_equal(sup_soft_put(&S, &r), 0);
        ans = call_route("GET", "/v1/fleet");
        assert_int_equal(listed_av(ans, a), 10 * round);
        json_decref(ans);
    }
}

/* A text column of controller id (a copy, NULL when NULL). */
static char *text_col(int64_t id, const char *c)
{
    char sql[128];
    sup_dbv p = sup_dbv_int(id);
    json_t *rows;
    char *out = NULL;
    snprintf(sql, sizeof sql, "SELECT %s AS v FROM controllers WHERE id = ?", c);
    pthread_mutex_lock(&S.lock);
    rows = sup_db_rows_json(S.db, sql, &p, 1, NULL);
    pthread_mutex_unlock(&S.lock);
    assert_int_equal(json_array_size(rows), 1);
    if (json_is_string(json_object_get(json_array_get(rows, 0), "v")))
        out = strdup(json_string_value(json_object_get(json_array_get(rows, 0), "v")));
    json_decref(rows);
    return out;
}

/* The report every reader sees (sup_health_merge over the columns) equals
 * want; the whole-report column is exactly whole. */
static void equal_to(json_t *got, const char *want)
{
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    assert_non_null(got);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("report %s, want %s", g, want);
    }
    json_decref(w);
}

static void stored_is(int64_t id, const char *whole, const char *want)
{
    char *full = text_col(id, "last_health"), *live = text_col(id, "last_health_live");
    json_t *got = sup_health_merge_str(full, live);
    assert_non_null(full);
    assert_string_equal(full, whole);
    equal_to(got, want);
    json_decref(got);
    free(full);
    free(live);
}

#define WHOLE "{\"report_hash\":\"h1\",\"time\":100,\"last_contact\":100," \
              "\"licence\":{\"policy_seq\":7},\"refusals\":[{\"code\":\"KSE-202\"}]}"
#define SHORT(t) "{\"report_elided\":true,\"report_hash\":\"h1\",\"time\":" #t \
                 ",\"last_contact\":" #t "}"
#define DONE(t) "{\"report_hash\":\"h1\",\"time\":" #t ",\"last_contact\":" #t \
                ",\"licence\":{\"policy_seq\":7},\"refusals\":[{\"code\":\"KSE-202\"}]}"
#define WHOLE2 "{\"report_hash\":\"h2\",\"time\":400,\"last_contact\":400}"

/*
 * Issue 13: a short heartbeat does not rewrite the whole report. A short
 * one after a whole one in the same batch (folded by sup_soft_put) keeps
 * the whole one; the merged read is the completed report; a short one
 * alone leaves the whole-report column as it was and moves the live
 * members; a whole one replaces both (the live column NULL'd, so the two
 * never disagree).
 */
static void test_short_keeps_whole(void **state)
{
    (void)state;
    int64_t c = add_ctrl("shorty"), seen = 0;
    char *h = NULL, *lv = NULL;
    sup_soft_row r;
    json_t *m;

    memset(&r, 0, sizeof r);
    r.id = c;
    r.last_seen = 100;
    r.health = WHOLE;
    assert_int_equal(sup_soft_put(&S, &r), 0);
    r.last_seen = 101;
    r.health = NULL;
    r.live = SHORT(101);
    assert_int_equal(sup_soft_put(&S, &r), 0);
    r.last_seen = 102;
    r.live = SHORT(102);
    assert_int_equal(sup_soft_put(&S, &r), 0);
    /* pending: the whole report of the batch's first heartbeat, the live
     * members of its last (unless the flusher wrote the batch meanwhile) */
    if (sup_soft_peek(&S, c, &seen, &h, &lv)) {
        assert_int_equal(seen, 102);
        assert_non_null(h);
        assert_string_equal(h, WHOLE);
        assert_string_equal(lv, SHORT(102));
        m = sup_health_merge_str(h, lv);
        equal_to(m, DONE(102));
        json_decref(m);
        free(h);
        free(lv);
    }
    sup_soft_flush(&S);
    stored_is(c, WHOLE, DONE(102));

    /* a short one alone: the whole-report column is not rewritten */
    r.last_seen = 103;
    r.live = SHORT(103);
    assert_int_equal(sup_soft_put(&S, &r), 0);
    sup_soft_flush(&S);
    stored_is(c, WHOLE, DONE(103));

    /* a whole one, then a short one under its hash, in one batch */
    r.last_seen = 400;
    r.live = NULL;
    r.health = WHOLE2;
    assert_int_equal(sup_soft_put(&S, &r), 0);
    sup_soft_flush(&S);
    h = text_col(c, "last_health_live");
    assert_null(h); /* NULL'd with the whole report */
    stored_is(c, WHOLE2, WHOLE2);

    /* a short one, then a whole one in one batch: the whole one wins */
    r.last_seen = 401;
    r.health = NULL;
    r.live = "{\"report_elided\":true,\"report_hash\":\"h2\",\"time\":401}";
    assert_int_equal(sup_soft_put(&S, &r), 0);
    r.last_seen = 402;
    r.live = NULL;
    r.health = WHOLE;
    assert_int_equal(sup_soft_put(&S, &r), 0);
    sup_soft_flush(&S);
    assert_null(text_col(c, "last_health_live"));
    stored_is(c, WHOLE, WHOLE);
}

static int setup(void **state)
{
    (void)state;
    return sup_fixture_start(&S, dir, sizeof dir, "soft");
}

static int teardown(void **state)
{
    (void)state;
    return sup_fixture_close(&S, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fold_and_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_keeps_whole, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
