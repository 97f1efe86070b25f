/*
 * sup_auditchain.c - re-checks a controller's uploaded audit records before
 * they are stored (POST /v1/device/audit, docs/audit.md "What the chain
 * proves").
 *
 * Each uploaded record carries "raw", the 104 bytes the controller's engine
 * wrote into its ring (ks_auth_audit.c). keysupd decodes them, requires the
 * JSON members it stores and reads (time, event, key, counter, index,
 * prev, hash, ...) to say exactly what the raw bytes say, recomputes the
 * chain hash, and requires each record to continue the one before: within
 * the upload, and across uploads from the newest record stored for that
 * controller. A dropped, reordered, inserted or rewritten record is refused
 * with the record's seq (KSE-711); nothing of that upload is stored, and no
 * key use from it reaches clone detection.
 *
 * Two legitimate breaks are accepted and said: a chain start (index 1, zero
 * prev: the controller's store was formatted) and a jump forward in index
 * by exactly the jump in seq (the ring overwrote records before they were
 * uploaded, or could not read one back; its sequence numbers are dense, so
 * a loss shows in both). Both are audited (device.audit_gap). Records left
 * out and the rest renumbered to hide it are refused.
 *
 * What it does not prove: the chain is unkeyed and the upload is signed by
 * the controller's own device key, so a controller whose key is in someone
 * else's hands can write a consistent chain of made-up decisions. What
 * holds is that nobody on the path can alter what a genuine controller
 * uploads, and that a controller cannot rewrite what it already uploaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keysup/ks_auth.h>
#include "sup.h"
#include "sup_auditchain.h"

static int why(char *w, size_t n, size_t i, const char *what)
{
    snprintf(w, n, "records[%zu]: %s", i, what);
    return -1;
}

/* Does JSON member name hold the unsigned integer v? */
static int int_is(json_t *r, const char *name, uint64_t v)
{
    json_t *m = json_object_get(r, name);
    return json_is_integer(m) && (uint64_t)json_integer_value(m) == v;
}

static int str_is(json_t *r, const char *name, const char *v)
{
    const char *m = json_string_value(json_object_get(r, name));
    return v ? m && strcmp(m, v) == 0 : m == NULL;
}

static int zero(const uint8_t h[KS_HASH_SIZE])
{
    uint8_t acc = 0;
    for (size_t i = 0; i < KS_HASH_SIZE; i++)
        acc |= h[i];
    return acc == 0;
}

/* Decodes record i's raw bytes into *ar and checks every member against them. */
static int one(const ks_crypto *c, json_t *rec, size_t i, sup_achain_rec *ar, char *w, size_t wn)
{
    uint8_t raw[KS_AUDIT_PAYLOAD];
    char kid[2 * KS_KEYID_SIZE + 1], ph[2 * KS_HASH_SIZE + 1], hh[2 * KS_HASH_SIZE + 1];
    char rd[KS_READER_ID_SIZE + 1] = {0}, code[16];
    const char *raw_hex = json_string_value(json_object_get(rec, "raw"));
    ks_audit_rec r;

    if (!raw_hex || strlen(raw_hex) != 2 * KS_AUDIT_PAYLOAD || ks_unhex(raw, sizeof raw, raw_hex))
        return why(w, wn, i, "no 'raw' (the record's 104 bytes, hex)");
    if (ks_audit_decode(&r, raw, NULL) != KS_OK)
        return why(w, wn, i, "'raw' is not an audit record");
    ks_audit_hash(c, ar->hash, raw);
    ks_hex(kid, r.key_id, sizeof r.key_id);
    ks_hex(ph, r.prev, sizeof r.prev);
    ks_hex(hh, ar->hash, sizeof ar->hash);
    memcpy(rd, r.reader, KS_READER_ID_SIZE);
    snprintf(code, sizeof code, "KSE-%d", ks_err_kse(r.err));
    const ks_action_def *def = ks_action_find(r.action);
    /* The members keysupd stores, shows and judges by: each must be the
     * raw record's, or the record is not the one that was chained. */
    if (!int_is(rec, "time", r.time) || !int_is(rec, "event", r.event) ||
        !int_is(rec, "detail", r.detail) || !int_is(rec, "index", r.index) ||
        !int_is(rec, "clock", r.clock) || !str_is(rec, "key_id", kid) ||
        !str_is(rec, "reader", rd) || !str_is(rec, "prev", ph) || !str_is(rec, "hash", hh) ||
        !str_is(rec, "action", def ? def->name : "none") ||
        !str_is(rec, "code", r.err && ks_err_kse(r.err) ? code : NULL) ||
        json_is_true(json_object_get(rec, "granted")) != (r.event == KS_EV_DECISION && r.err == 0))
        return why(w, wn, i, "a member differs from its 'raw' bytes");
    ar->seq = json_integer_value(json_object_get(rec, "seq"));
    ar->index = r.index;
    memcpy(ar->prev, r.prev, KS_HASH_SIZE);
    ar->start = r.event == KS_EV_CHAIN_START || (r.index == 1 && zero(r.prev));
    return 0;
}

int sup_achain_link(const sup_achain_rec *before, const sup_achain_rec *r)
{
    if (r->start)
        return SUP_ACHAIN_RESTART;
    if (r->index == before->index + 1)
        return memcmp(r->prev, before->hash, KS_HASH_SIZE) == 0 ? SUP_ACHAIN_NEXT
                                                                : SUP_ACHAIN_BROKEN;
    /* A record left out and the rest renumbered to hide it is broken; a
     * loss the ring's dense sequence numbers show is a gap. */
    return r->index > before->index + 1 && r->seq > before->seq &&
                   (uint64_t)(r->seq - before->seq) == r->index - before->index
               ? SUP_ACHAIN_GAP
               : SUP_ACHAIN_BROKEN;
}

int sup_achain_check(const ks_crypto *c, json_t *recs, sup_achain_rec *out, char *w, size_t wn)
{
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        if (one(c, rec, i, &out[i], w, wn))
            return -1;
        if (i > 0) {
            int l = sup_achain_link(&out[i - 1], &out[i]);
            /* A gap inside one upload is a ring slot the controller could
             * not read back (damage it reports itself): said, not refused. */
            out[i].gap = l == SUP_ACHAIN_GAP || l == SUP_ACHAIN_RESTART;
            if (l == SUP_ACHAIN_BROKEN)
                return why(w, wn, i, "does not continue the record before it (hash chain broken)");
            if (json_integer_value(json_object_get(rec, "seq")) <=
                json_integer_value(json_object_get(json_array_get(recs, i - 1), "seq")))
                return why(w, wn, i, "seq out of order");
        }
    }
    return 0;
}

/* The newest stored record's text (malloc'd), whatever its length. */
static int last_cb(void *ctx, int ncol, const sup_dbv *col, const char *const *names)
{
    char **text = ctx;
    (void)names;
    if (ncol >= 1 && col[0].type == KS_DBV_TEXT && (*text = malloc(col[0].n + 1)) != NULL) {
        memcpy(*text, col[0].p, col[0].n);
        (*text)[col[0].n] = '\0';
    }
    return 1;
}

int sup_achain_prev(sup_ctx *s, int64_t ctrl, int64_t seq, sup_achain_rec *prev)
{
    sup_dbv p[2] = {sup_dbv_int(ctrl), sup_dbv_int(seq)};
    char *text = NULL;
    json_t *o;
    const char *h;
    int rc;

    rc = sup_db_exec(s->db, "SELECT record FROM device_audit WHERE controller_id = ? AND seq < ?"
                            " ORDER BY seq DESC LIMIT 1", p, 2, last_cb, &text);
    if (rc) {
        free(text);
        return rc;
    }
    if (!text)
        return 1;
    o = json_loads(text, 0, NULL);
    free(text);
    h = json_string_value(json_object_get(o, "hash"));
    memset(prev, 0, sizeof *prev);
    prev->index = (uint64_t)json_integer_value(json_object_get(o, "index"));
    prev->seq = json_integer_value(json_object_get(o, "seq"));
    rc = h && ks_unhex(prev->hash, KS_HASH_SIZE, h) == 0 && prev->index ? 0 : 1;
    json_decref(o);
    return rc; /* a stored row without a chain position: nothing to link to */
}
