/*
 * sup_site_fold.c - see sup_site_fold.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "sup_site_fold.h"
#include "sup_webhook.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS site_incidents(id INTEGER PRIMARY KEY, site TEXT NOT NULL,"
    " state TEXT NOT NULL, opened_ms INTEGER NOT NULL, resolved_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS site_incidents_open ON site_incidents(site, state);"
    "CREATE TABLE IF NOT EXISTS site_incident_members(site_incident_id INTEGER NOT NULL"
    " REFERENCES site_incidents(id) ON DELETE CASCADE, incident_id INTEGER NOT NULL UNIQUE,"
    " controller_id INTEGER NOT NULL, PRIMARY KEY(site_incident_id, incident_id));";

static int ensure(sup_ctx *s)
{
    /* sup_db_exec runs one statement: the schema goes statement by statement */
    char buf[sizeof schema];
    char *p = buf, *e;
    memcpy(buf, schema, sizeof schema);
    while (*p) {
        e = strchr(p, ';');
        if (!e)
            break;
        *e = '\0';
        if (sup_db_exec(s->db, p, NULL, 0, NULL, NULL) != KS_DB_OK)
            return -1;
        p = e + 1;
    }
    return 0;
}

static int text_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    char *out = ctx;
    (void)names;
    if (ncol >= 1 && c[0].type == KS_DBV_TEXT)
        snprintf(out, 128, "%.*s", (int)c[0].n, (const char *)c[0].p);
    return 1;
}

static void page(sup_ctx *s, const char *event, int64_t site_inc, const char *site, int64_t n)
{
    sup_log(KS_LOG_WARN, event, "site_incident=%lld site=\"%s\" code=KSE-120 controllers=%lld",
            (long long)site_inc, site, (long long)n);
    sup_webhook_incident(s, event, site_inc, 0, 120);
}

int sup_site_fold_open(sup_ctx *s, int64_t ctrl, int64_t incident, int64_t now_ms)
{
    char site[128] = "";
    sup_dbv c = sup_dbv_int(ctrl), p[3];
    int64_t open_id = 0, n = 0;

    if (!s->cfg.site_fold || ensure(s))
        return 0;
    sup_db_exec(s->db, "SELECT site FROM controllers WHERE id = ? AND site IS NOT NULL"
                      " AND site <> ''", &c, 1, text_cb, site);
    if (!site[0])
        return 0;
    p[0] = sup_dbv_text(site);
    if (sup_db_int(s->db, "SELECT id FROM site_incidents WHERE site = ? AND state = 'open'", p, 1,
                   &open_id) == KS_DB_OK && open_id) {
        p[0] = sup_dbv_int(open_id);
        p[1] = sup_dbv_int(incident);
        p[2] = c;
        sup_db_exec(s->db, "INSERT OR IGNORE INTO site_incident_members VALUES (?,?,?)", p, 3,
                    NULL, NULL);
        sup_log(KS_LOG_INFO, "site.fold", "site_incident=%lld incident=%lld controller=%lld",
                (long long)open_id, (long long)incident, (long long)ctrl);
        return 1;
    }
    /* Open KSE-100 incidents of the site's controllers, this one included. */
    if (sup_db_int(s->db, "SELECT COUNT(*) FROM incidents i JOIN controllers c ON"
                          " c.id = i.controller_id WHERE c.site = ? AND i.code = 100 AND"
                          " i.state = 'open'", p, 1, &n) != KS_DB_OK || n < (int64_t)s->cfg.site_fold)
        return 0;
    p[1] = sup_dbv_int(now_ms);
    if (sup_db_exec(s->db, "INSERT INTO site_incidents(site, state, opened_ms) VALUES (?,'open',?)",
                    p, 2, NULL, NULL) != KS_DB_OK)
        return 0;
    open_id = sup_db_last_id(s->db);
    p[0] = sup_dbv_int(open_id);
    p[1] = sup_dbv_text(site);
    sup_db_exec(s->db, "INSERT OR IGNORE INTO site_incident_members SELECT ?, i.id, i.controller_id"
                       " FROM incidents i JOIN controllers c ON c.id = i.controller_id"
                       " WHERE c.site = ? AND i.code = 100 AND i.state = 'open'", p, 2, NULL, NULL);
    page(s, "site_incident.open", open_id, site, n);
    {
        char target[160], detail[96];
        snprintf(target, sizeof target, "site:%s", site);
        snprintf(detail, sizeof detail, "%lld controllers offline together", (long long)n);
        sup_audit(s, 1, "keysupd:diagnosis", "site_incident.open", target, "ok", "KSE-120", detail);
    }
    return 1;
}

int sup_site_fold_resolved(sup_ctx *s, int64_t incident, int64_t now_ms)
{
    sup_dbv p[2] = {sup_dbv_int(incident), sup_dbv_null()};
    int64_t sid = 0, still = 0, n = 0;
    char site[128] = "";

    if (ensure(s) || sup_db_int(s->db, "SELECT m.site_incident_id FROM site_incident_members m"
                                       " JOIN site_incidents x ON x.id = m.site_incident_id"
                                       " WHERE m.incident_id = ? AND x.state = 'open'", p, 1,
                                &sid) != KS_DB_OK || !sid)
        return 0;
    p[0] = sup_dbv_int(sid);
    if (sup_db_int(s->db, "SELECT COUNT(*) FROM site_incident_members m JOIN incidents i ON"
                          " i.id = m.incident_id WHERE m.site_incident_id = ? AND i.state = 'open'",
                   p, 1, &still) != KS_DB_OK || still > 0)
        return 1;
    sup_db_int(s->db, "SELECT COUNT(*) FROM site_incident_members WHERE site_incident_id = ?", p, 1,
               &n);
    sup_db_exec(s->db, "SELECT site FROM site_incidents WHERE id = ?", p, 1, text_cb, site);
    p[1] = p[0];
    p[0] = sup_dbv_int(now_ms);
    sup_db_exec(s->db, "UPDATE site_incidents SET state = 'resolved', resolved_ms = ? WHERE id = ?",
                p, 2, NULL, NULL);
    page(s, "site_incident.resolve", sid, site, n);
    return 1;
}

json_t *sup_site_incidents_json(sup_ctx *s, int open_only, int *rc)
{
    json_t *items, *o;
    size_t i;
    *rc = ensure(s) ? KS_DB_ERR : KS_DB_OK;
    if (*rc)
        return NULL;
    items = sup_db_rows_json(s->db, open_only
        ? "SELECT id, site, state, opened_ms, resolved_ms FROM site_incidents WHERE state = 'open'"
          " ORDER BY id DESC LIMIT 100"
        : "SELECT id, site, state, opened_ms, resolved_ms FROM site_incidents ORDER BY id DESC"
          " LIMIT 100", NULL, 0, rc);
    json_array_foreach(items, i, o) {
        sup_dbv id = sup_dbv_int(json_integer_value(json_object_get(o, "id")));
        json_t *m = sup_db_rows_json(s->db, "SELECT m.controller_id, c.name, m.incident_id,"
                                     " i.state AS incident_state FROM site_incident_members m"
                                     " JOIN controllers c ON c.id = m.controller_id"
                                     " JOIN incidents i ON i.id = m.incident_id"
                                     " WHERE m.site_incident_id = ? ORDER BY m.controller_id",
                                     &id, 1, NULL);
        json_object_set_new(o, "code", json_string("KSE-120"));
        json_object_set_new(o, "symbol", json_string("SITE_UNREACHABLE"));
        json_object_set_new(o, "controllers", m ? m : json_array());
    }
    return items;
}
