/*
 * api_decisions.c - GET /v1/controllers/{id}/decisions?limit=N (auditor):
 * the newest decisions and refusals a controller uploaded (its device
 * audit), newest first, each with the key's holder name and label beside
 * the key id, as the console's Hardware Management page shows them.
 * (GET /v1/controllers/{id}/audit pages the same records oldest first, by
 * sequence number, for a reader that follows the whole log.)
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "ks_hex.h"
#include "sup_console.h"

/* Adds holder/label of the record's key_id (hex) to o. Lock held. */
static void name_key(sup_ctx *s, json_t *o, json_t *rec)
{
    const char *hex = json_string_value(json_object_get(rec, "key_id"));
    uint8_t id[KS_KEYID_SIZE];
    json_t *row = NULL;
    sup_dbv p;

    if (hex && strlen(hex) == 2 * KS_KEYID_SIZE && ks_unhex(id, sizeof id, hex) == 0) {
        p = sup_dbv_blob(id, sizeof id);
        row = api_row(s, "SELECT h.name AS holder, k.label FROM keys k LEFT JOIN holders h"
                         " ON h.id = k.holder_id WHERE k.key_id = ?", &p, 1);
    }
    json_object_set_new(o, "enrolled", json_boolean(row != NULL));
    json_object_set(o, "holder", row ? json_object_get(row, "holder") : json_null());
    json_object_set(o, "label", row ? json_object_get(row, "label") : json_null());
    json_decref(row);
}

typedef struct decisions_in {
    int64_t id;
    uint64_t limit;
} decisions_in;

static void decisions(sup_req *rq, sup_resp *rs)
{
    const decisions_in *in = rq->in;
    int64_t one;
    sup_dbv p[2];
    json_t *items, *o;
    size_t i;
    int rc;

    p[0] = sup_dbv_int(in->id);
    p[1] = sup_dbv_int((int64_t)in->limit);
    pthread_mutex_lock(&rq->s->lock);
    if (sup_db_int(rq->s->db, "SELECT 1 FROM controllers WHERE id = ?", p, 1, &one) != KS_DB_OK) {
        pthread_mutex_unlock(&rq->s->lock);
        api_error(rs, 404, "NOT_FOUND", "no controller %lld", (long long)in->id);
        return;
    }
    items = sup_db_rows_json(rq->s->db, "SELECT seq, ts, received_at, record FROM device_audit"
                                        " WHERE controller_id = ? ORDER BY seq DESC LIMIT ?",
                             p, 2, &rc);
    json_array_foreach(items, i, o) {
        json_t *rec = json_loads(json_string_value(json_object_get(o, "record")), 0, NULL);
        json_object_set_new(o, "record", rec ? rec : json_null());
        name_key(rq->s, o, rec);
    }
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc);
        return;
    }
    api_json(rs, 200, json_pack("{s:o}", "items", items));
}

static const sup_field decisions_fields[] = {
    SUP_P_ID("controller", decisions_in, id),
    SUP_Q_INT("limit", 1, 1000, 50, decisions_in, limit, "how many, newest first"),
    SUP_END,
};
static const sup_schema decisions_schema = {sizeof(decisions_in), SUP_BODY_NONE, decisions_fields};

const sup_api_route sup_routes_decisions[] = {
    {"GET", "/v1/controllers/*/decisions", KS_ROLE_AUDITOR, decisions, &decisions_schema,
     "a controller's newest decisions and refusals, with holder and label"},
    {.method = NULL},
};
