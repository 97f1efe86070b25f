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

/* The input of the policy and token routes. */
typedef struct admin_in {
    const char *name, *title;
    uint64_t privs, timeout;
    int two, seal, role;
    int64_t id;
} admin_in;

/* Any stored name can be shown (404 when none); a new one must be plain. */
static const sup_field pol_fields[] = {
    SUP_P_NAME("policy", 511, NULL, NULL, admin_in, name, "policy name"), SUP_END};
static const sup_schema pol_schema = {sizeof(admin_in), SUP_BODY_NONE, pol_fields};

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
    const admin_in *in;
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
    sup_dbv v[7] = {sup_dbv_text(p->in->title ? p->in->title : rq->args[0]), sup_dbv_int((int64_t)p->in->privs),
                   sup_dbv_int(p->in->two), sup_dbv_int((int64_t)p->in->timeout), sup_dbv_int(p->in->seal),
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

static const sup_field pol_set_fields[] = {
    SUP_P_NAME("policy", 64, "abcdefghijklmnopqrstuvwxyz0123456789_-", "[a-z0-9_-]", admin_in,
               name, "policy name"),
    SUP_STR("title", 0, 200, admin_in, title, "shown to people; default the name"),
    SUP_PRIVS("required_privileges", SUP_REQUIRED, admin_in, privs,
              "privileges the action needs"),
    SUP_BOOL("two_supervisors", 0, admin_in, two, "two different supervisors must approve"),
    SUP_BOOL("seal_blocked", 0, admin_in, seal, "refused while the device is sealed"),
    SUP_INT("session_timeout", 0, 1, 86400, 300, admin_in, timeout, "seconds"),
    SUP_END,
};
static const sup_schema pol_set_schema = {sizeof(admin_in), SUP_BODY_FIELDS, pol_set_fields};

static void pol_set(sup_req *rq, sup_resp *rs)
{
    const admin_in *in = rq->in;
    pol_put p;
    memset(&p, 0, sizeof p);
    p.in = in;
    if (api_tx(rq, rs, pol_tx, &p) == 0) {
        sup_pub_kick(rq->s);
        if (p.out)
            fix_policy(p.out);
        api_json(rs, p.created ? 201 : 200, p.out ? p.out : json_object());
        p.out = NULL;
    }
    json_decref(p.out);
}

/* ----- tokens ----- */

typedef struct tok_new {
    const admin_in *in;
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
    p[0] = sup_dbv_text(t->in->name);
    p[1] = sup_dbv_text(sup_role_name(t->in->role));
    p[2] = sup_dbv_blob(h, sizeof h);
    p[3] = sup_dbv_int((int64_t)sup_now());
    rc = sup_db_exec(rq->s->db, "INSERT INTO tokens(name, role, hash, created_at) VALUES (?,?,?,?)",
                    p, 4, NULL, NULL);
    if (rc)
        return rc;
    t->id = sup_db_last_id(rq->s->db);
    snprintf(target, sizeof target, "token:%lld", (long long)t->id);
    sup_audit(rq->s, 1, rq->actor, "token.create", target, "ok", NULL, sup_role_name(t->in->role));
    return KS_DB_OK;
}

static const char *role_name(int v) { return sup_role_name(v); }

static const sup_field tok_fields[] = {
    SUP_STR("name", SUP_REQUIRED, 64, admin_in, name, "who or what uses the token"),
    SUP_ENUM("role", SUP_REQUIRED, role_name, KS_ROLE_AUDITOR, KS_ROLE_ADMIN, 0, admin_in, role,
             "what the token may do"),
    SUP_END,
};
static const sup_schema tok_schema = {sizeof(admin_in), SUP_BODY_FIELDS, tok_fields};

static void tok_create(sup_req *rq, sup_resp *rs)
{
    const admin_in *in = rq->in;
    tok_new t;
    memset(&t, 0, sizeof t);
    t.in = in;
    if (api_tx(rq, rs, tok_tx, &t) == 0)
        api_json(rs, 201, json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)t.id, "name", in->name,
                                    "role", sup_role_name(in->role), "token", t.text));
    sodium_memzero(t.text, sizeof t.text);
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

static const sup_field tok_del_fields[] = {SUP_P_ID("token", admin_in, id), SUP_END};
static const sup_schema tok_del_schema = {sizeof(admin_in), SUP_BODY_NONE, tok_del_fields};

static void tok_revoke(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const admin_in *)rq->in)->id;
    if (api_tx(rq, rs, tok_del_tx, &id) == 0)
        api_json(rs, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "revoked", 1));
}

/* ----- audit log ----- */

typedef struct audit_q {
    uint64_t limit, offset, since, until;
    const char *actor, *action, *result;
} audit_q;

static const sup_field audit_q_fields[] = {
    SUP_Q_PAGE(audit_q, limit, offset),
    SUP_Q_INT("since", 0, INT64_MAX, 0, audit_q, since, "from this unix second on"),
    SUP_Q_INT("until", 0, INT64_MAX, 0, audit_q, until, "before this unix second"),
    SUP_Q_STR("actor", audit_q, actor, "only this actor (token:NAME, controller:ID)"),
    SUP_Q_STR("action", audit_q, action, "only this action (key.enrol, ...)"),
    SUP_Q_STR("result", audit_q, result, "only this result (ok, denied, failed)"),
    SUP_END,
};
static const sup_schema audit_q_schema = {sizeof(audit_q), SUP_BODY_NONE, audit_q_fields};

static void audit_query(sup_req *rq, sup_resp *rs)
{
    const audit_q *q = rq->in;
    char sql[512], where[256] = "";
    sup_dbv p[8];
    int n = 0, rc;
    uint64_t limit = q->limit, offset = q->offset;
    const char *actor = q->actor, *action = q->action, *result = q->result;
    json_t *items;
    int64_t total = 0;

    if (api_has(rq, "since")) {
        strcat(where, " AND ts >= ?");
        p[n++] = sup_dbv_int((int64_t)q->since);
    }
    if (api_has(rq, "until")) {
        strcat(where, " AND ts < ?");
        p[n++] = sup_dbv_int((int64_t)q->until);
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

const sup_api_route sup_routes_admin[] = {
    {"GET", "/v1/policies", KS_ROLE_AUDITOR, pol_list, &sup_no_input,
     "privileged-action policies"},
    {"GET", "/v1/policies/*", KS_ROLE_AUDITOR, pol_show, &pol_schema, "one policy"},
    {"PUT", "/v1/policies/*", KS_ROLE_ADMIN, pol_set, &pol_set_schema,
     "create or replace a policy"},
    {"POST", "/v1/tokens", KS_ROLE_ADMIN, tok_create, &tok_schema,
     "mint an operator token (shown once)"},
    {"GET", "/v1/tokens", KS_ROLE_ADMIN, tok_list, &sup_no_input, "list tokens (no secrets)"},
    {"DELETE", "/v1/tokens/*", KS_ROLE_ADMIN, tok_revoke, &tok_del_schema, "revoke a token"},
    {"GET", "/v1/audit", KS_ROLE_AUDITOR, audit_query, &audit_q_schema,
     "the audit log, newest first"},
    {"GET", "/v1/supervisor", KS_ROLE_AUDITOR, sup_show, &sup_no_input,
     "the supervisor key and its rotation chain"},
    {"POST", "/v1/supervisor/rotate", KS_ROLE_ADMIN, sup_rotate, &sup_no_input,
     "rotate the supervisor key"},
    {.method = NULL},
};
