/*
 * sup_diag_repair.c - automatic repair and the operator's steps.
 *
 * A repair is an ordinary remediation command row, created by
 * "keysupd:diagnosis" instead of an operator token, so it travels the same
 * path (heartbeat answer, acknowledgement) and shows in
 * `keysup controller show` like any other. Every queued repair is audited.
 *
 * At most one repair of a kind is pending per controller, also when several
 * keysupd share a PostgreSQL database and each diagnoses the same
 * controller: a partial unique index (sup_repair_schema) makes the insert
 * idempotent (ON CONFLICT DO NOTHING), whatever the order of the checks.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_devcache.h"
#include "sup_diag.h"

#define DIAG_ACTOR "keysupd:diagnosis"

/* Migration 7. Copies left pending by two instances before it are dropped
 * (the oldest stays: a controller runs it at its next heartbeat). */
const char sup_repair_schema[] =
    "DELETE FROM commands WHERE created_by = '" DIAG_ACTOR "' AND state = 'pending' AND id NOT IN"
    " (SELECT MIN(id) FROM commands WHERE created_by = '" DIAG_ACTOR "' AND state = 'pending'"
    " GROUP BY controller_id, command);"
    "CREATE UNIQUE INDEX commands_one_repair ON commands(controller_id, command)"
    " WHERE state = 'pending' AND created_by = '" DIAG_ACTOR "';";

const char *sup_diag_repair_command(int code)
{
    switch (code) {
    case SUP_KSE(DESYNC): /* DESYNC: full download, then the root is verified */
    case SUP_KSE(STORE_CORRUPT): /* STORE_CORRUPT: same, into the other flash area */
    case SUP_KSE(SYNC_STALE): /* SYNC_STALE: the link is back (we have a report) */
    case SUP_KSE(SNAPSHOT_EXPIRED): /* SNAPSHOT_EXPIRED */
        return "initialize";
    case SUP_KSE(CLOCK_SKEW): /* CLOCK_SKEW */
    case SUP_KSE(RTC_FAILURE): /* RTC_FAILURE, while the device is powered */
        return "time_sync";
    default:
        return NULL;
    }
}

int64_t sup_diag_queue(sup_ctx *s, int64_t ctrl_id, const char *cmd, int code, int64_t incident)
{
    sup_dbv q[2] = {sup_dbv_int(ctrl_id), sup_dbv_text(cmd)};
    int64_t id = 0;
    char target[48], detail[160], kse[16];
    int rc;

    snprintf(target, sizeof target, "controller:%lld", (long long)ctrl_id);
    snprintf(kse, sizeof kse, "KSE-%d", code);
    /* One pending command of a kind is enough: the controller runs it at its
     * next heartbeat whoever queued it. */
    rc = sup_db_int(s->db, "SELECT id FROM commands WHERE controller_id = ? AND command = ?"
                          " AND state = 'pending' ORDER BY id LIMIT 1", q, 2, &id);
    if (rc == KS_DB_OK) {
        snprintf(detail, sizeof detail, "incident %lld: %s already pending (command %lld)",
                 (long long)incident, cmd, (long long)id);
        sup_audit(s, 1, DIAG_ACTOR, "diagnosis.repair", target, "ok", kse, detail);
        return id;
    }
    {
        sup_dbv p[3] = {sup_dbv_int(ctrl_id), sup_dbv_text(cmd), sup_dbv_int((int64_t)sup_now())};
        rc = sup_db_exec(s->db, "INSERT INTO commands(controller_id, command, args, state,"
                               " created_by, created_at) VALUES (?, ?, '{}', 'pending', '"
                               DIAG_ACTOR "', ?) ON CONFLICT (controller_id, command) WHERE"
                               " state = 'pending' AND created_by = '" DIAG_ACTOR "' DO NOTHING",
                         p, 3, NULL, NULL);
    }
    /* Nothing inserted: another instance queued it between the check above
     * and the insert (only possible outside one write transaction). */
    if (!rc && sup_db_changes(s->db) == 0) {
        rc = sup_db_int(s->db, "SELECT id FROM commands WHERE controller_id = ? AND command = ?"
                              " AND state = 'pending' ORDER BY id LIMIT 1", q, 2, &id);
        if (rc == KS_DB_OK) {
            snprintf(detail, sizeof detail, "incident %lld: %s already queued (command %lld)",
                     (long long)incident, cmd, (long long)id);
            sup_audit(s, 1, DIAG_ACTOR, "diagnosis.repair", target, "ok", kse, detail);
            return id;
        }
    }
    if (rc) {
        sup_audit(s, 1, DIAG_ACTOR, "diagnosis.repair", target, "failed", kse,
                 sup_db_errmsg(s->db));
        return rc < 0 ? rc : -1;
    }
    id = sup_db_last_id(s->db);
    sup_devcache_forget(s, ctrl_id); /* its next heartbeat reads the commands */
    snprintf(detail, sizeof detail, "incident %lld: queued %s (command %lld)", (long long)incident,
             cmd, (long long)id);
    sup_audit(s, 1, DIAG_ACTOR, "diagnosis.repair", target, "ok", kse, detail);
    return id;
}

/* Replaces every whole word `word` in text by rep (CTRL -> 12). */
static char *subst(const char *text, const char *word, const char *rep)
{
    size_t wl = strlen(word), rl = strlen(rep), n = 0, cap = strlen(text) + 1;
    const char *p;
    char *out;
    for (p = strstr(text, word); p; p = strstr(p + wl, word))
        cap += rl;
    out = malloc(cap);
    if (!out)
        return NULL;
    for (p = text; *p;) {
        int boundary = strncmp(p, word, wl) == 0 &&
                       (p == text || !(p[-1] == '_' || (p[-1] >= 'A' && p[-1] <= 'Z'))) &&
                       !(p[wl] == '_' || (p[wl] >= 'A' && p[wl] <= 'Z'));
        if (boundary) {
            memcpy(out + n, rep, rl);
            n += rl;
            p += wl;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

json_t *sup_diag_steps(int code, int64_t ctrl_id, const char *key_hex)
{
    const ks_kse *k = ks_kse_find(code);
    json_t *arr = json_array();
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)ctrl_id);
    for (int i = 0; k && i < KS_KSE_MAX_STEPS && k->steps[i]; i++) {
        char *a = subst(k->steps[i], "CTRL", id);
        char *b = a && key_hex && key_hex[0] ? subst(a, "KEY", key_hex) : NULL;
        json_array_append_new(arr, json_string(b ? b : a ? a : k->steps[i]));
        free(a);
        free(b);
    }
    return arr;
}
