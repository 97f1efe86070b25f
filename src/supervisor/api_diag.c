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

static void diagnosis(sup_req *rq, sup_resp *rs)
{
    int64_t id;
    int status = 500;
    json_t *o;
    if (api_arg_id(rq, rs, 0, "controller", &id))
        return;
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

static void inc_list(sup_req *rq, sup_resp *rs)
{
    uint64_t ctrl = 0, limit = 100, open = 0;
    const char *code = api_query(rq, "code");
    const ks_kse *k = NULL;
    char sql[512];
    sup_dbv p[3];
    int n = 0, rc;
    json_t *items, *r;
    size_t i;

    if (api_qu64(rq, rs, "controller", 1, INT64_MAX, &ctrl) < 0 ||
        api_qu64(rq, rs, "limit", 1, 1000, &limit) < 0 ||
        api_qu64(rq, rs, "open", 0, 1, &open) < 0)
        return;
    if (code && !(k = ks_kse_lookup(code))) {
        api_error(rs, 400, "BAD_REQUEST", "query 'code': '%s' is not a KSE code (see keysup error"
                  " list)", code);
        return;
    }
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

static void inc_show(sup_req *rq, sup_resp *rs)
{
    int64_t id;
    json_t *o;
    if (api_arg_id(rq, rs, 0, "incident", &id))
        return;
    pthread_mutex_lock(&rq->s->lock);
    o = sup_incident_json(rq->s, id);
    pthread_mutex_unlock(&rq->s->lock);
    if (!o)
        api_error(rs, 404, "NOT_FOUND", "no incident %lld", (long long)id);
    else
        api_json(rs, 200, o);
}

static void inc_resolve(sup_req *rq, sup_resp *rs)
{
    int64_t id;
    const char *note = NULL;
    json_t *b, *o = NULL;
    int rc;
    if (api_arg_id(rq, rs, 0, "incident", &id))
        return;
    b = api_body(rq, rs);
    if (!b)
        return;
    if (api_str(rs, b, "note", 0, 500, &note) < 0)
        goto cleanup;
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
cleanup:
    json_decref(b);
}

const sup_route sup_routes_diag[] = {
    {"GET", "/v1/controllers/*/diagnosis", KS_ROLE_AUDITOR, diagnosis},
    {"GET", "/v1/incidents", KS_ROLE_AUDITOR, inc_list},
    {"GET", "/v1/incidents/stats", KS_ROLE_AUDITOR, inc_stats},
    {"GET", "/v1/incidents/*", KS_ROLE_AUDITOR, inc_show},
    {"POST", "/v1/incidents/*/resolve", KS_ROLE_OPERATOR, inc_resolve},
    {NULL, NULL, 0, NULL},
};
