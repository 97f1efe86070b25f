/*
 * api_hbfast.c - reading a heartbeat report, and the heartbeat that needs
 * no database (api_hb.h).
 *
 * Why: at 1,000+ controllers every heartbeat took s->lock for a transaction
 * that, for a controller in a steady state, wrote nothing and read two
 * things that had not changed (its pending commands, its protocol). The
 * workers queued on that lock behind the soft-state flush and each other,
 * and keysupd sat at 0.1 cores. What the transaction read is now known
 * from the device cache, which every change to it invalidates before its
 * commit (sup_devcache.h), so the steady heartbeat is a signature check, a
 * batch entry and a signed answer. On PostgreSQL that is no commit at all
 * besides the shared nonce's.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_hb.h"
#include "sup_cluster.h"
#include "sup_devcache.h"
#include "sup_restore.h"

void api_hb_read(sup_req *rq, json_t *r, char *text, api_hb *h)
{
    uint64_t now = sup_now();
    json_t *t = json_object_get(r, "time"), *fw = json_object_get(r, "firmware_version");
    json_t *pr = json_object_get(r, "protocol_version"), *lo = json_object_get(r, "lockout");
    json_t *jh = json_object_get(r, "applied_history"), *rsv = json_object_get(r, "restore");
    sup_soft_row *sr = &h->sr;

    memset(h, 0, sizeof *h);
    h->pv = sup_pub_version(rq->s, rq->ctrl_scope, h->proot);
    if (json_is_integer(json_object_get(r, "applied_version"))) {
        h->av = (uint64_t)json_integer_value(json_object_get(r, "applied_version"));
        h->has_av = 1;
    }
    if (json_is_string(json_object_get(r, "applied_root")) &&
        ks_unhex(h->root, KS_HASH_SIZE, json_string_value(json_object_get(r, "applied_root"))) == 0)
        h->has_root = 1;
    h->has_hist = json_is_integer(jh);
    h->header = json_string_value(json_object_get(r, "applied_header"));
    h->hist = (uint32_t)json_integer_value(jh);
    h->proof = json_integer_value(json_object_get(rsv, "lost_count")) > 0 &&
               json_integer_value(json_object_get(rsv, "offered_history")) ==
                   json_integer_value(jh);

    /* Soft state: held in memory, written in batches (sup_soft.h). */
    sr->id = rq->ctrl_id;
    sr->last_seen = (int64_t)now;
    /* last_sync only moves when the controller holds what is published. */
    if (h->has_av && h->has_root && h->av == h->pv && memcmp(h->root, h->proot, KS_HASH_SIZE) == 0)
        sr->last_sync = (int64_t)now;
    sr->has_av = h->has_av;
    sr->applied_version = (int64_t)h->av;
    sr->has_root = h->has_root;
    if (h->has_root)
        memcpy(sr->applied_root, h->root, KS_HASH_SIZE);
    if (json_is_integer(t) && json_integer_value(t) > 0 &&
        json_integer_value(t) < ((json_int_t)1 << 40)) { /* sane times only */
        sr->has_offset = 1;
        sr->clock_offset = json_integer_value(t) - (int64_t)now;
    }
    sr->firmware = json_is_string(fw) ? (char *)json_string_value(fw) : NULL;
    sr->has_protocol = json_is_integer(pr);
    sr->protocol = json_integer_value(pr);
    sr->lockout = json_is_true(lo) || (json_is_integer(lo) && json_integer_value(lo) != 0);
    sr->health = text;
}

/* The pending commands, read without a transaction (a read needs none): on
 * PostgreSQL the heartbeat then commits nothing but its nonce. */
static int read_commands(sup_ctx *s, int64_t id, json_t **cmds)
{
    sup_dbv p = sup_dbv_int(id);
    uint64_t gen;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    gen = sup_devcache_gen(s, id); /* before the query: see hb_tx */
    *cmds = sup_db_rows_json(s->db, "SELECT id, command, args FROM commands WHERE"
                                    " controller_id = ? AND state = 'pending' ORDER BY id",
                             &p, 1, &rc);
    pthread_mutex_unlock(&s->lock);
    if (!*cmds)
        return -1;
    if (json_array_size(*cmds) == 0)
        sup_devcache_no_commands(s, id, gen);
    return 0;
}

int api_hb_fast(sup_req *rq, const api_hb *h, json_t **cmds)
{
    sup_ctx *s = rq->s;
    sup_devinfo di;

    *cmds = NULL;
    /* Cached, or read from the database in a cluster (sup_devcache.h). */
    if (sup_devcache_get(s, rq->ctrl_id, &di) != 1)
        return 0;
    if (h->sr.has_protocol && (!di.has_proto || di.proto != h->sr.protocol))
        return 0; /* a new protocol is written at once (proto_refused reads it) */
    if (h->has_av && sup_restore_suspect(s, h->av, h->has_root ? h->root : NULL, h->has_hist,
                                         h->hist, h->pv, h->proot, h->proof))
        return 0; /* possible restore evidence: judged in a transaction */
    if (!di.no_commands && read_commands(s, rq->ctrl_id, cmds) != 0)
        return 0;
    if (sup_soft_put(s, &h->sr) != 0) {
        json_decref(*cmds); /* out of memory: the full path writes the row itself */
        *cmds = NULL;
        return 0;
    }
    if (!*cmds)
        *cmds = json_array();
    return 1;
}

void api_hb_next_nonce(sup_req *rq, json_t *ans)
{
    uint8_t n[32];
    char h[65];
    /* Bound to this controller and counted against its address like a
     * fetched one. Each heartbeat spends one nonce and is handed at most
     * one, so the table holds no more than the fetched nonces allowed. A
     * heartbeat of a session spends none and needs none. */
    if (!ans || rq->mac_answer ||
        sup_nonce_issue_dev(rq->s, rq->client ? rq->client->tag : 0, rq->ctrl_id, n) != 0)
        return; /* no room: the controller fetches one, as before */
    ks_hex(h, n, sizeof n);
    json_object_set_new(ans, "next_nonce", json_string(h));
    json_object_set_new(ans, "nonce_ttl", json_integer((json_int_t)rq->s->cfg.nonce_ttl));
}

void api_hb_offer_json(json_t *ans, const api_hbsess_offer *o)
{
    if (ans && o && o->ok)
        json_object_set_new(ans, "hb_session", json_pack("{s:s,s:s,s:i}", "id", o->id, "pk", o->pk,
                                                         "ttl", (int)o->ttl));
    if (ans && o && o->report_held)
        json_object_set_new(ans, "report_held", json_string(o->report_held));
}

int api_hb_answer(sup_req *rq, sup_resp *rs, uint64_t version, const char *root_hex,
                  const api_hbsess_offer *o)
{
    uint8_t n[32];
    char nh[65], extra[256], *b;
    int len, el = 0;
    /* The steady answer is a fixed shape: printed straight into its buffer,
     * not built as a jansson object and dumped (issue 13: malloc and
     * jansson were 40 % of keysupd's CPU at 1,000 controllers). */
    extra[0] = '\0';
    if (!rq->mac_answer) { /* a session's heartbeat needs no nonce */
        if (sup_nonce_issue_dev(rq->s, rq->client ? rq->client->tag : 0, rq->ctrl_id, n) != 0)
            return -1; /* no nonce to hand out: the general path answers without one */
        ks_hex(nh, n, sizeof n);
        el = snprintf(extra, sizeof extra, ",\"next_nonce\":\"%s\",\"nonce_ttl\":%d", nh,
                      (int)rq->s->cfg.nonce_ttl);
    }
    if (o && o->ok && el >= 0 && (size_t)el < sizeof extra)
        el += snprintf(extra + el, sizeof extra - (size_t)el,
                       ",\"hb_session\":{\"id\":\"%s\",\"pk\":\"%s\",\"ttl\":%u}", o->id, o->pk,
                       o->ttl);
    if (o && o->report_held && el >= 0 && (size_t)el < sizeof extra)
        el += snprintf(extra + el, sizeof extra - (size_t)el, ",\"report_held\":\"%s\"",
                       o->report_held);
    if (el < 0 || (size_t)el >= sizeof extra)
        return -1;
    b = malloc(API_HB_ANSWER_MAX);
    if (!b)
        return -1;
    len = snprintf(b, API_HB_ANSWER_MAX,
                   "{\"controller_id\":%lld,\"scope\":%lld,\"version\":%lld,\"root\":\"%s\","
                   "\"server_time\":%lld,\"heartbeat_interval\":%d,\"commands\":[]%s}\n",
                   (long long)rq->ctrl_id, (long long)rq->ctrl_scope, (long long)version, root_hex,
                   (long long)sup_now(), (int)rq->s->cfg.heartbeat_interval, extra);
    if (len < 0 || len >= API_HB_ANSWER_MAX) {
        free(b);
        return -1;
    }
    rs->status = 200;
    rs->text = b; /* signed (or MAC'd) as sent (sup_http.c) */
    rs->ctype = "application/json";
    return 0;
}
