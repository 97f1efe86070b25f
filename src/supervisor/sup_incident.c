/*
 * sup_incident.c - incidents: one per root cause per controller while it
 * lasts, with its first evidence, detection, every action taken (automatic
 * or by whom), and its resolution; MTTD = detected - first evidence,
 * MTTR = resolved - detected (docs/diagnosis.md).
 *
 * Lifecycle, driven by every evaluation of a controller:
 *   open       a root cause appears with no open incident of its code; a
 *              software-repairable one gets its command queued, the rest
 *              the catalogue's steps;
 *   update     it is still there: evidence refreshed, symptoms counted,
 *              a repair that was carried out but did not hold is retried up
 *              to max_repairs times, then the operator gets the steps (or,
 *              for the store, it escalates to KSE-900);
 *   resolve    a state that is gone (verified: for database repairs the
 *              reported root must equal the published root); a refusal
 *              incident once the key or the holder's new key is granted,
 *              its cause is gone, or no refusal came for `quiet` seconds;
 *              or an operator closes it.
 *   escalate   a fault software repaired comes back within the window:
 *              the repair does not hold, the hardware is at fault (KSE-900).
 *
 * Reading incidents (the API's shape, statistics, /metrics) is
 * sup_incident_read.c.
 *
 * Size: over 500 lines because open/update/resolve/escalate are one
 * lifecycle whose transitions must be read together.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_api.h"
#include "sup_diag.h"
#include "sup_webhook.h"
#include "sup_site_fold.h"

#define DIAG_ACTOR "keysupd:diagnosis"

const char sup_incident_schema[] =
    "CREATE TABLE incidents(id INTEGER PRIMARY KEY,"
    " controller_id INTEGER NOT NULL REFERENCES controllers(id) ON DELETE CASCADE,"
    " code INTEGER NOT NULL, symbol TEXT NOT NULL, state TEXT NOT NULL, title TEXT NOT NULL,"
    " first_evidence_ms INTEGER NOT NULL, detected_ms INTEGER NOT NULL, resolved_ms INTEGER,"
    " updated_ms INTEGER NOT NULL, key_id TEXT, evidence TEXT, symptoms TEXT,"
    " repair TEXT NOT NULL, repairs INTEGER NOT NULL DEFAULT 0, escalated_from INTEGER,"
    " resolution TEXT, last_refusal_ms INTEGER);"
    "CREATE INDEX incidents_open ON incidents(controller_id, state);"
    "CREATE INDEX incidents_code ON incidents(code);"
    "CREATE TABLE incident_actions(id INTEGER PRIMARY KEY,"
    " incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
    " ts_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, command_id INTEGER,"
    " detail TEXT);"
    "CREATE INDEX incident_actions_inc ON incident_actions(incident_id);";

static void add_symptom(sup_ctx *s, int64_t id, const sup_finding *sym);

/* An open incident as loaded for one evaluation. */
typedef struct open_inc {
    int64_t id, code, repairs, detected_ms, last_refusal_ms;
    char key[33];
    char repair[16];
    int seen;          /* found again in this evaluation */
} open_inc;

#define MAX_OPEN 32

typedef struct open_set {
    open_inc v[MAX_OPEN];
    int n;
} open_set;

static int open_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    open_set *o = ctx;
    open_inc *x;
    (void)names;
    if (ncol < 7 || o->n >= MAX_OPEN)
        return 0;
    x = &o->v[o->n++];
    memset(x, 0, sizeof *x);
    x->id = c[0].i;
    x->code = c[1].i;
    x->repairs = c[2].i;
    x->detected_ms = c[3].i;
    x->last_refusal_ms = c[4].type == KS_DBV_INT ? c[4].i : 0;
    if (c[5].type == KS_DBV_TEXT)
        snprintf(x->key, sizeof x->key, "%.*s", (int)c[5].n, (const char *)c[5].p);
    if (c[6].type == KS_DBV_TEXT)
        snprintf(x->repair, sizeof x->repair, "%.*s", (int)c[6].n, (const char *)c[6].p);
    return 0;
}

/* Every statement here is checked: a failure is logged with the step that
 * failed and handed back. sup_incident_apply runs in the diagnosis engine's
 * transaction and reports a failure, so the engine rolls the whole report
 * back instead of committing half an incident (and the next heartbeat
 * evaluates it again). */
static int inc_exec(sup_ctx *s, const char *step, const char *sql, const sup_dbv *p, int n,
                    sup_db_row_fn fn, void *ctx)
{
    int rc = sup_db_exec(s->db, sql, p, n, fn, ctx);
    if (rc != KS_DB_OK)
        sup_log(KS_LOG_ERROR, "incident.db", "step=%s error=\"%s\"", step, sup_db_errmsg(s->db));
    return rc;
}

static int load_open(sup_ctx *s, int64_t ctrl, open_set *o)
{
    sup_dbv p = sup_dbv_int(ctrl);
    o->n = 0;
    return inc_exec(s, "load_open", "SELECT id, code, repairs, detected_ms, last_refusal_ms, key_id, repair"
                      " FROM incidents WHERE controller_id = ? AND state = 'open' ORDER BY id",
                    &p, 1, open_cb, o);
}

static open_inc *open_find(open_set *o, int code)
{
    for (int i = 0; i < o->n; i++)
        if (o->v[i].code == code)
            return &o->v[i];
    return NULL;
}

int sup_incident_action(sup_ctx *s, int64_t incident, const char *actor, const char *action,
                        int64_t command_id, const char *detail)
{
    sup_dbv p[6] = {sup_dbv_int(incident), sup_dbv_int(sup_diag_now_ms()), sup_dbv_text(actor),
                   sup_dbv_text(action), command_id ? sup_dbv_int(command_id) : sup_dbv_null(),
                   sup_dbv_text(detail)};
    return inc_exec(s, "action", "INSERT INTO incident_actions(incident_id, ts_ms, actor, action,"
                    " command_id, detail) VALUES (?,?,?,?,?,?)", p, 6, NULL, NULL);
}

static void log_event(const char *event, int64_t id, int64_t ctrl, int code, const char *fmt_kv)
{
    const ks_kse *k = ks_kse_find(code);
    sup_log(strcmp(event, "incident.resolve") == 0 ? KS_LOG_INFO : KS_LOG_WARN, event,
           "incident=%lld controller=%lld code=KSE-%d symbol=%s %s", (long long)id,
           (long long)ctrl, code, k ? k->symbol : "?", fmt_kv ? fmt_kv : "");
}

static int set_repair(sup_ctx *s, int64_t id, const char *repair, int64_t repairs)
{
    sup_dbv p[3] = {sup_dbv_text(repair), sup_dbv_int(repairs), sup_dbv_int(id)};
    return inc_exec(s, "set_repair", "UPDATE incidents SET repair = ?, repairs = ? WHERE id = ?",
                    p, 3, NULL, NULL);
}

/* Gives the operator the catalogue's steps, as an action. */
static void give_steps(sup_ctx *s, int64_t id, int code, int64_t ctrl, const char *key)
{
    json_t *st = sup_diag_steps(code, ctrl, key);
    char *txt = json_dumps(st, JSON_COMPACT);
    sup_incident_action(s, id, DIAG_ACTOR, "steps.given", 0, txt);
    free(txt);
    json_decref(st);
}

static void queue_repair(sup_ctx *s, int64_t id, int code, int64_t ctrl, int64_t repairs)
{
    const char *cmd = sup_diag_repair_command(code);
    char detail[128];
    int64_t cid = sup_diag_queue(s, ctrl, cmd, code, id);
    if (cid <= 0) {
        set_repair(s, id, "steps", repairs);
        give_steps(s, id, code, ctrl, NULL);
        return;
    }
    snprintf(detail, sizeof detail, "%s queued (attempt %lld)", cmd, (long long)repairs + 1);
    sup_incident_action(s, id, DIAG_ACTOR, "repair.queued", cid, detail);
    set_repair(s, id, "auto", repairs + 1);
}

/*
 * Refusal incidents opened a heartbeat before their root cause showed (the
 * first failed attempts, then the lockout) are symptoms of it: they are
 * folded into the new incident (state "merged", no MTTR of their own).
 */
static void merge_symptom_incidents(sup_ctx *s, int64_t ctrl, int64_t id, int root)
{
    sup_dbv p = sup_dbv_int(ctrl);
    json_t *rows = sup_db_rows_json(s->db, "SELECT id, code FROM incidents WHERE"
                                   " controller_id = ? AND state = 'open'", &p, 1, NULL), *r;
    size_t i;
    json_array_foreach(rows, i, r) {
        int64_t other = json_integer_value(json_object_get(r, "id"));
        int code = (int)json_integer_value(json_object_get(r, "code"));
        char why[96];
        sup_finding sym;
        if (other == id || !sup_diag_explains(root, code))
            continue;
        snprintf(why, sizeof why, "a symptom of incident %lld (KSE-%d)", (long long)id, root);
        {
            sup_dbv q[3] = {sup_dbv_int(sup_diag_now_ms()), sup_dbv_text(why), sup_dbv_int(other)};
            if (inc_exec(s, "merge", "UPDATE incidents SET state = 'merged', updated_ms = ?,"
                         " resolution = ? WHERE id = ?", q, 3, NULL, NULL) != KS_DB_OK)
                continue;
        }
        sup_incident_action(s, other, DIAG_ACTOR, "merged", 0, why);
        memset(&sym, 0, sizeof sym);
        sym.code = code;
        sym.kse = ks_kse_find(code);
        sym.count = 1;
        add_symptom(s, id, &sym);
    }
    json_decref(rows);
}

static int64_t open_incident(sup_ctx *s, const sup_diag_facts *f, const sup_finding *fd, int code,
                             int64_t first_ms, int64_t escalated_from, const char *key)
{
    const ks_kse *k = ks_kse_find(code);
    int64_t now = f->now_ms, id;
    char kv[160];
    sup_dbv p[11] = {sup_dbv_int(f->ctrl_id), sup_dbv_int(code), sup_dbv_text(k ? k->symbol : "?"),
                    sup_dbv_text(k ? k->title : "?"), sup_dbv_int(first_ms), sup_dbv_int(now),
                    sup_dbv_int(now), key && key[0] ? sup_dbv_text(key) : sup_dbv_null(),
                    sup_dbv_text(fd->evidence),
                    escalated_from ? sup_dbv_int(escalated_from) : sup_dbv_null(),
                    fd->refusal ? sup_dbv_int(now) : sup_dbv_null()};
    if (sup_db_exec(s->db, "INSERT INTO incidents(controller_id, code, symbol, state, title,"
                          " first_evidence_ms, detected_ms, updated_ms, key_id, evidence,"
                          " symptoms, repair, repairs, escalated_from, last_refusal_ms)"
                          " VALUES (?,?,?,'open',?,?,?,?,?,?,'{}','none',0,?,?)",
                   p, 11, NULL, NULL) != KS_DB_OK)
        return 0;
    id = sup_db_last_id(s->db);
    sup_incident_action(s, id, DIAG_ACTOR, "opened", 0, fd->evidence);
    snprintf(kv, sizeof kv, "mttd_ms=%lld%s%s", (long long)(now - first_ms),
             escalated_from ? " escalated_from=" : "", escalated_from ? "yes" : "");
    log_event("incident.open", id, f->ctrl_id, code, kv);
    /* one page per site in an outage, not one per controller */
    if (!(code == 100 && sup_site_fold_open(s, f->ctrl_id, id, now)))
        sup_webhook_incident(s, "incident.open", id, f->ctrl_id, code);
    {
        char target[48], kse[16];
        snprintf(target, sizeof target, "controller:%lld", (long long)f->ctrl_id);
        snprintf(kse, sizeof kse, "KSE-%d", code);
        sup_audit(s, 1, DIAG_ACTOR, "incident.open", target, "ok", kse, fd->evidence);
    }
    merge_symptom_incidents(s, f->ctrl_id, id, code);
    if (sup_diag_repair_command(code) && code != SUP_KSE(HARDWARE_FAULT) && !fd->no_auto)
        queue_repair(s, id, code, f->ctrl_id, 0);
    else {
        set_repair(s, id, "steps", 0);
        give_steps(s, id, code, f->ctrl_id, key);
    }
    return id;
}

static void resolve(sup_ctx *s, int64_t ctrl, int64_t id, int code, int64_t detected_ms,
                    const char *actor, const char *why)
{
    int64_t now = sup_diag_now_ms();
    sup_dbv p[4] = {sup_dbv_int(now), sup_dbv_int(now), sup_dbv_text(why), sup_dbv_int(id)};
    char kv[80], target[48], kse[16];
    /* Not stored: nothing is announced (log, webhook, audit) either. */
    if (inc_exec(s, "resolve", "UPDATE incidents SET state = 'resolved', resolved_ms = ?,"
                 " updated_ms = ?, resolution = ? WHERE id = ? AND state = 'open'", p, 4, NULL,
                 NULL) != KS_DB_OK)
        return;
    sup_incident_action(s, id, actor, "resolved", 0, why);
    snprintf(kv, sizeof kv, "mttr_ms=%lld by=%s", (long long)(now - detected_ms), actor);
    log_event("incident.resolve", id, ctrl, code, kv);
    if (!(code == 100 && sup_site_fold_resolved(s, id, now)))
        sup_webhook_incident(s, "incident.resolve", id, ctrl, code);
    snprintf(target, sizeof target, "incident:%lld", (long long)id);
    snprintf(kse, sizeof kse, "KSE-%d", code);
    sup_audit(s, 1, actor, "incident.resolve", target, "ok", kse, why);
}

/* A resolved incident of code on this controller that software repaired
 * within the window: the fault is back, so the repair does not hold. */
static int64_t repaired_before(sup_ctx *s, const sup_diag_cfg *cfg, int64_t ctrl, int code,
                               int64_t now)
{
    /* Repairs before the hardware was last replaced (a KSE-900 closed by a
     * person) do not count against the new hardware. */
    sup_dbv p[5] = {sup_dbv_int(ctrl), sup_dbv_int(code),
                   sup_dbv_int(now - (int64_t)cfg->escalate_window * 1000), sup_dbv_int(ctrl),
                   sup_dbv_int(SUP_KSE(HARDWARE_FAULT))};
    int64_t id = 0;
    if (sup_db_int(s->db, "SELECT id FROM incidents WHERE controller_id = ? AND code = ?"
                         " AND state = 'resolved' AND repairs > 0 AND resolved_ms >= ?"
                         " AND resolved_ms > COALESCE((SELECT MAX(resolved_ms) FROM incidents"
                         " WHERE controller_id = ? AND code = ?), 0)"
                         " ORDER BY id DESC LIMIT 1", p, 5, &id) != KS_DB_OK)
        return 0;
    return id;
}

static void add_symptom(sup_ctx *s, int64_t id, const sup_finding *sym)
{
    sup_dbv p = sup_dbv_int(id);
    json_t *row = api_row(s, "SELECT symptoms FROM incidents WHERE id = ?", &p, 1), *js;
    const char *t = json_string_value(json_object_get(row, "symptoms"));
    char code[16], detail[200], *txt;
    js = t ? json_loads(t, 0, NULL) : NULL;
    if (!json_is_object(js)) {
        json_decref(js);
        js = json_object();
    }
    snprintf(code, sizeof code, "KSE-%d", sym->code);
    json_object_set_new(js, code, json_integer(json_integer_value(json_object_get(js, code)) +
                                               (sym->count ? sym->count : 1)));
    txt = json_dumps(js, JSON_COMPACT);
    {
        sup_dbv q[2] = {sup_dbv_text(txt), sup_dbv_int(id)};
        inc_exec(s, "symptoms", "UPDATE incidents SET symptoms = ? WHERE id = ?", q, 2, NULL, NULL);
    }
    snprintf(detail, sizeof detail, "%lld %s refusal(s) counted as symptoms of this incident",
             (long long)(sym->count ? sym->count : 1), sym->kse ? sym->kse->symbol : code);
    sup_incident_action(s, id, DIAG_ACTOR, "symptom", 0, detail);
    free(txt);
    json_decref(js);
    json_decref(row);
}

/* The last repair command of an incident, its state, and when it was acknowledged. */
typedef struct last_cmd {
    int64_t id, acked_ms;
    char state[16];
} last_cmd;

static int lastcmd_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    last_cmd *l = ctx;
    (void)names;
    if (ncol < 3)
        return 1;
    l->id = c[0].i;
    if (c[1].type == KS_DBV_TEXT)
        snprintf(l->state, sizeof l->state, "%.*s", (int)c[1].n, (const char *)c[1].p);
    l->acked_ms = c[2].type == KS_DBV_INT ? c[2].i : 0;
    return 1;
}

static int last_repair(sup_ctx *s, int64_t incident, last_cmd *l)
{
    sup_dbv p[2] = {sup_dbv_int(incident), sup_dbv_int(incident)};
    memset(l, 0, sizeof *l);
    return inc_exec(s, "last_repair", "SELECT c.id, c.state, (SELECT MAX(ts_ms) FROM incident_actions a2"
                      " WHERE a2.incident_id = ? AND a2.command_id = c.id AND"
                      " a2.action IN ('command.done', 'command.failed')) FROM commands c JOIN incident_actions a"
                      " ON a.command_id = c.id WHERE a.incident_id = ? AND"
                      " a.action = 'repair.queued' ORDER BY c.id DESC LIMIT 1", p, 2,
               lastcmd_cb, l);
}

/* Still present after the repair ran: retry, escalate, or give the steps. */
static void repair_progress(sup_ctx *s, const sup_diag_cfg *cfg, const sup_diag_facts *f,
                            open_inc *x)
{
    last_cmd l;
    if (strcmp(x->repair, "auto") != 0)
        return;
    if (last_repair(s, x->id, &l) != KS_DB_OK || !l.id || strcmp(l.state, "pending") == 0)
        return;
    /* The report must postdate the acknowledgement to judge the repair. */
    if (!l.acked_ms || f->report_ms <= l.acked_ms)
        return;
    if ((uint32_t)x->repairs < cfg->max_repairs) {
        queue_repair(s, x->id, (int)x->code, f->ctrl_id, x->repairs);
        return;
    }
    set_repair(s, x->id, "steps", x->repairs);
    sup_incident_action(s, x->id, DIAG_ACTOR, "repair.gave_up", 0,
                       "the automatic repair did not hold; the operator's steps follow");
    give_steps(s, x->id, (int)x->code, f->ctrl_id, x->key);
    strcpy(x->repair, "steps");
}

/* Operator commands queued for the controller since the incident opened. */
static void link_commands(sup_ctx *s, int64_t ctrl, open_inc *x)
{
    sup_dbv p[4] = {sup_dbv_int(ctrl), sup_dbv_int(x->detected_ms / 1000), sup_dbv_int(x->id),
                   sup_dbv_text(DIAG_ACTOR)};
    json_t *rows = sup_db_rows_json(s->db, "SELECT id, command, created_by FROM commands WHERE"
                                   " controller_id = ? AND created_at >= ? AND id NOT IN"
                                   " (SELECT command_id FROM incident_actions WHERE"
                                   " incident_id = ? AND command_id IS NOT NULL) AND"
                                   " created_by <> ?", p, 4, NULL), *r;
    size_t i;
    json_array_foreach(rows, i, r) {
        char detail[96];
        snprintf(detail, sizeof detail, "operator queued %s",
                 json_string_value(json_object_get(r, "command")));
        sup_incident_action(s, x->id, json_string_value(json_object_get(r, "created_by")),
                           "command.queued", json_integer_value(json_object_get(r, "id")),
                           detail);
    }
    json_decref(rows);
}

static int in_step(const sup_diag_facts *f)
{
    json_t *av = json_object_get(f->report, "applied_version");
    const char *ar = json_string_value(json_object_get(f->report, "applied_root"));
    const char *integ = json_string_value(json_object_get(json_object_get(f->report, "store"),
                                                          "integrity"));
    return json_is_integer(av) && (uint64_t)json_integer_value(av) == f->published_version &&
           ar && strcmp(ar, f->published_root) == 0 && (!integ || strcmp(integ, "ok") == 0);
}

/* Whether an open incident whose condition was not found now is resolved,
 * and why (written into why). */
static int gone(sup_ctx *s, const sup_diag_cfg *cfg, const sup_diag_facts *f, open_inc *x,
                char *why, size_t n)
{
    int code = (int)x->code;
    if (code == SUP_KSE(HARDWARE_FAULT))
        return 0; /* replaced hardware is confirmed by a person */
    if (code == SUP_KSE(LICENCE_EXPIRING))
        return 0; /* a licence warning ends when the licence is reactivated (sup_licence.c) */
    if (code == SUP_KSE(KEY_CLONED))
        return 0; /* a clone is closed by a person who found both keys (sup_clone.c) */
    if (code == SUP_KSE(DESYNC) || code == SUP_KSE(STORE_CORRUPT) || code == SUP_KSE(SYNC_STALE) ||
        code == SUP_KSE(SNAPSHOT_EXPIRED)) {
        if (!in_step(f))
            return 0;
        snprintf(why, n, "verified: the controller reports the published root %.16s... at "
                 "version %llu", f->published_root, (unsigned long long)f->published_version);
        return 1;
    }
    if (!sup_diag_is_refusal_code(code)) {
        snprintf(why, n, "condition cleared: the controller's report no longer shows it");
        return 1;
    }
    if (code == SUP_KSE(PENDING_TRANSACTION) &&
        !json_is_true(json_object_get(f->report, "pending_transaction"))) {
        snprintf(why, n, "no pending transaction on the terminal any more");
        return 1;
    }
    if (!x->key[0]) {
        /* The audit records naming the key arrive after the report that
         * opened the incident. */
        sup_diag_refusal_key(s, f->ctrl_id, code, x->key);
        if (x->key[0]) {
            sup_dbv q[2] = {sup_dbv_text(x->key), sup_dbv_int(x->id)};
            inc_exec(s, "key_id", "UPDATE incidents SET key_id = ? WHERE id = ?", q, 2, NULL, NULL);
        }
    }
    if (sup_diag_granted_since(s, f->ctrl_id, x->key, code)) {
        snprintf(why, n, "the key (or a new key of the same holder) was granted at this "
                 "controller after the last refusal");
        return 1;
    }
    if (f->now_ms - x->last_refusal_ms > (int64_t)cfg->quiet * 1000) {
        snprintf(why, n, "no further refusal for %u s", cfg->quiet);
        return 1;
    }
    return 0;
}

int sup_incident_apply(sup_ctx *s, const sup_diag_cfg *cfg, const sup_diag_facts *f,
                       const sup_findings *fs)
{
    open_set os;
    int failed = 0;
    int64_t ids[KS_DIAG_MAX_FINDINGS] = {0};
    /* A refusal counted as new in this report happened after the previous
     * report was built (which reached us a few ms later): a lower bound on
     * its time that is finer than the device's whole seconds. */
    int64_t lo = f->prev_report_ms ? f->prev_report_ms - 50 : 0;

    /* Without the open incidents every finding would open a duplicate. */
    if (load_open(s, f->ctrl_id, &os) != KS_DB_OK)
        return KS_DB_ERR;
    for (int i = 0; i < fs->n; i++) {
        const sup_finding *fd = &fs->f[i];
        open_inc *x;
        int code = fd->code;
        int64_t first = fd->first_ms;
        /* Evidence opens nothing, but keeps an incident its repeats opened. */
        if ((!fd->root && !(fd->evidence_only && open_find(&os, code))) ||
            (fd->kse && fd->kse->severity == KS_SEV_INFO))
            continue;
        /* Device times are untrusted when its clock is the problem: evidence
         * is never from the future, nor from before the previous report
         * for a refusal counted as new since it. */
        if (first > f->now_ms || first <= 0)
            first = f->now_ms;
        if (fd->refusal && first < lo)
            first = lo;
        (void)cfg;
        if (code == SUP_KSE(STORE_CORRUPT) &&
            (x = open_find(&os, SUP_KSE(HARDWARE_FAULT))) != NULL) {
            x->seen = 1;
            ids[i] = x->id;
            add_symptom(s, x->id, fd);
            continue;
        }
        x = open_find(&os, code);
        if (x) {
            sup_dbv p[4] = {sup_dbv_int(f->now_ms), sup_dbv_text(fd->evidence),
                           sup_dbv_int(fd->refusal ? f->now_ms : x->last_refusal_ms),
                           sup_dbv_int(x->id)};
            x->seen = 1;
            ids[i] = x->id;
            if (inc_exec(s, "evidence", "UPDATE incidents SET updated_ms = ?, evidence = ?,"
                         " last_refusal_ms = ? WHERE id = ?", p, 4, NULL, NULL) != KS_DB_OK)
                failed = 1;
            if (fd->refusal) {
                char d[64];
                snprintf(d, sizeof d, "%lld more refusal(s)", (long long)fd->count);
                sup_incident_action(s, x->id, DIAG_ACTOR, "evidence", 0, d);
            }
            if (fd->refusal && !x->key[0]) {
                sup_diag_refusal_key(s, f->ctrl_id, code, x->key);
                if (x->key[0]) {
                    sup_dbv q[2] = {sup_dbv_text(x->key), sup_dbv_int(x->id)};
                    inc_exec(s, "key_id", "UPDATE incidents SET key_id = ? WHERE id = ?", q, 2,
                             NULL, NULL);
                }
            }
            repair_progress(s, cfg, f, x);
            continue;
        }
        {
            char key[33] = "";
            int64_t prev = sup_diag_repair_command(code) ? repaired_before(s, cfg, f->ctrl_id,
                                                                          code, f->now_ms) : 0;
            if (fd->refusal)
                sup_diag_refusal_key(s, f->ctrl_id, code, key);
            if (prev && code == SUP_KSE(STORE_CORRUPT)) {
                sup_finding esc = *fd;
                snprintf(esc.evidence, sizeof esc.evidence,
                         "STORE_CORRUPT again after incident %lld was repaired by a full "
                         "download: %s", (long long)prev, fd->evidence);
                ids[i] = open_incident(s, f, &esc, SUP_KSE(HARDWARE_FAULT), first, prev, key);
                if (ids[i])
                    add_symptom(s, ids[i], fd);
            } else {
                ids[i] = open_incident(s, f, fd, code, first, 0, key);
            }
            if (ids[i] && os.n < MAX_OPEN) {
                open_inc *n = &os.v[os.n++];
                memset(n, 0, sizeof *n);
                n->id = ids[i];
                n->code = ids[i] && prev && code == SUP_KSE(STORE_CORRUPT) ? SUP_KSE(HARDWARE_FAULT)
                                                                           : code;
                n->seen = 1;
            }
        }
    }
    /* Symptoms go to their root cause's incident. */
    for (int i = 0; i < fs->n; i++) {
        const sup_finding *fd = &fs->f[i];
        if (fd->root)
            continue;
        for (int j = 0; j < fs->n; j++)
            if (fs->f[j].root && fs->f[j].code == fd->cause && ids[j])
                add_symptom(s, ids[j], fd);
    }
    /* What is no longer found. */
    for (int i = 0; i < os.n; i++) {
        open_inc *x = &os.v[i];
        char why[200];
        link_commands(s, f->ctrl_id, x);
        if (x->seen)
            continue;
        if (fs->comm_lost && x->code != SUP_KSE(COMM_LOST))
            continue; /* nothing to verify against until the link is back */
        if (x->code != SUP_KSE(COMM_LOST) && !f->report)
            continue;
        if (gone(s, cfg, f, x, why, sizeof why))
            resolve(s, f->ctrl_id, x->id, (int)x->code, x->detected_ms, DIAG_ACTOR, why);
    }
    return failed ? KS_DB_ERR : KS_DB_OK;
}

void sup_incident_command_ack(sup_ctx *s, int64_t ctrl_id, int64_t command_id, const char *result)
{
    sup_dbv p[2] = {sup_dbv_int(command_id), sup_dbv_int(ctrl_id)};
    json_t *rows = sup_db_rows_json(s->db, "SELECT DISTINCT a.incident_id, c.command, c.result"
                                   " FROM incident_actions a JOIN commands c ON"
                                   " c.id = a.command_id WHERE a.command_id = ? AND"
                                   " c.controller_id = ?", p, 2, NULL), *r;
    size_t i;
    char actor[48];
    snprintf(actor, sizeof actor, "controller:%lld", (long long)ctrl_id);
    json_array_foreach(rows, i, r) {
        char detail[300];
        const char *res = json_string_value(json_object_get(r, "result"));
        snprintf(detail, sizeof detail, "%s %s: %s", json_string_value(json_object_get(r, "command")),
                 result, res ? res : "");
        sup_incident_action(s, json_integer_value(json_object_get(r, "incident_id")), actor,
                           strcmp(result, "ok") == 0 ? "command.done" : "command.failed",
                           command_id, detail);
    }
    json_decref(rows);
}

int sup_incident_resolve_manual(sup_ctx *s, int64_t id, const char *actor, const char *note)
{
    sup_dbv p = sup_dbv_int(id);
    json_t *row = api_row(s, "SELECT controller_id, code, detected_ms FROM incidents WHERE id = ?"
                             " AND state = 'open'", &p, 1);
    char why[300];
    if (!row)
        return 1;
    snprintf(why, sizeof why, "closed by %s: %s", actor, note && note[0] ? note : "(no note)");
    resolve(s, json_integer_value(json_object_get(row, "controller_id")), id,
            (int)json_integer_value(json_object_get(row, "code")),
            json_integer_value(json_object_get(row, "detected_ms")), actor, why);
    json_decref(row);
    return 0;
}
