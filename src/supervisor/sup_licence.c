/*
 * sup_licence.c - feature licences issued by the supervisor (sup_licence.h).
 *
 * A licence row keeps what the operator asked for and the signed bytes a
 * controller checks (ks_licence_make: bound to the controller's device key
 * id, the feature bits, issued and expiry time, signed by the supervisor
 * key that is active at issue, in a file or a token). Reactivation never
 * edits a licence: it issues a new one that replaces it, so every licence a
 * controller ever held stays verifiable and auditable.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_diag.h"
#include "sup_licence.h"

const char sup_licence_schema[] =
    "CREATE TABLE licences(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " controller_id INTEGER NOT NULL REFERENCES controllers(id) ON DELETE CASCADE,"
    " features INTEGER NOT NULL, issued_at INTEGER NOT NULL, valid_until INTEGER NOT NULL,"
    " warn_days INTEGER NOT NULL, state TEXT NOT NULL, replaces INTEGER, replaced_by INTEGER,"
    " warn_incident INTEGER, licence BLOB NOT NULL);"
    "CREATE INDEX licences_ctrl ON licences(controller_id, state);";

/* The names are the engine's (ks_feature_name). */
const char *sup_licence_feature_name(int bit)
{
    return bit >= 0 ? ks_feature_name((unsigned)bit) : NULL;
}

int sup_licence_feature_bit(const char *name)
{
    char *end;
    long b;
    for (int i = 0; ks_feature_name((unsigned)i); i++)
        if (strcmp(name, ks_feature_name((unsigned)i)) == 0)
            return i;
    if (strncmp(name, "bit", 3) != 0)
        return -1;
    b = strtol(name + 3, &end, 10);
    return *end || end == name + 3 || b < 0 || b > 63 ? -1 : (int)b;
}

json_t *sup_licence_feature_names(uint64_t features)
{
    json_t *a = json_array();
    char buf[16];
    for (int b = 0; b < 64; b++) {
        if (!((features >> b) & 1u))
            continue;
        if (ks_feature_name((unsigned)b)) {
            json_array_append_new(a, json_string(ks_feature_name((unsigned)b)));
        } else {
            snprintf(buf, sizeof buf, "bit%d", b);
            json_array_append_new(a, json_string(buf));
        }
    }
    return a;
}

typedef struct pk_row {
    uint8_t pk[KS_PUBKEY_SIZE];
    int found, enrolled;
} pk_row;

static int pk_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    pk_row *r = ctx;
    (void)names;
    r->found = 1;
    if (ncol >= 1 && c[0].type == KS_DBV_BLOB && c[0].n == KS_PUBKEY_SIZE) {
        memcpy(r->pk, c[0].p, KS_PUBKEY_SIZE);
        r->enrolled = 1;
    }
    return 1;
}

void sup_licence_resolve_warning(sup_ctx *s, int64_t id, const char *why)
{
    sup_dbv p[3] = {sup_dbv_int((int64_t)sup_now() * 1000), sup_dbv_text(why), sup_dbv_int(id)};
    sup_db_exec(s->db, "UPDATE incidents SET state = 'resolved', resolved_ms = ?1,"
                       " updated_ms = ?1, resolution = ?2 WHERE state = 'open' AND id ="
                       " (SELECT warn_incident FROM licences WHERE id = ?3)", p, 3, NULL, NULL);
}

int sup_licence_issue(sup_ctx *s, int64_t ctrl_id, const char *name, uint64_t features,
                      uint64_t valid_until, uint32_t warn_days, int64_t replaces,
                      const uint8_t *bound_key, uint32_t bound_window, int64_t *id,
                      char *err, size_t errlen)
{
    uint8_t sk[KS_SECKEY_SIZE], out[KS_LICENCE_SIZE_V2];
    ks_licence l;
    pk_row r;
    sup_dbv q = sup_dbv_int(ctrl_id);
    int rc, in_tx = 0, step = 0;

    memset(&r, 0, sizeof r);
    memset(&l, 0, sizeof l);
    /* One transaction under the lock: the row is inserted first because
     * its id is the licence's serial, which the signed bytes carry so that
     * a controller's report names the licence (version 2, docs/formats.md).
     * The signature is made inside; a token takes milliseconds, and
     * issuing is a rare operator action. */
    pthread_mutex_lock(&s->lock);
    rc = sup_db_exec(s->db, "SELECT device_pk FROM controllers WHERE id = ?", &q, 1, pk_cb, &r);
    memcpy(sk, s->sk, sizeof sk);
    if (rc || !r.found) {
        snprintf(err, errlen, "no controller %lld", (long long)ctrl_id);
        rc = KS_E_NOTFOUND;
        goto cleanup;
    }
    if (!r.enrolled) {
        snprintf(err, errlen, "controller %lld is not enrolled yet: a licence is bound to its "
                              "device key", (long long)ctrl_id);
        rc = KS_E_INVAL;
        goto cleanup;
    }
    /* The engine binds a licence to the controller id it authenticates
     * with: the key id of its device key. */
    ks_key_id(&s->crypto, l.controller_id, r.pk);
    l.features = features;
    l.issued_at = sup_now();
    l.expires_at = valid_until;
    if (bound_key) {
        memcpy(l.bound_key, bound_key, KS_KEYID_SIZE);
        l.bound_window = bound_window;
    }
    {
        sup_dbv p[7] = {sup_dbv_text(name), sup_dbv_int(ctrl_id), sup_dbv_int((int64_t)features),
                        sup_dbv_int((int64_t)l.issued_at), sup_dbv_int((int64_t)valid_until),
                        sup_dbv_int(warn_days), replaces ? sup_dbv_int(replaces) : sup_dbv_null()};
        rc = sup_db_begin(s->db);
        in_tx = rc == 0;
        if (!rc)
            rc = sup_db_exec(s->db, "INSERT INTO licences(name, controller_id, features, issued_at,"
                                    " valid_until, warn_days, state, replaces, licence)"
                                    " VALUES (?,?,?,?,?,?,'active',?,'')", p, 7, NULL, NULL);
    }
    if (!rc) {
        *id = sup_db_last_id(s->db);
        l.serial = (uint64_t)*id;
        step = 1;
        rc = ks_licence_make_v2(&s->crypto, &l, sk, out);
    }
    if (!rc) {
        sup_dbv u[2] = {sup_dbv_blob(out, sizeof out), sup_dbv_int(*id)};
        step = 2;
        rc = sup_db_exec(s->db, "UPDATE licences SET licence = ? WHERE id = ?", u, 2, NULL, NULL);
    }
    if (!rc && replaces) {
        char why[96];
        sup_dbv u[2] = {sup_dbv_int(*id), sup_dbv_int(replaces)};
        snprintf(why, sizeof why, "reactivated: licence %lld replaces it", (long long)*id);
        sup_licence_resolve_warning(s, replaces, why);
        rc = sup_db_exec(s->db, "UPDATE licences SET state = 'replaced', replaced_by = ?"
                                " WHERE id = ?", u, 2, NULL, NULL);
    }
    if (!rc)
        rc = sup_db_commit(s->db);
    if (rc) {
        if (step == 1) {
            snprintf(err, errlen, "signing the licence: %s", ks_strerror(rc));
            rc = KS_E_CRYPTO;
        } else {
            snprintf(err, errlen, "database: %s", sup_db_errmsg(s->db));
            rc = KS_E_IO;
        }
        if (in_tx)
            sup_db_rollback(s->db);
    }
cleanup:
    pthread_mutex_unlock(&s->lock);
    ks_wipe(sk, sizeof sk);
    return rc;
}

typedef struct due {
    int64_t id, ctrl, until, features;
    char name[128];
} due;

typedef struct due_list {
    due v[16];
    int n;
} due_list;

static int due_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    due_list *d = ctx;
    (void)names;
    if (ncol < 5 || d->n == 16)
        return 1;
    d->v[d->n].id = c[0].i;
    d->v[d->n].ctrl = c[1].i;
    d->v[d->n].until = c[2].i;
    d->v[d->n].features = c[3].i;
    snprintf(d->v[d->n].name, sizeof d->v[d->n].name, "%.*s", (int)c[4].n,
             c[4].p ? (const char *)c[4].p : "");
    d->n++;
    return 0;
}

void sup_licence_sweep(sup_ctx *s)
{
    int64_t now = (int64_t)sup_now(), now_ms = now * 1000;
    sup_dbv p = sup_dbv_int(now);
    due_list d;

    d.n = 0;
    pthread_mutex_lock(&s->lock);
    /* Warn once per licence, warn_days before it expires (and at once for
     * one issued inside its window): one incident, not a refusal storm on
     * the day itself. */
    sup_db_exec(s->db, "SELECT id, controller_id, valid_until, features, name FROM licences"
                       " WHERE state = 'active' AND valid_until > 0 AND warn_incident IS NULL"
                       " AND valid_until - warn_days * 86400 <= ? ORDER BY id", &p, 1, due_cb, &d);
    for (int i = 0; i < d.n; i++) {
        char title[200], ev[400];
        json_t *f = sup_licence_feature_names((uint64_t)d.v[i].features);
        char *fs = json_dumps(f, JSON_COMPACT);
        snprintf(title, sizeof title, "Licence %lld '%s' %s", (long long)d.v[i].id, d.v[i].name,
                 d.v[i].until <= now ? "has expired" : "expires soon");
        snprintf(ev, sizeof ev, "licence %lld '%s' (features %s) %s %lld; fix: `keysup licence "
                 "reactivate %lld --valid-until DATE` before then", (long long)d.v[i].id,
                 d.v[i].name, fs ? fs : "?", d.v[i].until <= now ? "expired at" : "expires at",
                 (long long)d.v[i].until, (long long)d.v[i].id);
        free(fs);
        json_decref(f);
        {
            sup_dbv q[6] = {sup_dbv_int(d.v[i].ctrl), sup_dbv_text(title), sup_dbv_int(now_ms),
                            sup_dbv_text(ev), sup_dbv_int(SUP_KSE(LICENCE_EXPIRING)),
                            sup_dbv_null()};
            if (sup_db_exec(s->db, "INSERT INTO incidents(controller_id, code, symbol, state,"
                                   " title, first_evidence_ms, detected_ms, updated_ms, evidence,"
                                   " symptoms, repair, repairs) VALUES (?1, ?5,"
                                   " 'LICENCE_EXPIRING', 'open', ?2, ?3, ?3, ?3, ?4, '{}',"
                                   " 'none', 0)", q, 5, NULL, NULL) != KS_DB_OK)
                continue;
            q[5] = sup_dbv_int(sup_db_last_id(s->db));
            q[0] = q[5];
            q[1] = sup_dbv_int(d.v[i].id);
            sup_db_exec(s->db, "UPDATE licences SET warn_incident = ? WHERE id = ?", q, 2, NULL,
                        NULL);
        }
        sup_log(KS_LOG_WARN, "licence.expiring", "licence=%lld controller=%lld valid_until=%lld",
                (long long)d.v[i].id, (long long)d.v[i].ctrl, (long long)d.v[i].until);
    }
    pthread_mutex_unlock(&s->lock);
}
