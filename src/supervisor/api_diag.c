/*
 * api_diag.c - diagnosis and incidents over HTTP (docs/diagnosis.md):
 *
 *   GET  /v1/controllers/{id}/diagnosis   run the checks now, every area in order
 *   GET  /v1/incidents?open=1&controller=ID&code=KSE-301&limit=N
 *   GET  /v1/incidents/stats              MTTD/MTTR per KSE code
 *   GET  /v1/incidents/{id}               one incident with every action
 *   POST /v1/incidents/{id}/resolve       {"note": "..."}: closed by an operator
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_api.h"
#include "sup_diag.h"

/* The input of the diagnosis and incident routes. */
typedef struct diag_in {
    int64_t id;
    uint64_t controller, limit, open;
    const ks_kse *code;
    const char *note;
} diag_in;

static const sup_field ctrl_fields[] = {SUP_P_ID("controller", diag_in, id), SUP_END};
static const sup_schema ctrl_schema = {sizeof(diag_in), SUP_BODY_NONE, ctrl_fields};

static void diagnosis(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const diag_in *)rq->in)->id;
    int status = 500;
    json_t *o;
    o = sup_diag_report(rq->s, id, &status);
    if (!o) {
        if (status == 404)
            api_error(rs, 404, "NOT_FOUND", "no controller %lld", (long long)id);
        else
            api_error(rs, 500, "INTERNAL", "diagnosis failed");
        return;
    }
    api_json(rs, 200, o);
}

static const sup_field inc_q_fields[] = {
    SUP_Q_INT("controller", 1, INT64_MAX, 0, diag_in, controller, "only this controller's"),
    SUP_Q_INT("limit", 1, 1000, 100, diag_in, limit, "page size"),
    SUP_Q_INT("open", 0, 1, 0, diag_in, open, "1: only open incidents"),
    SUP_Q_KSE("code", diag_in, code, "only incidents of this KSE code"),
    SUP_END,
};
static const sup_schema inc_q_schema = {sizeof(diag_in), SUP_BODY_NONE, inc_q_fields};

static void inc_list(sup_req *rq, sup_resp *rs)
{
    const diag_in *q = rq->in;
    uint64_t ctrl = q->controller, limit = q->limit, open = q->open;
    const ks_kse *k = q->code;
    char sql[512];
    sup_dbv p[3];
    int n = 0, rc;
    json_t *items, *r;
    size_t i;

    snprintf(sql, sizeof sql, "SELECT " KS_INCIDENT_COLS " FROM incidents WHERE 1 = 1%s%s%s"
             " ORDER BY id DESC LIMIT ?", open ? " AND state = 'open'" : "",
             ctrl ? " AND controller_id = ?" : "", k ? " AND code = ?" : "");
    if (ctrl)
        p[n++] = sup_dbv_int((int64_t)ctrl);
    if (k)
        p[n++] = sup_dbv_int(k->code);
    p[n++] = sup_dbv_int((int64_t)limit);
    pthread_mutex_lock(&rq->s->lock);
    items = sup_db_rows_json(rq->s->db, sql, p, n, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items || rc) {
        json_decref(items);
        api_db_error(rq, rs, rc);
        return;
    }
    json_array_foreach(items, i, r) sup_incident_decorate(r, json_integer_value(json_object_get(r, "controller_id")));
    api_json(rs, 200, json_pack("{s:o}", "items", items));
}

static void inc_stats(sup_req *rq, sup_resp *rs)
{
    json_t *items;
    const sup_diag_cfg *cfg = sup_diag_config(rq->s);
    pthread_mutex_lock(&rq->s->lock);
    items = sup_incident_stats(rq->s);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_error(rs, 500, "INTERNAL", "cannot aggregate incidents");
        return;
    }
    api_json(rs, 200, json_pack("{s:o,s:s,s:s,s:I}", "items", items, "mttd",
                                "detected - first evidence (ms)", "mttr",
                                "resolved - detected (ms)", "heartbeat_interval_ms",
                                (json_int_t)(cfg ? cfg->interval_ms : 0)));
}

static const sup_field inc_fields[] = {SUP_P_ID("incident", diag_in, id), SUP_END};
static const sup_schema inc_schema = {sizeof(diag_in), SUP_BODY_NONE, inc_fields};

static void inc_show(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const diag_in *)rq->in)->id;
    json_t *o;
    pthread_mutex_lock(&rq->s->lock);
    o = sup_incident_json(rq->s, id);
    pthread_mutex_unlock(&rq->s->lock);
    if (!o)
        api_error(rs, 404, "NOT_FOUND", "no incident %lld", (long long)id);
    else
        api_json(rs, 200, o);
}

static const sup_field resolve_fields[] = {
    SUP_P_ID("incident", diag_in, id),
    SUP_STR("note", 0, 500, diag_in, note, "why it is closed"),
    SUP_END,
};
static const sup_schema resolve_schema = {sizeof(diag_in), SUP_BODY_FIELDS, resolve_fields};

static void inc_resolve(sup_req *rq, sup_resp *rs)
{
    const diag_in *in = rq->in;
    int64_t id = in->id;
    const char *note = in->note;
    json_t *o = NULL;
    int rc;
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_incident_resolve_manual(rq->s, id, rq->actor, note);
    if (rc == 0)
        o = sup_incident_json(rq->s, id);
    pthread_mutex_unlock(&rq->s->lock);
    if (rc == 1)
        api_error(rs, 404, "NOT_FOUND", "no open incident %lld", (long long)id);
    else if (!o)
        api_error(rs, 500, "INTERNAL", "cannot resolve incident %lld", (long long)id);
    else
        api_json(rs, 200, o);
}

const sup_api_route sup_routes_diag[] = {
    {"GET", "/v1/controllers/*/diagnosis", KS_ROLE_AUDITOR, diagnosis, &ctrl_schema,
     "run the checks now, every area in order"},
    {"GET", "/v1/incidents", KS_ROLE_AUDITOR, inc_list, &inc_q_schema, "incidents, newest first"},
    {"GET", "/v1/incidents/stats", KS_ROLE_AUDITOR, inc_stats, &sup_no_input,
     "MTTD/MTTR per KSE code"},
    {"GET", "/v1/incidents/*", KS_ROLE_AUDITOR, inc_show, &inc_schema,
     "one incident with every action"},
    {"POST", "/v1/incidents/*/resolve", KS_ROLE_OPERATOR, inc_resolve, &resolve_schema,
     "close an incident by hand"},
    {.method = NULL},
};
