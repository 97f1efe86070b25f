/*
 * sup_incident_read.c - incidents as they are read: one incident with its
 * catalogue entry, MTTD/MTTR and every action (the API and the console),
 * per-code statistics, and the /metrics lines. The lifecycle that writes
 * them is sup_incident.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_kse.h"
#include "sup_api.h"
#include "sup_diag.h"
#include "sup_restore.h"

void sup_incident_decorate(json_t *o, int64_t ctrl_id)
{
    int code = (int)json_integer_value(json_object_get(o, "code"));
    const ks_kse *k = ks_kse_find(code);
    json_t *det = json_object_get(o, "detected_ms"), *fe = json_object_get(o, "first_evidence_ms");
    json_t *res = json_object_get(o, "resolved_ms");
    const char *t = json_string_value(json_object_get(o, "symptoms"));
    json_t *sym = t ? json_loads(t, 0, NULL) : NULL;
    /* code stays the number here; the API sends "KSE-NNN" (api_shape.c). */
    json_object_set_new(o, "symptoms", sym ? sym : json_object());
    json_object_set_new(o, "mttd_ms", json_integer(json_integer_value(det) -
                                                   json_integer_value(fe)));
    json_object_set_new(o, "mttr_ms", json_is_integer(res)
                                          ? json_integer(json_integer_value(res) -
                                                         json_integer_value(det))
                                          : json_null());
    if (k) {
        json_object_set_new(o, "severity", json_string(ks_severity_name(k->severity)));
        json_object_set_new(o, "area", json_string(ks_area_name(k->area)));
        json_object_set_new(o, "cause", json_string(k->cause));
        json_object_set_new(o, "auto_repair", json_boolean(k->auto_repair));
        json_object_set_new(o, "steps", sup_diag_steps(code, ctrl_id,
                                                      json_string_value(json_object_get(o, "key_id"))));
        if (code ==
            SUP_KSE(SUPERVISOR_RESTORED)) /* the keys whose revocation the restored backup lost */
            sup_restore_steps(json_object_get(o, "steps"),
                             json_string_value(json_object_get(o, "evidence")));
    }
}

json_t *sup_incident_json(sup_ctx *s, int64_t id)
{
    sup_dbv p = sup_dbv_int(id);
    json_t *o = api_row(s, "SELECT " KS_INCIDENT_COLS " FROM incidents WHERE id = ?", &p, 1);
    json_t *acts;
    if (!o)
        return NULL;
    sup_incident_decorate(o, json_integer_value(json_object_get(o, "controller_id")));
    acts = sup_db_rows_json(s->db, "SELECT ts_ms, actor, action, command_id, detail FROM"
                           " incident_actions WHERE incident_id = ? ORDER BY id", &p, 1, NULL);
    json_object_set_new(o, "actions", acts ? acts : json_array());
    return o;
}

json_t *sup_incident_stats(sup_ctx *s)
{
    json_t *rows = sup_db_rows_json(s->db,
        "SELECT code, symbol, COUNT(*) AS incidents,"
        " SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END) AS open,"
        " SUM(CASE WHEN repairs > 0 AND state = 'resolved' THEN 1 ELSE 0 END) AS auto_repaired,"
        " AVG(detected_ms - first_evidence_ms) AS mttd_ms,"
        " MAX(detected_ms - first_evidence_ms) AS mttd_max_ms,"
        " AVG(resolved_ms - detected_ms) AS mttr_ms,"
        " MAX(resolved_ms - detected_ms) AS mttr_max_ms"
        " FROM incidents GROUP BY code, symbol ORDER BY code", NULL, 0, NULL), *r;
    size_t i;
    json_array_foreach(rows, i, r) {
        /* AVG is a REAL; the API speaks whole milliseconds. */
        json_t *a = json_object_get(r, "mttd_ms"), *b = json_object_get(r, "mttr_ms");
        if (json_is_real(a))
            json_object_set_new(r, "mttd_ms", json_integer((json_int_t)json_real_value(a)));
        if (json_is_real(b))
            json_object_set_new(r, "mttr_ms", json_integer((json_int_t)json_real_value(b)));
    }
    return rows;
}

/*
 * One metric family (HELP, TYPE, one line per code) from the per-code rows,
 * the value read from column col. Returns the new length; a line that would
 * not fit is left out rather than written past cap (cap is sized for the
 * catalogue's symbols, so this only guards).
 */
static size_t incident_family(char *out, size_t len, size_t cap, json_t *rows, const char *name,
                              const char *help, const char *type, const char *col)
{
    size_t i;
    json_t *r;
    int n = snprintf(out + len, cap - len, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    if (n < 0 || (size_t)n >= cap - len)
        return len;
    len += (size_t)n;
    json_array_foreach(rows, i, r) {
        const char *sym = json_string_value(json_object_get(r, "symbol"));
        n = snprintf(out + len, cap - len, "%s{code=\"KSE-%lld\",symbol=\"%s\"} %lld\n", name,
                     (long long)json_integer_value(json_object_get(r, "code")), sym ? sym : "",
                     (long long)json_integer_value(json_object_get(r, col)));
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
    return len;
}

char *sup_incident_metrics(sup_ctx *s)
{
    json_t *rows = sup_db_rows_json(s->db,
        "SELECT code, symbol, SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END) AS open,"
        " COUNT(*) AS total FROM incidents GROUP BY code, symbol ORDER BY code", NULL, 0, NULL);
    size_t len = 0, cap = 256 + 200 * json_array_size(rows);
    char *out = malloc(cap);
    if (!out) {
        json_decref(rows);
        return NULL;
    }
    out[0] = 0;
    len = incident_family(out, len, cap, rows, "keysup_incidents_open",
                          "Open diagnosis incidents by KSE code.", "gauge", "open");
    incident_family(out, len, cap, rows, "keysup_incidents_total",
                    "Diagnosis incidents opened by KSE code.", "counter", "total");
    json_decref(rows);
    return out;
}
