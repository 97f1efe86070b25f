/*
 * sup_clone.c - clone detection across controllers (KSE-214): the rule, the
 * table of key uses it reads, and what a contradiction does (an incident,
 * and the key's suspension under clone_policy = suspend).
 *
 * Why it is sound: the use counter is inside the key's signature over the
 * controller's challenge, which the controller verified against the
 * enrolled public key before it granted; the audit upload that carries it
 * is itself a signed device request. So a counter in a granted record was
 * signed by the holder of the key's secret. A genuine key's counter grows
 * with every signature; two devices holding one secret each keep their own
 * counter, and their uses interleave out of order (sup_clone.h).
 *
 * What keeps it quiet (docs/diagnosis.md): uses are ordered by the
 * controllers' own decision times, never by when an upload arrived, so an
 * offline controller uploading a day late in counter order is no incident;
 * times differing by less than twice the clock tolerance are not ordered at
 * all; a time the controller itself did not trust is never ordered.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <keysup/ks_auth.h>
#include <keysup/ks_record.h>
#include "sup.h"
#include "sup_clone.h"
#include "sup_diag.h"
#include "sup_webhook.h"

#define CLONE_ACTOR "keysupd:clone"

const char sup_clone_schema[] =
    "CREATE TABLE key_uses(controller_id INTEGER NOT NULL REFERENCES controllers(id)"
    " ON DELETE CASCADE, seq INTEGER NOT NULL, key_id TEXT NOT NULL, counter INTEGER NOT NULL,"
    " ts INTEGER NOT NULL, trusted INTEGER NOT NULL, PRIMARY KEY(controller_id, seq));"
    "CREATE INDEX key_uses_key ON key_uses(key_id, counter);";

uint32_t sup_clone_margin(uint32_t clock_tolerance)
{
    return 2u * clock_tolerance;
}

int sup_clone_contradicts(const sup_key_use *a, const sup_key_use *b, uint32_t margin)
{
    const sup_key_use *early, *late;
    if (a->ctrl == b->ctrl)
        return 0; /* the controller's own check (KSE-206) covers one controller */
    if (a->counter == b->counter)
        return 1; /* one counter signed twice: no clock needed */
    if (!a->trusted || !b->trusted)
        return 0;
    early = a->time <= b->time ? a : b;
    late = early == a ? b : a;
    /* Strictly more than the margin: the order is then certain whatever the
     * two clocks' errors within their tolerance. */
    return late->time - early->time > (int64_t)margin && early->counter > late->counter;
}

int sup_clone_use_from_record(json_t *rec, int64_t ctrl, char key[33], sup_key_use *u)
{
    json_t *ev = json_object_get(rec, "event"), *det = json_object_get(rec, "detail");
    json_t *t = json_object_get(rec, "time"), *clk = json_object_get(rec, "clock");
    const char *kid = json_string_value(json_object_get(rec, "key_id"));
    uint8_t raw[KS_KEYID_SIZE];
    int64_t e;

    if (!json_is_integer(ev) || !json_is_integer(det) || !json_is_integer(t) || !kid ||
        ks_unhex(raw, sizeof raw, kid) != 0)
        return 0;
    e = json_integer_value(ev);
    if (!((e == KS_EV_DECISION && json_is_true(json_object_get(rec, "granted"))) ||
          e == KS_EV_FIRST_OF_TWO))
        return 0;
    /* A counter above INT64_MAX arrives negative (the JSON integer is
     * signed): it cannot be ordered in the table, so it is not compared. */
    if (json_integer_value(det) < 0 || json_integer_value(t) < 0)
        return 0;
    ks_hex(key, raw, sizeof raw);
    u->ctrl = ctrl;
    u->counter = json_integer_value(det);
    u->time = json_integer_value(t);
    /* A granted decision was made on a time the engine accepted (a clock it
     * knew to be bad refuses, KSE-600/601); one it flagged is still never
     * ordered. Without the flags (an older agent) the time is not trusted.
     * Anchoring by a time token is not required: agents ask for one only
     * when the diagnosis finds their clock off (clock_ok below). */
    u->trusted = json_is_integer(clk) &&
                 !(json_integer_value(clk) & (KS_CLOCK_SKEW | KS_CLOCK_RTC_FAIL));
    return 1;
}

int sup_clone_policy_parse(const char *v, int *policy)
{
    if (strcmp(v, "alert") == 0)
        *policy = SUP_CLONE_ALERT;
    else if (strcmp(v, "suspend") == 0)
        *policy = SUP_CLONE_SUSPEND;
    else
        return -1;
    return 0;
}

const char *sup_clone_policy_name(int policy)
{
    return policy == SUP_CLONE_ALERT ? "alert" : "suspend";
}

/* ----- the table and the incident ----- */

typedef struct hit {
    int found;
    sup_key_use other;
} hit;

static int hit_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    hit *h = ctx;
    (void)names;
    if (ncol < 4)
        return 0;
    h->found = 1;
    h->other.ctrl = c[0].i;
    h->other.counter = c[1].i;
    h->other.time = c[2].i;
    h->other.trusted = (int)c[3].i;
    return 1;
}

static int name_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    (void)names;
    if (ncol >= 1 && c[0].type == KS_DBV_TEXT)
        snprintf(ctx, 64, "%s", (const char *)c[0].p);
    return 1;
}

static void ctrl_name(sup_ctx *s, int64_t id, char out[64])
{
    sup_dbv p = sup_dbv_int(id);
    snprintf(out, 64, "?");
    sup_db_exec(s->db, "SELECT name FROM controllers WHERE id = ?", &p, 1, name_cb, out);
}

static int db(sup_ctx *s, const char *step, const char *sql, const sup_dbv *p, int n,
              sup_db_row_fn fn, void *ctx)
{
    int rc = sup_db_exec(s->db, sql, p, n, fn, ctx);
    if (rc != KS_DB_OK)
        sup_log(KS_LOG_ERROR, "clone.db", "step=%s error=\"%s\"", step, sup_db_errmsg(s->db));
    return rc;
}

/* Suspends an active key and marks its scope; 1 when it changed. */
static int suspend_key(sup_ctx *s, const char *key, const char *why, int *rc)
{
    uint8_t raw[KS_KEYID_SIZE];
    int64_t scope = 0;
    sup_dbv p[3];
    ks_unhex(raw, sizeof raw, key);
    p[0] = sup_dbv_int((int64_t)sup_now());
    p[1] = sup_dbv_blob(raw, sizeof raw);
    p[2] = sup_dbv_int(KS_STATE_ACTIVE);
    if ((*rc = db(s, "suspend", "UPDATE keys SET state = 1, updated_at = ? WHERE key_id = ? AND"
                  " state = ?", p, 3, NULL, NULL)) != KS_DB_OK)
        return 0;
    if (sup_db_changes(s->db) <= 0)
        return 0; /* not enrolled here, or already suspended or revoked */
    if ((*rc = sup_db_int(s->db, "SELECT scope FROM keys WHERE key_id = ?", &p[1], 1, &scope)) !=
            KS_DB_OK ||
        (*rc = sup_pub_mark(s, (uint32_t)scope)) != KS_DB_OK)
        return 0;
    sup_audit(s, 1, CLONE_ACTOR, "key.suspend", key, "ok", "KSE-214", why);
    return 1;
}

/* The key's open KSE-214 incident into *id (0: none). KS_DB_OK or an error. */
static int open_incident_id(sup_ctx *s, const char *key, int64_t *id)
{
    sup_dbv p[2] = {sup_dbv_int(SUP_KSE(KEY_CLONED)), sup_dbv_text(key)};
    int rc = sup_db_int(s->db, "SELECT id FROM incidents WHERE code = ? AND key_id = ? AND"
                        " state = 'open' ORDER BY id LIMIT 1", p, 2, id);
    if (rc == 1) { /* no row */
        *id = 0;
        return KS_DB_OK;
    }
    if (rc != KS_DB_OK)
        sup_log(KS_LOG_ERROR, "clone.db", "step=find error=\"%s\"", sup_db_errmsg(s->db));
    return rc;
}

static int raise_incident(sup_ctx *s, const char *key, const sup_key_use *u, const sup_key_use *o,
                          int *kick)
{
    /* The incident goes to the controller of the later use: the one the
     * key's counter says came too late (or, for one counter signed twice,
     * the one that uploaded last). */
    const sup_key_use *early = o->time <= u->time ? o : u, *late = early == o ? u : o;
    const ks_kse *k = ks_kse_find(SUP_KSE(KEY_CLONED));
    char ne[64], nl[64], ev[700], target[48];
    int64_t now = sup_diag_now_ms(), id = 0;
    int rc = KS_DB_OK;

    if (u->counter == o->counter)
        late = u, early = o;
    ctrl_name(s, early->ctrl, ne);
    ctrl_name(s, late->ctrl, nl);
    snprintf(ev, sizeof ev, "key %s: counter %lld at controller %lld '%s' (time %lld), then "
             "counter %lld at controller %lld '%s' (time %lld, %+lld s): %s. Two devices hold "
             "this key's secret. Re-issue: enrol a new key for the genuine holder, then "
             "`keysup key revoke %s`.", key, (long long)early->counter, (long long)early->ctrl,
             ne, (long long)early->time, (long long)late->counter, (long long)late->ctrl, nl,
             (long long)late->time, (long long)(late->time - early->time),
             early->counter == late->counter ? "the same counter signed twice"
                                             : "the counter went back across controllers",
             key);
    if ((rc = open_incident_id(s, key, &id)) != KS_DB_OK)
        return rc;
    if (id) {
        sup_dbv p[3] = {sup_dbv_int(now), sup_dbv_text(ev), sup_dbv_int(id)};
        if ((rc = db(s, "evidence", "UPDATE incidents SET updated_ms = ?, evidence = ? WHERE"
                     " id = ?", p, 3, NULL, NULL)) != KS_DB_OK ||
            (rc = sup_incident_action(s, id, CLONE_ACTOR, "evidence", 0, ev)) != KS_DB_OK)
            return rc;
    } else {
        /* First evidence: the later use, when the clone showed itself (the
         * device's whole seconds; never in the future). MTTD is then the
         * upload's delay: an offline controller's clone is found late. */
        int64_t first = late->time > 0 && late->time <= now / 1000 ? late->time * 1000 : now;
        /* Plain `?` only: the PostgreSQL backend numbers them in order. */
        sup_dbv p[8] = {sup_dbv_int(late->ctrl), sup_dbv_int(SUP_KSE(KEY_CLONED)),
                        sup_dbv_text(k ? k->title : "?"), sup_dbv_int(first), sup_dbv_int(now),
                        sup_dbv_int(now), sup_dbv_text(key), sup_dbv_text(ev)};
        if ((rc = db(s, "open", "INSERT INTO incidents(controller_id, code, symbol, state, title,"
                     " first_evidence_ms, detected_ms, updated_ms, key_id, evidence, symptoms,"
                     " repair, repairs) VALUES (?, ?, 'KEY_CLONED', 'open', ?, ?, ?, ?, ?, ?,"
                     " '{}', 'steps', 0)", p, 8, NULL, NULL)) != KS_DB_OK)
            return rc;
        id = sup_db_last_id(s->db);
        if ((rc = sup_incident_action(s, id, CLONE_ACTOR, "opened", 0, ev)) != KS_DB_OK)
            return rc;
        snprintf(target, sizeof target, "controller:%lld", (long long)late->ctrl);
        sup_audit(s, 1, CLONE_ACTOR, "incident.open", target, "ok", "KSE-214", ev);
        sup_webhook_incident(s, "incident.open", id, late->ctrl, SUP_KSE(KEY_CLONED));
        sup_log(KS_LOG_WARN, "clone.detected", "incident=%lld key=%s controllers=%lld,%lld"
                " counters=%lld,%lld", (long long)id, key, (long long)early->ctrl,
                (long long)late->ctrl, (long long)early->counter, (long long)late->counter);
    }
    if (s->cfg.clone_policy == SUP_CLONE_SUSPEND) {
        if (suspend_key(s, key, ev, &rc)) {
            *kick = 1;
            rc = sup_incident_action(s, id, CLONE_ACTOR, "key suspended", 0,
                                     "clone_policy = suspend: the suspension is published to "
                                     "every controller of the key's scope");
        }
        if (rc != KS_DB_OK)
            return rc;
    }
    return KS_DB_OK;
}

/* 1 unless the supervisor doubts the controller's clock: an open clock
 * incident, or the offset its last heartbeat showed beyond the tolerance
 * (which a drifting clock shows before the diagnosis opens KSE-600). */
static int clock_ok(sup_ctx *s, int64_t ctrl, int64_t tol)
{
    int64_t n = 0, off = 0;
    sup_dbv p[3] = {sup_dbv_int(ctrl), sup_dbv_int(SUP_KSE(CLOCK_SKEW)),
                    sup_dbv_int(SUP_KSE(RTC_FAILURE))};
    if (sup_db_int(s->db, "SELECT COUNT(*) FROM incidents WHERE controller_id = ? AND state ="
                   " 'open' AND code IN (?, ?)", p, 3, &n) != KS_DB_OK ||
        sup_db_int(s->db, "SELECT COALESCE(clock_offset, 0) FROM controllers WHERE id = ?", p, 1,
                   &off) != KS_DB_OK)
        return 0;
    return n == 0 && off <= tol && -off <= tol;
}

int sup_clone_observe(sup_ctx *s, int64_t ctrl, int64_t seq, json_t *rec, int *kick)
{
    char key[33];
    sup_key_use u;
    hit h;
    int64_t margin;
    int rc;

    if (!sup_clone_use_from_record(rec, ctrl, key, &u))
        return KS_DB_OK;
    /* Only a key this controller holds can have been granted there: its
     * scope, or every scope (0). A use of any other key is no decision of
     * that controller but a claim, and a compromised controller of one site
     * could otherwise get any site's keys suspended (field2). */
    {
        uint8_t raw[KS_KEYID_SIZE];
        int64_t n = 0;
        ks_unhex(raw, sizeof raw, key);
        sup_dbv p[2] = {sup_dbv_int(ctrl), sup_dbv_blob(raw, sizeof raw)};
        if ((rc = sup_db_int(s->db, "SELECT COUNT(*) FROM keys k, controllers c WHERE c.id = ?"
                             " AND k.key_id = ? AND (k.scope = 0 OR k.scope = c.scope)", p, 2,
                             &n)) != KS_DB_OK)
            return rc;
        if (n == 0) {
            sup_log(KS_LOG_WARN, "clone.use_out_of_scope", "controller=%lld seq=%lld key=%s"
                    " detail=\"a granted use of a key outside the controller's scope is not"
                    " compared\"", (long long)ctrl, (long long)seq, key);
            return KS_DB_OK;
        }
    }
    /* The diagnosis' tolerance (KEYSUP_DIAG_CLOCK_TOLERANCE overrides the
     * file), so KSE-600 and this rule agree on what a good clock is. */
    {
        const sup_diag_cfg *dc = sup_diag_config(s);
        margin = sup_clone_margin(dc ? dc->clock_tolerance : s->cfg.clock_tolerance);
    }
    {
        sup_dbv p[6] = {sup_dbv_int(ctrl), sup_dbv_int(seq), sup_dbv_text(key),
                        sup_dbv_int(u.counter), sup_dbv_int(u.time), sup_dbv_int(u.trusted)};
        if ((rc = db(s, "use", "INSERT INTO key_uses(controller_id, seq, key_id, counter, ts,"
                     " trusted) VALUES (?,?,?,?,?,?)", p, 6, NULL, NULL)) != KS_DB_OK)
            return rc;
    }
    /* The SQL is sup_clone_contradicts() for every stored use at once; the
     * C rule is checked again on the row found (and is what the unit tests
     * pin down). */
    memset(&h, 0, sizeof h);
    {
        sup_dbv p[8] = {sup_dbv_text(key), sup_dbv_int(ctrl), sup_dbv_int(u.counter),
                        sup_dbv_int(u.trusted), sup_dbv_int(u.time - margin),
                        sup_dbv_int(u.counter), sup_dbv_int(u.time + margin),
                        sup_dbv_int(u.counter)};
        if ((rc = db(s, "compare", "SELECT controller_id, counter, ts, trusted FROM key_uses"
                     " WHERE key_id = ? AND controller_id <> ? AND (counter = ? OR"
                     " (? = 1 AND trusted = 1 AND ((ts < ? AND counter > ?) OR"
                     " (ts > ? AND counter < ?)))) ORDER BY ts LIMIT 1",
                     p, 8, hit_cb, &h)) != KS_DB_OK)
            return rc;
    }
    if (!h.found || !sup_clone_contradicts(&u, &h.other, (uint32_t)margin))
        return KS_DB_OK;
    /* Ordered by time: not while the supervisor itself finds either clock
     * off (KSE-600/601 open, or its last offset beyond the tolerance),
     * whatever the controller believed. */
    if (u.counter != h.other.counter &&
        (!clock_ok(s, ctrl, margin / 2) || !clock_ok(s, h.other.ctrl, margin / 2))) {
        sup_log(KS_LOG_WARN, "clone.unordered", "key=%s controllers=%lld,%lld: a clock is in "
                "doubt (KSE-600/601 open), the counters are not compared by time", key,
                (long long)ctrl, (long long)h.other.ctrl);
        return KS_DB_OK;
    }
    return raise_incident(s, key, &u, &h.other, kick);
}
