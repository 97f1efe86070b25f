/*
 * api_util.c - response builders and input validation shared by every
 * endpoint. Every 400 names the field that was wrong.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_api.h"
#include "sup_guard.h"

void api_json(sup_resp *rs, int status, json_t *o)
{
    json_t *items = json_object_get(o, "items");
    /* One list shape for every endpoint (docs/api.md): a list that is not
     * paged is one page holding everything. */
    if (json_is_array(items) && !json_object_get(o, "total")) {
        json_int_t n = (json_int_t)json_array_size(items);
        json_object_set_new(o, "total", json_integer(n));
        json_object_set_new(o, "limit", json_integer(n));
        json_object_set_new(o, "offset", json_integer(0));
    }
    if (rs->json)
        json_decref(rs->json);
    rs->status = status;
    rs->json = o;
}

void api_error(sup_resp *rs, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    api_json(rs, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void api_db_error(sup_req *rq, sup_resp *rs, int rc)
{
    if (rc == KS_DB_CONSTRAINT) {
        api_error(rs, 409, "CONFLICT", "the change conflicts with an existing record");
        return;
    }
    sup_log(KS_LOG_ERROR, "db.error", "url=%s rc=%d", rq->url, rc);
    api_error(rs, rc == KS_DB_BUSY ? 503 : 500, "INTERNAL",
              "storage error; see the keysupd log");
}

json_t *api_body(sup_req *rq, sup_resp *rs)
{
    json_error_t e;
    json_t *o;
    if (!rq->body || rq->body_len == 0) {
        api_error(rs, 400, "BAD_REQUEST", "request body: a JSON object is required");
        return NULL;
    }
    o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        api_error(rs, 400, "BAD_REQUEST", "request body: invalid JSON at line %d column %d: %s",
                  e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        api_error(rs, 400, "BAD_REQUEST", "request body: must be a JSON object");
        return NULL;
    }
    return o;
}

const char *api_query(sup_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

int api_qu64(sup_req *rq, sup_resp *rs, const char *name, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *s = api_query(rq, name);
    char *end;
    unsigned long long v;
    if (!s)
        return 1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno || v < lo || v > hi) {
        api_error(rs, 400, "BAD_REQUEST", "query parameter '%s' must be an integer in [%llu, %llu]",
                  name, (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int api_arg_id(sup_req *rq, sup_resp *rs, int i, const char *what, int64_t *out)
{
    const char *s = rq->args[i];
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v <= 0) {
        api_error(rs, 404, "NOT_FOUND", "no %s '%s'", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

json_t *api_privs_json(uint64_t bits)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < 64; i++) {
        uint64_t b = 1ull << i;
        const char *n;
        char tmp[16];
        if (!(bits & b))
            continue;
        n = ks_priv_name(b);
        if (!n) {
            snprintf(tmp, sizeof tmp, "BIT%u", i);
            n = tmp;
        }
        json_array_append_new(a, json_string(n));
    }
    return a;
}

void api_fix_key_row(json_t *row)
{
    json_t *v = json_object_get(row, "privileges");
    if (json_is_integer(v))
        json_object_set_new(row, "privileges", api_privs_json((uint64_t)json_integer_value(v)));
    v = json_object_get(row, "state");
    if (json_is_integer(v))
        json_object_set_new(row, "state", json_string(ks_state_name((uint8_t)json_integer_value(v))));
    v = json_object_get(row, "form_factor");
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 256 &&
        ks_form_name((uint8_t)json_integer_value(v)))
        json_object_set_new(row, "form_factor",
                            json_string(ks_form_name((uint8_t)json_integer_value(v))));
}

int api_tx(sup_req *rq, sup_resp *rs, api_tx_fn fn, void *ctx)
{
    sup_ctx *s = rq->s;
    int rc;
    pthread_mutex_lock(&s->lock);
    rc = sup_db_begin(s->db);
    if (rc) {
        pthread_mutex_unlock(&s->lock);
        api_db_error(rq, rs, rc);
        return -1;
    }
    rc = fn(rq, rs, ctx);
    if (rc == KS_DB_OK)
        rc = sup_db_commit(s->db);
    if (rc != KS_DB_OK)
        sup_db_rollback(s->db);
    pthread_mutex_unlock(&s->lock);
    if (rc == API_TX_ABORT)
        return -1;
    if (rc) {
        api_db_error(rq, rs, rc);
        return -1;
    }
    return 0;
}

void api_rows(sup_req *rq, sup_resp *rs, const char *sql, const sup_dbv *p, int n)
{
    int rc = 0;
    json_t *items;
    pthread_mutex_lock(&rq->s->lock);
    items = sup_db_rows_json(rq->s->db, sql, p, n, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items)
        api_db_error(rq, rs, rc);
    else
        api_json(rs, 200, json_pack("{s:o}", "items", items));
}

json_t *api_row(sup_ctx *s, const char *sql, const sup_dbv *p, int n)
{
    json_t *a = sup_db_rows_json(s->db, sql, p, n, NULL), *r = NULL;
    if (a && json_array_size(a) > 0)
        r = json_incref(json_array_get(a, 0));
    json_decref(a);
    return r;
}

/* A refused request, counted per client by the guard (sup_guard.c). Here,
 * beside the other response helpers, and not in the dispatcher: the
 * console's session checks (sup_session.c) refuse too, and the dispatcher
 * calls them. */
void api_refusal(sup_req *rq, int locked, const char *action, const char *target,
                 const char *code, const char *detail)
{
    static const sup_client none = {{0}, 1, "unknown"};
    if (!rq->s->guard) { /* no HTTP guard (unit tests): one row each, as before */
        sup_audit(rq->s, locked, "anonymous", action, target, "denied", code, detail);
        return;
    }
    sup_guard_refusal(rq->s->guard, locked, rq->client ? rq->client : &none, action, target,
                     code, detail);
}
