/*
 * api_licences.c - /v1/licences: issue, list, show, revoke, reactivate
 * feature licences (docs/licences.md), and /v1/device/licence, where a
 * controller fetches its active licence's signed bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_hex.h"
#include "sup_api.h"
#include "sup_licence.h"

#define LIC_COLS "id, name, controller_id, features, issued_at, valid_until, warn_days," \
                 " CASE WHEN state = 'active' AND valid_until > 0 AND valid_until <= ?1" \
                 " THEN 'expired' ELSE state END AS state, replaces, replaced_by," \
                 " warn_incident, licence"

/* Feature bits as names, the signed bytes as hex (already, from the row),
 * and what the bytes say beyond the row: format version, binding. */
static void fix_row(json_t *r)
{
    json_t *f = json_object_get(r, "features");
    const char *hex = json_string_value(json_object_get(r, "licence"));
    uint8_t b[KS_LICENCE_MAX];
    size_t n = 0;
    ks_licence l;
    if (json_is_integer(f))
        json_object_set_new(r, "features", sup_licence_feature_names(
                                               (uint64_t)json_integer_value(f)));
    if (hex && ks_unhex_upto(b, sizeof b, hex, &n) == 0 &&
        ks_licence_decode(&l, b, n, NULL) == KS_OK) {
        char kh[2 * KS_KEYID_SIZE + 1];
        json_object_set_new(r, "format_version", json_integer(l.version));
        if (ks_licence_bound(&l)) {
            ks_hex(kh, l.bound_key, KS_KEYID_SIZE);
            json_object_set_new(r, "bound_key", json_string(kh));
            json_object_set_new(r, "bound_window", json_integer(l.bound_window));
        }
    }
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
    uint64_t ctrl, until, warn, features, limit, offset, window;
    const char *name;
    const char *bound_key;
} lic_in;

/* bound_key: a key id (32 hex) or a public key (64 hex, a token's) of a key
 * the supervisor knows, so that controllers can verify its presentation.
 * "" or "none" in a reactivation: unbound. 0 with *key set (or NULL when
 * unbound), -1 with the 400/409 in rs. */
static int bound_key(sup_req *rq, sup_resp *rs, const char *in, uint8_t key[KS_KEYID_SIZE],
                     const uint8_t **out)
{
    uint8_t pk[KS_PUBKEY_SIZE];
    int64_t found = 0;
    sup_dbv p;
    *out = NULL;
    if (!in || !*in || strcmp(in, "none") == 0)
        return 0;
    if (strlen(in) == 2 * KS_PUBKEY_SIZE && ks_unhex(pk, sizeof pk, in) == 0) {
        ks_key_id(&rq->s->crypto, key, pk);
    } else if (strlen(in) != 2 * KS_KEYID_SIZE || ks_unhex(key, KS_KEYID_SIZE, in) != 0) {
        api_error(rs, 400, "BAD_REQUEST", "field 'bound_key' must be a key id (32 hex digits) "
                  "or a public key (64 hex digits)");
        return -1;
    }
    p = sup_dbv_blob(key, KS_KEYID_SIZE);
    pthread_mutex_lock(&rq->s->lock);
    (void)sup_db_int(rq->s->db, "SELECT COUNT(*) FROM keys WHERE key_id = ?", &p, 1, &found);
    pthread_mutex_unlock(&rq->s->lock);
    if (!found) {
        api_error(rs, 409, "CONFLICT", "key %s is not enrolled: enrol the dongle first "
                  "(`keysup key enrol`), so controllers can check its presentation", in);
        return -1;
    }
    *out = key;
    return 0;
}

/* valid_until, when given, is ahead: a licence born expired helps nobody. */
static int future(const lic_in *in, sup_resp *rs)
{
    if (in->until && in->until <= sup_now()) {
        api_error(rs, 400, "BAD_REQUEST", "field 'valid_until' is in the past");
        return -1;
    }
    return 0;
}

/* A window without a key to present would be silently dropped: say so. */
static int window_alone(sup_req *rq, sup_resp *rs, const uint8_t *bk)
{
    if (bk || !api_has(rq, "bound_window"))
        return 0;
    api_error(rs, 400, "BAD_REQUEST", "field 'bound_window' needs 'bound_key' (the licence is "
              "not bound to a key)");
    return -1;
}

static void lic_issue(sup_req *rq, sup_resp *rs)
{
    const lic_in *in = rq->in;
    int64_t id = 0;
    char err[256];
    uint8_t key[KS_KEYID_SIZE];
    const uint8_t *bk;
    int rc;
    if (future(in, rs) || bound_key(rq, rs, in->bound_key, key, &bk) ||
        window_alone(rq, rs, bk))
        return;
    rc = sup_licence_issue(rq->s, (int64_t)in->ctrl, in->name ? in->name : "licence",
                           in->features, in->until, (uint32_t)in->warn, 0, bk,
                           bk ? (uint32_t)in->window : 0, &id, err, sizeof err);
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
                    const char *hint, ks_licence *old)
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
        const char *hex = json_string_value(json_object_get(r, "licence"));
        uint8_t b[KS_LICENCE_MAX];
        size_t n = 0;
        *ctrl = json_integer_value(json_object_get(r, "controller_id"));
        *features = json_integer_value(json_object_get(r, "features"));
        memset(old, 0, sizeof *old);
        if (hex && ks_unhex_upto(b, sizeof b, hex, &n) == 0)
            (void)ks_licence_decode(old, b, n, NULL);
    }
    json_decref(r);
    return rc;
}

static void lic_revoke(sup_req *rq, sup_resp *rs)
{
    int64_t id = ((const lic_in *)rq->in)->id, ctrl = 0, feat = 0;
    sup_dbv p = sup_dbv_int(id);
    ks_licence old;
    int rc;
    if (lic_live(rq, rs, id, &ctrl, &feat, "", &old))
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
 * its dongle: same controller, features and binding unless the body says
 * otherwise (bound_key: another dongle, or "none"). */
static void lic_reactivate(sup_req *rq, sup_resp *rs)
{
    const lic_in *in = rq->in;
    int64_t ctrl = 0, feat = 0, nid = 0;
    char err[256], nm[120];
    uint8_t key[KS_KEYID_SIZE];
    const uint8_t *bk = NULL;
    uint32_t window;
    ks_licence old;
    int rc;
    if (lic_live(rq, rs, in->id, &ctrl, &feat, ": reactivate the licence that replaced it, or"
                 " issue a new one", &old) ||
        future(in, rs))
        return;
    if (api_has(rq, "bound_key")) {
        if (bound_key(rq, rs, in->bound_key, key, &bk))
            return;
    } else if (ks_licence_bound(&old)) {
        memcpy(key, old.bound_key, KS_KEYID_SIZE);
        bk = key;
    }
    if (window_alone(rq, rs, bk))
        return;
    window = api_has(rq, "bound_window") || !ks_licence_bound(&old) ? (uint32_t)in->window
                                                                     : old.bound_window;
    snprintf(nm, sizeof nm, "%s", in->name ? in->name : "reactivated");
    rc = sup_licence_issue(rq->s, ctrl, nm,
                           api_has(rq, "features") ? in->features : (uint64_t)feat, in->until,
                           (uint32_t)in->warn, in->id, bk, bk ? window : 0, &nid, err,
                           sizeof err);
    issue_answer(rq, rs, rc, nid, err, "licence.reactivate");
}

/* The controller's active licence, as its signed bytes: 128 (version 1)
 * or 160 (version 2), docs/formats.md. */
static int blob_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    sup_resp *rs = ctx;
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_BLOB ||
        (c[0].n != KS_LICENCE_SIZE && c[0].n != KS_LICENCE_SIZE_V2))
        return 1;
    rs->bin = malloc(c[0].n);
    if (rs->bin) {
        memcpy(rs->bin, c[0].p, c[0].n);
        rs->bin_len = c[0].n;
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
#define LIC_BOUND                                                                      \
    SUP_STR("bound_key", 0, 64, lic_in, bound_key,                                     \
            "the dongle's key id (32 hex) or public key (64 hex): the licence counts only " \
            "while that key was presented within bound_window; \"none\": unbound"),         \
    SUP_INT("bound_window", 0, 1, 30 * 86400, 300, lic_in, window,                     \
            "seconds a presentation of the bound key counts (default 300)")
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
    LIC_BOUND,
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
    LIC_BOUND,
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
     "the controller's active licence, 128 or 160 signed bytes (application/octet-stream)"},
    {.method = NULL},
};
