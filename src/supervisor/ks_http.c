/*
 * ks_http.c - libmicrohttpd glue: body collection with the size limit,
 * routing, authentication (bearer tokens and device signatures), sending
 * responses, and counting them.
 *
 * Device request signature (docs/api.md): the controller fetches a nonce
 * (GET /v1/device/nonce) and sends
 *   X-Keysup-Controller: <id>
 *   X-Keysup-Nonce: <64 hex>
 *   X-Keysup-Signature: <128 hex>  Ed25519 by the device key over
 *     "keysup-device-v1" 0x00 nonce(32) METHOD 0x00 PATH 0x00 BLAKE2b-256(body)
 * Nonces are single-use: a replay gets 401 and an audit entry.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ks_api.h"

typedef struct conn_state {
    char *body;
    size_t len, cap;
    int too_big;
    uint64_t t0;
} conn_state;

static const ks_route *const tables[] = {
    ks_routes_ops, ks_routes_keys, ks_routes_ctrl, ks_routes_device, ks_routes_admin,
    ks_routes_diag,
};

/* Matches url against pattern, capturing `*` segments into args. */
static int match(const char *pat, const char *url, const char **args, char *store, size_t cap)
{
    int na = 0;
    size_t used = 0;
    while (*pat && *url) {
        if (*pat == '*') {
            const char *e = strchr(url, '/');
            size_t n = e ? (size_t)(e - url) : strlen(url);
            if (n == 0 || na >= KS_API_MAXARGS || used + n + 1 > cap)
                return 0;
            memcpy(store + used, url, n);
            store[used + n] = '\0';
            args[na++] = store + used;
            used += n + 1;
            url += n;
            pat++;
            continue;
        }
        if (*pat != *url)
            return 0;
        pat++;
        url++;
    }
    return *pat == '\0' && *url == '\0';
}

/* ----- authentication ----- */

typedef struct tok_row {
    int role;
    char name[64];
} tok_row;

static int tok_cb(void *ctx, int ncol, const ks_dbv *c, const char *const *names)
{
    tok_row *t = ctx;
    (void)names;
    if (ncol >= 2 && c[0].type == KS_DBV_TEXT && c[1].type == KS_DBV_TEXT) {
        char role[16];
        snprintf(role, sizeof role, "%.*s", (int)c[0].n, (const char *)c[0].p);
        t->role = ks_role_from_name(role);
        snprintf(t->name, sizeof t->name, "%.*s", (int)c[1].n, (const char *)c[1].p);
    }
    return 1;
}

/* 0 ok; else status set in rs (401/403) and audited. */
static int auth_token(ks_req *rq, ks_resp *rs, int need, const char *action)
{
    const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
    uint8_t hash[KS_HASH_SIZE];
    tok_row t = {KS_ROLE_NONE, ""};
    ks_dbv p;

    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > 200) {
        atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
        ks_audit(rq->s, 0, "anonymous", "auth.denied", action, "denied", "UNAUTHORIZED",
                 h ? "malformed Authorization header" : "no bearer token");
        api_error(rs, 401, "UNAUTHORIZED", "a bearer token is required (Authorization: Bearer"
                  " kst_...; keysup --token-file)");
        return -1;
    }
    ks_token_hash(&rq->s->crypto, h + 7, hash);
    p = ks_dbv_blob(hash, sizeof hash);
    pthread_mutex_lock(&rq->s->lock);
    ks_db_exec(rq->s->db, "SELECT role, name FROM tokens WHERE hash = ? AND revoked = 0", &p, 1,
               tok_cb, &t);
    pthread_mutex_unlock(&rq->s->lock);
    if (t.role == KS_ROLE_NONE) {
        atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
        ks_audit(rq->s, 0, "anonymous", "auth.denied", action, "denied", "UNAUTHORIZED",
                 "unknown or revoked token");
        api_error(rs, 401, "UNAUTHORIZED", "the bearer token is unknown or revoked");
        return -1;
    }
    rq->role = t.role;
    snprintf(rq->actor, sizeof rq->actor, "token:%s", t.name);
    if (t.role < need) {
        atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
        ks_audit(rq->s, 0, rq->actor, "auth.forbidden", action, "denied", "FORBIDDEN",
                 ks_role_name(t.role));
        api_error(rs, 403, "FORBIDDEN", "role '%s' may not do this; it needs '%s'",
                  ks_role_name(t.role), ks_role_name(need));
        return -1;
    }
    return 0;
}

typedef struct dev_row {
    uint8_t pk[KS_PUBKEY_SIZE];
    uint32_t scope;
    int found;
} dev_row;

static int dev_cb(void *ctx, int ncol, const ks_dbv *c, const char *const *names)
{
    dev_row *d = ctx;
    (void)names;
    if (ncol >= 2 && c[0].type == KS_DBV_BLOB && c[0].n == KS_PUBKEY_SIZE) {
        memcpy(d->pk, c[0].p, KS_PUBKEY_SIZE);
        d->scope = (uint32_t)c[1].i;
        d->found = 1;
    }
    return 1;
}

static int dev_fail(ks_req *rq, ks_resp *rs, const char *target, const char *why, int replay)
{
    atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
    if (replay)
        atomic_fetch_add(&rq->s->metrics.device_replays, 1);
    ks_audit(rq->s, 0, target, replay ? "device.replay" : "device.auth_denied", rq->url,
             "denied", "UNAUTHORIZED", why);
    api_error(rs, 401, "UNAUTHORIZED", "device authentication failed: %s", why);
    return -1;
}

static int auth_device(ks_req *rq, ks_resp *rs)
{
    ks_sup *s = rq->s;
    const char *cid = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "X-Keysup-Controller");
    const char *hn = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "X-Keysup-Nonce");
    const char *hs = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "X-Keysup-Signature");
    uint8_t nonce[32], sig[KS_SIG_SIZE], bh[KS_HASH_SIZE], *msg = NULL;
    dev_row d = {{0}, 0, 0};
    char who[48];
    char *end;
    long long id;
    size_t ml, pl = strlen(rq->url), mlen = strlen(rq->method);
    int ok;

    if (!cid || !hn || !hs)
        return dev_fail(rq, rs, "controller:?", "X-Keysup-Controller, X-Keysup-Nonce and "
                        "X-Keysup-Signature headers are required", 0);
    id = strtoll(cid, &end, 10);
    snprintf(who, sizeof who, "controller:%.20s", cid);
    if (*end || id <= 0 || ks_unhex(nonce, 32, hn) || ks_unhex(sig, KS_SIG_SIZE, hs))
        return dev_fail(rq, rs, who, "malformed authentication headers", 0);
    {
        ks_dbv p = ks_dbv_int(id);
        pthread_mutex_lock(&s->lock);
        ks_db_exec(s->db, "SELECT device_pk, scope FROM controllers WHERE id = ?"
                          " AND device_pk IS NOT NULL", &p, 1, dev_cb, &d);
        pthread_mutex_unlock(&s->lock);
    }
    if (!d.found)
        return dev_fail(rq, rs, who, "unknown or not enrolled controller", 0);
    /* The signature first: a forged request must not burn a real nonce. */
    {
        ks_iov iov = {rq->body ? rq->body : "", rq->body_len};
        s->crypto.hash(s->crypto.ctx, bh, &iov, 1);
    }
    ml = 17 + 32 + mlen + 1 + pl + 1 + KS_HASH_SIZE;
    msg = malloc(ml);
    if (!msg) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        return -1;
    }
    memcpy(msg, "keysup-device-v1", 17); /* with its NUL */
    memcpy(msg + 17, nonce, 32);
    memcpy(msg + 49, rq->method, mlen);
    msg[49 + mlen] = 0;
    memcpy(msg + 50 + mlen, rq->url, pl);
    msg[50 + mlen + pl] = 0;
    memcpy(msg + 51 + mlen + pl, bh, KS_HASH_SIZE);
    ok = s->crypto.verify(s->crypto.ctx, sig, msg, ml, d.pk) == 0;
    free(msg);
    if (!ok)
        return dev_fail(rq, rs, who, "signature does not verify with the device key", 0);
    if (!ks_nonces_consume(s->nonces, nonce, ks_now()))
        return dev_fail(rq, rs, who, "nonce unknown, expired or already used (replay)", 1);
    rq->ctrl_id = id;
    rq->ctrl_scope = d.scope;
    snprintf(rq->actor, sizeof rq->actor, "%s", who);
    return 0;
}

/* ----- sending ----- */

static enum MHD_Result send_resp(ks_sup *s, struct MHD_Connection *c, ks_resp *rs)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    const char *ctype = "application/json";

    if (rs->bin) {
        r = MHD_create_response_from_buffer_with_free_callback(rs->bin_len, rs->bin, free);
        rs->bin = NULL;
        ctype = "application/octet-stream";
    } else if (rs->text) {
        r = MHD_create_response_from_buffer(strlen(rs->text), rs->text, MHD_RESPMEM_MUST_FREE);
        rs->text = NULL;
        ctype = rs->ctype ? rs->ctype : "text/plain; charset=utf-8";
    } else if (rs->json) {
        char *b = json_dumps(rs->json, JSON_COMPACT);
        size_t n = b ? strlen(b) : 0;
        char *nb = b ? realloc(b, n + 2) : NULL;
        if (nb) {
            nb[n] = '\n';
            nb[n + 1] = '\0';
            b = nb;
            n++;
        }
        r = MHD_create_response_from_buffer(n, b ? b : (char *)"", b ? MHD_RESPMEM_MUST_FREE
                                                                       : MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    if (rs->version) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)rs->version);
        MHD_add_response_header(r, "X-Keysup-Version", v);
    }
    ret = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    atomic_fetch_add(&s->metrics.http_requests, 1);
    if (rs->status >= 500)
        atomic_fetch_add(&s->metrics.http_5xx, 1);
    else if (rs->status >= 400)
        atomic_fetch_add(&s->metrics.http_4xx, 1);
    else
        atomic_fetch_add(&s->metrics.http_2xx, 1);
    if (rs->status == 413)
        atomic_fetch_add(&s->metrics.http_413, 1);
    return ret;
}

static void resp_free(ks_resp *rs)
{
    json_decref(rs->json);
    free(rs->bin);
    free(rs->text);
}

static void dispatch(ks_sup *s, ks_req *rq, ks_resp *rs)
{
    char store[512];
    int path_found = 0;

    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const ks_route *r = tables[t]; r->method; r++) {
            const char *args[KS_API_MAXARGS] = {NULL};
            if (!match(r->pattern, rq->url, args, store, sizeof store))
                continue;
            path_found = 1;
            if (strcmp(r->method, rq->method) != 0)
                continue;
            memcpy(rq->args, args, sizeof args);
            if (r->auth == KS_AUTH_DEVICE) {
                if (auth_device(rq, rs))
                    return;
            } else if (r->auth > 0) {
                if (auth_token(rq, rs, r->auth, rq->url))
                    return;
            }
            r->fn(rq, rs);
            if (!rs->status)
                api_error(rs, 500, "INTERNAL", "handler produced no response");
            return;
        }
    }
    (void)s;
    if (path_found)
        api_error(rs, 405, "BAD_REQUEST", "method %s is not allowed on %s", rq->method, rq->url);
    else
        api_error(rs, 404, "NOT_FOUND", "no such endpoint: %s %s", rq->method, rq->url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    ks_sup *s = cls;
    conn_state *st = *con_cls;
    ks_resp rs;
    ks_req rq;
    enum MHD_Result ret;

    (void)version;
    if (!st) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->t0 = ks_now_usec();
        *con_cls = st;
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
            /* Refuse before reading: the client learns at once. */
            st->too_big = 1;
            memset(&rs, 0, sizeof rs);
            api_error(&rs, 413, "BAD_REQUEST", "request body larger than %u bytes (max_body)",
                      s->cfg.max_body);
            ks_log(KS_LOG_WARN, "http.too_large", "method=%s url=%s length=%s", method, url, cl);
            ret = send_resp(s, c, &rs);
            resp_free(&rs);
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_big && st->len + *upload_size <= s->cfg.max_body) {
            if (st->len + *upload_size + 1 > st->cap) {
                size_t nc = st->cap ? st->cap : 1024;
                char *nb;
                while (nc < st->len + *upload_size + 1)
                    nc *= 2;
                nb = realloc(st->body, nc);
                if (!nb)
                    return MHD_NO;
                st->body = nb;
                st->cap = nc;
            }
            memcpy(st->body + st->len, upload, *upload_size);
            st->len += *upload_size;
            st->body[st->len] = '\0';
        } else {
            st->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    memset(&rs, 0, sizeof rs);
    if (st->too_big) {
        api_error(&rs, 413, "BAD_REQUEST", "request body larger than %u bytes (max_body)",
                  s->cfg.max_body);
        ks_log(KS_LOG_WARN, "http.too_large", "method=%s url=%s", method, url);
    } else {
        memset(&rq, 0, sizeof rq);
        rq.s = s;
        rq.conn = c;
        rq.method = method;
        rq.url = url;
        rq.body = st->body;
        rq.body_len = st->len;
        snprintf(rq.actor, sizeof rq.actor, "anonymous");
        dispatch(s, &rq, &rs);
    }
    ret = send_resp(s, c, &rs);
    resp_free(&rs);
    if (rs.status >= 500)
        ks_log(KS_LOG_ERROR, "http.error", "method=%s url=%s status=%d", method, url, rs.status);
    else
        ks_log(KS_LOG_DEBUG, "http.request", "method=%s url=%s status=%d", method, url, rs.status);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ks_sup *s = cls;
    conn_state *st = *con_cls;
    (void)c;
    (void)toe;
    if (!st)
        return;
    atomic_fetch_add(&s->metrics.request_usec_total, ks_now_usec() - st->t0);
    ks_hist_observe(&s->metrics.request_seconds, ks_now_usec() - st->t0);
    free(st->body);
    free(st);
    *con_cls = NULL;
}

int ks_http_start(ks_sup *s, char *err, size_t errlen)
{
    struct sockaddr_in a;
    char host[128];
    const char *colon = strrchr(s->cfg.listen, ':');
    long port;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;

    if (!colon || (size_t)(colon - s->cfg.listen) >= sizeof host) {
        snprintf(err, errlen, "listen '%s': expected HOST:PORT", s->cfg.listen);
        return KS_E_INVAL;
    }
    memcpy(host, s->cfg.listen, (size_t)(colon - s->cfg.listen));
    host[colon - s->cfg.listen] = '\0';
    port = strtol(colon + 1, NULL, 10);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (port < 0 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        snprintf(err, errlen, "listen '%s': expected an IPv4 address and a port", s->cfg.listen);
        return KS_E_INVAL;
    }
    d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         on_request, s,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->cfg.threads,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
                         MHD_OPTION_END);
    if (!d) {
        snprintf(err, errlen, "cannot listen on %s (in use?)", s->cfg.listen);
        return KS_E_IO;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (uint16_t)port;
    s->http = d;
    return KS_OK;
}

void ks_http_stop(ks_sup *s)
{
    if (s->http)
        MHD_stop_daemon(s->http);
    s->http = NULL;
}
