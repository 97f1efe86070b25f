/*
 * api_ctrl.c - /v1/controllers: add (one-time provisioning token), list,
 * show (sync state and last health report), re-provision, remediation
 * commands, and the controller's uploaded audit records.
 *
 * Remediation commands are queued rows; a controller receives the pending
 * ones in every heartbeat answer until it acknowledges them by id, so a
 * lost answer never loses a command and a repeated one is harmless.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "sup_devcache.h"
#include "sup_api.h"
#include "ks_cred.h"
#include "sup_http_tls.h"
#include "sup_health.h"
#include "sup_soft.h"

#define CTRL_COLS "id, name, site, model, scope, min_key_format, device_pk, enrolled_at," \
                  " firmware_version, protocol_version, last_seen, last_sync, applied_version," \
                  " applied_root, clock_offset, lockout, created_at"

static void hide_code_tags(json_t *rows);

static const char *const commands[] = {
    "initialize", "time_sync", "unlock", "clear_pending", "replace_credential", "tls_pin",
};

static const char *cmd_name(int v)
{
    return v >= 0 && (size_t)v < sizeof commands / sizeof commands[0] ? commands[v] : NULL;
}

/* The input of every /v1/controllers route. */
typedef struct ctrl_in {
    int64_t id;
    const char *name, *site, *model;
    uint64_t scope, min_fmt, limit, offset, since_seq;
    int command;
    json_t *args;
} ctrl_in;

static const sup_field ctrl_id_fields[] = {SUP_P_ID("controller", ctrl_in, id), SUP_END};
static const sup_schema ctrl_id_schema = {sizeof(ctrl_in), SUP_BODY_NONE, ctrl_id_fields};

/* A new provisioning token and its hash, stored for controller id. Lock held. */
static int provision(sup_ctx *s, int64_t id, char tok[80], uint64_t *expires)
{
    uint8_t h[KS_HASH_SIZE];
    sup_dbv p[3];
    sup_token_new(&s->crypto, tok, h);
    tok[0] = 'k'; tok[1] = 's'; tok[2] = 'p'; /* "ksp_": a provisioning token */
    sup_token_hash(&s->crypto, tok, h);
    *expires = sup_now() + s->cfg.provision_ttl;
    p[0] = sup_dbv_blob(h, sizeof h);
    p[1] = sup_dbv_int((int64_t)*expires);
    p[2] = sup_dbv_int(id);
    return sup_db_exec(s->db, "UPDATE controllers SET prov_hash = ?, prov_expires = ? WHERE id = ?",
                      p, 3, NULL, NULL);
}

typedef struct ctrl_new {
    const ctrl_in *in;
    int64_t id;
    char tok[80];
    uint64_t expires;
} ctrl_new;

static int ctrl_add_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    ctrl_new *c = ctx;
    sup_ctx *s = rq->s;
    sup_dbv p[6] = {sup_dbv_text(c->in->name), sup_dbv_text(c->in->site), sup_dbv_text(c->in->model),
                   sup_dbv_int((int64_t)c->in->scope), sup_dbv_int((int64_t)c->in->min_fmt),
                   sup_dbv_int((int64_t)sup_now())};
    char target[48];
    int rc = sup_db_exec(s->db, "INSERT INTO controllers(name, site, model, scope, min_key_format,"
                               " created_at) VALUES (?,?,?,?,?,?)", p, 6, NULL, NULL);
    if (rc == KS_DB_CONSTRAINT) {
        api_error(rs, 409, "CONFLICT", "field 'name': a controller named '%s' exists", c->in->name);
        return API_TX_ABORT;
    }
    if (rc)
        return rc;
    c->id = sup_db_last_id(s->db);
    rc = provision(s, c->id, c->tok, &c->expires);
    if (!rc) {
        /* The scope needs a snapshot before the controller first asks. */
        int64_t v = 0;
        sup_dbv sp = sup_dbv_int((int64_t)c->in->scope);
        if (sup_db_int(s->db, "SELECT version FROM scopes WHERE scope = ?", &sp, 1, &v) != KS_DB_OK ||
            v == 0)
            rc = sup_pub_mark(s, (uint32_t)c->in->scope);
    }
    if (rc)
        return rc;
    snprintf(target, sizeof target, "controller:%lld", (long long)c->id);
    sup_audit(s, 1, rq->actor, "controller.add", target, "ok", NULL, c->in->name);
    return KS_DB_OK;
}

static const sup_field ctrl_add_fields[] = {
    SUP_STR("name", SUP_REQUIRED, 100, ctrl_in, name, "unique name"),
    SUP_STR("site", 0, 200, ctrl_in, site, "where it stands"),
    SUP_STR("model", 0, 100, ctrl_in, model, "hardware model"),
    SUP_INT("scope", 0, 1, UINT32_MAX, 1, ctrl_in, scope, "the key scope it receives"),
    SUP_INT("min_key_format", 0, 1, 255, 1, ctrl_in, min_fmt, "oldest credential format it takes"),
    SUP_END,
};
static const sup_schema ctrl_add_schema = {sizeof(ctrl_in), SUP_BODY_FIELDS, ctrl_add_fields};

static void ctrl_add(sup_req *rq, sup_resp *rs)
{
    const ctrl_in *in = rq->in;
    ctrl_new c;
    memset(&c, 0, sizeof c);
    c.in = in;
    if (api_tx(rq, rs, ctrl_add_tx, &c) == 0) {
        sup_pub_kick(rq->s);
        char tok[KS_PROV_TOKEN_MAX];
        sup_http_tls_token(rq->s, c.tok, tok, sizeof tok);
        api_json(rs, 201, json_pack("{s:I,s:s,s:I,s:s,s:I}", "id", (json_int_t)c.id, "name",
                                    in->name, "scope", (json_int_t)in->scope, "provisioning_token",
                                    tok, "provisioning_expires", (json_int_t)c.expires));
        sodium_memzero(tok, sizeof tok);
    }
    sodium_memzero(c.tok, sizeof c.tok);
}

static void fix_ctrl(sup_ctx *s, json_t *o)
{
    json_t *pk = json_object_get(o, "device_pk");
    json_t *sc = json_object_get(o, "scope");
    json_t *av = json_object_get(o, "applied_version");
    json_t *ar = json_object_get(o, "applied_root");
    uint8_t root[KS_HASH_SIZE];
    char rh[2 * KS_HASH_SIZE + 1];
    uint64_t v;

    json_object_set_new(o, "enrolled", json_boolean(json_is_string(pk)));
    json_object_set_new(o, "lockout", json_boolean(json_integer_value(json_object_get(o, "lockout"))));
    v = sup_pub_version(s, (uint32_t)json_integer_value(sc), root);
    ks_hex(rh, root, KS_HASH_SIZE);
    json_object_set_new(o, "published_version", json_integer((json_int_t)v));
    json_object_set_new(o, "published_root", json_string(rh));
    json_object_set_new(o, "in_sync", json_boolean(json_is_integer(av) &&
                                                   (uint64_t)json_integer_value(av) == v &&
                                                   json_is_string(ar) &&
                                                   strcmp(json_string_value(ar), rh) == 0));
}

static const sup_field ctrl_list_fields[] = {SUP_Q_PAGE(ctrl_in, limit, offset), SUP_END};
static const sup_schema ctrl_list_schema = {sizeof(ctrl_in), SUP_BODY_NONE, ctrl_list_fields};

static void ctrl_list(sup_req *rq, sup_resp *rs)
{
    const ctrl_in *in = rq->in;
    uint64_t limit = in->limit, offset = in->offset;
    sup_dbv p[2];
    json_t *items, *o;
    int64_t total = 0;
    int rc;
    /* an operator reads what the controllers last reported: the pending
     * batch of heartbeat soft state is written first (sup_soft.h) */
    sup_soft_flush(rq->s);
    size_t i;

    p[0] = sup_dbv_int((int64_t)limit);
    p[1] = sup_dbv_int((int64_t)offset);
    pthread_mutex_lock(&rq->s->lock);
    sup_db_int(rq->s->db, "SELECT COUNT(*) FROM controllers", NULL, 0, &total);
    items = sup_db_rows_json(rq->s->db, "SELECT " CTRL_COLS " FROM controllers ORDER BY id"
                            " LIMIT ? OFFSET ?", p, 2, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc);
        return;
    }
    json_array_foreach(items, i, o) fix_ctrl(rq->s, o);
    api_json(rs, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total,
                                "limit", (json_int_t)limit, "offset", (json_int_t)offset));
}

static void ctrl_show(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const ctrl_in *)rq->in)->id;
    sup_dbv p;
    json_t *r, *health = NULL, *cmds = NULL;
    sup_soft_flush(rq->s); /* as in ctrl_list */
    p = sup_dbv_int(id);
    pthread_mutex_lock(&rq->s->lock);
    r = api_row(rq->s, "SELECT " CTRL_COLS ", last_health, last_health_live FROM controllers WHERE id = ?", &p, 1);
    if (r)
        cmds = sup_db_rows_json(rq->s->db, "SELECT id, command, args, state, result, created_by,"
                               " created_at, acked_at FROM commands WHERE controller_id = ?"
                               " ORDER BY id DESC LIMIT 20", &p, 1, NULL);
    pthread_mutex_unlock(&rq->s->lock);
    if (!r) {
        api_error(rs, 404, "NOT_FOUND", "no controller %lld", (long long)id);
        return;
    }
    fix_ctrl(rq->s, r);
    /* the whole report with the last short heartbeat's members over it */
    health = sup_health_merge_str(json_string_value(json_object_get(r, "last_health")),
                                  json_string_value(json_object_get(r, "last_health_live")));
    json_object_set_new(r, "last_health", health ? health : json_null());
    json_object_del(r, "last_health_live");
    hide_code_tags(cmds);
    json_object_set_new(r, "commands", cmds ? cmds : json_array());
    {
        /* What the controller should hold: compare with applied_version/root. */
        uint8_t root[KS_HASH_SIZE];
        char rh[2 * KS_HASH_SIZE + 1];
        uint64_t v = sup_pub_version(rq->s, (uint32_t)json_integer_value(json_object_get(r, "scope")), root);
        ks_hex(rh, root, KS_HASH_SIZE);
        json_object_set_new(r, "published_version", v ? json_integer((json_int_t)v) : json_null());
        json_object_set_new(r, "published_root", v ? json_string(rh) : json_null());
    }
    api_json(rs, 200, r);
}

typedef struct reprov {
    int64_t id;
    char tok[80];
    uint64_t expires;
} reprov;

static int reprov_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    reprov *r = ctx;
    sup_dbv p = sup_dbv_int(r->id);
    int64_t one;
    char target[48];
    int rc;
    if (sup_db_int(rq->s->db, "SELECT 1 FROM controllers WHERE id = ?", &p, 1, &one) != KS_DB_OK) {
        api_error(rs, 404, "NOT_FOUND", "no controller %lld", (long long)r->id);
        return API_TX_ABORT;
    }
    /* A re-provisioned controller enrols again with a new device key. */
    rc = sup_db_exec(rq->s->db, "UPDATE controllers SET device_pk = NULL WHERE id = ?", &p, 1,
                    NULL, NULL);
    /* Before the commit, under the lock: the old device key is refused by
     * the next request, never served from the cache (sup_devcache.h). */
    sup_devcache_forget(rq->s, r->id);
    if (!rc)
        rc = provision(rq->s, r->id, r->tok, &r->expires);
    if (rc)
        return rc;
    snprintf(target, sizeof target, "controller:%lld", (long long)r->id);
    sup_audit(rq->s, 1, rq->actor, "controller.provision", target, "ok", NULL, NULL);
    return KS_DB_OK;
}

static void ctrl_provision(sup_req *rq, sup_resp *rs)
{
    reprov r;
    memset(&r, 0, sizeof r);
    r.id = ((const ctrl_in *)rq->in)->id;
    if (api_tx(rq, rs, reprov_tx, &r) == 0) {
        char tok[KS_PROV_TOKEN_MAX];
        sup_http_tls_token(rq->s, r.tok, tok, sizeof tok);
        api_json(rs, 200, json_pack("{s:I,s:s,s:I}", "id", (json_int_t)r.id, "provisioning_token",
                                    tok, "provisioning_expires", (json_int_t)r.expires));
        sodium_memzero(tok, sizeof tok);
    }
    sodium_memzero(r.tok, sizeof r.tok);
}

/* ----- remediation commands ----- */

typedef struct cmd_new {
    int64_t ctrl;
    const char *command;
    json_t *args;
    int64_t id;
    char code[16];
    char fingerprint[KS_FINGERPRINT_LEN + 1];
} cmd_new;

typedef struct dev_key {
    uint8_t pk[KS_PUBKEY_SIZE];
    int found;
} dev_key;

static int dev_key_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    dev_key *d = ctx;
    (void)names;
    if (ncol >= 1 && c[0].type == KS_DBV_BLOB && c[0].n == KS_PUBKEY_SIZE) {
        memcpy(d->pk, c[0].p, KS_PUBKEY_SIZE);
        d->found = 1;
    }
    return 1;
}

/*
 * Replace Supervisor Credential: a one-time code that authorises exactly
 * this supervisor key for exactly this controller (ks_cred.h). The
 * controller receives the key and the Argon2id tag; the code itself only
 * goes to the operator. Computed before the transaction: Argon2id is slow
 * and must not run under the lock. 0, or -1 with rs set.
 */
static int replace_args(sup_req *rq, sup_resp *rs, cmd_new *c)
{
    sup_ctx *s = rq->s;
    sup_dbv p = sup_dbv_int(c->ctrl);
    dev_key d = {{0}, 0};
    uint8_t pk[KS_PUBKEY_SIZE], kid[KS_KEYID_SIZE], tag[KS_CRED_TAG_SIZE];
    char pkh[2 * KS_PUBKEY_SIZE + 1], th[2 * KS_CRED_TAG_SIZE + 1];
    int rc;

    pthread_mutex_lock(&s->lock);
    sup_db_exec(s->db, "SELECT device_pk FROM controllers WHERE id = ? AND device_pk IS NOT NULL",
               &p, 1, dev_key_cb, &d);
    memcpy(pk, s->pk, sizeof pk);
    pthread_mutex_unlock(&s->lock);
    if (!d.found) {
        api_error(rs, 409, "CONFLICT", "controller %lld is not enrolled: a one-time code is bound"
                  " to its device key, so enrol it first", (long long)c->ctrl);
        return -1;
    }
    ks_key_id(&s->crypto, kid, d.pk);
    snprintf(c->code, sizeof c->code, "%08u", randombytes_uniform(100000000u));
    rc = ks_cred_tag(c->code, (uint64_t)c->ctrl, kid, pk, KS_CRED_OPS, KS_CRED_MEM_KIB, tag);
    if (rc) {
        api_error(rs, 500, "INTERNAL", "cannot derive the one-time code tag: %s", ks_strerror(rc));
        return -1;
    }
    ks_key_fingerprint(&s->crypto, pk, c->fingerprint);
    ks_hex(pkh, pk, sizeof pk);
    ks_hex(th, tag, sizeof tag);
    sodium_memzero(tag, sizeof tag);
    json_object_set_new(c->args, "supervisor_public_key", json_string(pkh));
    json_object_set_new(c->args, "code_tag", json_string(th));
    json_object_set_new(c->args, "kdf", json_string("argon2id13"));
    json_object_set_new(c->args, "ops", json_integer(KS_CRED_OPS));
    json_object_set_new(c->args, "mem_kib", json_integer(KS_CRED_MEM_KIB));
    sodium_memzero(th, sizeof th);
    return 0;
}

/* The code tag is for the controller only: no API answer shows it (an
 * auditor could otherwise try all 10^8 codes against it). */
static void hide_code_tags(json_t *rows)
{
    json_t *r;
    size_t i;
    json_array_foreach(rows, i, r) {
        json_t *a = json_loads(json_string_value(json_object_get(r, "args")) ?
                                   json_string_value(json_object_get(r, "args")) : "null", 0, NULL);
        if (json_is_object(a) && (json_object_get(a, "code_tag") || json_object_get(a, "code_hash"))) {
            char *t;
            json_object_del(a, "code_tag");
            json_object_del(a, "code_hash"); /* the unsalted form of older versions */
            t = json_dumps(a, JSON_COMPACT);
            json_object_set_new(r, "args", t ? json_string(t) : json_null());
            free(t);
        }
        json_decref(a);
    }
}

static int cmd_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    cmd_new *c = ctx;
    sup_ctx *s = rq->s;
    sup_dbv p = sup_dbv_int(c->ctrl);
    int64_t one;
    char *args = NULL, target[48];
    int rc;

    if (sup_db_int(s->db, "SELECT 1 FROM controllers WHERE id = ?", &p, 1, &one) != KS_DB_OK) {
        api_error(rs, 404, "NOT_FOUND", "no controller %lld", (long long)c->ctrl);
        return API_TX_ABORT;
    }
    args = json_dumps(c->args, JSON_COMPACT);
    {
        sup_dbv q[5] = {sup_dbv_int(c->ctrl), sup_dbv_text(c->command), sup_dbv_text(args),
                       sup_dbv_text(rq->actor), sup_dbv_int((int64_t)sup_now())};
        rc = sup_db_exec(s->db, "INSERT INTO commands(controller_id, command, args, state,"
                               " created_by, created_at) VALUES (?,?,?,'pending',?,?)",
                        q, 5, NULL, NULL);
    }
    free(args);
    if (rc)
        return rc;
    sup_devcache_forget(s, c->ctrl); /* its next heartbeat reads the commands */
    c->id = sup_db_last_id(s->db);
    snprintf(target, sizeof target, "controller:%lld", (long long)c->ctrl);
    sup_audit(s, 1, rq->actor, "controller.command", target, "ok", NULL, c->command);
    return KS_DB_OK;
}

static const sup_field cmd_fields[] = {
    SUP_P_ID("controller", ctrl_in, id),
    SUP_ENUM("command", SUP_REQUIRED, cmd_name, 0, sizeof commands / sizeof commands[0] - 1, 0,
             ctrl_in, command, "the remediation (docs/api.md, \"Commands\")"),
    SUP_OBJECT("args", 0, ctrl_in, args, "the command's arguments"),
    SUP_END,
};
static const sup_schema cmd_schema = {sizeof(ctrl_in), SUP_BODY_FIELDS, cmd_fields};

static void ctrl_command(sup_req *rq, sup_resp *rs)
{
    const ctrl_in *in = rq->in;
    json_t *out;
    cmd_new c;
    memset(&c, 0, sizeof c);
    c.ctrl = in->id;
    c.command = commands[in->command];
    c.args = in->args;
    if (strcmp(c.command, "tls_pin") == 0 && sup_tls_pin_arg_ok(c.args) != 0) {
        api_error(rs, 400, "BAD_REQUEST", "field 'args.pin' must be a TLS pin sha256//BASE64"
                  " (`keysup tls pin --cert FILE` prints it)");
        return;
    }
    c.args = c.args ? json_deep_copy(c.args) : json_object();
    if (strcmp(c.command, "replace_credential") == 0 && replace_args(rq, rs, &c) != 0) {
        json_decref(c.args);
        return;
    }
    if (api_tx(rq, rs, cmd_tx, &c) == 0) {
        out = json_pack("{s:I,s:I,s:s,s:s}", "id", (json_int_t)c.id, "controller_id",
                        (json_int_t)c.ctrl, "command", c.command, "state", "pending");
        if (c.code[0]) {
            json_object_set_new(out, "one_time_code", json_string(c.code));
            json_object_set_new(out, "new_key_fingerprint", json_string(c.fingerprint));
        }
        api_json(rs, 202, out);
    }
    json_decref(c.args);
    sodium_memzero(c.code, sizeof c.code);
}

static void ctrl_commands(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const ctrl_in *)rq->in)->id;
    sup_dbv p;
    json_t *items;
    int rc;
    p = sup_dbv_int(id);
    pthread_mutex_lock(&rq->s->lock);
    items = sup_db_rows_json(rq->s->db, "SELECT id, command, args, state, result, created_by,"
                            " created_at, acked_at FROM commands WHERE controller_id = ?"
                            " ORDER BY id", &p, 1, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc);
        return;
    }
    hide_code_tags(items);
    api_json(rs, 200, json_pack("{s:o}", "items", items));
}

static const sup_field ctrl_audit_fields[] = {
    SUP_P_ID("controller", ctrl_in, id),
    SUP_Q_INT("since_seq", 0, INT64_MAX, 0, ctrl_in, since_seq, "records after this sequence"),
    SUP_Q_INT("limit", 1, 1000, 100, ctrl_in, limit, "page size"),
    SUP_END,
};
static const sup_schema ctrl_audit_schema = {sizeof(ctrl_in), SUP_BODY_NONE, ctrl_audit_fields};

static void ctrl_audit(sup_req *rq, sup_resp *rs)
{
    const ctrl_in *in = rq->in;
    int64_t id = in->id;
    uint64_t since = in->since_seq, limit = in->limit;
    sup_dbv p[3];
    json_t *items, *o;
    int rc;
    size_t i;
    p[0] = sup_dbv_int(id);
    p[1] = sup_dbv_int((int64_t)since);
    p[2] = sup_dbv_int((int64_t)limit);
    pthread_mutex_lock(&rq->s->lock);
    items = sup_db_rows_json(rq->s->db, "SELECT seq, ts, received_at, record FROM device_audit"
                            " WHERE controller_id = ? AND seq > ? ORDER BY seq LIMIT ?", p, 3, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc);
        return;
    }
    json_array_foreach(items, i, o) {
        json_t *rec = json_loads(json_string_value(json_object_get(o, "record")), 0, NULL);
        json_object_set_new(o, "record", rec ? rec : json_null());
    }
    api_json(rs, 200, json_pack("{s:o}", "items", items));
}

const sup_api_route sup_routes_ctrl[] = {
    {"POST", "/v1/controllers", KS_ROLE_OPERATOR, ctrl_add, &ctrl_add_schema,
     "add a controller (one-time provisioning token)"},
    {"GET", "/v1/controllers", KS_ROLE_AUDITOR, ctrl_list, &ctrl_list_schema,
     "list controllers with their sync state"},
    {"GET", "/v1/controllers/*", KS_ROLE_AUDITOR, ctrl_show, &ctrl_id_schema,
     "one controller, its last health report and commands"},
    {"POST", "/v1/controllers/*/provision", KS_ROLE_OPERATOR, ctrl_provision, &ctrl_id_schema,
     "a new provisioning token (the controller enrols again)"},
    {"POST", "/v1/controllers/*/commands", KS_ROLE_OPERATOR, ctrl_command, &cmd_schema,
     "queue a remediation command"},
    {"GET", "/v1/controllers/*/commands", KS_ROLE_AUDITOR, ctrl_commands, &ctrl_id_schema,
     "the controller's commands"},
    {"GET", "/v1/controllers/*/audit", KS_ROLE_AUDITOR, ctrl_audit, &ctrl_audit_schema,
     "audit records the controller uploaded"},
    {.method = NULL},
};
