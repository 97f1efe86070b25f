/*
 * api_device.c - /v1/device: what controllers call.
 *
 *   POST /v1/device/enroll        provisioning token + device public key
 *   GET  /v1/device/nonce         a single-use nonce for the next request
 *   GET  /v1/device/snapshot      the scope's signed snapshot (binary)
 *   GET  /v1/device/delta/{v}     delta from version v (binary; 204 when
 *                                 current; 409 when v is not retained)
 *   GET  /v1/device/rotation      the supervisor key rotation chain (binary)
 *   POST /v1/device/heartbeat     health report -> version + pending commands
 *   POST /v1/device/commands/{id}/ack
 *   POST /v1/device/audit         audit records (api_devaudit.c)
 *   POST /v1/device/time          a signed time token for the engine's nonce
 * Everything but enroll and nonce is signed with the device key (sup_http.c).
 *
 * Size: over 500 lines because the device protocol's routes share the
 * signed-request context and the answer signing; the snapshot serving is
 * already in api_snapshot.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_devaudit.h"
#include "api_hb.h"
#include "api_hbrep.h"
#include "sup_api.h"
#include "sup_clone.h"
#include "sup_cluster.h"
#include "sup_devcache.h"
#include "sup_diag.h"
#include "sup_restore.h"
#include "sup_soft.h"

/* ----- enrolment ----- */

/* The input of the device routes. */
typedef struct dev_in {
    const char *token, *fw, *message;
    int result;
    uint8_t pk[KS_PUBKEY_SIZE];
    uint8_t nonce[KS_NONCE_SIZE];
    uint64_t proto, since;
    int64_t id;
} dev_in;

typedef struct enrol_dev {
    const dev_in *in;
    uint8_t hash[KS_HASH_SIZE];
    int has_proto;
    int64_t id, scope, min_fmt;
    json_t *out;
} enrol_dev;

typedef struct prov_row {
    int64_t id, scope, min_fmt, expires;
    int found;
} prov_row;

static int prov_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    prov_row *p = ctx;
    (void)names;
    (void)ncol;
    p->id = c[0].i;
    p->scope = c[1].i;
    p->min_fmt = c[2].i;
    p->expires = c[3].i;
    p->found = 1;
    return 1;
}

static int enroll_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    enrol_dev *e = ctx;
    sup_ctx *s = rq->s;
    prov_row pr = {0, 0, 0, 0, 0};
    sup_dbv h = sup_dbv_blob(e->hash, sizeof e->hash);
    char target[48], pkhex[2 * KS_PUBKEY_SIZE + 1];
    uint8_t *chain = NULL;
    size_t clen = 0;
    int rc;

    sup_db_exec(s->db, "SELECT id, scope, min_key_format, prov_expires FROM controllers"
                      " WHERE prov_hash = ?", &h, 1, prov_cb, &pr);
    if (!pr.found || (uint64_t)pr.expires <= sup_now()) {
        /* Sampled, and counted against the client's enrolment budget (sup_http.c):
         * guessing tokens is throttled per address. */
        api_refusal(rq, 1, "device.enroll", pr.found ? "controller" : "-", "UNAUTHORIZED",
                    pr.found ? "provisioning token expired" : "unknown token");
        api_error(rs, 401, "UNAUTHORIZED", "field 'token': unknown, used or expired provisioning"
                  " token (ask an operator for a new one: keysup controller provision)");
        return KS_DB_OK; /* commit the audit entry */
    }
    {
        sup_dbv p[5] = {sup_dbv_blob(e->in->pk, KS_PUBKEY_SIZE), sup_dbv_int((int64_t)sup_now()),
                       sup_dbv_text(e->in->fw), e->has_proto ? sup_dbv_int((int64_t)e->in->proto)
                                                        : sup_dbv_null(),
                       sup_dbv_int(pr.id)};
        rc = sup_db_exec(s->db, "UPDATE controllers SET device_pk = ?, enrolled_at = ?,"
                               " firmware_version = ?, protocol_version = ?, prov_hash = NULL,"
                               " prov_expires = NULL WHERE id = ?", p, 5, NULL, NULL);
    }
    if (rc == KS_DB_CONSTRAINT) {
        api_error(rs, 409, "CONFLICT", "field 'public_key': this device key belongs to another"
                  " controller");
        return API_TX_ABORT;
    }
    if (rc)
        return rc;
    sup_devcache_forget(s, pr.id); /* a re-enrolment's new key, not the old one */
    if (sup_sigkey_chain(s, &chain, &clen) != KS_OK)
        return KS_DB_ERR;
    snprintf(target, sizeof target, "controller:%lld", (long long)pr.id);
    sup_audit(s, 1, target, "device.enroll", target, "ok", NULL, NULL);
    ks_hex(pkhex, s->pk, KS_PUBKEY_SIZE);
    {
        char *ch = malloc(2 * clen + 1);
        uint8_t kid[KS_KEYID_SIZE];
        char kidhex[2 * KS_KEYID_SIZE + 1];
        if (!ch) {
            free(chain);
            return KS_DB_ERR;
        }
        ks_hex(ch, chain ? chain : (const uint8_t *)"", clen);
        ks_key_id(&s->crypto, kid, s->pk);
        ks_hex(kidhex, kid, sizeof kid);
        e->out = json_pack("{s:I,s:I,s:I,s:s,s:s,s:[s],s:s,s:i}", "controller_id",
                           (json_int_t)pr.id, "scope", (json_int_t)pr.scope, "min_key_format",
                           (json_int_t)pr.min_fmt, "supervisor_public_key", pkhex,
                           "supervisor_key_id", kidhex, "supervisor_keys", pkhex,
                           "rotation_chain", ch, "heartbeat_interval",
                           (int)s->cfg.heartbeat_interval);
        free(ch);
    }
    free(chain);
    return KS_DB_OK;
}

static const sup_field enroll_fields[] = {
    SUP_STR("token", SUP_REQUIRED, 100, dev_in, token, "the provisioning token (ksp_...)"),
    SUP_HEX("public_key", SUP_REQUIRED, KS_PUBKEY_SIZE, dev_in, pk, "the device key"),
    SUP_STR("firmware_version", 0, 64, dev_in, fw, "the controller's firmware"),
    SUP_INT("protocol_version", 0, 0, 65535, 0, dev_in, proto, "device protocol it speaks"),
    SUP_END,
};
static const sup_schema enroll_schema = {sizeof(dev_in), SUP_BODY_FIELDS, enroll_fields};

static void dev_enroll(sup_req *rq, sup_resp *rs)
{
    const dev_in *in = rq->in;
    enrol_dev e;
    memset(&e, 0, sizeof e);
    e.in = in;
    e.has_proto = api_has(rq, "protocol_version");
    sup_token_hash(&rq->s->crypto, in->token, e.hash);
    if (api_tx(rq, rs, enroll_tx, &e) == 0 && e.out) {
        api_json(rs, 200, e.out);
        e.out = NULL;
    }
    json_decref(e.out);
}

static void dev_nonce(sup_req *rq, sup_resp *rs)
{
    uint8_t n[32];
    char h[65];
    /* Tagged with the client address: a flood displaces only its own
     * nonces (the rate limit ran before this handler). */
    if (sup_nonce_issue(rq->s, rq->client ? rq->client->tag : 0, n)) {
        rs->retry_after = 1;
        api_error(rs, 503, "RATE_LIMITED", "the nonce table has no room for this client now;"
                  " retry in a second");
        return;
    }
    ks_hex(h, n, sizeof n);
    api_json(rs, 200, json_pack("{s:s,s:i}", "nonce", h, "ttl", (int)rq->s->cfg.nonce_ttl));
}

/* ----- snapshots ----- */

/*
 * A controller that last reported a device protocol this supervisor does
 * not speak gets no database (issue 17 row 11): it could misread it. It
 * keeps heartbeating, so diagnosis names KSE-401 and the firmware step.
 * Returns 1 (and the 409 KSE-401 answer) when the sync is refused.
 */
static int proto_refused(sup_req *rq, sup_resp *rs)
{
    sup_ctx *s = rq->s;
    sup_devinfo di;
    int64_t pv;
    char kse[12];
    /* From the device cache (a protocol change forgets it: hb_tx). */
    if (sup_devcache_get(s, rq->ctrl_id, &di) != 1 || !di.has_proto)
        return 0;
    pv = di.proto;
    if (pv >= s->cfg.protocol_min && pv <= s->cfg.protocol_max)
        return 0;
    if (rs)
        api_error(rs, 409, SUP_KSE_TEXT(kse, FIRMWARE_INCOMPATIBLE), "the controller speaks device protocol %lld; this supervisor"
                  " supports %u to %u: no database is sent until its firmware is updated",
                  (long long)pv, s->cfg.protocol_min, s->cfg.protocol_max);
    return 1;
}

int sup_dev_proto_ok(sup_ctx *s, int64_t ctrl_id)
{
    sup_req rq = {.s = s, .ctrl_id = ctrl_id};
    return !proto_refused(&rq, NULL);
}

static void dev_snapshot(sup_req *rq, sup_resp *rs)
{
    if (proto_refused(rq, rs))
        return;
    api_snapshot_serve(rq, rs); /* shared image, Range/ETag, download limit */
}

static const sup_field delta_fields[] = {
    SUP_P_INT("version", dev_in, since, "the version the controller holds"), SUP_END};
static const sup_schema delta_schema = {sizeof(dev_in), SUP_BODY_NONE, delta_fields};

static void dev_delta(sup_req *rq, sup_resp *rs)
{
    uint64_t since = ((const dev_in *)rq->in)->since, v = 0;
    char kse[12];
    int rc;
    if (proto_refused(rq, rs))
        return;
    rc = sup_pub_delta(rq->s, rq->ctrl_scope, since, &rs->bin, &rs->bin_len, &v);
    rs->version = v;
    rs->self_signed = rs->bin != NULL;
    if (rc == KS_OK && !rs->bin) {
        rs->status = 204; /* already current */
        return;
    }
    if (rc == KS_E_ROLLBACK) {
        api_error(rs, 409, SUP_KSE_TEXT(kse, DESYNC), "version %llu is newer than the published %llu: the"
                  " controller's database differs from the supervisor's; download the snapshot",
                  (unsigned long long)since, (unsigned long long)v);
        return;
    }
    if (rc == KS_E_NOTFOUND) {
        api_error(rs, 409, "CONFLICT", "version %llu is no longer retained; download the full"
                  " snapshot (/v1/device/snapshot)", (unsigned long long)since);
        return;
    }
    if (rc) {
        api_error(rs, 500, "INTERNAL", "cannot make the delta: %s", ks_strerror(rc));
        return;
    }
    atomic_fetch_add(&rq->s->metrics.deltas_served, 1);
    rs->status = 200;
}

static void dev_rotation(sup_req *rq, sup_resp *rs)
{
    uint8_t *chain = NULL;
    size_t len = 0;
    int rc;
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_sigkey_chain(rq->s, &chain, &len);
    pthread_mutex_unlock(&rq->s->lock);
    if (rc) {
        api_error(rs, 500, "INTERNAL", "cannot read the rotation chain");
        return;
    }
    rs->status = 200;
    rs->bin = chain ? chain : malloc(1);
    rs->bin_len = len;
}

/* ----- trusted time ----- */

typedef struct devpk {
    uint8_t pk[KS_PUBKEY_SIZE];
    int found;
} devpk;

static int devpk_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    devpk *d = ctx;
    (void)ncol;
    (void)names;
    if (c[0].type == KS_DBV_BLOB && c[0].n == KS_PUBKEY_SIZE) {
        memcpy(d->pk, c[0].p, KS_PUBKEY_SIZE);
        d->found = 1;
    }
    return 1;
}

/*
 * A supervisor-signed time token (docs/auth.md) bound to this controller
 * (the key id of its device key) and to the nonce the controller's engine
 * asked for, so it cannot be replayed later or to another controller.
 */
static const sup_field time_fields[] = {
    SUP_HEX("nonce", SUP_REQUIRED, KS_NONCE_SIZE, dev_in, nonce, "the engine's time nonce"),
    SUP_END,
};
static const sup_schema time_schema = {sizeof(dev_in), SUP_BODY_FIELDS, time_fields};

static void dev_time(sup_req *rq, sup_resp *rs)
{
    ks_time_token t;
    uint8_t out[KS_TIME_TOKEN_SIZE];
    char hex[2 * KS_TIME_TOKEN_SIZE + 1];
    devpk d = {{0}, 0};
    sup_dbv id = sup_dbv_int(rq->ctrl_id);
    int rc;
    memset(&t, 0, sizeof t);
    memcpy(t.nonce, ((const dev_in *)rq->in)->nonce, KS_NONCE_SIZE);
    pthread_mutex_lock(&rq->s->lock);
    sup_db_exec(rq->s->db, "SELECT device_pk FROM controllers WHERE id = ?", &id, 1, devpk_cb, &d);
    if (d.found) {
        ks_key_id(&rq->s->crypto, t.controller_id, d.pk);
        t.time = sup_now();
        rc = ks_time_token_make(&rq->s->crypto, &t, rq->s->sk, out);
    } else {
        rc = KS_E_NOTFOUND;
    }
    pthread_mutex_unlock(&rq->s->lock);
    if (rc) {
        api_error(rs, 500, "INTERNAL", "cannot sign a time token: %s", ks_strerror(rc));
        return;
    }
    ks_hex(hex, out, sizeof out);
    /* the lock was released above: sup_audit takes it (keysup-sim's drift
     * fault found two time syncs writing the database at once) */
    sup_audit(rq->s, 0, rq->actor, "device.time_sync", rq->actor, "ok", NULL, NULL);
    api_json(rs, 200, json_pack("{s:s,s:I}", "token", hex, "time", (json_int_t)t.time));
}

/* ----- heartbeat ----- */

typedef struct hb {
    json_t *report;
    char *text;
    api_hb in;   /* the report, read once (api_hbfast.c) */
    json_t *cmds;
    int restored; /* this report proved a restored supervisor: kick the publisher */
} hb;

/* The full path: the steady heartbeat takes api_hb_fast instead. */
static int hb_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    hb *h = ctx;
    sup_ctx *s = rq->s;
    const api_hb *in = &h->in;
    sup_dbv id = sup_dbv_int(rq->ctrl_id);
    uint64_t gen;
    int rc;

    (void)rs;
    rc = sup_soft_put(s, &in->sr) == 0 ? KS_DB_OK : sup_soft_write(s, &in->sr);
    /* The protocol decides what this supervisor serves (proto_refused):
     * a change is written now, in this transaction, not with the batch.
     * An unchanged one writes nothing, so the commit stays a read. */
    if (rc == KS_DB_OK && in->sr.has_protocol) {
        sup_dbv q[3] = {sup_dbv_int(in->sr.protocol), id, sup_dbv_int(in->sr.protocol)};
        rc = sup_db_exec(s->db, "UPDATE controllers SET protocol_version = ? WHERE id = ?"
                                " AND (protocol_version IS NULL OR protocol_version <> ?)",
                         q, 3, NULL, NULL);
        if (rc == KS_DB_OK && sup_db_changes(s->db) > 0)
            sup_devcache_forget(s, rq->ctrl_id);
    }
    if (rc)
        return rc;
    if (in->has_av) {
        rc = sup_restore_check(s, rq->ctrl_id, rq->ctrl_scope, in->av,
                               in->has_root ? in->root : NULL, in->has_hist, in->hist, in->pv,
                               in->proot, in->proof, in->header);
        if (rc < 0)
            return rc;
        h->restored = rc;
    }
    /* Read under the lock, before the query: a command queued after it
     * bumps the generation, so "none pending" is not cached over it. */
    gen = sup_devcache_gen(s, rq->ctrl_id);
    h->cmds = sup_db_rows_json(s->db, "SELECT id, command, args FROM commands WHERE"
                              " controller_id = ? AND state = 'pending' ORDER BY id", &id, 1, &rc);
    if (h->cmds && json_array_size(h->cmds) == 0)
        sup_devcache_no_commands(s, rq->ctrl_id, gen);
    return rc;
}

static void dev_heartbeat(sup_req *rq, sup_resp *rs)
{
    hb h;
    uint8_t root[KS_HASH_SIZE];
    char rh[2 * KS_HASH_SIZE + 1];
    uint64_t v;
    size_t i;
    json_t *c, *ans;
    api_hbsess_offer offer;
    api_hbrep rep = {0};

    memset(&h, 0, sizeof h);
    memset(&offer, 0, sizeof offer);
    /* The report as sent (api_hb_read reads what it knows), or completed
     * from the one held when it was left out; the health column keeps the
     * body as sent, not a second serialisation of it (api_hbrep.h). */
    if (api_hbrep_take(rq, rs, &rep) != 0)
        goto cleanup;
    h.report = rep.report;
    h.text = rep.text;
    api_hb_read(rq, h.report, h.text, &h.in);
    h.in.sr.live = (char *)rep.live; /* short: the stored whole report stands (sup_health.h) */
    if (!api_hb_fast(rq, &h.in, &h.cmds) && api_tx(rq, rs, hb_tx, &h) != 0)
        goto cleanup;
    atomic_fetch_add(&rq->s->metrics.heartbeats, 1);
    if (h.restored)
        sup_pub_kick(rq->s);
    json_array_foreach(h.cmds, i, c) {
        json_t *a = json_loads(json_string_value(json_object_get(c, "args")), 0, NULL);
        json_object_set_new(c, "args", a ? a : json_object());
    }
    v = sup_pub_version(rq->s, rq->ctrl_scope, root);
    if (proto_refused(rq, NULL))
        v = 0; /* nothing to sync to: see proto_refused */
    ks_hex(rh, root, KS_HASH_SIZE);
    api_hbsess_take_offer(rq, h.report, &offer); /* a signed report may open a session */
    offer.report_held = rep.held[0] ? rep.held : NULL;
    if (json_array_size(h.cmds) == 0 && api_hb_answer(rq, rs, v, rh, &offer) == 0)
        goto hooks;
    ans = json_pack("{s:I,s:I,s:I,s:s,s:I,s:i,s:O}", "controller_id", (json_int_t)rq->ctrl_id,
                    "scope", (json_int_t)rq->ctrl_scope, "version", (json_int_t)v, "root", rh,
                    "server_time", (json_int_t)sup_now(), "heartbeat_interval",
                    (int)rq->s->cfg.heartbeat_interval, "commands", h.cmds ? h.cmds : json_array());
    api_hb_next_nonce(rq, ans);
    api_hb_offer_json(ans, &offer);
    api_json(rs, 200, ans);
hooks:
    if (rq->s->hooks.on_heartbeat)
        rq->s->hooks.on_heartbeat(rq->s->hooks.ctx, rq->s, rq->ctrl_id, h.report);
cleanup:
    json_decref(h.cmds);
    api_hbrep_done(&rep);
}

/* ----- command acknowledgements ----- */

typedef struct ack {
    int64_t id;
    const char *result, *message;
} ack;

static int ack_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    ack *a = ctx;
    sup_dbv p[2] = {sup_dbv_int(a->id), sup_dbv_int(rq->ctrl_id)};
    int64_t one;
    char target[48], *res;
    int rc;
    if (sup_db_int(rq->s->db, "SELECT 1 FROM commands WHERE id = ? AND controller_id = ?", p, 2,
                  &one) != KS_DB_OK) {
        api_error(rs, 404, "NOT_FOUND", "no command %lld for this controller", (long long)a->id);
        return API_TX_ABORT;
    }
    {
        json_t *o = json_pack("{s:s,s:s?}", "result", a->result, "message", a->message);
        res = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    {
        sup_dbv q[4] = {sup_dbv_text(strcmp(a->result, "ok") == 0 ? "done" : "failed"),
                       sup_dbv_text(res), sup_dbv_int((int64_t)sup_now()), sup_dbv_int(a->id)};
        /* Only the first acknowledgement counts; repeats are harmless. */
        rc = sup_db_exec(rq->s->db, "UPDATE commands SET state = ?, result = ?, acked_at = ?"
                                   " WHERE id = ? AND state = 'pending'", q, 4, NULL, NULL);
    }
    free(res);
    if (rc)
        return rc;
    snprintf(target, sizeof target, "command:%lld", (long long)a->id);
    sup_audit(rq->s, 1, rq->actor, "command.ack", target,
             strcmp(a->result, "ok") == 0 ? "ok" : "failed", NULL, a->message);
    return KS_DB_OK;
}

static const char *ack_result(int v) { return v == 0 ? "ok" : v == 1 ? "failed" : NULL; }

static const sup_field ack_fields[] = {
    SUP_P_ID("command", dev_in, id),
    SUP_ENUM("result", SUP_REQUIRED, ack_result, 0, 1, 0, dev_in, result, "how the command ended"),
    SUP_STR("message", 0, 500, dev_in, message, "what happened, for people"),
    SUP_END,
};
static const sup_schema ack_schema = {sizeof(dev_in), SUP_BODY_FIELDS, ack_fields};

static void dev_ack(sup_req *rq, sup_resp *rs)
{
    const dev_in *in = rq->in;
    ack a = {in->id, ack_result(in->result), in->message};
    if (api_tx(rq, rs, ack_tx, &a) == 0) {
        api_json(rs, 200, json_pack("{s:I,s:s}", "id", (json_int_t)a.id, "acknowledged", "yes"));
        if (rq->s->hooks.on_command_ack)
            rq->s->hooks.on_command_ack(rq->s->hooks.ctx, rq->s, rq->ctrl_id, a.id, a.result);
    }
}

/* The health report is open-ended (docs/api.md, the heartbeat row): hb_tx reads
 * the members it knows and stores the report as sent. */
static const sup_schema heartbeat_schema = {0, SUP_BODY_ANY, NULL};

const sup_api_route sup_routes_device[] = {
    {"POST", "/v1/device/enroll", KS_AUTH_PUBLIC, dev_enroll, &enroll_schema,
     "enrol a controller's device key with its provisioning token"},
    {"GET", "/v1/device/nonce", KS_AUTH_PUBLIC, dev_nonce, &sup_no_input,
     "a single-use nonce for a signed device request"},
    {"GET", "/v1/device/snapshot", KS_AUTH_DEVICE, dev_snapshot, &sup_no_input,
     "the signed snapshot of the controller's scope"},
    {"GET", "/v1/device/delta/*", KS_AUTH_DEVICE, dev_delta, &delta_schema,
     "the signed delta from a version (204: current)"},
    {"GET", "/v1/device/rotation", KS_AUTH_DEVICE, dev_rotation, &sup_no_input,
     "the supervisor key rotation chain"},
    {"POST", "/v1/device/heartbeat", KS_AUTH_DEVICE, dev_heartbeat, &heartbeat_schema,
     "health report; answers the version, pending commands and the next nonce"},
    {"POST", "/v1/device/commands/*/ack", KS_AUTH_DEVICE, dev_ack, &ack_schema,
     "acknowledge a command"},
    {"POST", "/v1/device/audit", KS_AUTH_DEVICE, api_dev_audit, &api_dev_audit_schema,
     "upload device audit records"},
    {"POST", "/v1/device/time", KS_AUTH_DEVICE, dev_time, &time_schema,
     "a supervisor-signed time token for a nonce"},
    {.method = NULL},
};
