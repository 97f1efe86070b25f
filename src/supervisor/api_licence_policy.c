/*
 * api_licence_policy.c - licence enforcement, the rollout rule
 * (docs/licences.md "Enforcement"): which licence features the engine on a
 * controller checks at all, and the grace after a licence's expiry.
 *
 * A row per controller, and a fleet row (controller 0) that every
 * controller without its own row follows; no row at all means nothing is
 * enforced, which is where every fleet starts, so controllers that never
 * had a licence keep working until an operator turns a feature on for a
 * controller, then for the fleet. The controller fetches its effective
 * policy as a signed answer (/v1/device/licence-policy) and keeps it in
 * its store's settings, so it holds offline and across power cuts.
 *
 * Sequence (docs/security.md "Rollback"): the answer carries "seq", the
 * newest updated_at of the rows it was made from. A change sets updated_at
 * past now, past every row's and past every policy_seq a controller reported
 * in its health, so a number is never used for other content, even after
 * this database was restored from an older backup; a controller refuses a
 * lower seq (KSE-802).
 *
 *   GET /v1/licence-enforcement       the rows (auditor)
 *   PUT /v1/licence-enforcement       set one row (admin)
 *   GET /v1/device/licence-policy     a controller's effective policy
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "sup_api.h"
#include "sup_health.h"
#include "sup_licence.h"
#include "sup_schema.h"

const char sup_licence_policy_schema[] =
    "CREATE TABLE licence_enforcement(controller_id INTEGER PRIMARY KEY,"
    " features INTEGER NOT NULL, grace INTEGER NOT NULL, updated_at INTEGER NOT NULL);";

/* Only features bits 0..7 can be enforced: the controller keeps one byte
 * (settings version 3), and the engine's actions use bits 0..3. */
#define ENFORCE_BITS 0xFFu

typedef struct pol_row {
    int64_t ctrl, features, grace;
    int found;
} pol_row;

static int pol_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    pol_row *r = ctx;
    (void)names;
    if (ncol < 3)
        return 1;
    r->ctrl = c[0].i;
    r->features = c[1].i;
    r->grace = c[2].i;
    r->found = 1;
    return 1; /* the first row: the controller's own before the fleet's */
}

void sup_licence_policy_get(sup_ctx *s, int64_t ctrl_id, uint64_t *enforce, uint32_t *grace)
{
    pol_row r;
    sup_dbv p = sup_dbv_int(ctrl_id);
    memset(&r, 0, sizeof r);
    sup_db_exec(s->db, "SELECT controller_id, features, grace FROM licence_enforcement"
                       " WHERE controller_id = ?1 OR controller_id = 0"
                       " ORDER BY controller_id DESC", &p, 1, pol_cb, &r);
    *enforce = r.found ? (uint64_t)r.features & ENFORCE_BITS : 0;
    *grace = r.found ? (uint32_t)r.grace : 0;
}

typedef struct pol_in {
    uint64_t ctrl, features, grace, limit, offset;
} pol_in;

static void pol_list(sup_req *rq, sup_resp *rs)
{
    const pol_in *in = rq->in;
    sup_dbv p[2] = {sup_dbv_int((int64_t)in->limit), sup_dbv_int((int64_t)in->offset)};
    int64_t total = 0;
    json_t *rows, *r;
    size_t i;
    pthread_mutex_lock(&rq->s->lock);
    rows = sup_db_rows_json(rq->s->db, "SELECT controller_id, features, grace, updated_at FROM"
                                       " licence_enforcement ORDER BY controller_id"
                                       " LIMIT ?1 OFFSET ?2", p, 2, NULL);
    sup_db_int(rq->s->db, "SELECT COUNT(*) FROM licence_enforcement", NULL, 0, &total);
    pthread_mutex_unlock(&rq->s->lock);
    if (!rows) {
        api_error(rs, 500, "INTERNAL", "database");
        return;
    }
    json_array_foreach(rows, i, r) {
        json_int_t f = json_integer_value(json_object_get(r, "features"));
        json_object_set_new(r, "features", sup_licence_feature_names((uint64_t)f));
        json_object_set_new(r, "scope", json_string(json_integer_value(json_object_get(
                                                        r, "controller_id")) ? "controller"
                                                                             : "fleet"));
    }
    api_json(rs, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", rows, "total", (json_int_t)total,
                                "limit", (json_int_t)in->limit, "offset",
                                (json_int_t)in->offset));
}

/* The highest licence.policy_seq any controller reported in its health. */
static int seen_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    int64_t *max = ctx;
    json_t *h, *q;
    (void)names;
    if (ncol < 2 || c[0].type == KS_DBV_NULL || !c[0].p)
        return 0;
    /* the live members carry no licence, but every reader merges (sup_health.h) */
    h = sup_health_merge(c[0].p, c[0].n, c[1].type == KS_DBV_NULL ? NULL : c[1].p, c[1].n);
    q = json_object_get(json_object_get(h, "licence"), "policy_seq");
    if (json_is_integer(q) && json_integer_value(q) > *max)
        *max = json_integer_value(q);
    json_decref(h);
    return 0;
}

/* A controller's report is its own word: one whose device key was stolen
 * could name 2^63-1 and leave no number for later changes. A genuine
 * sequence is a time this supervisor (or the one restored over) set, so a
 * claim more than this far ahead of the clock is not followed. Not 7 days,
 * as it was: a supervisor whose clock ran ahead (a hand-set year, an RTC
 * reset wrong) sets genuine sequences that far ahead, and after the clock
 * is put right and a backup restored, no policy reached its controllers
 * until the clock caught up (attack_rtcjump_e2e). 100 years still bounds
 * what a report can do: the sequence never passes now + 100 years, and
 * 2^63 is 10^11 times that. */
#define SEQ_AHEAD_MAX ((int64_t)100 * 366 * 86400)

/* The next sequence: past the clock, every row, and every controller. */
static int64_t next_seq(sup_ctx *s)
{
    int64_t rows = 0, seen = 0, now = (int64_t)sup_now(), next;
    (void)sup_db_int(s->db, "SELECT COALESCE(MAX(updated_at), 0) FROM licence_enforcement", NULL,
                     0, &rows);
    (void)sup_db_exec(s->db, "SELECT last_health, last_health_live FROM controllers"
                      " WHERE last_health IS NOT NULL",
                      NULL, 0, seen_cb, &seen);
    next = now;
    if (rows >= next && rows < INT64_MAX)
        next = rows + 1;
    if (seen >= next && seen < now + SEQ_AHEAD_MAX)
        next = seen + 1;
    else if (seen >= now + SEQ_AHEAD_MAX)
        sup_log(KS_LOG_WARN, "licence.policy_seq_claim_refused", "seen=%lld now=%lld",
                (long long)seen, (long long)now);
    return next;
}

/* The change, in a write transaction: on PostgreSQL its begin takes the
 * writers' advisory lock (sup_db_pg.c), so two changes made at once through
 * two keysupd are numbered one after the other. Outside one, both read the
 * same highest sequence and wrote the same next one: two policies under one
 * number, and a controller holding the first refuses the second (KSE-802;
 * policy_seq_pg_e2e). */
static int pol_set_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    const pol_in *in = ctx;
    int64_t found = 0;
    int rc;
    if (in->ctrl) {
        sup_dbv q = sup_dbv_int((int64_t)in->ctrl);
        rc = sup_db_int(rq->s->db, "SELECT COUNT(*) FROM controllers WHERE id = ?", &q, 1, &found);
        if (rc != KS_DB_OK && rc != 1) /* 1: no row, which COUNT(*) never is */
            return rc;
        if (!found) {
            api_error(rs, 404, "NOT_FOUND", "no controller %llu", (unsigned long long)in->ctrl);
            return API_TX_ABORT;
        }
    }
    sup_dbv p[4] = {sup_dbv_int((int64_t)in->ctrl), sup_dbv_int((int64_t)in->features),
                    sup_dbv_int((int64_t)in->grace), sup_dbv_int(next_seq(rq->s))};
    return sup_db_exec(rq->s->db, "INSERT INTO licence_enforcement(controller_id, features,"
                                  " grace, updated_at) VALUES (?,?,?,?) ON CONFLICT"
                                  "(controller_id) DO UPDATE SET features = excluded.features,"
                                  " grace = excluded.grace, updated_at = excluded.updated_at",
                       p, 4, NULL, NULL);
}

static void pol_set(sup_req *rq, sup_resp *rs)
{
    const pol_in *in = rq->in;
    char target[48], detail[96];
    if (in->features & ~(uint64_t)ENFORCE_BITS) {
        api_error(rs, 400, "BAD_REQUEST", "field 'features': only bits 0..7 (base, firmware, "
                  "calibration, two_man, bit4..bit7) can be enforced");
        return;
    }
    if (api_tx(rq, rs, pol_set_tx, (void *)in) != 0)
        return;
    if (in->ctrl)
        snprintf(target, sizeof target, "controller:%llu", (unsigned long long)in->ctrl);
    else
        snprintf(target, sizeof target, "fleet");
    snprintf(detail, sizeof detail, "features=%llu grace=%llu",
             (unsigned long long)in->features, (unsigned long long)in->grace);
    sup_audit(rq->s, 0, rq->actor, "licence.enforce", target, "ok", NULL, detail);
    api_json(rs, 200, json_pack("{s:I,s:s,s:o,s:I}", "controller_id", (json_int_t)in->ctrl,
                                "scope", in->ctrl ? "controller" : "fleet", "features",
                                sup_licence_feature_names(in->features), "grace",
                                (json_int_t)in->grace));
}

static void dev_policy(sup_req *rq, sup_resp *rs)
{
    uint64_t enforce;
    uint32_t grace;
    int64_t seq = 0;
    sup_dbv p = sup_dbv_int(rq->ctrl_id);
    pthread_mutex_lock(&rq->s->lock);
    sup_licence_policy_get(rq->s, rq->ctrl_id, &enforce, &grace);
    (void)sup_db_int(rq->s->db, "SELECT COALESCE(MAX(updated_at), 0) FROM licence_enforcement"
                                " WHERE controller_id = ?1 OR controller_id = 0", &p, 1, &seq);
    pthread_mutex_unlock(&rq->s->lock);
    api_json(rs, 200, json_pack("{s:I,s:I,s:I}", "enforce", (json_int_t)enforce, "grace",
                                (json_int_t)grace, "seq", (json_int_t)seq));
}

static const char *feature_name(int bit) { return sup_licence_feature_name(bit); }

static const sup_field set_fields[] = {
    SUP_INT("controller_id", 0, 0, INT64_MAX, 0, pol_in, ctrl,
            "the controller this row is for; 0 or absent: the fleet default"),
    SUP_SET("features", SUP_REQUIRED, feature_name, sup_licence_feature_bit, 0, 7, pol_in,
            features, "features whose actions need a licence (base, firmware, calibration, "
            "two_man, bit4..bit7); empty: none"),
    SUP_INT("grace", 0, 0, 90 * 86400, 0, pol_in, grace,
            "seconds after a licence's expiry that it still counts (default 0)"),
    SUP_END,
};
static const sup_field list_fields[] = {
    SUP_Q_PAGE(pol_in, limit, offset),
    SUP_END,
};
static const sup_schema set_schema = {sizeof(pol_in), SUP_BODY_FIELDS, set_fields};
static const sup_schema list_schema = {sizeof(pol_in), SUP_BODY_NONE, list_fields};

const sup_api_route sup_routes_licence_policy[] = {
    {"GET", "/v1/licence-enforcement", KS_ROLE_AUDITOR, pol_list, &list_schema,
     "licence enforcement rows: per controller, and the fleet default (controller 0)"},
    {"PUT", "/v1/licence-enforcement", KS_ROLE_ADMIN, pol_set, &set_schema,
     "set which licence features a controller (or the fleet) enforces, and the grace"},
    {"GET", "/v1/device/licence-policy", KS_AUTH_DEVICE, dev_policy, &sup_no_input,
     "the controller's effective licence enforcement: {enforce (feature bits), grace (s), seq}"},
    {.method = NULL},
};
