/*
 * sup_diag_facts.c - what diagnosis knows about a controller, read from the
 * registry: the controller row, its last health report, the published
 * version and root of its scope, and the audit records it uploaded (which
 * name the key behind a refusal, and show when a key is granted again).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_shed.h"
#include "sup_api.h"
#include "sup_diag.h"
#include "sup_health.h"
#include "sup_restore.h"
#include "sup_soft.h"

int64_t sup_diag_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int load(sup_ctx *s, int64_t ctrl_id, sup_diag_facts *f, int want_report);

int sup_diag_load(sup_ctx *s, int64_t ctrl_id, sup_diag_facts *f)
{
    return load(s, ctrl_id, f, 1);
}

int sup_diag_load_meta(sup_ctx *s, int64_t ctrl_id, sup_diag_facts *f)
{
    return load(s, ctrl_id, f, 0);
}

int sup_diag_load_known(sup_ctx *s, int64_t ctrl_id, uint32_t scope, sup_diag_facts *f)
{
    uint8_t root[KS_HASH_SIZE];
    /* What load() reads from the row besides the name (which only the
     * on-demand answer shows) and last_seen (the heartbeat's judging time
     * replaces it): enrolled and scope, from the device cache. */
    memset(f, 0, sizeof *f);
    f->ctrl_id = ctrl_id;
    f->now_ms = sup_diag_now_ms();
    f->shed_ms = (int64_t)sup_shed_last() * 1000;
    f->enrolled = 1;
    f->scope = scope;
    f->published_version = sup_pub_version(s, f->scope, root);
    ks_hex(f->published_root, root, KS_HASH_SIZE);
    f->history = sup_restore_history(s);
    return 0;
}

static int load(sup_ctx *s, int64_t ctrl_id, sup_diag_facts *f, int want_report)
{
    sup_dbv p = sup_dbv_int(ctrl_id);
    uint8_t root[KS_HASH_SIZE];
    json_t *row = api_row(s, want_report ? "SELECT name, device_pk, scope, last_seen, last_health,"
                                           " last_health_live"
                                           " FROM controllers WHERE id = ?"
                                         : "SELECT name, device_pk, scope, last_seen"
                                           " FROM controllers WHERE id = ?", &p, 1);
    const char *h;
    memset(f, 0, sizeof *f);
    f->ctrl_id = ctrl_id;
    f->now_ms = sup_diag_now_ms();
    f->shed_ms = (int64_t)sup_shed_last() * 1000;
    if (!row)
        return 1;
    if (json_is_string(json_object_get(row, "name")))
        snprintf(f->name, sizeof f->name, "%s", json_string_value(json_object_get(row, "name")));
    f->enrolled = json_is_string(json_object_get(row, "device_pk"));
    f->scope = (uint32_t)json_integer_value(json_object_get(row, "scope"));
    f->last_seen_ms = json_integer_value(json_object_get(row, "last_seen")) * 1000;
    f->report_ms = f->last_seen_ms;
    h = json_string_value(json_object_get(row, "last_health"));
    const char *live = json_string_value(json_object_get(row, "last_health_live"));
    int64_t seen = 0;
    char *soft = NULL, *soft_live = NULL;
    if (!want_report)
        h = NULL;
    else if (sup_soft_peek(s, ctrl_id, &seen, &soft, &soft_live)) {
        /* a heartbeat not yet written (sup_soft.h) is the newer state: its
         * whole report replaces the stored one and its live members (or
         * none, after a whole report); a short one only the live members */
        f->last_seen_ms = f->report_ms = seen * 1000;
        if (soft) {
            h = soft;
            live = soft_live;
        } else if (soft_live) {
            live = soft_live;
        }
    }
    if (h)
        f->report = sup_health_merge_str(h, live);
    free(soft);
    free(soft_live);
    f->published_version = sup_pub_version(s, f->scope, root);
    ks_hex(f->published_root, root, KS_HASH_SIZE);
    f->history = sup_restore_history(s);
    json_decref(row);
    return 0;
}

static int kse_num(const char *s)
{
    return s && strncmp(s, "KSE-", 4) == 0 ? atoi(s + 4) : 0;
}

static int64_t prev_count(const sup_diag_prev *p, int code)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].code == code)
            return p->e[i].count;
    return 0;
}

int sup_diag_prev_from(sup_diag_prev *p, json_t *report)
{
    json_t *refs = json_object_get(report, "refusals"), *e;
    size_t i, cap = json_array_size(refs);
    p->n = 0;
    p->e = cap ? malloc(cap * sizeof *p->e) : NULL;
    if (cap && !p->e)
        return -1;
    json_array_foreach(refs, i, e) {
        int code = kse_num(json_string_value(json_object_get(e, "code")));
        json_int_t c = json_integer_value(json_object_get(e, "count"));
        size_t k;
        if (!code)
            continue;
        /* the first entry of a code decides (as a lookup in the report did);
         * a first entry with count 0 is kept so a later one cannot override */
        for (k = 0; k < p->n && p->e[k].code != code; k++)
            ;
        if (k < p->n)
            continue;
        p->e[p->n].code = code;
        p->e[p->n++].count = c > 0 ? (int64_t)c : 0;
    }
    return 0;
}

void sup_diag_prev_free(sup_diag_prev *p)
{
    free(p->e);
    p->e = NULL;
    p->n = 0;
}

/* A device's unix time in seconds as milliseconds; 0 (unknown) for anything
 * outside 1970..2100, so a forged report cannot overflow the arithmetic. */
static int64_t device_ms(json_t *v)
{
    json_int_t t = json_integer_value(v);
    return t > 0 && t < 4102444800LL ? (int64_t)t * 1000 : 0;
}

void sup_diag_refusals(sup_diag_facts *f, json_t *prev, int64_t window_ms)
{
    sup_diag_prev p = {0, NULL};
    if (prev && sup_diag_prev_from(&p, prev) != 0) {
        f->nref = 0; /* out of memory: nothing judged from this report */
        return;
    }
    sup_diag_refusals_prev(f, prev ? &p : NULL, window_ms);
    sup_diag_prev_free(&p);
}

void sup_diag_refusals_prev(sup_diag_facts *f, const sup_diag_prev *prev, int64_t window_ms)
{
    json_t *e;
    size_t i;
    f->nref = 0;
    json_array_foreach(json_object_get(f->report, "refusals"), i, e) {
        sup_diag_refusal *r;
        int code = kse_num(json_string_value(json_object_get(e, "code")));
        if (!code || f->nref >= KS_DIAG_MAX_REFUSALS)
            continue;
        r = &f->ref[f->nref++];
        r->code = code;
        r->window = -1; /* the engine knows it (sup_diag_engine.c) */
        r->count = (int64_t)json_integer_value(json_object_get(e, "count"));
        if (r->count < 0)
            r->count = 0;
        r->first_ms = device_ms(json_object_get(e, "first"));
        r->last_ms = device_ms(json_object_get(e, "last"));
        if (prev) {
            int64_t before = prev_count(prev, code);
            /* A restarted controller counts from zero again. */
            r->fresh = r->count >= before ? r->count - before : r->count;
            /* The first of the fresh ones is at most a report interval old;
             * the report only keeps the first ever, so when older ones
             * exist the last time is the better bound. */
            if (before > 0 && r->fresh > 0)
                r->first_ms = r->fresh == 1 ? r->last_ms : r->first_ms;
        } else {
            r->fresh = r->last_ms && f->now_ms - r->last_ms <= window_ms ? r->count : 0;
        }
    }
}

typedef struct rec_scan {
    char key[33];
    int granted;
    const char *want_key;
    json_t *holders;   /* key ids of the same holder */
} rec_scan;

static int key_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    rec_scan *r = ctx;
    json_t *rec;
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_TEXT)
        return 0;
    rec = json_loadb(c[0].p, c[0].n, 0, NULL);
    if (json_is_string(json_object_get(rec, "key_id")))
        snprintf(r->key, sizeof r->key, "%s", json_string_value(json_object_get(rec, "key_id")));
    json_decref(rec);
    return 1;
}

void sup_diag_refusal_key(sup_ctx *s, int64_t ctrl_id, int code, char out[33])
{
    char pat[32];
    rec_scan r;
    sup_dbv p[2];
    memset(&r, 0, sizeof r);
    snprintf(pat, sizeof pat, "%%\"code\":\"KSE-%d\"%%", code);
    p[0] = sup_dbv_int(ctrl_id);
    p[1] = sup_dbv_text(pat);
    sup_db_exec(s->db, "SELECT record FROM device_audit WHERE controller_id = ? AND record LIKE ?"
                      " ORDER BY seq DESC LIMIT 1", p, 2, key_cb, &r);
    memcpy(out, r.key, 33);
}

static int granted_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    rec_scan *r = ctx;
    json_t *rec, *k;
    size_t i;
    const char *kid;
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_TEXT)
        return 0;
    rec = json_loadb(c[0].p, c[0].n, 0, NULL);
    kid = json_string_value(json_object_get(rec, "key_id"));
    if (kid && json_is_true(json_object_get(rec, "granted"))) {
        if (r->want_key && strcmp(kid, r->want_key) == 0)
            r->granted = 1;
        json_array_foreach(r->holders, i, k)
            if (strcmp(json_string_value(json_object_get(k, "key_id")), kid) == 0)
                r->granted = 1;
    }
    json_decref(rec);
    return r->granted;
}

int sup_diag_granted_since(sup_ctx *s, int64_t ctrl_id, const char *key_hex, int code)
{
    rec_scan r;
    sup_dbv p[3];
    uint8_t kid[KS_KEYID_SIZE];
    char pat[32];
    memset(&r, 0, sizeof r);
    r.want_key = key_hex && key_hex[0] ? key_hex : NULL;
    if (r.want_key && ks_unhex(kid, sizeof kid, key_hex) == 0) {
        /* Other keys of the same holder count too: a re-enrolled key. */
        sup_dbv b = sup_dbv_blob(kid, sizeof kid);
        r.holders = sup_db_rows_json(s->db, "SELECT k2.key_id FROM keys k1 JOIN keys k2 ON"
                                    " k1.holder_id = k2.holder_id WHERE k1.key_id = ?"
                                    " AND k1.holder_id IS NOT NULL", &b, 1, NULL);
    }
    /* Ordered by the controller's audit sequence, not by its whole-second
     * times: a grant in the same second as the refusal is still after it. */
    snprintf(pat, sizeof pat, "%%\"code\":\"KSE-%d\"%%", code);
    p[0] = sup_dbv_int(ctrl_id);
    p[1] = sup_dbv_int(ctrl_id);
    p[2] = sup_dbv_text(pat);
    sup_db_exec(s->db, "SELECT record FROM device_audit WHERE controller_id = ? AND seq >"
                      " (SELECT MAX(seq) FROM device_audit WHERE controller_id = ? AND"
                      " record LIKE ?) ORDER BY seq", p, 3, granted_cb, &r);
    json_decref(r.holders);
    return r.granted;
}
