/*
 * api_devaudit.c - POST /v1/device/audit: a controller's audit records,
 * their hash chain re-checked before anything is stored
 * (sup_auditchain.c, docs/audit.md), and each granted use handed to clone
 * detection (sup_clone.c). Idempotent by (controller, seq).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_devaudit.h"
#include "sup_auditchain.h"
#include "sup_clone.h"
#include "sup_diag.h"
#include "sup_schema.h"

typedef struct audit_in {
    json_t *records;
} audit_in;

#define AUDIT_MAX 1000

typedef struct upload {
    json_t *recs;
    int64_t accepted, duplicates, max_seq;
    int kick; /* a key was suspended as a clone: publish after the commit */
    sup_achain_rec *chain; /* each record's chain position (sup_auditchain.c) */
    int link;              /* how the upload follows what is stored: SUP_ACHAIN_* */
} upload;

static int upload_tx(sup_req *rq, sup_resp *rs, void *ctx)
{
    upload *u = ctx;
    size_t i;
    json_t *r;
    sup_achain_rec prev;
    /* The upload must continue the chain already stored (under the lock, so
     * two uploads of one controller cannot both take the same place). */
    int rc0 = sup_achain_prev(rq->s, rq->ctrl_id,
                              json_integer_value(json_object_get(json_array_get(u->recs, 0), "seq")),
                              &prev);
    if (rc0 < 0)
        return rc0;
    u->link = rc0 == 0 ? sup_achain_link(&prev, &u->chain[0]) : SUP_ACHAIN_NEXT;
    if (u->link == SUP_ACHAIN_BROKEN) {
        char kse[12];
        SUP_KSE_TEXT(kse, VERSION_CLAIM_UNPROVED);
        api_error(rs, 409, kse, "records[0] (seq %lld, index %llu) does not continue the audit chain"
                  " stored for this controller (index %llu): hash chain broken; nothing stored",
                  (long long)json_integer_value(json_object_get(json_array_get(u->recs, 0), "seq")),
                  (unsigned long long)u->chain[0].index, (unsigned long long)prev.index);
        return API_TX_ABORT;
    }
    json_array_foreach(u->recs, i, r) {
        int64_t seq = json_integer_value(json_object_get(r, "seq"));
        json_t *ts = json_object_get(r, "time");
        char *text = json_dumps(r, JSON_COMPACT);
        sup_dbv p[7] = {sup_dbv_int(rq->ctrl_id), sup_dbv_int(seq),
                       json_is_integer(ts) ? sup_dbv_int(json_integer_value(ts)) : sup_dbv_null(),
                       sup_dbv_int((int64_t)sup_now()), sup_dbv_text(text), sup_dbv_int(rq->ctrl_id),
                       sup_dbv_int(seq)};
        int rc = sup_db_exec(rq->s->db, "INSERT INTO device_audit(controller_id, seq, ts,"
                                       " received_at, record) SELECT ?,?,?,?,? WHERE NOT EXISTS"
                                       " (SELECT 1 FROM device_audit WHERE controller_id = ?"
                                       " AND seq = ?)", p, 7, NULL, NULL);
        free(text);
        if (rc)
            return rc;
        if (sup_db_changes(rq->s->db) > 0) {
            u->accepted++;
            if ((rc = sup_clone_observe(rq->s, rq->ctrl_id, seq, r, &u->kick)) != KS_DB_OK)
                return rc;
        } else
            u->duplicates++;
        if (seq > u->max_seq)
            u->max_seq = seq;
    }
    return KS_DB_OK;
}

static const sup_field audit_fields[] = {
    SUP_ARRAY("records", SUP_REQUIRED, AUDIT_MAX, audit_in, records,
              "audit records, each an object with a non-negative integer seq"),
    SUP_END,
};
const sup_schema api_dev_audit_schema = {sizeof(audit_in), SUP_BODY_FIELDS, audit_fields};

void api_dev_audit(sup_req *rq, sup_resp *rs)
{
    json_t *r;
    upload u = {((const audit_in *)rq->in)->records, 0, 0, 0, 0, NULL, SUP_ACHAIN_NEXT};
    size_t i;
    char why[160], kse[12];
    json_array_foreach(u.recs, i, r) {
        json_t *seq = json_object_get(r, "seq");
        if (!json_is_object(r) || !json_is_integer(seq) || json_integer_value(seq) < 0) {
            api_error(rs, 400, "BAD_REQUEST", "field 'records[%zu].seq' must be a non-negative"
                      " integer", i);
            return;
        }
    }
    if (json_array_size(u.recs) == 0) {
        api_json(rs, 200, json_pack("{s:i,s:i,s:i}", "accepted", 0, "duplicates", 0,
                                    "acked_through", 0));
        return;
    }
    /* The chain and each record's raw bytes, before anything is stored. */
    u.chain = calloc(json_array_size(u.recs), sizeof *u.chain);
    if (!u.chain) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        return;
    }
    SUP_KSE_TEXT(kse, VERSION_CLAIM_UNPROVED);
    if (sup_achain_check(&rq->s->crypto, u.recs, u.chain, why, sizeof why) != 0) {
        sup_audit(rq->s, 0, rq->actor, "device.audit_refused", "device_audit", "denied", kse, why);
        api_error(rs, 400, kse, "%s; nothing stored", why);
        free(u.chain);
        return;
    }
    int txrc = api_tx(rq, rs, upload_tx, &u);
    if (txrc != 0 && rs->status == 409)
        sup_audit(rq->s, 0, rq->actor, "device.audit_refused", "device_audit", "denied", kse,
                  "the upload does not continue the stored hash chain");
    for (i = 1; i < json_array_size(u.recs) && u.link == SUP_ACHAIN_NEXT; i++)
        if (u.chain[i].gap)
            u.link = SUP_ACHAIN_GAP;
    if (txrc == 0 && u.accepted && u.link != SUP_ACHAIN_NEXT)
        sup_audit(rq->s, 0, rq->actor, "device.audit_gap", "device_audit", "ok", NULL,
                  u.link == SUP_ACHAIN_RESTART ? "the audit chain starts again (store formatted)"
                                               : "records missing before this upload (the ring "
                                                 "overwrote them before they were uploaded)");
    free(u.chain);
    if (txrc == 0) {
        if (u.kick)
            sup_pub_kick(rq->s);
        sup_log(KS_LOG_INFO, "device.audit_upload", "controller=%lld accepted=%lld duplicates=%lld",
               (long long)rq->ctrl_id, (long long)u.accepted, (long long)u.duplicates);
        api_json(rs, 200, json_pack("{s:I,s:I,s:I}", "accepted", (json_int_t)u.accepted,
                                    "duplicates", (json_int_t)u.duplicates, "acked_through",
                                    (json_int_t)u.max_seq));
    }
}

