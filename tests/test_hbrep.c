/*
 * test_hbrep.c - the report only when it changed (issue 13; docs/protocol.md,
 * "The report only when it changed"), both sides together, without HTTP:
 *  - the agent's hash ignores the members that move every heartbeat and
 *    nothing else;
 *  - a short report keysupd holds no report for, or holds another hash
 *    for, is refused as "needed" (409 KSE-123), and the agent answers it
 *    with the full report; a new table (a keysupd restart) gets a full one;
 *  - over a sequence of heartbeats with faults coming and going (clock
 *    skew, a corrupt store, refusals, a lockout, a new version), what
 *    keysupd judges is the same report (but for the store's progress counters,
 *    held as of the last full one), and the diagnosis walk finds the
 *    same findings, whether every report went whole or most went short.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl_agent.h"
#include "ctl_hbrep.h"
#include "sup_diag.h"
#include "diag_cfg.h"
#include "sup_hbrep.h"

#define NOW 1800000000LL
#define ROOT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* What the simulated controller reports at step i. */
typedef struct state {
    int64_t t;                /* its trusted time */
    int64_t skew;             /* its RTC's error */
    int corrupt;              /* store damaged */
    int refusals;             /* KSE-202 refusals so far (cumulative) */
    int locked;               /* one key locked out */
    int version;              /* applied version */
    int64_t refused_at;       /* the last refusal's time */
} state;

static json_t *report_of(const state *s)
{
    json_t *r = json_pack(
        "{s:I,s:s,s:i,s:s,s:[],s:n,s:{s:s,s:o,s:b,s:{s:i,s:i},s:{s:f,s:f},s:i,s:i},"
        "s:{s:I,s:I,s:I,s:n},s:i,s:i,s:b,s:b,s:[],s:[],s:I,s:I,s:s,s:i}",
        "applied_version", (json_int_t)s->version, "applied_root", ROOT_A, "protocol_version", 1,
        "instance", "00112233aabbccdd", "conditions", "last_sync_error", "store", "integrity",
        s->corrupt ? "corrupt" : "ok", "code", s->corrupt ? json_string("KSE-301") : json_null(),
        "need_full", s->corrupt, "scrub", "next_sector", (int)(s->t % 64), "passes",
        (int)(s->t / 8), "wear", "deltas_per_day", 1440.0 + (double)s->version, "life_days",
        5000.0 - (double)s->version, /* the rates move with commits only (ks_wear.c) */
        "audit_pending", (int)(s->t % 3), "audit_last", (int)s->t, /* with every event */
        "clock", "rtc", (json_int_t)(s->t + s->skew), "trusted", (json_int_t)(s->t + s->skew),
        "system", (json_int_t)s->t, "code", "protocol", 1, "heartbeat_interval", 1, "seal_on", 0,
        "pending_transaction", 0, "lockouts", "refusals", "time", (json_int_t)(s->t + s->skew),
        "last_contact", (json_int_t)(s->t - 1), "firmware_version", "test", "last_sync",
        (int)s->t);
    assert_non_null(r);
    if (s->refusals)
        json_array_append_new(json_object_get(r, "refusals"),
                              json_pack("{s:s,s:s,s:i,s:I,s:I}", "code", "KSE-202", "symbol",
                                        "KEY_UNKNOWN", "count", s->refusals, "first",
                                        (json_int_t)NOW, "last", (json_int_t)s->refused_at));
    if (s->locked)
        json_array_append_new(json_object_get(r, "lockouts"),
                              json_pack("{s:s,s:s,s:i,s:I}", "id", "0011", "kind", "key",
                                        "lock_level", 1, "locked_until", (json_int_t)NOW + 9999));
    return r;
}

/* An agent with a usable session (ctl_hbsess_usable). */
static ctl_agent *agent(void)
{
    ctl_agent *a = calloc(1, sizeof *a);
    assert_non_null(a);
    a->set.controller_id = 7;
    a->hbs.live = 1;
    a->hbs.until_ms = UINT64_MAX / 2;
    return a;
}

/* What the wire does to a body: keysupd parses the text the agent dumped
 * (into *text when asked). */
static json_t *wire_text(json_t *body, char **text)
{
    char *t = json_dumps(body, JSON_COMPACT);
    json_t *r = json_loads(t, 0, NULL);
    assert_non_null(r);
    if (text)
        *text = t;
    else
        free(t);
    return r;
}
static json_t *wire(json_t *body)
{
    return wire_text(body, NULL);
}

/* keysupd's completion, with its health text checked against the tree. */
static json_t *complete(sup_hbrep *t, int64_t id, json_t *body, int *needed)
{
    char *bt = json_dumps(body, JSON_COMPACT), *text = NULL;
    json_t *r = sup_hbrep_complete(t, id, body, bt, needed, &text), *back;
    free(bt);
    if (!r) {
        assert_null(text);
        return NULL;
    }
    /* the spliced text is the same report (and "report_elided") */
    back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(back);
    assert_true(json_is_true(json_object_get(back, "report_elided")));
    json_object_del(back, "report_elided");
    assert_true(json_equal(back, r));
    json_decref(back);
    free(text);
    return r;
}

/* One heartbeat through both sides, as ctl_heartbeat and api_hbrep_take do
 * it; returns the report keysupd judges (new reference). */
static json_t *heartbeat(ctl_agent *a, sup_hbrep *t, json_t *report, int *was_short, int *retried)
{
    json_t *body = ctl_hbrep_body(a, report), *got = wire(body), *judged, *ans;
    char held[2 * SUP_HBREP_HASH + 1] = "";
    int needed = 0;
    *was_short = sup_hbrep_is_short(got);
    *retried = 0;
    if (*was_short) {
        judged = complete(t, 7, got, &needed);
        if (!judged) {
            assert_int_equal(needed, 1);
            ans = json_pack("{s:{s:s}}", "error", "code", "KSE-123");
            assert_int_equal(ctl_hbrep_retry(a, 409, ans), 1);
            json_decref(ans);
            json_decref(got);
            got = wire(report); /* the full report, sent again */
            assert_false(sup_hbrep_is_short(got));
            *retried = 1;
        } else {
            snprintf(held, sizeof held, "%s",
                     json_string_value(json_object_get(got, "report_hash")));
        }
    }
    if (!sup_hbrep_is_short(got)) {
        if (sup_hbrep_hold(t, 7, got, held) != 1)
            held[0] = '\0';
        judged = json_incref(got);
    }
    ans = held[0] ? json_pack("{s:s}", "report_held", held) : json_object();
    ctl_hbrep_answer(a, ans);
    json_decref(ans);
    json_decref(got);
    json_decref(body);
    return judged;
}

static void hash_moves_with_static_only(void **st)
{
    (void)st;
    state s = {NOW, 0, 0, 0, 0, 7, 0};
    uint8_t h0[32], h1[32];
    json_t *r = report_of(&s);
    assert_int_equal(ctl_hbrep_hash(r, h0), 0);
    json_decref(r);
    s.t += 9; /* clocks, last_sync, last_contact, the scrub's progress and the
                 audit counters (with every event a door logs) move */
    s.skew = 4000;
    r = report_of(&s);
    assert_int_equal(ctl_hbrep_hash(r, h1), 0);
    assert_memory_equal(h0, h1, 32);
    /* what the scrub finds, and the rest of the store, are hashed */
    json_object_set_new(json_object_get(json_object_get(r, "store"), "scrub"), "medium_changes",
                        json_integer(1));
    assert_int_equal(ctl_hbrep_hash(r, h1), 0);
    assert_memory_not_equal(h0, h1, 32);
    json_decref(r);
    s.corrupt = 1;
    r = report_of(&s);
    assert_int_equal(ctl_hbrep_hash(r, h1), 0);
    assert_memory_not_equal(h0, h1, 32);
    json_decref(r);
    s.corrupt = 0;
    s.refusals = 1; /* a refusal is a change of the report */
    r = report_of(&s);
    assert_int_equal(ctl_hbrep_hash(r, h1), 0);
    assert_memory_not_equal(h0, h1, 32);
    /* a volatile member gone is a change too (nulled, not removed) */
    s.refusals = 0;
    json_decref(r);
    r = report_of(&s);
    json_object_del(r, "last_contact");
    assert_int_equal(ctl_hbrep_hash(r, h1), 0);
    assert_memory_not_equal(h0, h1, 32);
    json_decref(r);
}

static void short_needs_a_held_report(void **st)
{
    (void)st;
    sup_hbrep *t = sup_hbrep_new(10);
    state s = {NOW, 0, 0, 0, 0, 7, 0};
    json_t *r = report_of(&s), *body, *out;
    char held[65];
    int needed;
    /* the agent only goes short after an answer named its hash */
    ctl_agent *a = agent();
    body = ctl_hbrep_body(a, r);
    assert_false(sup_hbrep_is_short(body));
    assert_non_null(json_object_get(body, "report_hash"));
    assert_int_equal(sup_hbrep_hold(t, 7, body, held), 1);
    assert_string_equal(held, json_string_value(json_object_get(body, "report_hash")));
    json_decref(body);
    /* an older keysupd answers without report_held: the agent stays full */
    json_t *empty = json_object();
    ctl_hbrep_answer(a, empty);
    json_decref(empty);
    body = ctl_hbrep_body(a, r);
    assert_false(sup_hbrep_is_short(body));
    json_t *ans = json_pack("{s:s}", "report_held", held);
    ctl_hbrep_answer(a, ans);
    json_decref(ans);
    json_decref(body);
    body = ctl_hbrep_body(a, r);
    assert_true(sup_hbrep_is_short(body));
    assert_null(json_object_get(body, "refusals")); /* only what moves */
    assert_null(json_object_get(body, "store"));    /* hashed, but for its progress counters */
    assert_non_null(json_object_get(body, "clock"));
    /* another controller, another hash, a restarted keysupd: needed */
    assert_null(complete(t, 8, body, &needed));
    assert_int_equal(needed, 1);
    json_object_set_new(body, "report_hash", json_string(ROOT_A));
    assert_null(complete(t, 7, body, &needed));
    assert_int_equal(needed, 1);
    json_object_set_new(body, "report_hash", json_string(held));
    sup_hbrep *fresh = sup_hbrep_new(10);
    assert_null(complete(fresh, 7, body, &needed));
    assert_int_equal(needed, 1);
    out = complete(t, 7, body, &needed);
    assert_non_null(out);
    assert_true(json_equal(out, r));
    /* an error answer that is not KSE-123, or to a full report, changes nothing */
    ans = json_pack("{s:{s:s}}", "error", "code", "KSE-122");
    assert_int_equal(ctl_hbrep_retry(a, 409, ans), 0);
    json_decref(ans);
    sup_hbrep_stats ss;
    sup_hbrep_stats_get(t, &ss);
    assert_int_equal(ss.held, 1);
    assert_int_equal(ss.elided, 1);
    assert_int_equal(ss.needed, 2);
    /* a full table holds no more: those controllers stay on full reports */
    sup_hbrep *one = sup_hbrep_new(1);
    assert_int_equal(sup_hbrep_hold(one, 1, r, held), 1);
    assert_int_equal(sup_hbrep_hold(one, 2, r, held), 0);
    assert_int_equal(sup_hbrep_hold(one, 1, r, held), 1); /* replacing is not growing */
    sup_hbrep_free(one);
    json_decref(out);
    json_decref(body);
    json_decref(r);
    sup_hbrep_free(fresh);
    sup_hbrep_free(t);
    free(a);
}

static sup_diag_cfg cfg(void)
{
    return kt_diag_cfg(SUP_DIAG_WEAR_DAYS);
}

/* The walk over report at time t, with the previous report's refusal
 * counts prev (the engine's memory, sup_diag_engine.c). */
static void walk(json_t *report, const sup_diag_prev *prev, int64_t t, sup_findings *fs)
{
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    memset(&f, 0, sizeof f);
    f.ctrl_id = 7;
    f.enrolled = 1;
    f.now_ms = f.last_seen_ms = f.report_ms = t * 1000;
    f.prev_report_ms = (t - 1) * 1000;
    f.interval_ms = 1000;
    f.published_version = 8;
    memcpy(f.published_root, ROOT_A, sizeof f.published_root);
    f.report = report;
    sup_diag_refusals_prev(&f, prev, 2000);
    sup_diag_walk(&c, &f, fs);
}

static void same_findings(const sup_findings *x, const sup_findings *y)
{
    assert_int_equal(x->n, y->n);
    assert_int_equal(x->comm_lost, y->comm_lost);
    for (int i = 0; i < x->n; i++) {
        assert_int_equal(x->f[i].code, y->f[i].code);
        assert_int_equal(x->f[i].root, y->f[i].root);
        assert_int_equal(x->f[i].cause, y->f[i].cause);
        assert_int_equal(x->f[i].first_ms, y->f[i].first_ms);
        assert_int_equal(x->f[i].count, y->f[i].count);
        assert_int_equal(x->f[i].evidence_only, y->f[i].evidence_only);
        assert_string_equal(x->f[i].evidence, y->f[i].evidence);
    }
}

/* A copy of report without the store's progress counters, which keysupd
 * holds as of the last full report (ctl_hbrep.h): everything else is the
 * same. */
static json_t *without_progress(json_t *report)
{
    json_t *c = json_deep_copy(report);
    json_t *sc = json_object_get(json_object_get(c, "store"), "scrub");
    assert_non_null(sc);
    json_object_del(sc, "next_sector");
    json_object_del(sc, "passes");
    json_object_del(json_object_get(c, "store"), "audit_pending");
    json_object_del(json_object_get(c, "store"), "audit_last");
    return c;
}

static int has(const sup_findings *fs, int code)
{
    for (int i = 0; i < fs->n; i++)
        if (fs->f[i].code == code)
            return 1;
    return 0;
}

static void diagnosis_identical(void **st)
{
    (void)st;
    ctl_agent *a = agent();
    sup_hbrep *t = sup_hbrep_new(10);
    sup_diag_prev pa = {0}, pb = {0};
    state s = {NOW, 0, 0, 0, 0, 7, 0};
    int shorts = 0, retries = 0, seen_skew = 0, seen_corrupt = 0, seen_refusal = 0;
    for (int i = 0; i < 60; i++) {
        s.t++;
        /* faults come and go on some heartbeats: volatile and not */
        s.skew = i >= 10 && i < 15 ? 4000 : 0;          /* the clock (volatile) */
        s.corrupt = i >= 20 && i < 24;                  /* the store (hashed) */
        if (i == 30 || i == 31 || i == 45) {
            s.refusals++;                               /* refusals (the hash moves) */
            s.refused_at = s.t;
        }
        s.locked = i >= 35 && i < 40;                   /* a lockout (the hash moves) */
        s.version = i < 50 ? 7 : 8;                     /* synced (the hash moves) */
        if (i == 42) {                                  /* keysupd restarts */
            sup_hbrep_free(t);
            t = sup_hbrep_new(10);
        }
        json_t *full = report_of(&s);
        json_t *sent_whole = wire(full);                /* path A: full every time */
        int was_short, retried;
        json_t *judged = heartbeat(a, t, full, &was_short, &retried); /* path B */
        shorts += was_short && !retried;
        retries += retried;
        /* keysupd judges the same report either way (report_hash aside,
         * which only path B carries) */
        /* (judged may be the held tree: read only) */
        json_t *cmp = without_progress(judged), *whole = without_progress(sent_whole);
        json_object_del(cmp, "report_hash");
        assert_true(json_equal(whole, cmp));
        json_decref(cmp);
        json_decref(whole);
        sup_findings fa, fb;
        walk(sent_whole, pa.n ? &pa : NULL, s.t, &fa);
        walk(judged, pb.n ? &pb : NULL, s.t, &fb);
        same_findings(&fa, &fb);
        seen_skew |= has(&fa, SUP_KSE(CLOCK_SKEW));
        seen_corrupt |= has(&fa, SUP_KSE(STORE_CORRUPT));
        seen_refusal |= has(&fa, SUP_KSE(KEY_UNKNOWN));
        sup_diag_prev_free(&pa);
        sup_diag_prev_free(&pb);
        assert_int_equal(sup_diag_prev_from(&pa, sent_whole), 0);
        assert_int_equal(sup_diag_prev_from(&pb, judged), 0);
        json_decref(judged);
        json_decref(sent_whole);
        json_decref(full);
    }
    /* the faults were seen, most reports went short, the restart cost one retry */
    assert_true(seen_skew && seen_corrupt && seen_refusal);
    print_message("%d of 60 reports short, %d retried\n", shorts, retries);
    assert_true(shorts >= 40);
    assert_int_equal(retries, 1);
    assert_int_equal(a->hbrep.needed, 1);
    /* most were completed in the held tree itself (nothing else held it
     * between two heartbeats here), and judged the same */
    sup_hbrep_stats ss;
    sup_hbrep_stats_get(t, &ss);
    print_message("%llu of the last table's %llu short reports completed in place\n",
                  (unsigned long long)ss.in_place, (unsigned long long)ss.elided);
    assert_true(ss.in_place >= 10 && ss.in_place <= ss.elided);
    sup_diag_prev_free(&pa);
    sup_diag_prev_free(&pb);
    sup_hbrep_free(t);
    free(a);
}

/* A short body as the agent sends it: the hash, the flag, the volatile
 * members of s (all of them, or without "clock"). */
static json_t *short_of(const state *s, const char *hash, int with_clock)
{
    json_t *full = report_of(s), *b = json_pack("{s:s,s:b}", "report_hash", hash,
                                                "report_elided", 1);
    const char *vol[] = {"time", "clock", "last_contact", "last_sync", "store"};
    for (size_t i = 0; i < sizeof vol / sizeof vol[0]; i++)
        if (with_clock || strcmp(vol[i], "clock") != 0)
            json_object_set(b, vol[i], json_object_get(full, vol[i]));
    json_decref(full);
    return b;
}

/* The full report a short body stands for, built the slow way. */
static json_t *expected_of(json_t *held, json_t *body)
{
    json_t *x = json_deep_copy(held), *v;
    const char *k;
    json_object_foreach(body, k, v)
        if (strcmp(k, "report_elided") != 0)
            json_object_set(x, k, v);
    return x;
}

/* o is the held report with the short body's members laid over it. */
static void assert_completed(json_t *held, json_t *body, json_t *o)
{
    json_t *x = expected_of(held, body);
    assert_true(json_equal(o, x));
    json_decref(x);
}

/* Completing in the held tree itself (sup_hbrep.c): only while nobody
 * else holds it; a tree somebody still reads is never changed under them;
 * once changed, only a body with the same members completes from it. */
static void completed_in_place(void **st)
{
    (void)st;
    sup_hbrep *t = sup_hbrep_new(10);
    state s = {NOW, 0, 0, 0, 0, 7, 0};
    json_t *r = report_of(&s), *pristine, *b1, *b2, *b3, *b4, *o1, *o2, *o3, *o4;
    char held[65];
    int needed;
    sup_hbrep_stats ss;
    json_object_set_new(r, "report_hash", json_string(ROOT_A));
    pristine = json_deep_copy(r);
    assert_int_equal(sup_hbrep_hold(t, 7, r, held), 1);
    json_decref(r); /* the table's reference is the only one now */
    s.t += 1;
    s.skew = 4000;
    b1 = short_of(&s, ROOT_A, 1);
    o1 = complete(t, 7, b1, &needed);
    assert_non_null(o1);
    sup_hbrep_stats_get(t, &ss);
    assert_int_equal(ss.in_place, 1);
    assert_completed(pristine, b1, o1);
    /* o1 still read (the diagnosis queue has it): the next one is a copy,
     * and o1 does not change under its reader */
    s.t += 1;
    s.skew = 0;
    s.corrupt = 1;
    b2 = short_of(&s, ROOT_A, 1);
    o2 = complete(t, 7, b2, &needed);
    assert_non_null(o2);
    assert_ptr_not_equal(o1, o2);
    sup_hbrep_stats_get(t, &ss);
    assert_int_equal(ss.in_place, 1);
    assert_completed(pristine, b1, o1);
    assert_completed(pristine, b2, o2);
    json_decref(o1);
    json_decref(o2);
    /* nobody holds it again: in place, and still the full report's own
     * members outside the body */
    s.t += 1;
    s.corrupt = 0;
    b3 = short_of(&s, ROOT_A, 1);
    o3 = complete(t, 7, b3, &needed);
    assert_non_null(o3);
    sup_hbrep_stats_get(t, &ss);
    assert_int_equal(ss.in_place, 2);
    assert_completed(pristine, b3, o3);
    json_decref(o3);
    /* other members than before: the tree lost the full report's own
     * "clock", so this one is needed whole (409) ... */
    b4 = short_of(&s, ROOT_A, 0);
    assert_null(complete(t, 7, b4, &needed));
    assert_int_equal(needed, 1);
    /* ... and once the full report is held anew, it completes */
    r = json_deep_copy(pristine);
    assert_int_equal(sup_hbrep_hold(t, 7, r, held), 1);
    json_decref(r);
    o4 = complete(t, 7, b4, &needed);
    assert_non_null(o4);
    assert_completed(pristine, b4, o4);
    assert_true(json_equal(json_object_get(o4, "clock"), json_object_get(pristine, "clock")));
    json_decref(o4);
    json_decref(b1);
    json_decref(b2);
    json_decref(b3);
    json_decref(b4);
    json_decref(pristine);
    sup_hbrep_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_moves_with_static_only),
        cmocka_unit_test(short_needs_a_held_report),
        cmocka_unit_test(diagnosis_identical),
        cmocka_unit_test(completed_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
