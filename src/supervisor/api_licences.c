/*
 * api_licences.c - /v1/licences: issue, list, show, revoke, reactivate
 * feature licences (docs/licences.md), and /v1/device/licence, where a
 * controller fetches its active licence's signed bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_api.h"
#include "sup_licence.h"

#define LIC_COLS "id, name, controller_id, features, issued_at, valid_until, warn_days," \
                 " CASE WHEN state = 'active' AND valid_until > 0 AND valid_until <= ?1" \
                 " THEN 'expired' ELSE state END AS state, replaces, replaced_by," \
                 " warn_incident, licence"

/* Feature bits as names, the signed bytes as hex (already, from the row). */
static void fix_row(json_t *r)
{
    json_t *f = json_object_get(r, "features");
    if (json_is_integer(f))
        json_object_set_new(r, "features", sup_licence_feature_names(
                                               (uint64_t)json_integer_value(f)));
}

/* Licence id's row as stored (features as bits), NULL when there is none. */
static json_t *lic_row(sup_ctx *s, int64_t id)
{
    sup_dbv p[2] = {sup_dbv_int((int64_t)sup_now()), sup_dbv_int(id)};
    json_t *r;
    pthread_mutex_lock(&s->lock);
    r = api_row(s, "SELECT " LIC_COLS " FROM licences WHERE id = ?2", p, 2);
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* ... as the API shows it. */
static json_t *lic_json(sup_ctx *s, int64_t id)
{
    json_t *r = lic_row(s, id);
    if (r)
        fix_row(r);
    return r;
}

static void issue_answer(sup_req *rq, sup_resp *rs, int rc, int64_t id, const char *err,
                         const char *action)
{
    char target[32];
    snprintf(target, sizeof target, "licence:%lld", (long long)id);
    if (rc) {
        sup_audit(rq->s, 0, rq->actor, action, "licence", "failed", NULL, err);
        api_error(rs, rc == KS_E_NOTFOUND ? 404 : rc == KS_E_INVAL ? 409 : 500,
                  rc == KS_E_NOTFOUND ? "NOT_FOUND" : rc == KS_E_INVAL ? "CONFLICT" : "INTERNAL",
                  "%s", err);
        return;
    }
    sup_audit(rq->s, 0, rq->actor, action, target, "ok", NULL, NULL);
    api_json(rs, 201, lic_json(rq->s, id));
}

typedef struct lic_in {
    int64_t id;
    uint64_t ctrl, until, warn, features, limit, offset;
    const char *name;
} lic_in;

/* valid_until, when given, is ahead: a licence born expired helps nobody. */
static int future(const lic_in *in, sup_resp *rs)
{
    if (in->until && in->until <= sup_now()) {
        api_error(rs, 400, "BAD_REQUEST", "field 'valid_until' is in the past");
        return -1;
    }
    return 0;
}

static void lic_issue(sup_req *rq, sup_resp *rs)
{
    const lic_in *in = rq->in;
    int64_t id = 0;
    char err[256];
    int rc;
    if (future(in, rs))
        return;
    rc = sup_licence_issue(rq->s, (int64_t)in->ctrl, in->name ? in->name : "licence",
                           in->features, in->until, (uint32_t)in->warn, 0, &id, err, sizeof err);
    issue_answer(rq, rs, rc, id, err, "licence.issue");
}

static void lic_list(sup_req *rq, sup_resp *rs)
{
    const lic_in *in = rq->in;
    int64_t total = 0;
    sup_dbv p[4];
    json_t *rows, *r;
    size_t i;
    /* The one list shape (docs/api.md): items, total, limit, offset. */
    p[0] = sup_dbv_int((int64_t)sup_now());
    p[1] = sup_dbv_int((int64_t)in->ctrl);
    p[2] = sup_dbv_int((int64_t)in->limit);
    p[3] = sup_dbv_int((int64_t)in->offset);
    pthread_mutex_lock(&rq->s->lock);
    rows = sup_db_rows_json(rq->s->db, "SELECT " LIC_COLS " FROM licences WHERE ?2 = 0 OR"
                                       " controller_id = ?2 ORDER BY id LIMIT ?3 OFFSET ?4",
                            p, 4, NULL);
    sup_db_int(rq->s->db, "SELECT COUNT(*) FROM licences WHERE ?1 = 0 OR controller_id = ?1",
               p + 1, 1, &total);
    pthread_mutex_unlock(&rq->s->lock);
    if (!rows) {
        api_error(rs, 500, "INTERNAL", "database");
        return;
    }
    json_array_foreach(rows, i, r) fix_row(r);
    api_json(rs, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", rows, "total", (json_int_t)total,
                                "limit", (json_int_t)in->limit, "offset",
                                (json_int_t)in->offset));
}

static void lic_show(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const lic_in *)rq->in)->id;
    json_t *r;
    r = lic_json(rq->s, id);
    if (!r) {
        api_error(rs, 404, "NOT_FOUND", "no licence %lld", (long long)id);
        return;
    }
    api_json(rs, 200, r);
}

/* Licence id, when it is active or expired (the states revoke and
 * reactivate act on): 0 with its controller and feature bits, else -1 with
 * a 404 or 409 in rs (409 naming its state, and then what to do: hint). */
static int lic_live(sup_req *rq, sup_resp *rs, int64_t id, int64_t *ctrl, int64_t *features,
                    const char *hint)
{
    json_t *r = lic_row(rq->s, id);
    const char *st = json_string_value(json_object_get(r, "state"));
    int rc = -1;
    if (!r)
        api_error(rs, 404, "NOT_FOUND", "no licence %lld", (long long)id);
    else if (!st || (strcmp(st, "active") != 0 && strcmp(st, "expired") != 0))
        api_error(rs, 409, "CONFLICT", "licence %lld is %s%s", (long long)id, st ? st : "?", hint);
    else
        rc = 0;
    if (rc == 0) {
        *ctrl = json_integer_value(json_object_get(r, "controller_id"));
        *features = json_integer_value(json_object_get(r, "features"));
    }
    json_decref(r);
    return rc;
}

static void lic_revoke(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const lic_in *)rq->in)->id, ctrl = 0, feat = 0;
    sup_dbv p = sup_dbv_int(id);
    int rc;
    if (lic_live(rq, rs, id, &ctrl, &feat, ""))
        return;
    pthread_mutex_lock(&rq->s->lock);
    sup_licence_resolve_warning(rq->s, id, "the licence was revoked");
    rc = sup_db_exec(rq->s->db, "UPDATE licences SET state = 'revoked' WHERE id = ?", &p, 1, NULL,
                     NULL);
    pthread_mutex_unlock(&rq->s->lock);
    if (rc != KS_DB_OK) {
        api_db_error(rq, rs, rc);
        return;
    }
    {
        char target[32];
        snprintf(target, sizeof target, "licence:%lld", (long long)id);
        sup_audit(rq->s, 0, rq->actor, "licence.revoke", target, "ok", NULL, NULL);
    }
    api_json(rs, 200, lic_json(rq->s, id));
}

/* A new licence replaces one that expired, is expiring or was lost with
 * its dongle: same controller and features unless the body says otherwise. */
static void lic_reactivate(sup_req *rq, sup_resp *rs)
{
    const lic_in *in = rq->in;
    int64_t ctrl = 0, feat = 0, nid = 0;
    char err[256], nm[120];
    int rc;
    if (lic_live(rq, rs, in->id, &ctrl, &feat, ": reactivate the licence that replaced it, or"
                 " issue a new one") ||
        future(in, rs))
        return;
    snprintf(nm, sizeof nm, "%s", in->name ? in->name : "reactivated");
    rc = sup_licence_issue(rq->s, ctrl, nm,
                           api_has(rq, "features") ? in->features : (uint64_t)feat, in->until,
                           (uint32_t)in->warn, in->id, &nid, err, sizeof err);
    issue_answer(rq, rs, rc, nid, err, "licence.reactivate");
}

/* The controller's active licence, as the 128 signed bytes (docs/formats.md). */
static int blob_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    sup_resp *rs = ctx;
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_BLOB || c[0].n != KS_LICENCE_SIZE)
        return 1;
    rs->bin = malloc(KS_LICENCE_SIZE);
    if (rs->bin) {
        memcpy(rs->bin, c[0].p, KS_LICENCE_SIZE);
        rs->bin_len = KS_LICENCE_SIZE;
    }
    return 1;
}

static void dev_licence(sup_req *rq, sup_resp *rs)
{
    sup_dbv p = sup_dbv_int(rq->ctrl_id);
    pthread_mutex_lock(&rq->s->lock);
    sup_db_exec(rq->s->db, "SELECT licence FROM licences WHERE controller_id = ? AND"
                           " state = 'active' ORDER BY id DESC LIMIT 1", &p, 1, blob_cb, rs);
    pthread_mutex_unlock(&rq->s->lock);
    if (!rs->bin) {
        api_error(rs, 404, "NOT_FOUND", "no active licence for this controller");
        return;
    }
    rs->status = 200;
}

static const char *feature_name(int bit) { return sup_licence_feature_name(bit); }

#define LIC_UNTIL                                                                      \
    SUP_INT("valid_until", 0, 0, INT64_MAX, 0, lic_in, until,                          \
            "expiry, Unix seconds, in the future; 0 or absent: never")
#define LIC_WARN                                                                       \
    SUP_INT("warn_days", 0, 0, 3650, 30, lic_in, warn,                                 \
            "days before expiry the supervisor opens KSE-801 LICENCE_EXPIRING")
#define LIC_FEATURES(F)                                                                \
    SUP_SET("features", F, feature_name, sup_licence_feature_bit, 0, 63, lic_in, features, \
            "feature names (base, firmware, calibration, two_man, bitN) or bit numbers")

static const sup_field issue_fields[] = {
    SUP_INT("controller_id", SUP_REQUIRED, 1, INT64_MAX, 0, lic_in, ctrl,
            "the controller the licence is bound to"),
    SUP_STR("name", 0, 100, lic_in, name, "what the licence is for (default 'licence')"),
    LIC_UNTIL,
    LIC_WARN,
    LIC_FEATURES(SUP_REQUIRED),
    SUP_END,
};
static const sup_field list_fields[] = {
    SUP_Q_INT("controller", 0, INT64_MAX, 0, lic_in, ctrl, "only this controller's (0: all)"),
    SUP_Q_PAGE(lic_in, limit, offset),
    SUP_END,
};
static const sup_field id_fields[] = {
    SUP_P_ID("licence", lic_in, id),
    SUP_END,
};
/* Every body field optional: same controller and features unless given. */
static const sup_field reactivate_fields[] = {
    SUP_P_ID("licence", lic_in, id),
    LIC_UNTIL,
    LIC_WARN,
    SUP_STR("name", 0, 100, lic_in, name, "the new licence's name (default 'reactivated')"),
    LIC_FEATURES(0),
    SUP_END,
};
static const sup_schema issue_schema = {sizeof(lic_in), SUP_BODY_FIELDS, issue_fields};
static const sup_schema list_schema = {sizeof(lic_in), SUP_BODY_NONE, list_fields};
static const sup_schema id_schema = {sizeof(lic_in), SUP_BODY_NONE, id_fields};
static const sup_schema reactivate_schema = {sizeof(lic_in), SUP_BODY_OPTIONAL,
                                             reactivate_fields};

const sup_api_route sup_routes_licences[] = {
    {"POST", "/v1/licences", KS_ROLE_ADMIN, lic_issue, &issue_schema,
     "issue a feature licence for a controller"},
    {"GET", "/v1/licences", KS_ROLE_AUDITOR, lic_list, &list_schema,
     "list licences (expired ones shown as such)"},
    {"GET", "/v1/licences/*", KS_ROLE_AUDITOR, lic_show, &id_schema, "one licence"},
    {"POST", "/v1/licences/*/revoke", KS_ROLE_ADMIN, lic_revoke, &id_schema,
     "revoke an active or expired licence"},
    {"POST", "/v1/licences/*/reactivate", KS_ROLE_ADMIN, lic_reactivate, &reactivate_schema,
     "issue a licence that replaces an active or expired one (body optional)"},
    {"GET", "/v1/device/licence", KS_AUTH_DEVICE, dev_licence, &sup_no_input,
     "the controller's active licence, 128 signed bytes (application/octet-stream)"},
    {.method = NULL},
};
