/*
 * test_diag_rules.c - the diagnosis walk (sup_diag_walk) as a pure function:
 * from constructed facts to findings, in the technician's order, with root
 * causes separated from their symptoms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sup_diag.h"
#include "diag_cfg.h"

#define NOW 1800000000000LL
#define ROOT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ROOT_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static sup_diag_cfg cfg(void)
{
    return kt_diag_cfg(0); /* wear_days 0: the wear rule stays off here */
}

/* A healthy controller in step with version 7 (root A). */
static void facts(sup_diag_facts *f, json_t *report)
{
    memset(f, 0, sizeof *f);
    f->ctrl_id = 1;
    f->enrolled = 1;
    f->now_ms = NOW;
    f->last_seen_ms = NOW - 500;
    f->interval_ms = 1000;
    f->published_version = 7;
    strcpy(f->published_root, ROOT_A);
    f->report = report;
    f->report_ms = NOW - 500;
    f->prev_report_ms = NOW - 1500;
}

static json_t *healthy(void)
{
    return json_pack("{s:I,s:s,s:[],s:n,s:{s:s,s:n,s:b},s:{s:I,s:I,s:n},s:i,s:b,s:b,s:[]}",
                     "applied_version", (json_int_t)7, "applied_root", ROOT_A, "conditions",
                     "last_sync_error", "store", "integrity", "ok", "code", "need_full", 0,
                     "clock", "rtc", (json_int_t)(NOW / 1000), "trusted", (json_int_t)(NOW / 1000),
                     "code", "protocol", 1, "seal_on", 0, "pending_transaction", 0, "lockouts");
}

static void refusal(sup_diag_facts *f, int code, int64_t fresh)
{
    sup_diag_refusal *r = &f->ref[f->nref++];
    r->code = code;
    r->count = r->fresh = fresh;
    r->window = -1; /* unknown: the fresh ones count */
    r->first_ms = NOW - 800;
    r->last_ms = NOW - 600;
}

static const sup_finding *get(const sup_findings *o, int code)
{
    for (int i = 0; i < o->n; i++)
        if (o->f[i].code == code)
            return &o->f[i];
    return NULL;
}

static void test_healthy_has_no_findings(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    facts(&f, r);
    sup_diag_walk(&c, &f, &o);
    assert_int_equal(o.n, 0);
    json_decref(r);
}

static void test_missed_heartbeats_comm_lost(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    facts(&f, r);
    f.last_seen_ms = NOW - 2500; /* two missed: not yet */
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 100));
    f.last_seen_ms = NOW - 3500;
    sup_diag_walk(&c, &f, &o);
    const sup_finding *x = get(&o, 100);
    assert_non_null(x);
    assert_true(x->root);
    assert_int_equal(x->first_ms, NOW - 3500 + 1000); /* the first heartbeat that did not come */
    assert_int_equal(o.comm_lost, 1);
    json_decref(r);
}

/* Silent while this supervisor shed device requests: KSE-121 evidence, no
 * incident, not KSE-100; silent one window after the shedding: KSE-100. */
static void test_silent_while_shedding_is_busy_not_lost(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    facts(&f, r);
    f.last_seen_ms = NOW - 3500;
    f.shed_ms = NOW - 1000; /* shed since we last heard from it, within the window */
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 100));
    const sup_finding *x = get(&o, 121);
    assert_non_null(x);
    assert_false(x->root);
    assert_true(x->evidence_only);
    assert_int_equal(o.comm_lost, 0);
    f.shed_ms = NOW - 3400; /* the shedding stopped more than a window ago */
    f.last_seen_ms = NOW - 7000;
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 121));
    assert_non_null(get(&o, 100));
    f.shed_ms = NOW - 5000; /* shed before it went silent: not the cause */
    f.last_seen_ms = NOW - 3500;
    sup_diag_walk(&c, &f, &o);
    assert_non_null(get(&o, 100));
    json_decref(r);
}

static void test_desync_makes_key_unknown_a_symptom(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_object_set_new(r, "applied_root", json_string(ROOT_B));
    facts(&f, r);
    refusal(&f, 202, 50); /* fifty KEY_UNKNOWN refusals */
    sup_diag_walk(&c, &f, &o);
    const sup_finding *d = get(&o, 300), *k = get(&o, 202);
    assert_non_null(d);
    assert_non_null(k);
    assert_true(d->root);
    assert_false(k->root);
    assert_int_equal(k->cause, 300);
    assert_int_equal(k->count, 50);
    /* Without the desync fifty of them (past the policy threshold) are a
     * root cause of their own. */
    json_object_set_new(r, "applied_root", json_string(ROOT_A));
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 300));
    assert_true(get(&o, 202)->root);
    json_decref(r);
}

static void test_controller_ahead_is_not_auto_repaired(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_object_set_new(r, "applied_version", json_integer(9)); /* published is 7 */
    facts(&f, r);
    sup_diag_walk(&c, &f, &o);
    const sup_finding *d = get(&o, 300);
    assert_non_null(d);
    assert_true(d->root);
    assert_int_equal(d->no_auto, 1); /* a download would be refused as a rollback */
    /* A controller behind with another root is repaired by download as usual. */
    json_object_set_new(r, "applied_version", json_integer(7));
    json_object_set_new(r, "applied_root", json_string(ROOT_B));
    sup_diag_walk(&c, &f, &o);
    assert_int_equal(get(&o, 300)->no_auto, 0);
    json_decref(r);
}

/* Issue 17 row 9: a restored supervisor is KSE-304 with the keys to
 * re-revoke, never KSE-300 and never an automatic initialize. */
static void test_restored_supervisor_names_lost_revocations(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_object_set_new(r, "applied_version", json_integer(9)); /* published is 7 */
    json_object_set_new(r, "applied_history", json_integer(0));
    json_object_set_new(r, "restore",
                        json_pack("{s:s,s:I,s:I,s:I,s:[{s:s,s:s}]}", "code", "KSE-304",
                                  "offered_version", (json_int_t)10, "offered_history",
                                  (json_int_t)0x1234, "lost_count", (json_int_t)1, "lost",
                                  "key_id", "37da79c43bd03a03becbe963c9faf78a", "state",
                                  "revoked"));
    facts(&f, r);
    f.history = 0x1234;
    sup_diag_walk(&c, &f, &o);
    const sup_finding *d = get(&o, 304);
    assert_non_null(d);
    assert_true(d->root);
    assert_int_equal(d->no_auto, 1);
    assert_non_null(strstr(d->evidence, "37da79c43bd03a03becbe963c9faf78a"));
    assert_null(get(&o, 300));
    /* Another history without a refused download yet: still 304, no 300. */
    json_object_del(r, "restore");
    sup_diag_walk(&c, &f, &o);
    assert_non_null(get(&o, 304));
    assert_null(get(&o, 300));
    /* Same history: the usual rules. */
    json_object_set_new(r, "applied_history", json_integer(0x1234));
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 304));
    assert_non_null(get(&o, 300));
    json_decref(r);
}

static void test_order_store_before_sync_before_clock(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_object_set_new(json_object_get(r, "store"), "integrity", json_string("corrupt"));
    json_object_set_new(r, "applied_root", json_string(ROOT_B));
    json_object_set_new(json_object_get(r, "clock"), "code", json_string("KSE-600"));
    facts(&f, r);
    refusal(&f, 204, 3);
    sup_diag_walk(&c, &f, &o);
    int seen[3] = {-1, -1, -1};
    for (int i = 0; i < o.n; i++) {
        if (o.f[i].code == 301) seen[0] = i;
        if (o.f[i].code == 300) seen[1] = i;
        if (o.f[i].code == 600) seen[2] = i;
    }
    assert_true(seen[0] >= 0 && seen[1] > seen[0] && seen[2] > seen[1]);
    /* An expired-key refusal under a store and clock fault is a symptom. */
    assert_false(get(&o, 204)->root);
    json_decref(r);
}

static void test_lockout_absorbs_attack_refusals(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_array_append_new(json_object_get(r, "lockouts"),
                          json_pack("{s:s,s:s,s:i,s:s}", "kind", "reader", "id", "reader-1",
                                    "fails", 3, "locked_until", "admin"));
    facts(&f, r);
    refusal(&f, 205, 3);
    sup_diag_walk(&c, &f, &o);
    assert_true(get(&o, 500)->root);
    assert_false(get(&o, 205)->root);
    assert_int_equal(get(&o, 205)->cause, 500);
    json_decref(r);
}

static void test_profile_seal_pending_and_protocol(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_object_set_new(r, "seal_on", json_true());
    json_object_set_new(r, "protocol", json_integer(0));
    facts(&f, r);
    refusal(&f, 504, 1);
    refusal(&f, 502, 1);
    sup_diag_walk(&c, &f, &o);
    /* One refused void, one refusal under the seal: the policy working. */
    assert_true(get(&o, 504)->evidence_only && !get(&o, 504)->root);
    assert_true(get(&o, 502)->evidence_only && !get(&o, 502)->root);
    assert_int_equal(get(&o, 502)->cause, 0);
    assert_non_null(get(&o, 401));
    /* Only fresh refusals count. */
    f.ref[0].fresh = f.ref[1].fresh = 0;
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 504));
    assert_null(get(&o, 502));
    json_decref(r);
}

/* Refused supervisor answers (issue 10): a trust-area root cause of their
 * own, only while fresh; a refused download is KSE-700/701 even when the
 * condition was cleared before any report carried it. */
static void test_answer_not_authentic_and_refused_downloads(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    facts(&f, r);
    refusal(&f, 710, 3);
    refusal(&f, 202, 2); /* a KEY_UNKNOWN is not explained by a bent answer */
    sup_diag_walk(&c, &f, &o);
    const sup_finding *a = get(&o, 710);
    assert_non_null(a);
    assert_true(a->root && a->refusal);
    assert_int_equal(a->count, 3);
    assert_int_equal(a->kse->area, KS_AREA_TRUST);
    assert_true(get(&o, 202)->evidence_only); /* two: below the threshold */
    assert_int_equal(o.f[0].code, 710); /* trust is walked before the key area */
    refusal(&f, 701, 1); /* ...but a refused (rolled-back) download does */
    sup_diag_walk(&c, &f, &o);
    assert_non_null(get(&o, 701));
    assert_false(get(&o, 202)->root);
    assert_false(get(&o, 202)->evidence_only);
    assert_int_equal(get(&o, 202)->cause, 701);
    f.nref = 0;
    refusal(&f, 710, 0); /* nothing new since the last report */
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 710));
    assert_true(sup_diag_is_refusal_code(710));
    json_decref(r);
}

/* Issue 16: a refusal that is the policy working is evidence, not an
 * incident, until the same code repeats policy_threshold times within the
 * window; attack-like refusals are root causes at once. */
static void test_policy_refusals_are_evidence_below_threshold(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    static const int policy[] = {502, 503, 504, 505, 203, 204, 202};
    static const int attack[] = {205, 206, 201};
    facts(&f, r);
    for (size_t i = 0; i < sizeof policy / sizeof policy[0]; i++)
        refusal(&f, policy[i], 1);
    for (size_t i = 0; i < sizeof attack / sizeof attack[0]; i++)
        refusal(&f, attack[i], 1);
    sup_diag_walk(&c, &f, &o);
    for (size_t i = 0; i < sizeof policy / sizeof policy[0]; i++) {
        const sup_finding *x = get(&o, policy[i]);
        assert_non_null(x);
        assert_true(x->evidence_only);
        assert_false(x->root);
        assert_true(sup_diag_is_policy_refusal(policy[i]));
    }
    for (size_t i = 0; i < sizeof attack / sizeof attack[0]; i++) {
        const sup_finding *x = get(&o, attack[i]);
        assert_non_null(x);
        assert_true(x->root);
        assert_false(x->evidence_only);
        assert_false(sup_diag_is_policy_refusal(attack[i]));
    }
    assert_false(sup_diag_is_policy_refusal(500));
    /* The engine's window count decides: 4 of KSE-502 in the window stay
     * evidence, the 5th opens an incident and says why. */
    f.ref[0].window = 4;
    sup_diag_walk(&c, &f, &o);
    assert_true(get(&o, 502)->evidence_only);
    f.ref[0].window = 5;
    sup_diag_walk(&c, &f, &o);
    assert_true(get(&o, 502)->root);
    assert_false(get(&o, 502)->evidence_only);
    assert_non_null(strstr(get(&o, 502)->evidence, "5 within 600 s"));
    /* A known window count of 0 wins over a large fresh count (the
     * on-demand view counts every refusal of the last diag_recent). */
    f.ref[0].window = 0;
    f.ref[0].fresh = 9;
    sup_diag_walk(&c, &f, &o);
    assert_true(get(&o, 502)->evidence_only);
    /* A KEY_EXPIRED explained by a clock fault is its symptom, not evidence. */
    json_object_set_new(json_object_get(r, "clock"), "code", json_string("KSE-600"));
    sup_diag_walk(&c, &f, &o);
    assert_false(get(&o, 204)->evidence_only);
    assert_int_equal(get(&o, 204)->cause, 600);
    json_decref(r);
}

/* KSE-310: warned while the projected flash life is under the threshold,
 * not when it cannot be projected (-1) or is above. */
static void test_flash_wear_warns_before_failure(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    c.wear_days = 365;
    const double lives[] = {120.0, 5000.0, -1.0};
    for (int i = 0; i < 3; i++) {
        json_t *r = healthy();
        json_object_set_new(json_object_get(r, "store"), "wear",
                            json_pack("{s:i,s:i,s:f,s:f,s:f}", "endurance", 10000, "erase_max",
                                      9000, "deltas_per_day", 1440.0, "write_amplification", 467.0,
                                      "life_days", lives[i]));
        sup_diag_facts f;
        sup_findings o;
        facts(&f, r);
        sup_diag_walk(&c, &f, &o);
        int found = 0;
        for (int k = 0; k < o.n; k++)
            if (o.f[k].code == 310) {
                found = 1;
                assert_non_null(strstr(o.f[k].evidence, "120 days"));
            }
        assert_int_equal(found, i == 0);
        json_decref(r);
    }
}

/* KSE-311: warned from the first retired sector, with the spare left and
 * the projected date (the report is at NOW, 2027-01-15); not while none is
 * retired; whatever the wear threshold (a long life still warns: sectors
 * are failing). */
static void test_flash_retired_warns(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    c.wear_days = 365;
    const int retired[] = {0, 3, 1};
    const double lives[] = {120.0, 4000.0, -1.0};
    for (int i = 0; i < 3; i++) {
        json_t *r = healthy();
        json_object_set_new(json_object_get(r, "store"), "wear",
                            json_pack("{s:i,s:i,s:i,s:i,s:f,s:f}", "endurance", 10000,
                                      "erase_max", 900, "retired_sectors", retired[i],
                                      "retired_max", 32, "deltas_per_day", 10.0, "life_days",
                                      lives[i]));
        sup_diag_facts f;
        sup_findings o;
        facts(&f, r);
        sup_diag_walk(&c, &f, &o);
        const sup_finding *g = NULL;
        for (int k = 0; k < o.n; k++)
            if (o.f[k].code == 311)
                g = &o.f[k];
        assert_int_equal(g != NULL, retired[i] > 0);
        if (i == 1) {
            assert_non_null(strstr(g->evidence, "3 flash sector(s)"));
            assert_non_null(strstr(g->evidence, "retire 29 more"));
            assert_non_null(strstr(g->evidence, "4000 days at 10.0 deltas a day, around 2037-12-28"));
            assert_string_equal(g->kse->symbol, "FLASH_RETIRED");
            assert_non_null(g->kse->steps[1]);
        }
        if (i == 2)
            assert_non_null(strstr(g->evidence, "not known yet"));
        json_decref(r);
    }
}

static void test_explains_table(void **state)
{
    (void)state;
    assert_true(sup_diag_explains(300, 202));
    assert_true(sup_diag_explains(301, 202));
    assert_true(sup_diag_explains(110, 204));
    assert_true(sup_diag_explains(600, 204));
    assert_false(sup_diag_explains(600, 202));
    assert_true(sup_diag_explains(500, 206));
    assert_false(sup_diag_explains(500, 204));
    assert_false(sup_diag_explains(504, 502));
    assert_true(sup_diag_is_refusal_code(203));
    assert_false(sup_diag_is_refusal_code(301));
}

/* Issue 17 row 11: the controller's failure count restarts at 0 when the
 * lock is set; the evidence says what locked it, not "(0 failures)". */
static void test_lockout_evidence_after_lock(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_array_append_new(json_object_get(r, "lockouts"),
                          json_pack("{s:s,s:s,s:i,s:i,s:I}", "kind", "reader", "id", "r1", "fails",
                                    0, "locked_after", 3, "locked_until",
                                    (json_int_t)(NOW / 1000 + 600)));
    facts(&f, r);
    sup_diag_walk(&c, &f, &o);
    assert_non_null(get(&o, 500));
    assert_null(strstr(get(&o, 500)->evidence, "0 failures"));
    assert_non_null(strstr(get(&o, 500)->evidence, "reader r1 (locked after 3 failed attempts"));
    json_decref(r);
}

/* Issue 17 row 7: "expired" by a clock the controller does not trust names
 * the clock as the cause; by a good clock it is the ordinary finding. */
static void test_expired_by_bad_clock_names_clock(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    json_array_append_new(json_object_get(r, "conditions"), json_string("KSE-702"));
    facts(&f, r);
    sup_diag_walk(&c, &f, &o);
    assert_null(strstr(get(&o, 702)->evidence, "clock"));
    json_object_set_new(r, "expiry_cause", json_string("clock"));
    sup_diag_walk(&c, &f, &o);
    assert_non_null(strstr(get(&o, 702)->evidence, "the cause is the clock (KSE-600)"));
    json_decref(r);
}

/* Issue 17 rows 2 and 3: two agent instances alternating is KSE-730 for
 * ten intervals after the last alternation; an unreadable medium is 900. */
static void test_identity_cloned_and_medium(void **state)
{
    (void)state;
    sup_diag_cfg c = cfg();
    sup_diag_facts f;
    sup_findings o;
    json_t *r = healthy();
    facts(&f, r);
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 730));
    f.clone_first_ms = NOW - 4000;
    f.clone_ms = NOW - 2000;
    strcpy(f.clone_inst[0], "00000000000000aa");
    strcpy(f.clone_inst[1], "00000000000000bb");
    sup_diag_walk(&c, &f, &o);
    assert_non_null(get(&o, 730));
    assert_true(get(&o, 730)->root);
    assert_int_equal(get(&o, 730)->first_ms, NOW - 4000);
    assert_non_null(strstr(get(&o, 730)->evidence, "00000000000000bb"));
    f.clone_ms = NOW - 11000; /* the second agent stopped 11 intervals ago */
    sup_diag_walk(&c, &f, &o);
    assert_null(get(&o, 730));

    json_array_append_new(json_object_get(r, "conditions"), json_string("KSE-900"));
    json_object_set_new(json_object_get(r, "store"), "medium_sector", json_integer(112));
    sup_diag_walk(&c, &f, &o);
    assert_non_null(get(&o, 900));
    assert_non_null(strstr(get(&o, 900)->evidence, "sector 112"));
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy_has_no_findings),
        cmocka_unit_test(test_missed_heartbeats_comm_lost),
        cmocka_unit_test(test_silent_while_shedding_is_busy_not_lost),
        cmocka_unit_test(test_desync_makes_key_unknown_a_symptom),
        cmocka_unit_test(test_controller_ahead_is_not_auto_repaired),
        cmocka_unit_test(test_order_store_before_sync_before_clock),
        cmocka_unit_test(test_restored_supervisor_names_lost_revocations),
        cmocka_unit_test(test_lockout_absorbs_attack_refusals),
        cmocka_unit_test(test_profile_seal_pending_and_protocol),
        cmocka_unit_test(test_answer_not_authentic_and_refused_downloads),
        cmocka_unit_test(test_policy_refusals_are_evidence_below_threshold),
        cmocka_unit_test(test_explains_table),
        cmocka_unit_test(test_flash_wear_warns_before_failure),
        cmocka_unit_test(test_flash_retired_warns),
        cmocka_unit_test(test_lockout_evidence_after_lock),
        cmocka_unit_test(test_expired_by_bad_clock_names_clock),
        cmocka_unit_test(test_identity_cloned_and_medium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
