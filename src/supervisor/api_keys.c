/*
 * api_keys.c - /v1/keys: enrol, list, show, grant and revoke privileges,
 * suspend, resume, revoke, set validity; /v1/holders.
 *
 * Every change is one transaction holding the row change, the audit entry
 * and the publish mark, so a key is never changed without being published
 * and audited, and nothing is half-applied.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "sup_api.h"

/* holder: the holder's name beside holder_id, so people see who, not a number. */
#define KEY_COLS "key_id, public_key, holder_id," \
                 " (SELECT name FROM holders WHERE holders.id = keys.holder_id) AS holder," \
                 " label, privileges, valid_from, valid_until," \
                 " state, scope, form_factor, key_format, counter_floor, created_at, updated_at"

static const char *form_name(int v) { return ks_form_name((uint8_t)v); }
static const char *state_name(int v) { return ks_state_name((uint8_t)v); }

static json_t *key_json(sup_ctx *s, const uint8_t id[KS_KEYID_SIZE])
{
    sup_dbv p = sup_dbv_blob(id, KS_KEYID_SIZE);
    json_t *r = api_row(s, "SELECT " KEY_COLS " FROM keys WHERE key_id = ?", &p, 1);
    if (r)
        api_fix_key_row(r);
    return r;
}

/* ----- enrol ----- */

typedef struct enrol {
    ks_record r;
    const char *label;
    int has_holder;
    uint8_t seed[32];
    int generated;
    json_t *out;
} enrol;

static int enrol_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    enrol *e = ctx;
    sup_ctx *s = rq->s;
    int64_t now = (int64_t)sup_now();
    char idhex[2 * KS_KEYID_SIZE + 1];
    sup_dbv p[13] = {
        sup_dbv_blob(e->r.key_id, KS_KEYID_SIZE), sup_dbv_blob(e->r.public_key, KS_PUBKEY_SIZE),
        e->has_holder ? sup_dbv_int((int64_t)e->r.holder_id) : sup_dbv_null(),
        sup_dbv_text(e->label), sup_dbv_int((int64_t)e->r.privileges),
        sup_dbv_int((int64_t)e->r.valid_from), sup_dbv_int((int64_t)e->r.valid_until),
        sup_dbv_int(e->r.state), sup_dbv_int(e->r.scope), sup_dbv_int(e->r.form_factor),
        sup_dbv_int(e->r.key_format), sup_dbv_int(now), sup_dbv_int(now)};
    int rc;

    if (e->has_holder) {
        int64_t one = 0;
        sup_dbv h = sup_dbv_int((int64_t)e->r.holder_id);
        if (sup_db_int(s->db, "SELECT 1 FROM holders WHERE id = ?", &h, 1, &one) != KS_DB_OK) {
            api_error(rs, 400, "BAD_REQUEST", "field 'holder_id': no holder %llu",
                      (unsigned long long)e->r.holder_id);
            return API_TX_ABORT;
        }
    }
    rc = sup_db_exec(s->db, "INSERT INTO keys(key_id, public_key, holder_id, label, privileges,"
                           " valid_from, valid_until, state, scope, form_factor, key_format,"
                           " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    p, 13, NULL, NULL);
    if (rc == KS_DB_CONSTRAINT) {
        api_error(rs, 409, "CONFLICT", "field 'public_key': this key is already enrolled");
        return API_TX_ABORT;
    }
    if (!rc)
        rc = sup_pub_mark(s, e->r.scope);
    if (rc)
        return rc;
    ks_hex(idhex, e->r.key_id, KS_KEYID_SIZE);
    sup_audit(s, 1, rq->actor, "key.enrol", idhex, "ok", NULL, e->generated ? "generated" : NULL);
    e->out = key_json(s, e->r.key_id);
    return KS_DB_OK;
}

typedef struct enrol_in {
    int generate;
    uint8_t public_key[KS_PUBKEY_SIZE];
    uint64_t holder_id;
    const char *label;
    uint64_t privileges, valid_from, valid_until;
    int form_factor;
    uint64_t scope, key_format;
} enrol_in;

static const sup_field enrol_fields[] = {
    SUP_BOOL("generate", 0, enrol_in, generate,
             "make the key pair here; the answer holds the only copy of its secret_seed"),
    SUP_HEX("public_key", 0, KS_PUBKEY_SIZE, enrol_in, public_key,
            "Ed25519 public key; required unless generate, not allowed with it"),
    SUP_INT("holder_id", 0, 1, INT64_MAX, 0, enrol_in, holder_id, "the key's holder"),
    SUP_STR("label", 0, 200, enrol_in, label, "free text"),
    SUP_PRIVS("privileges", 0, enrol_in, privileges, "privilege names (or bit numbers)"),
    SUP_INT("valid_from", 0, 0, INT64_MAX, 0, enrol_in, valid_from, "unix seconds; default now"),
    SUP_INT("valid_until", 0, 0, INT64_MAX, 0, enrol_in, valid_until,
            "unix seconds after valid_from; 0 for no end"),
    SUP_ENUM("form_factor", 0, form_name, KS_FORM_SOFTWARE, KS_FORM_PKCS11, KS_FORM_USB, enrol_in,
             form_factor, "default usb (software with generate)"),
    SUP_INT("scope", 0, 0, UINT32_MAX, 0, enrol_in, scope, "0: every controller"),
    SUP_INT("key_format", 0, 1, 255, 1, enrol_in, key_format, "credential format"),
    SUP_END,
};
static const sup_schema enrol_schema = {sizeof(enrol_in), SUP_BODY_FIELDS, enrol_fields};

static void keys_enrol(sup_req *rq, sup_resp *rs)
{
    const enrol_in *in = rq->in;
    enrol e;

    memset(&e, 0, sizeof e);
    if (in->generate && api_has(rq, "public_key")) {
        api_error(rs, 400, "BAD_REQUEST", "field 'public_key': not allowed with generate");
        return;
    }
    if (!in->generate && !api_has(rq, "public_key")) {
        api_error(rs, 400, "BAD_REQUEST", "field 'public_key' is required");
        return;
    }
    e.r.valid_from = api_has(rq, "valid_from") ? in->valid_from : sup_now();
    e.r.valid_until = in->valid_until;
    if (e.r.valid_until != 0 && e.r.valid_until <= e.r.valid_from) {
        api_error(rs, 400, "BAD_REQUEST", "field 'valid_until' must be after 'valid_from' (or 0)");
        return;
    }
    e.r.holder_id = in->holder_id;
    e.has_holder = api_has(rq, "holder_id");
    e.label = in->label;
    e.r.privileges = in->privileges;
    e.r.scope = (uint32_t)in->scope;
    e.r.key_format = (uint8_t)in->key_format;
    e.r.form_factor = (uint8_t)in->form_factor;
    if (in->generate) {
        uint8_t sk[KS_SECKEY_SIZE];
        randombytes_buf(e.seed, sizeof e.seed);
        crypto_sign_seed_keypair(e.r.public_key, sk, e.seed);
        sodium_memzero(sk, sizeof sk);
        e.generated = 1;
        if (!api_has(rq, "form_factor"))
            e.r.form_factor = KS_FORM_SOFTWARE;
    } else {
        memcpy(e.r.public_key, in->public_key, KS_PUBKEY_SIZE);
    }
    ks_key_id(&rq->s->crypto, e.r.key_id, e.r.public_key);
    if (api_tx(rq, rs, enrol_tx, &e))
        goto cleanup;
    sup_pub_kick(rq->s);
    if (!e.out)
        e.out = json_object();
    if (e.generated) {
        /* The only copy of the secret: it is not stored anywhere. */
        char seedhex[65];
        ks_hex(seedhex, e.seed, 32);
        json_object_set_new(e.out, "secret_seed", json_string(seedhex));
        sodium_memzero(seedhex, sizeof seedhex);
        rs->secret = 1; /* sup_http.c wipes the answer once sent */
    }
    api_json(rs, 201, e.out);
    e.out = NULL;
cleanup:
    sodium_memzero(e.seed, sizeof e.seed);
    json_decref(e.out);
}

/* ----- list / show ----- */

typedef struct keys_q {
    uint64_t limit, offset, holder_id, scope, privilege;
    int state;
} keys_q;

static const sup_field keys_q_fields[] = {
    SUP_Q_PAGE(keys_q, limit, offset),
    SUP_Q_INT("holder_id", 1, INT64_MAX, 0, keys_q, holder_id, "only this holder's keys"),
    SUP_Q_INT("scope", 0, UINT32_MAX, 0, keys_q, scope, "only keys of this scope"),
    SUP_Q_ENUM("state", state_name, KS_STATE_ACTIVE, KS_STATE_REVOKED, keys_q, state,
               "only keys in this state"),
    SUP_Q_PRIV("privilege", keys_q, privilege, "only keys holding this privilege"),
    SUP_END,
};
static const sup_schema keys_q_schema = {sizeof(keys_q), SUP_BODY_NONE, keys_q_fields};

static void keys_list(sup_req *rq, sup_resp *rs)
{
    const keys_q *q = rq->in;
    char sql[512], where[256] = "";
    sup_dbv p[8];
    int n = 0;
    uint64_t limit = q->limit, offset = q->offset;
    int64_t total = 0;
    json_t *items, *o;
    int rc;

    if (api_has(rq, "holder_id")) {
        strcat(where, " AND holder_id = ?");
        p[n++] = sup_dbv_int((int64_t)q->holder_id);
    }
    if (api_has(rq, "scope")) {
        strcat(where, " AND scope = ?");
        p[n++] = sup_dbv_int((int64_t)q->scope);
    }
    if (api_has(rq, "state")) {
        strcat(where, " AND state = ?");
        p[n++] = sup_dbv_int(q->state);
    }
    if (api_has(rq, "privilege")) {
        strcat(where, " AND (privileges & ?) <> 0");
        p[n++] = sup_dbv_int((int64_t)q->privilege);
    }
    pthread_mutex_lock(&rq->s->lock);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM keys WHERE 1=1%s", where);
    rc = sup_db_int(rq->s->db, sql, p, n, &total);
    p[n] = sup_dbv_int((int64_t)limit);
    p[n + 1] = sup_dbv_int((int64_t)offset);
    snprintf(sql, sizeof sql, "SELECT " KEY_COLS " FROM keys WHERE 1=1%s ORDER BY id"
             " LIMIT ? OFFSET ?", where);
    items = rc < 0 ? NULL : sup_db_rows_json(rq->s->db, sql, p, n + 2, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc);
        return;
    }
    {
        size_t i;
        json_array_foreach(items, i, o) api_fix_key_row(o);
    }
    api_json(rs, 200, json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total,
                                "limit", (json_int_t)limit, "offset", (json_int_t)offset));
}

/* The input of the /v1/keys/{key}... routes. */
typedef struct key_in {
    uint8_t id[KS_KEYID_SIZE];
    uint64_t privileges, valid_from, valid_until;
} key_in;

static const sup_field key_fields[] = {SUP_P_HEX("key", KS_KEYID_SIZE, key_in, id), SUP_END};
static const sup_schema key_schema = {sizeof(key_in), SUP_BODY_NONE, key_fields};

static void keys_show(sup_req *rq, sup_resp *rs)
{
    const key_in *in = rq->in;
    json_t *r;
    pthread_mutex_lock(&rq->s->lock);
    r = key_json(rq->s, in->id);
    pthread_mutex_unlock(&rq->s->lock);
    if (!r)
        api_error(rs, 404, "NOT_FOUND", "no key '%s'", rq->args[0]);
    else
        api_json(rs, 200, r);
}

/* ----- changes ----- */

typedef struct key_change {
    uint8_t id[KS_KEYID_SIZE];
    const char *action;
    const char *set;       /* SQL SET clause with up to two ? */
    sup_dbv v[2];
    int nv;
    int refuse_revoked;
    json_t *out;
} key_change;

static int change_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    key_change *k = ctx;
    sup_ctx *s = rq->s;
    char sql[256];
    int64_t state = -1, scope = 0;
    sup_dbv p[4];
    int n = 0, rc;
    sup_dbv idv = sup_dbv_blob(k->id, KS_KEYID_SIZE);

    if (sup_db_int(s->db, "SELECT state FROM keys WHERE key_id = ?", &idv, 1, &state) != KS_DB_OK) {
        api_error(rs, 404, "NOT_FOUND", "no key '%s'", rq->args[0]);
        return API_TX_ABORT;
    }
    if (k->refuse_revoked && state == KS_STATE_REVOKED) {
        api_error(rs, 409, "CONFLICT", "key '%s' is revoked; revocation is final (enrol a new"
                  " key)", rq->args[0]);
        return API_TX_ABORT;
    }
    for (int i = 0; i < k->nv; i++)
        p[n++] = k->v[i];
    p[n++] = sup_dbv_int((int64_t)sup_now());
    p[n++] = idv;
    snprintf(sql, sizeof sql, "UPDATE keys SET %s, updated_at = ? WHERE key_id = ?", k->set);
    rc = sup_db_exec(s->db, sql, p, n, NULL, NULL);
    if (!rc)
        rc = sup_db_int(s->db, "SELECT scope FROM keys WHERE key_id = ?", &idv, 1, &scope);
    if (!rc)
        rc = sup_pub_mark(s, (uint32_t)scope);
    if (rc)
        return rc;
    sup_audit(s, 1, rq->actor, k->action, rq->args[0], "ok", NULL, NULL);
    k->out = key_json(s, k->id);
    return KS_DB_OK;
}

static void run_change(sup_req *rq, sup_resp *rs, key_change *k)
{
    if (api_tx(rq, rs, change_tx, k) == 0) {
        sup_pub_kick(rq->s);
        api_json(rs, 200, k->out ? k->out : json_object());
        k->out = NULL;
    }
    json_decref(k->out);
}

static const sup_field key_privs_fields[] = {
    SUP_P_HEX("key", KS_KEYID_SIZE, key_in, id),
    SUP_PRIVS("privileges", SUP_REQUIRED, key_in, privileges, "privilege names (or bit numbers)"),
    SUP_END,
};
static const sup_schema key_privs_schema = {sizeof(key_in), SUP_BODY_FIELDS, key_privs_fields};

static void keys_privs(sup_req *rq, sup_resp *rs, int grant)
{
    const key_in *in = rq->in;
    uint64_t bits = in->privileges;
    key_change k;
    memset(&k, 0, sizeof k);
    memcpy(k.id, in->id, sizeof k.id);
    k.action = grant ? "key.grant" : "key.revoke_privilege";
    k.set = grant ? "privileges = (privileges | ?)" : "privileges = (privileges & ?)";
    k.v[0] = sup_dbv_int(grant ? (int64_t)bits : (int64_t)~bits);
    k.nv = 1;
    k.refuse_revoked = 1;
    run_change(rq, rs, &k);
}

static void keys_grant(sup_req *rq, sup_resp *rs) { keys_privs(rq, rs, 1); }
static void keys_unpriv(sup_req *rq, sup_resp *rs) { keys_privs(rq, rs, 0); }

static void keys_state(sup_req *rq, sup_resp *rs, int state, const char *action)
{
    key_change k;
    memset(&k, 0, sizeof k);
    memcpy(k.id, ((const key_in *)rq->in)->id, sizeof k.id);
    k.action = action;
    k.set = "state = ?";
    k.v[0] = sup_dbv_int(state);
    k.nv = 1;
    k.refuse_revoked = state != KS_STATE_REVOKED;
    run_change(rq, rs, &k);
}

static void keys_suspend(sup_req *rq, sup_resp *rs) { keys_state(rq, rs, KS_STATE_SUSPENDED, "key.suspend"); }
static void keys_resume(sup_req *rq, sup_resp *rs) { keys_state(rq, rs, KS_STATE_ACTIVE, "key.resume"); }
static void keys_revoke(sup_req *rq, sup_resp *rs) { keys_state(rq, rs, KS_STATE_REVOKED, "key.revoke"); }

static const sup_field key_validity_fields[] = {
    SUP_P_HEX("key", KS_KEYID_SIZE, key_in, id),
    SUP_INT("valid_from", SUP_REQUIRED, 0, INT64_MAX, 0, key_in, valid_from, "unix seconds"),
    SUP_INT("valid_until", SUP_REQUIRED, 0, INT64_MAX, 0, key_in, valid_until,
            "unix seconds after valid_from; 0 for no end"),
    SUP_END,
};
static const sup_schema key_validity_schema = {sizeof(key_in), SUP_BODY_FIELDS,
                                               key_validity_fields};

static void keys_validity(sup_req *rq, sup_resp *rs)
{
    const key_in *in = rq->in;
    uint64_t from = in->valid_from, until = in->valid_until;
    key_change k;
    memset(&k, 0, sizeof k);
    memcpy(k.id, in->id, sizeof k.id);
    if (until != 0 && until <= from) {
        api_error(rs, 400, "BAD_REQUEST", "field 'valid_until' must be after 'valid_from' (or 0)");
        return;
    }
    k.action = "key.set_validity";
    k.set = "valid_from = ?, valid_until = ?";
    k.v[0] = sup_dbv_int((int64_t)from);
    k.v[1] = sup_dbv_int((int64_t)until);
    k.nv = 2;
    k.refuse_revoked = 1;
    run_change(rq, rs, &k);
}

/* ----- holders ----- */

typedef struct holder_new {
    const char *name, *email;
    json_t *out;
} holder_new;

static int holder_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    holder_new *h = ctx;
    sup_dbv p[3] = {sup_dbv_text(h->name), sup_dbv_text(h->email), sup_dbv_int((int64_t)sup_now())};
    sup_dbv id;
    char target[32];
    int rc = sup_db_exec(rq->s->db, "INSERT INTO holders(name, email, created_at) VALUES (?,?,?)",
                        p, 3, NULL, NULL);
    (void)rs;
    if (rc)
        return rc;
    id = sup_dbv_int(sup_db_last_id(rq->s->db));
    snprintf(target, sizeof target, "holder:%lld", (long long)id.i);
    sup_audit(rq->s, 1, rq->actor, "holder.create", target, "ok", NULL, h->name);
    h->out = api_row(rq->s, "SELECT id, name, email, created_at FROM holders WHERE id = ?", &id, 1);
    return KS_DB_OK;
}

typedef struct holder_in {
    const char *name, *email;
    int64_t id;
    uint64_t limit, offset;
} holder_in;

static const sup_field holder_new_fields[] = {
    SUP_STR("name", SUP_REQUIRED, 200, holder_in, name, "the holder's name"),
    SUP_STR("email", 0, 200, holder_in, email, "contact address"),
    SUP_END,
};
static const sup_schema holder_new_schema = {sizeof(holder_in), SUP_BODY_FIELDS,
                                             holder_new_fields};

static void holders_create(sup_req *rq, sup_resp *rs)
{
    const holder_in *in = rq->in;
    holder_new h = {in->name, in->email, NULL};
    if (api_tx(rq, rs, holder_tx, &h) == 0) {
        api_json(rs, 201, h.out ? h.out : json_object());
        h.out = NULL;
    }
    json_decref(h.out);
}

static const sup_field holders_q_fields[] = {SUP_Q_PAGE(holder_in, limit, offset), SUP_END};
static const sup_schema holders_q_schema = {sizeof(holder_in), SUP_BODY_NONE, holders_q_fields};

static void holders_list(sup_req *rq, sup_resp *rs)
{
    const holder_in *in = rq->in;
    sup_dbv p[2];
    p[0] = sup_dbv_int((int64_t)in->limit);
    p[1] = sup_dbv_int((int64_t)in->offset);
    api_rows(rq, rs, "SELECT h.id, h.name, h.email, h.created_at,"
             " (SELECT COUNT(*) FROM keys k WHERE k.holder_id = h.id) AS keys"
             " FROM holders h ORDER BY h.id LIMIT ? OFFSET ?", p, 2);
}

static const sup_field holder_fields[] = {SUP_P_ID("holder", holder_in, id), SUP_END};
static const sup_schema holder_schema = {sizeof(holder_in), SUP_BODY_NONE, holder_fields};

static void holders_show(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const holder_in *)rq->in)->id;
    sup_dbv p;
    json_t *r, *keys;
    p = sup_dbv_int(id);
    pthread_mutex_lock(&rq->s->lock);
    r = api_row(rq->s, "SELECT id, name, email, created_at FROM holders WHERE id = ?", &p, 1);
    keys = r ? sup_db_rows_json(rq->s->db, "SELECT " KEY_COLS " FROM keys WHERE holder_id = ?"
                               " ORDER BY id", &p, 1, NULL) : NULL;
    pthread_mutex_unlock(&rq->s->lock);
    if (!r) {
        api_error(rs, 404, "NOT_FOUND", "no holder %lld", (long long)id);
        return;
    }
    if (keys) {
        size_t i;
        json_t *o;
        json_array_foreach(keys, i, o) api_fix_key_row(o);
        json_object_set_new(r, "keys", keys);
    }
    api_json(rs, 200, r);
}

const sup_api_route sup_routes_keys[] = {
    {"POST", "/v1/keys", KS_ROLE_OPERATOR, keys_enrol, &enrol_schema, "enrol a key"},
    {"GET", "/v1/keys", KS_ROLE_AUDITOR, keys_list, &keys_q_schema, "list keys, filtered"},
    {"GET", "/v1/keys/*", KS_ROLE_AUDITOR, keys_show, &key_schema, "one key"},
    {"POST", "/v1/keys/*/grant", KS_ROLE_OPERATOR, keys_grant, &key_privs_schema,
     "add privileges to a key"},
    {"POST", "/v1/keys/*/revoke-privilege", KS_ROLE_OPERATOR, keys_unpriv, &key_privs_schema,
     "remove privileges from a key"},
    {"POST", "/v1/keys/*/suspend", KS_ROLE_OPERATOR, keys_suspend, &key_schema,
     "suspend a key (reversible)"},
    {"POST", "/v1/keys/*/resume", KS_ROLE_OPERATOR, keys_resume, &key_schema,
     "resume a suspended key"},
    {"POST", "/v1/keys/*/revoke", KS_ROLE_OPERATOR, keys_revoke, &key_schema,
     "revoke a key (final)"},
    {"POST", "/v1/keys/*/validity", KS_ROLE_OPERATOR, keys_validity, &key_validity_schema,
     "set a key's validity window"},
    {"POST", "/v1/holders", KS_ROLE_OPERATOR, holders_create, &holder_new_schema,
     "create a holder"},
    {"GET", "/v1/holders", KS_ROLE_AUDITOR, holders_list, &holders_q_schema, "list holders"},
    {"GET", "/v1/holders/*", KS_ROLE_AUDITOR, holders_show, &holder_schema,
     "one holder with its keys"},
    {.method = NULL},
};
