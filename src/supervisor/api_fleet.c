/*
 * api_fleet.c - GET /v1/fleet: every controller at a glance, as the
 * console's fleet page shows it (docs/console.md, docs/api.md):
 *   state   ok        seen within diag_missed_heartbeats intervals, in step,
 *                     no open incident
 *           degraded  an open incident of severity info/warning, behind the
 *                     published version, or its reader locked out
 *           problem   an open incident of severity error/critical
 *           offline   never enrolled, never seen, or silent longer than
 *                     diag_missed_heartbeats intervals
 *   code    the worst open incident's KSE code ("KSE-301"), else null
 * Query: id, site, state, code filter (exact); no paging: one answer for the
 * whole fleet, so the page can diff it against what it shows.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_kse.h"
#include "sup_console.h"
#include "sup_soft.h"

typedef struct open_inc {
    int64_t ctrl, code, n;
} open_inc;

typedef struct inc_list {
    open_inc *v;
    size_t n, cap;
    int oom;
} inc_list;

static int inc_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    inc_list *l = ctx;
    (void)names;
    if (ncol < 3)
        return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        open_inc *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            l->oom = 1;
            return 1;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].ctrl = c[0].i;
    l->v[l->n].code = c[1].i;
    l->v[l->n].n = c[2].i;
    l->n++;
    return 0;
}

static int sev(int64_t code)
{
    const ks_kse *e = ks_kse_find((int)code);
    return e ? (int)e->severity : KS_SEV_ERROR;
}

/* The row with id ctrl in rows (ordered by id), or NULL. */
static json_t *find_row(json_t *rows, int64_t ctrl)
{
    size_t lo = 0, hi = json_array_size(rows);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        json_t *r = json_array_get(rows, mid);
        int64_t id = json_integer_value(json_object_get(r, "id"));
        if (id == ctrl)
            return r;
        if (id < ctrl)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* state/code/in_sync of one row; worst is the worst open incident's code
 * (0 when none) and n the number open. */
static void classify(sup_ctx *s, json_t *r, int64_t worst, int64_t n, uint64_t now,
                     uint32_t *scope_cache, uint64_t *ver_cache)
{
    uint64_t scope = (uint64_t)json_integer_value(json_object_get(r, "scope"));
    json_t *ls = json_object_get(r, "last_seen"), *av = json_object_get(r, "applied_version");
    uint64_t silent = (uint64_t)s->cfg.diag_missed * s->cfg.heartbeat_interval;
    uint64_t pv;
    const char *state = "ok";
    int in_sync, enrolled = json_integer_value(json_object_get(r, "enrolled")) != 0;
    char code[16];

    if (*scope_cache != scope || *ver_cache == UINT64_MAX) {
        *scope_cache = (uint32_t)scope;
        *ver_cache = sup_pub_version(s, (uint32_t)scope, NULL);
    }
    pv = *ver_cache;
    in_sync = json_is_integer(av) && (uint64_t)json_integer_value(av) == pv && pv > 0;
    if (!enrolled || !json_is_integer(ls) ||
        now > (uint64_t)json_integer_value(ls) + silent)
        state = "offline";
    else if (worst && sev(worst) >= KS_SEV_ERROR)
        state = "problem";
    else if (worst || !in_sync || json_integer_value(json_object_get(r, "lockout")))
        state = "degraded";
    json_object_set_new(r, "state", json_string(state));
    snprintf(code, sizeof code, "KSE-%03lld", (long long)worst);
    json_object_set_new(r, "code", worst ? json_string(code) : json_null());
    {
        const ks_kse *e = worst ? ks_kse_find((int)worst) : NULL;
        json_object_set_new(r, "symbol", e ? json_string(e->symbol) : json_null());
        json_object_set_new(r, "title", e ? json_string(e->title) : json_null());
    }
    json_object_set_new(r, "open_incidents", json_integer((json_int_t)n));
    json_object_set_new(r, "published_version", pv ? json_integer((json_int_t)pv) : json_null());
    json_object_set_new(r, "in_sync", json_boolean(in_sync));
    json_object_set_new(r, "enrolled", json_boolean(enrolled));
    json_object_set_new(r, "lockout", json_boolean(json_integer_value(json_object_get(r, "lockout"))));
}

/* The states a controller is in, as the query names them (1..4; 0 = no filter). */
static const char *state_name(int v)
{
    static const char *const names[] = {NULL, "ok", "degraded", "problem", "offline"};
    return v >= 0 && v <= 4 ? names[v] : NULL;
}

typedef struct fleet_in {
    uint64_t id;
    const char *site;
    int state;
    const ks_kse *code;
} fleet_in;

static int keep(json_t *r, const fleet_in *in)
{
    const char *v;
    if (in->id && json_integer_value(json_object_get(r, "id")) != (json_int_t)in->id)
        return 0;
    if (in->site &&
        (!(v = json_string_value(json_object_get(r, "site"))) || strcmp(v, in->site) != 0))
        return 0;
    if (in->state && strcmp(json_string_value(json_object_get(r, "state")),
                            state_name(in->state)) != 0)
        return 0;
    if (in->code) {
        v = json_string_value(json_object_get(r, "code"));
        if (!v || ks_kse_lookup(v) != in->code)
            return 0;
    }
    return 1;
}

static void fleet(sup_req *rq, sup_resp *rs)
{
    sup_ctx *s = rq->s;
    const fleet_in *in = rq->in;
    inc_list inc = {NULL, 0, 0, 0};
    json_t *rows, *out = NULL;
    uint64_t now = sup_now(), ver = UINT64_MAX;
    uint32_t scope = UINT32_MAX;
    int rc;

    /* The page shows what the controllers last reported: the pending batch
     * of heartbeat soft state is written first, as for `controller list`
     * (sup_soft.h); else a row may lag by one batch. */
    sup_soft_flush(s);
    pthread_mutex_lock(&s->lock);
    rows = sup_db_rows_json(s->db, "SELECT id, name, site, model, scope, firmware_version,"
                                   " protocol_version, last_seen, last_sync, applied_version,"
                                   " clock_offset, lockout, device_pk IS NOT NULL AS enrolled"
                                   " FROM controllers ORDER BY id", NULL, 0, &rc);
    /* Per controller, its worst open incident comes first (lowest code
     * among the highest severity is decided below in C). */
    if (rows)
        rc = sup_db_exec(s->db, "SELECT controller_id, code, COUNT(*) FROM incidents"
                                " WHERE state = 'open' GROUP BY controller_id, code"
                                " ORDER BY controller_id, code", NULL, 0, inc_cb, &inc);
    pthread_mutex_unlock(&s->lock);
    if (!rows || rc || inc.oom) {
        json_decref(rows);
        free(inc.v);
        api_db_error(rq, rs, rc ? rc : KS_DB_ERR);
        return;
    }
    {
        /* worst/n per controller, stored on the row until classified */
        size_t i = 0;
        while (i < inc.n) {
            int64_t ctrl = inc.v[i].ctrl, worst = 0, n = 0;
            for (; i < inc.n && inc.v[i].ctrl == ctrl; i++) {
                if (!worst || sev(inc.v[i].code) > sev(worst))
                    worst = inc.v[i].code;
                n += inc.v[i].n;
            }
            json_t *r = find_row(rows, ctrl);
            if (r) {
                json_object_set_new(r, "_worst", json_integer(worst));
                json_object_set_new(r, "_n", json_integer(n));
            }
        }
    }
    out = json_array();
    for (size_t i = 0; out && i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        classify(s, r, json_integer_value(json_object_get(r, "_worst")),
                 json_integer_value(json_object_get(r, "_n")), now, &scope, &ver);
        json_object_del(r, "_worst");
        json_object_del(r, "_n");
        if (keep(r, in))
            json_array_append(out, r);
    }
    free(inc.v);
    json_decref(rows);
    if (!out) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        return;
    }
    api_json(rs, 200, json_pack("{s:o,s:I,s:I,s:I,s:I,s:I}", "items", out, "total",
                                (json_int_t)json_array_size(out), "limit",
                                (json_int_t)json_array_size(out), "offset", (json_int_t)0,
                                "server_at", (json_int_t)now, "heartbeat_interval_ms",
                                (json_int_t)s->cfg.heartbeat_interval * 1000));
}

static const sup_field fleet_fields[] = {
    SUP_Q_INT("id", 1, INT64_MAX, 0, fleet_in, id, "only this controller"),
    SUP_Q_STR("site", fleet_in, site, "only the controllers of this site (exact)"),
    SUP_Q_ENUM("state", state_name, 1, 4, fleet_in, state, "only the controllers in this state"),
    SUP_Q_KSE("code", fleet_in, code, "only the controllers whose worst open incident has this code"),
    SUP_END,
};
static const sup_schema fleet_schema = {sizeof(fleet_in), SUP_BODY_NONE, fleet_fields};

const sup_api_route sup_routes_fleet[] = {
    {"GET", "/v1/fleet", KS_ROLE_AUDITOR, fleet, &fleet_schema,
     "every controller at a glance: state, worst open incident's KSE code"},
    {.method = NULL},
};
