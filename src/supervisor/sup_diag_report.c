/*
 * sup_diag_report.c - the on-demand diagnosis as an answer: the walk's
 * findings, area by area in the technician's order, each with its
 * evidence, role (root cause, symptom, or evidence of the policy working),
 * the incident that tracks it and the numbered steps; open incidents the
 * walk no longer sees keep their area a problem. When it runs and with what
 * memory of the controller is sup_diag_engine.c (sup_diag_report).
 */
#include <stdio.h>
#include <string.h>

#include "sup_api.h"
#include "sup_diag.h"

static json_t *finding_json(sup_ctx *s, const sup_diag_facts *f, const sup_finding *fd)
{
    const ks_kse *k = fd->kse;
    char kc[16], cause[16], key[33] = "";
    int64_t inc = 0;
    sup_dbv p[2];
    json_t *o;
    snprintf(kc, sizeof kc, "KSE-%d", fd->code);
    snprintf(cause, sizeof cause, "KSE-%d", fd->cause);
    if (fd->refusal)
        sup_diag_refusal_key(s, f->ctrl_id, fd->code, key);
    p[0] = sup_dbv_int(f->ctrl_id);
    p[1] = sup_dbv_int(fd->root ? fd->code : fd->cause);
    if (sup_db_int(s->db, "SELECT id FROM incidents WHERE controller_id = ? AND code = ? AND"
                         " state = 'open' ORDER BY id DESC LIMIT 1", p, 2, &inc) != KS_DB_OK &&
        fd->code == SUP_KSE(STORE_CORRUPT)) {
        p[1] = sup_dbv_int(SUP_KSE(HARDWARE_FAULT));
        sup_db_int(s->db, "SELECT id FROM incidents WHERE controller_id = ? AND code = ? AND"
                         " state = 'open' ORDER BY id DESC LIMIT 1", p, 2, &inc);
    }
    o = json_pack("{s:s,s:i,s:s,s:s,s:s,s:b,s:s,s:I}", "code", kc, "kse_number", fd->code, "symbol",
                  k ? k->symbol : "?", "severity", k ? ks_severity_name(k->severity) : "?",
                  "title", k ? k->title : "?", "root_cause", fd->root, "evidence", fd->evidence,
                  "first_evidence_ms", (json_int_t)fd->first_ms);
    json_object_set_new(o, "symptom_of", fd->root || fd->evidence_only ? json_null()
                                                                       : json_string(cause));
    /* root_cause, symptom, or evidence: a refusal that is the policy
     * working, shown for the record, no incident (docs/diagnosis.md). */
    json_object_set_new(o, "role", json_string(fd->root ? "root_cause"
                                               : fd->evidence_only ? "evidence" : "symptom"));
    if (fd->refusal)
        json_object_set_new(o, "refusals", json_integer((json_int_t)fd->count));
    if (strspn(key, "0") == strlen(key))
        key[0] = '\0'; /* a reader lockout names no key */
    json_object_set_new(o, "key_id", key[0] ? json_string(key) : json_null());
    json_object_set_new(o, "incident", inc ? json_integer((json_int_t)inc) : json_null());
    if (k) {
        json_object_set_new(o, "cause", json_string(k->cause));
        json_object_set_new(o, "auto_repair", json_boolean(k->auto_repair));
        json_object_set_new(o, "repair", k->repair ? json_string(k->repair) : json_null());
        json_object_set_new(o, "steps", sup_diag_steps(fd->code, f->ctrl_id, key));
    }
    return o;
}

json_t *sup_diag_report_json(sup_ctx *s, int64_t ctrl_id, const sup_diag_facts *f,
                             sup_findings *fs)
{
    json_t *out, *areas, *roots;
    /* A policy refusal whose repeats opened an incident stays its root
     * cause while the incident is open, as sup_incident_apply keeps it. */
    for (int i = 0; i < fs->n; i++) {
        sup_dbv q[2] = {sup_dbv_int(ctrl_id), sup_dbv_int(fs->f[i].code)};
        int64_t open_id = 0;
        if (fs->f[i].evidence_only &&
            sup_db_int(s->db, "SELECT id FROM incidents WHERE controller_id = ? AND code = ?"
                             " AND state = 'open' LIMIT 1", q, 2, &open_id) == KS_DB_OK &&
            open_id) {
            fs->f[i].evidence_only = 0;
            fs->f[i].root = 1;
        }
    }
    /* Refusals an incident already closed (the steps were followed) are
     * history, not a finding; so are those its root cause explained (the
     * failed attempts behind a lockout that was lifted). */
    json_t *closed_rows;
    {
        sup_dbv q = sup_dbv_int(ctrl_id);
        closed_rows = sup_db_rows_json(s->db, "SELECT code, MAX(COALESCE(resolved_ms,"
                                      " updated_ms)) AS closed FROM incidents WHERE"
                                      " controller_id = ? AND state <> 'open' GROUP BY code",
                                      &q, 1, NULL);
    }
    for (int i = 0; i < fs->n; i++) {
        json_t *cr;
        size_t k;
        int history = 0;
        if (!fs->f[i].refusal)
            continue;
        json_array_foreach(closed_rows, k, cr) {
            int c = (int)json_integer_value(json_object_get(cr, "code"));
            int64_t closed = json_integer_value(json_object_get(cr, "closed"));
            if ((c == fs->f[i].code || sup_diag_explains(c, fs->f[i].code)) && closed &&
                closed >= fs->f[i].last_ms)
                history = 1;
        }
        if (history) {
            fs->f[i] = fs->f[fs->n - 1];
            fs->n--;
            i--;
        }
    }
    json_decref(closed_rows);
    areas = json_array();
    roots = json_array();
    json_t *inc;
    {
        sup_dbv p = sup_dbv_int(ctrl_id);
        json_t *r;
        size_t i;
        inc = sup_db_rows_json(s->db, "SELECT " KS_INCIDENT_COLS " FROM incidents WHERE"
                              " controller_id = ? AND state = 'open' ORDER BY id", &p, 1, NULL);
        json_array_foreach(inc, i, r) sup_incident_decorate(r, ctrl_id);
    }
    for (int a = KS_AREA_COMMUNICATION; a <= KS_AREA_LICENCE; a++) {
        json_t *fa = json_array(), *still = json_array();
        int problem = 0;
        /* An open incident of this area whose code the walk no longer sees
         * (KSE-900: an escalation, never in a report) keeps the area a
         * problem: "hardware ok" beside an open KSE-900 misled (issue 17). */
        {
            json_t *r;
            size_t k;
            json_array_foreach(inc, k, r) {
                const ks_kse *kk = ks_kse_find((int)json_integer_value(json_object_get(r, "code")));
                int seen = 0;
                if (!kk || (int)kk->area != a)
                    continue;
                for (int i = 0; i < fs->n; i++)
                    seen |= fs->f[i].code == kk->code;
                if (seen)
                    continue;
                char kc[16];
                snprintf(kc, sizeof kc, "KSE-%d", kk->code);
                json_array_append_new(still, json_pack("{s:O,s:s}", "incident",
                                                       json_object_get(r, "id"), "code", kc));
                if (kk->severity != KS_SEV_INFO)
                    json_array_append_new(roots, json_string(kc));
            }
        }
        for (int i = 0; i < fs->n; i++) {
            if (!fs->f[i].kse || (int)fs->f[i].kse->area != a)
                continue;
            json_array_append_new(fa, finding_json(s, f, &fs->f[i]));
            problem |= !fs->f[i].evidence_only;
            if (fs->f[i].root && fs->f[i].kse->severity != KS_SEV_INFO) {
                char kc[16];
                snprintf(kc, sizeof kc, "KSE-%d", fs->f[i].code);
                json_array_append_new(roots, json_string(kc));
            }
        }
        json_t *ar = json_pack("{s:s,s:s,s:o}", "area", ks_area_name((enum ks_kse_area)a),
                               "status", problem || json_array_size(still) ? "problem" : "ok",
                               "findings", fa);
        if (json_array_size(still))
            json_object_set(ar, "open_incidents", still);
        json_decref(still);
        json_array_append_new(areas, ar);
    }
    {
        out = json_pack("{s:I,s:s,s:b,s:s,s:o,s:o,s:o,s:I,s:s,s:O,s:O,s:I}", "controller_id",
                        (json_int_t)ctrl_id, "name", f->name, "enrolled", f->enrolled, "verdict",
                        json_array_size(roots) ? "problem" : f->enrolled ? "ok" : "not enrolled",
                        "root_causes", roots, "areas", areas, "open_incidents",
                        inc ? inc : json_array(), "published_version",
                        (json_int_t)f->published_version, "published_root", f->published_root,
                        "applied_version",
                        json_object_get(f->report, "applied_version")
                            ? json_object_get(f->report, "applied_version") : json_null(),
                        "applied_root",
                        json_object_get(f->report, "applied_root")
                            ? json_object_get(f->report, "applied_root") : json_null(),
                        "checked_ms", (json_int_t)f->now_ms);
        json_object_set_new(out, "last_seen_ms", f->last_seen_ms ? json_integer(f->last_seen_ms)
                                                                : json_null());
        json_object_set_new(out, "comm_lost", json_boolean(fs->comm_lost));
    }
    return out;
}
