/*
 * sup_retention.c - audit retention (keysupd.conf: audit_retention_days,
 * audit_retention_rows). The guard thread calls sup_audit_prune at start and
 * every minute. Rows are deleted by id range in batches, each batch its own
 * short transaction, so the lock is never held for long.
 *
 * Audit ids grow with time, so "older than N days" is "ids below the first
 * row that is young enough"; finding that row walks the table from its
 * oldest row, which after the first pruning is only a few rows.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#include "sup_guard.h"

#define BATCH 5000

/* Deletes ids < below in batches; returns rows deleted or -1. */
static int64_t delete_below(sup_ctx *s, int64_t below)
{
    int64_t total = 0;
    for (;;) {
        sup_dbv p[2] = {sup_dbv_int(below), sup_dbv_int(BATCH)};
        int rc, n;
        pthread_mutex_lock(&s->lock);
        rc = sup_db_exec(s->db, "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE"
                               " id < ? ORDER BY id LIMIT ?)", p, 2, NULL, NULL);
        n = rc ? 0 : (int)sup_db_changes(s->db);
        pthread_mutex_unlock(&s->lock);
        if (rc) {
            sup_log(KS_LOG_ERROR, "audit.prune", "error=\"%s\"", sup_db_errmsg(s->db));
            return -1;
        }
        total += n;
        if (n < BATCH)
            return total;
    }
}

int64_t sup_audit_prune(sup_ctx *s)
{
    int64_t total = 0, below = 0, n;
    int rc;

    if (s->cfg.audit_retention_days) {
        sup_dbv p = sup_dbv_int((int64_t)sup_now() - (int64_t)s->cfg.audit_retention_days * 86400);
        pthread_mutex_lock(&s->lock);
        /* The oldest row young enough to keep; all rows are old when none. */
        rc = sup_db_int(s->db, "SELECT id FROM audit WHERE ts >= ? ORDER BY id LIMIT 1", &p, 1,
                       &below);
        if (rc == 1) /* no row */
            rc = sup_db_int(s->db, "SELECT COALESCE(MAX(id), 0) + 1 FROM audit", NULL, 0, &below);
        pthread_mutex_unlock(&s->lock);
        if (rc == KS_DB_OK) {
            n = delete_below(s, below);
            if (n < 0)
                return n;
            total += n;
        }
    }
    if (s->cfg.audit_retention_rows) {
        sup_dbv p = sup_dbv_int((int64_t)s->cfg.audit_retention_rows - 1);
        pthread_mutex_lock(&s->lock);
        rc = sup_db_int(s->db, "SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?", &p, 1,
                       &below);
        pthread_mutex_unlock(&s->lock);
        if (rc == KS_DB_OK) {
            n = delete_below(s, below);
            if (n < 0)
                return n;
            total += n;
        }
    }
    if (total > 0)
        sup_log(KS_LOG_INFO, "audit.prune", "deleted=%lld days=%u rows=%u", (long long)total,
               s->cfg.audit_retention_days, s->cfg.audit_retention_rows);
    return total;
}
