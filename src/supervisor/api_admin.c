/*
 * api_admin.c - privileged-action policies, operator tokens, the audit
 * log, and the supervisor key (show, rotate).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "sup_api.h"
#include "sup_signer.h"

/* ----- policies ----- */

#define POL_COLS "name, title, required_privileges, two_supervisors, session_timeout," \
                 " seal_blocked, updated_at"

static void fix_policy(json_t *o)
{
    json_t *v = json_object_get(o, "required_privileges");
    json_object_set_new(o, "required_privileges",
                        api_privs_json((uint64_t)json_integer_value(v)));
    json_object_set_new(o, "two_supervisors",
                        json_boolean(json_integer_value(json_object_get(o, "two_supervisors"))));
    json_object_set_new(o, "seal_blocked",
                        json_boolean(json_integer_value(json_object_get(o, "seal_blocked"))));
}

static void pol_list(sup_req *rq, sup_resp *rs)
{
    json_t *items, *o;
    size_t i;
    int rc;
    pthread_mutex_lock(&rq->s->lock);
    items = sup_db_rows_json(rq->s->db, "SELECT " POL_COLS " FROM policies ORDER BY name", NULL, 0,
                            &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc);
        return;
    }
    json_array_foreach(items, i, o) fix_policy(o);
    api_json(rs, 200, json_pack("{s:o}", "items", items));
}

static void pol_show(sup_req *rq, sup_resp *rs)
{
    sup_dbv p = sup_dbv_text(rq->args[0]);
    json_t *r;
    pthread_mutex_lock(&rq->s->lock);
    r = api_row(rq->s, "SELECT " POL_COLS " FROM policies WHERE name = ?", &p, 1);
    pthread_mutex_unlock(&rq->s->lock);
    if (!r) {
        api_error(rs, 404, "NOT_FOUND", "no policy '%s'", rq->args[0]);
        return;
    }
    fix_policy(r);
    api_json(rs, 200, r);
}

typedef struct pol_put {
    const char *title;
    uint64_t privs, timeout;
    int two, seal;
    json_t *out;
    int created;
} pol_put;

static int pol_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    pol_put *p = ctx;
    sup_ctx *s = rq->s;
    sup_dbv name = sup_dbv_text(rq->args[0]);
    int64_t one;
    int rc;
    sup_dbv v[7] = {sup_dbv_text(p->title ? p->title : rq->args[0]), sup_dbv_int((int64_t)p->privs),
                   sup_dbv_int(p->two), sup_dbv_int((int64_t)p->timeout), sup_dbv_int(p->seal),
                   sup_dbv_int((int64_t)sup_now()), name};
    (void)rs;
    p->created = sup_db_int(s->db, "SELECT 1 FROM policies WHERE name = ?", &name, 1, &one) != KS_DB_OK;
    if (p->created)
        rc = sup_db_exec(s->db, "INSERT INTO policies(title, required_privileges, two_supervisors,"
                               " session_timeout, seal_blocked, updated_at, name)"
                               " VALUES (?,?,?,?,?,?,?)", v, 7, NULL, NULL);
    else
        rc = sup_db_exec(s->db, "UPDATE policies SET title = ?, required_privileges = ?,"
                               " two_supervisors = ?, session_timeout = ?, seal_blocked = ?,"
                               " updated_at = ? WHERE name = ?", v, 7, NULL, NULL);
    /* Policies travel with the credential database: publish every scope. */
    if (!rc)
        rc = sup_pub_mark(s, KS_SCOPE_ALL);
    if (rc)
        return rc;
    sup_audit(s, 1, rq->actor, "policy.set", rq->args[0], "ok", NULL, NULL);
    p->out = api_row(s, "SELECT " POL_COLS " FROM policies WHERE name = ?", &name, 1);
    return KS_DB_OK;
}

static void pol_set(sup_req *rq, sup_resp *rs)
{
    json_t *b;
    pol_put p;
    const char *n = rq->args[0];
    memset(&p, 0, sizeof p);
    if (strlen(n) > 64 || strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(n)) {
        api_error(rs, 400, "BAD_REQUEST", "path: policy name must be at most 64 of [a-z0-9_-]");
        return;
    }
    b = api_body(rq, rs);
    if (!b)
        return;
    p.timeout = 300;
    if (api_str(rs, b, "title", 0, 200, &p.title) < 0 ||
        api_privs(rs, b, "required_privileges", 1, &p.privs) < 0 ||
        api_bool(rs, b, "two_supervisors", 0, &p.two) < 0 ||
        api_bool(rs, b, "seal_blocked", 0, &p.seal) < 0 ||
        api_u64(rs, b, "session_timeout", 0, 1, 86400, &p.timeout) < 0)
        goto cleanup;
    if (api_tx(rq, rs, pol_tx, &p) == 0) {
        sup_pub_kick(rq->s);
        if (p.out)
            fix_policy(p.out);
        api_json(rs, p.created ? 201 : 200, p.out ? p.out : json_object());
        p.out = NULL;
    }
cleanup:
    json_decref(p.out);
    json_decref(b);
}

/* ----- tokens ----- */

typedef struct tok_new {
    const char *name;
    int role;
    char text[80];
    int64_t id;
} tok_new;

static int tok_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    tok_new *t = ctx;
    uint8_t h[KS_HASH_SIZE];
    sup_dbv p[4];
    char target[40];
    int rc;
    (void)rs;
    sup_token_new(&rq->s->crypto, t->text, h);
    p[0] = sup_dbv_text(t->name);
    p[1] = sup_dbv_text(sup_role_name(t->role));
    p[2] = sup_dbv_blob(h, sizeof h);
    p[3] = sup_dbv_int((int64_t)sup_now());
    rc = sup_db_exec(rq->s->db, "INSERT INTO tokens(name, role, hash, created_at) VALUES (?,?,?,?)",
                    p, 4, NULL, NULL);
    if (rc)
        return rc;
    t->id = sup_db_last_id(rq->s->db);
    snprintf(target, sizeof target, "token:%lld", (long long)t->id);
    sup_audit(rq->s, 1, rq->actor, "token.create", target, "ok", NULL, sup_role_name(t->role));
    return KS_DB_OK;
}

static void tok_create(sup_req *rq, sup_resp *rs)
{
    json_t *b = api_body(rq, rs);
    tok_new t;
    const char *role = NULL;
    if (!b)
        return;
    memset(&t, 0, sizeof t);
    if (api_str(rs, b, "name", 1, 64, &t.name) < 0 || api_str(rs, b, "role", 1, 16, &role) < 0)
        goto cleanup;
    t.role = sup_role_from_name(role);
    if (t.role == KS_ROLE_NONE) {
        api_error(rs, 400, "BAD_REQUEST", "field 'role' must be admin, operator or auditor");
        goto cleanup;
    }
    if (api_tx(rq, rs, tok_tx, &t) == 0)
        api_json(rs, 201, json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)t.id, "name", t.name,
                                    "role", sup_role_name(t.role), "token", t.text));
cleanup:
    sodium_memzero(t.text, sizeof t.text);
    json_decref(b);
}

static void tok_list(sup_req *rq, sup_resp *rs)
{
    api_rows(rq, rs, "SELECT id, name, role, created_at, revoked FROM tokens ORDER BY id", NULL,
             0);
}

static int tok_del_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    int64_t *id = ctx;
    sup_dbv p = sup_dbv_int(*id);
    char target[40];
    int64_t admins = 0, is_admin = 0;
    int rc;
    /* The last live admin token cannot go: nobody could mint a new one
     * (inside the transaction, so two concurrent revocations cannot both
     * pass this check). */
    if (sup_db_int(rq->s->db, "SELECT role = 'admin' FROM tokens WHERE id = ? AND revoked = 0",
                  &p, 1, &is_admin) == KS_DB_OK && is_admin &&
        sup_db_int(rq->s->db, "SELECT COUNT(*) FROM tokens WHERE role = 'admin' AND revoked = 0",
                  NULL, 0, &admins) == KS_DB_OK && admins <= 1) {
        api_error(rs, 409, "CONFLICT", "token %lld is the last admin token; create another admin"
                  " token first (POST /v1/tokens), then revoke this one", (long long)*id);
        return API_TX_ABORT;
    }
    rc = sup_db_exec(rq->s->db, "UPDATE tokens SET revoked = 1 WHERE id = ?", &p, 1, NULL, NULL);
    if (rc)
        return rc;
    if (sup_db_changes(rq->s->db) == 0) {
        api_error(rs, 404, "NOT_FOUND", "no token %lld", (long long)*id);
        return API_TX_ABORT;
    }
    snprintf(target, sizeof target, "token:%lld", (long long)*id);
    sup_audit(rq->s, 1, rq->actor, "token.revoke", target, "ok", NULL, NULL);
    return KS_DB_OK;
}

static void tok_revoke(sup_req *rq, sup_resp *rs)
{
    int64_t id;
    if (api_arg_id(rq, rs, 0, "token", &id))
        return;
    if (api_tx(rq, rs, tok_del_tx, &id) == 0)
        api_json(rs, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "revoked", 1));
}

/* ----- audit log ----- */

static void audit_query(sup_req *rq, sup_resp *rs)
{
    char sql[512], where[256] = "";
    sup_dbv p[8];
    int n = 0, rc;
    uint64_t since, until, limit = 100, offset = 0;
    const char *actor = api_query(rq, "actor"), *action = api_query(rq, "action");
    const char *result = api_query(rq, "result");
    json_t *items;
    int64_t total = 0;

    if (api_qu64(rq, rs, "limit", 1, 1000, &limit) < 0 ||
        api_qu64(rq, rs, "offset", 0, INT64_MAX, &offset) < 0)
        return;
    rc = api_qu64(rq, rs, "since", 0, INT64_MAX, &since);
    if (rc < 0)
        return;
    if (rc == 0) {
        strcat(where, " AND ts >= ?");
        p[n++] = sup_dbv_int((int64_t)since);
    }
    rc = api_qu64(rq, rs, "until", 0, INT64_MAX, &until);
    if (rc < 0)
        return;
    if (rc == 0) {
        strcat(where, " AND ts < ?");
        p[n++] = sup_dbv_int((int64_t)until);
    }
    if (actor) {
        strcat(where, " AND actor = ?");
        p[n++] = sup_dbv_text(actor);
    }
    if (action) {
        strcat(where, " AND action = ?");
        p[n++] = sup_dbv_text(action);
    }
    if (result) {
        strcat(where, " AND result = ?");
        p[n++] = sup_dbv_text(result);
    }
    pthread_mutex_lock(&rq->s->lock);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM audit WHERE 1=1%s", where);
    sup_db_int(rq->s->db, sql, p, n, &total);
    p[n] = sup_dbv_int((int64_t)limit);
    p[n + 1] = sup_dbv_int((int64_t)offset);
    snprintf(sql, sizeof sql, "SELECT id, ts, actor, action, target, result, code, detail"
             " FROM audit WHERE 1=1%s ORDER BY id DESC LIMIT ? OFFSET ?", where);
    items = sup_db_rows_json(rq->s->db, sql, p, n + 2, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items)
        api_db_error(rq, rs, rc);
    else
        api_json(rs, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total",
                                    (json_int_t)total, "limit", (json_int_t)limit, "offset",
                                    (json_int_t)offset));
}

/* ----- supervisor key ----- */

static void sup_show(sup_req *rq, sup_resp *rs)
{
    json_t *keys;
    uint8_t *chain = NULL, kid[KS_KEYID_SIZE];
    size_t clen = 0;
    char pk[65], kh[33], *ch;
    int64_t seq;
    pthread_mutex_lock(&rq->s->lock);
    keys = sup_db_rows_json(rq->s->db, "SELECT seq, public_key, created_at FROM supervisor_keys"
                           " ORDER BY seq", NULL, 0, NULL);
    sup_sigkey_chain(rq->s, &chain, &clen);
    ks_hex(pk, rq->s->pk, KS_PUBKEY_SIZE);
    ks_key_id(&rq->s->crypto, kid, rq->s->pk);
    seq = rq->s->key_seq;
    pthread_mutex_unlock(&rq->s->lock);
    ks_hex(kh, kid, sizeof kid);
    ch = malloc(2 * clen + 1);
    if (ch)
        ks_hex(ch, chain ? chain : (const uint8_t *)"", clen);
    api_json(rs, 200, json_pack("{s:s,s:s,s:I,s:o,s:s}", "public_key", pk, "key_id", kh, "seq",
                                (json_int_t)seq, "keys", keys ? keys : json_array(),
                                "rotation_chain", ch ? ch : ""));
    free(ch);
    free(chain);
}

static void sup_rotate(sup_req *rq, sup_resp *rs)
{
    char err[512];
    int64_t seq = 0;
    const char *to = NULL;
    json_t *b = NULL;
    int rc;
    /* Optional body {"to": "pkcs11:..."}: the new key is that token's key
     * (docs/keys-hardware.md); without it, a new key file. */
    if (rq->body && rq->body_len) {
        if (!(b = api_body(rq, rs)))
            return;
        if (api_str(rs, b, "to", 0, PATH_MAX - 1, &to) < 0) {
            json_decref(b);
            return;
        }
        if (to && strncmp(to, "pkcs11:", 7) != 0) {
            api_error(rs, 400, "BAD_REQUEST", "field 'to' must be a pkcs11: URI");
            json_decref(b);
            return;
        }
    }
    rc = sup_sigkey_rotate_to(rq->s, to, &seq, err, sizeof err);
    json_decref(b);
    if (rc) {
        sup_audit(rq->s, 0, rq->actor, "supervisor.rotate", "supervisor", "failed", NULL, err);
        if (ks_err_kse(rc) || rc == KS_E_INVAL)
            api_error(rs, 409, ks_err_kse(rc) ? "TOKEN" : "CONFLICT", "rotation refused: %s", err);
        else
            api_error(rs, 500, "INTERNAL", "rotation failed: %s", err);
        return;
    }
    sup_audit(rq->s, 0, rq->actor, "supervisor.rotate", "supervisor", "ok", NULL, NULL);
    sup_show(rq, rs);
}

const sup_route sup_routes_admin[] = {
    {"GET", "/v1/policies", KS_ROLE_AUDITOR, pol_list},
    {"GET", "/v1/policies/*", KS_ROLE_AUDITOR, pol_show},
    {"PUT", "/v1/policies/*", KS_ROLE_ADMIN, pol_set},
    {"POST", "/v1/tokens", KS_ROLE_ADMIN, tok_create},
    {"GET", "/v1/tokens", KS_ROLE_ADMIN, tok_list},
    {"DELETE", "/v1/tokens/*", KS_ROLE_ADMIN, tok_revoke},
    {"GET", "/v1/audit", KS_ROLE_AUDITOR, audit_query},
    {"GET", "/v1/supervisor", KS_ROLE_AUDITOR, sup_show},
    {"POST", "/v1/supervisor/rotate", KS_ROLE_ADMIN, sup_rotate},
    {NULL, NULL, 0, NULL},
};
