/*
 * api_keys_batch.c - bulk key import and export (docs/api.md, "Bulk import
 * and export"):
 *
 *   POST /v1/keys:batch[?dry_run=1]   body: a CSV or JSON-lines file
 *        (sup_import.h). One transaction: every row is validated first and
 *        every bad row named with its line (422 KSE-750 / KSE-751, nothing
 *        imported); keys already enrolled unchanged are counted, not
 *        inserted, so a re-run is a no-op. 200 {imported, unchanged, rows}.
 *   GET  /v1/keys:export[?format=csv|jsonl]   every key in the import
 *        format (text), so export | import round-trips.
 *
 * The batch body may be larger than max_body: its route is declared with
 * a SUP_BODY_FILE body, which the dispatcher bounds by import_max_body.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_api.h"
#include "sup_import.h"

typedef struct batch {
    sup_import im;
    int dry_run;
} batch;

static int batch_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    batch *b = ctx;
    char detail[96];
    int rc = sup_import_commit(rq->s, &b->im, sup_now());
    (void)rs;
    if (rc)
        return rc == 1 ? API_TX_ABORT : rc;
    if (b->im.nerr_total || b->dry_run)
        return API_TX_ABORT; /* validated and counted; rolled back */
    snprintf(detail, sizeof detail, "imported=%zu unchanged=%zu", b->im.imported,
             b->im.unchanged);
    sup_audit(rq->s, 1, rq->actor, "key.import", "keys", "ok", NULL, detail);
    return KS_DB_OK;
}

/* 422 naming every bad row (the first SUP_IMP_MAX_ERRORS of them). */
static void refuse_rows(sup_resp *rs, const sup_import *im)
{
    json_t *rows = json_array();
    int conflict_only = 1;
    for (size_t i = 0; i < im->nerr; i++) {
        json_array_append_new(rows, json_pack("{s:I,s:s}", "line", (json_int_t)im->err[i].line,
                                              "reason", im->err[i].reason));
        if (!strstr(im->err[i].reason, "already enrolled"))
            conflict_only = 0;
    }
    api_error(rs, 422, conflict_only ? "KSE-751" : "KSE-750",
              "%zu problem%s in the file: nothing was imported (first: line %u: %s)",
              im->nerr_total, im->nerr_total == 1 ? "" : "s", im->nerr ? im->err[0].line : 0,
              im->nerr ? im->err[0].reason : "");
    json_object_set_new(json_object_get(rs->json, "error"), "rows", rows);
    json_object_set_new(json_object_get(rs->json, "error"), "bad_rows",
                        json_integer((json_int_t)im->nerr_total));
}

static void keys_batch(sup_req *rq, sup_resp *rs)
{
    batch b;
    const char *dry = api_query(rq, "dry_run");
    uint64_t t0 = sup_now_usec();
    int rc;

    memset(&b, 0, sizeof b);
    b.dry_run = dry && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0);
    if (!rq->body || rq->body_len == 0) {
        api_error(rs, 400, "BAD_REQUEST", "the body must be a CSV or JSON-lines key file");
        return;
    }
    rc = sup_import_parse(&rq->s->crypto, rq->body, rq->body_len, &b.im);
    if (rc) {
        api_error(rs, 500, "INTERNAL", "out of memory reading the file");
        goto cleanup;
    }
    /* Rows with file errors are not checked against the registry, the rest
     * are, so one answer names every bad row; any error rolls back. */
    if (api_tx(rq, rs, batch_tx, &b) != 0 && b.im.nerr_total) {
        json_decref(rs->json);
        rs->json = NULL;
        refuse_rows(rs, &b.im);
        goto cleanup;
    }
    if (rs->status)
        goto cleanup; /* a storage error, answered by api_tx */
    if (!b.dry_run && b.im.imported)
        sup_pub_kick(rq->s);
    sup_log(KS_LOG_INFO, "key.import", "rows=%zu imported=%zu unchanged=%zu dry_run=%d usec=%llu",
            b.im.n, b.im.imported, b.im.unchanged, b.dry_run,
            (unsigned long long)(sup_now_usec() - t0));
    api_json(rs, 200, json_pack("{s:I,s:I,s:I,s:s,s:b}", "rows", (json_int_t)b.im.n, "imported",
                                (json_int_t)b.im.imported, "unchanged",
                                (json_int_t)b.im.unchanged, "format",
                                b.im.jsonl ? "jsonl" : "csv", "dry_run", b.dry_run));
cleanup:
    sup_import_free(&b.im);
}

static void keys_export(sup_req *rq, sup_resp *rs)
{
    const char *f = api_query(rq, "format");
    int jsonl = 0, rc;
    size_t len;
    if (f && strcmp(f, "jsonl") == 0)
        jsonl = 1;
    else if (f && strcmp(f, "csv") != 0) {
        api_error(rs, 400, "BAD_REQUEST", "query parameter 'format' must be csv or jsonl");
        return;
    }
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_export_keys(rq->s, jsonl, &rs->text, &len);
    pthread_mutex_unlock(&rq->s->lock);
    if (rc) {
        api_db_error(rq, rs, rc == KS_E_NOSPC ? KS_DB_ERR : rc);
        return;
    }
    rs->status = 200;
    rs->ctype = jsonl ? "application/x-ndjson" : "text/csv; charset=utf-8";
}

const sup_route sup_routes_keys_batch[] = {
    {"POST", "/v1/keys:batch", KS_ROLE_OPERATOR, keys_batch, SUP_BODY_FILE},
    {"GET", "/v1/keys:export", KS_ROLE_AUDITOR, keys_export, SUP_BODY_NONE},
    {NULL, NULL, 0, NULL, 0},
};
