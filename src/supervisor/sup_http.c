/*
 * sup_http.c - libmicrohttpd glue: body collection with the size limit,
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
 *
 * Order of checks (docs/supervisor.md, "Limits"): the raw request target
 * (400 for NUL, control characters, invalid UTF-8), the declared length,
 * the route, then authentication or the client's rate limit, all at the
 * first callback, before any body byte is read or buffered. Only then is the
 * body collected; a device signature (it covers the body) is verified last.
 *
 * Size: over 500 lines because one request's life (body, route, auth,
 * decode, handler, send, count) runs through libmicrohttpd callbacks that
 * share conn_state; the route tables, schemas, sessions and guard live in
 * their own files.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>

#include "sup_api.h"
#include "api_hbsess.h"
#include "sup_cluster.h"
#include "sup_devcache.h"
#include "sup_shape.h"
#include "sup_shed.h"
#include "sup_http_tls.h"
#include "sup_reqbuf.h"
#include "sup_tls.h"
#include "sup_watch.h"

/* Per request (libmicrohttpd's con_cls), made by the URI callback. */
typedef struct conn_state {
    sup_reqbuf body;        /* kept with the state by the thread's cache (sup_reqbuf.h) */
    int too_big;
    int started;            /* the first access-handler call happened */
    int answered;           /* a response was queued before the body */
    uint64_t t0;
    size_t max_body;
    const char *limit_name; /* what sets max_body, for the 413 */
    unsigned char body_kind; /* the route's enum sup_body: sets max_body */
    sup_api_route found;    /* the route (a schema-less one with schema NULL) */
    const sup_api_route *route;
    const char *args[KS_API_MAXARGS];
    char store[512];
    char bad[160];          /* why the raw target is refused, "" when fine */
    char target[512];       /* the raw target, escaped (logs, audit) */
    sup_client client;
    int inflight, download;  /* hold a shedding slot (sup_shed.h) until completed */
    sup_watcher *watch;      /* a held watch, suspended until woken (sup_watch.h) */
} conn_state;

/* Public routes take small bodies: nobody unauthenticated gets to make
 * keysupd buffer a megabyte. */
#define KS_PUBLIC_MAX_BODY (16u * 1024u)
/* A signed request whose nonce is not live is read only this far. */
#define KS_DEAD_NONCE_MAX_BODY (64u * 1024u)

/* Tables of routes without a schema (sup_route), searched after the
 * declared ones of api_routes.c; NULL entries are skipped. Only the
 * console's static files: every JSON route is declared. */
static const sup_route *const tables[] = {
    sup_routes_web, sup_routes_keys_batch,
    NULL,
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

static int tok_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    tok_row *t = ctx;
    (void)names;
    if (ncol >= 2 && c[0].type == KS_DBV_TEXT && c[1].type == KS_DBV_TEXT) {
        char role[16];
        snprintf(role, sizeof role, "%.*s", (int)c[0].n, (const char *)c[0].p);
        t->role = sup_role_from_name(role);
        snprintf(t->name, sizeof t->name, "%.*s", (int)c[1].n, (const char *)c[1].p);
    }
    return 1;
}

/* 0 ok; else status set in rs (401/403) and audited. */
static int auth_token(sup_req *rq, sup_resp *rs, int need, const char *action)
{
    const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
    uint8_t hash[KS_HASH_SIZE];
    tok_row t = {KS_ROLE_NONE, ""};
    sup_dbv p;

    if (!h && sup_session_present(rq)) /* the console: cookie + CSRF (sup_session.c) */
        return sup_session_auth(rq, rs, need, action);
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) > 200) {
        atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
        api_refusal(rq, 0, "auth.denied", action, "UNAUTHORIZED",
                    h ? "malformed Authorization header" : "no bearer token");
        api_error(rs, 401, "UNAUTHORIZED", "a bearer token is required (Authorization: Bearer"
                  " kst_...; keysup --token-file)");
        return -1;
    }
    sup_token_hash(&rq->s->crypto, h + 7, hash);
    p = sup_dbv_blob(hash, sizeof hash);
    pthread_mutex_lock(&rq->s->lock);
    sup_db_exec(rq->s->db, "SELECT role, name FROM tokens WHERE hash = ? AND revoked = 0", &p, 1,
               tok_cb, &t);
    pthread_mutex_unlock(&rq->s->lock);
    if (t.role == KS_ROLE_NONE) {
        atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
        api_refusal(rq, 0, "auth.denied", action, "UNAUTHORIZED", "unknown or revoked token");
        api_error(rs, 401, "UNAUTHORIZED", "the bearer token is unknown or revoked");
        return -1;
    }
    rq->role = t.role;
    snprintf(rq->actor, sizeof rq->actor, "token:%s", t.name);
    if (t.role < need) {
        atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
        sup_audit(rq->s, 0, rq->actor, "auth.forbidden", action, "denied", "FORBIDDEN",
                 sup_role_name(t.role));
        api_error(rs, 403, "FORBIDDEN", "role '%s' may not do this; it needs '%s'",
                  sup_role_name(t.role), sup_role_name(need));
        return -1;
    }
    return 0;
}

typedef struct dev_row {
    uint8_t pk[KS_PUBKEY_SIZE];
    uint32_t scope;
    int found;
} dev_row;

static int dev_fail(sup_req *rq, sup_resp *rs, const char *target, const char *why, int replay)
{
    atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
    if (replay)
        atomic_fetch_add(&rq->s->metrics.device_replays, 1);
    /* A replay carried a valid device signature: always audited. Anything
     * else is anonymous and sampled. */
    if (replay)
        sup_audit(rq->s, 0, target, "device.replay", rq->url, "denied", "UNAUTHORIZED", why);
    else
        api_refusal(rq, 0, "device.auth_denied", rq->url, "UNAUTHORIZED", why);
    api_error(rs, 401, "UNAUTHORIZED", "device authentication failed: %s", why);
    return -1;
}

/* final == 0: before the body (headers, enrolled controller); 1 when the
 * nonce is not live. final == 1: the signature over the body, and the nonce
 * is consumed. */
static int auth_device(sup_req *rq, sup_resp *rs, int final)
{
    sup_ctx *s = rq->s;
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

    if (api_hbsess_is(rq)) /* a steady heartbeat: its session MAC (api_hbsess.h) */
        return api_hbsess_auth(rq, rs, final);
    if (!cid || !hn || !hs)
        return dev_fail(rq, rs, "controller:?", "X-Keysup-Controller, X-Keysup-Nonce and "
                        "X-Keysup-Signature headers are required", 0);
    id = strtoll(cid, &end, 10);
    snprintf(who, sizeof who, "controller:%.20s", cid);
    if (*end || id <= 0 || ks_unhex(nonce, 32, hn) || ks_unhex(sig, KS_SIG_SIZE, hs))
        return dev_fail(rq, rs, who, "malformed authentication headers", 0);
    {
        /* From the cache, not under the database lock (sup_devcache.h):
         * a revocation forgets the entry before it commits. */
        sup_devinfo di;
        if (sup_devcache_get(s, id, &di) == 1) {
            memcpy(d.pk, di.pk, KS_PUBKEY_SIZE);
            d.scope = di.scope;
            d.found = 1;
        }
    }
    if (!d.found)
        return dev_fail(rq, rs, who, "unknown or not enrolled controller", 0);
    if (!final) /* 1: a dead nonce, judged (replay or not) once the body is in */
        return sup_nonce_live(s, nonce, id) ? 0 : 1;
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
    if (!sup_nonce_consume(s, nonce, id)) {
        /* A nonce from before a restart (a heartbeat answer's, kept by the
         * controller) is refused like any dead one, but is no replay. */
        if (sup_nonce_foreign(s, nonce))
            return dev_fail(rq, rs, who, "nonce issued before a keysupd restart", 0);
        return dev_fail(rq, rs, who, "nonce unknown, expired or already used (replay)", 1);
    }
    rq->ctrl_id = id;
    rq->ctrl_scope = d.scope;
    /* The answer is signed, bound to this controller and this nonce. */
    rq->sign_answer = 1;
    memcpy(rq->nonce, nonce, sizeof rq->nonce);
    ks_key_id(&s->crypto, rq->device_key_id, d.pk);
    snprintf(rq->actor, sizeof rq->actor, "%s", who);
    return 0;
}

/* ----- sending ----- */

static void *sock_ctx(struct MHD_Connection *c);

/* A body with a secret: wiped when libmicrohttpd is done sending it. */
static void wipe_free(void *p)
{
    if (p) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}

/* Wipes every string in a JSON value before it is freed (jansson frees
 * without wiping): for an answer with rs->secret set. */
static void json_wipe(json_t *v)
{
    const char *k;
    json_t *e;
    size_t i;
    if (json_is_string(v))
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
    else if (json_is_object(v))
        json_object_foreach(v, k, e) json_wipe(e);
    else if (json_is_array(v))
        json_array_foreach(v, i, e) json_wipe(e);
}

static enum MHD_Result send_resp(sup_ctx *s, struct MHD_Connection *c, sup_resp *rs,
                                  const sup_req *rq)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    const char *ctype = "application/json";
    const uint8_t *bp = (const uint8_t *)"";
    size_t bl = 0;

    if (rs->shared) { /* the published image, referenced (api_snapshot.c) */
        r = MHD_create_response_from_buffer_with_free_callback_cls(
            rs->shared_len, rs->shared_p, rs->shared_free, rs->shared);
        if (r)
            rs->shared = NULL;
        ctype = "application/octet-stream";
    } else if (rs->bin) {
        bp = rs->bin;
        bl = rs->bin_len;
        r = MHD_create_response_from_buffer_with_free_callback(rs->bin_len, rs->bin, free);
        rs->bin = NULL;
        ctype = "application/octet-stream";
    } else if (rs->text) {
        r = MHD_create_response_from_buffer(strlen(rs->text), rs->text, MHD_RESPMEM_MUST_FREE);
        bp = (const uint8_t *)rs->text;
        bl = strlen(rs->text);
        rs->text = NULL;
        ctype = rs->ctype ? rs->ctype : "text/plain; charset=utf-8";
    } else if (rs->json) {
        char *b;
        if (rq && sup_api_shape_applies(rq->url))
            sup_api_shape(rs->json); /* the one shape of docs/api.md */
        b = json_dumps(rs->json, JSON_COMPACT);
        size_t n = b ? strlen(b) : 0;
        char *nb = b ? realloc(b, n + 2) : NULL;
        if (nb) {
            nb[n] = '\n';
            nb[n + 1] = '\0';
            b = nb;
            n++;
        }
        bp = b ? (const uint8_t *)b : bp;
        bl = n;
        if (rs->secret)
            json_wipe(rs->json); /* the only copy left is b, wiped once sent */
        if (b && rs->secret)
            r = MHD_create_response_from_buffer_with_free_callback(n, b, wipe_free);
        else
            r = MHD_create_response_from_buffer(n, b ? b : (char *)"",
                                                b ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!r && b && rs->secret)
            wipe_free(b);
    } else {
        r = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    if (rs->set_cookie)
        MHD_add_response_header(r, "Set-Cookie", rs->set_cookie);
    if (rs->page)
        sup_console_headers(r);
    else /* answers echo what a client sent (names, labels): never as HTML */
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (rq && rq->sign_answer && !rs->self_signed) {
        char kh[2 * KS_PUBKEY_SIZE + 1], sh[2 * KS_SIG_SIZE + 1];
        if (api_answer_sign(s, rq, rs->status, bp, bl, kh, sh) == 0) {
            MHD_add_response_header(r, "X-Keysup-Answer-Key", kh);
            MHD_add_response_header(r, "X-Keysup-Answer-Signature", sh);
        }
    } else if (rq && rq->mac_answer) {
        api_hbsess_answer_header(s, rq, r, rs->status, bp, bl);
    }
    if (rs->version) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)rs->version);
        MHD_add_response_header(r, "X-Keysup-Version", v);
    }
    if (rs->retry_after) {
        char v[16];
        snprintf(v, sizeof v, "%u", rs->retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    if (rs->etag[0])
        MHD_add_response_header(r, "ETag", rs->etag);
    if (rs->content_range[0])
        MHD_add_response_header(r, "Content-Range", rs->content_range);
    if (rs->accept_ranges)
        MHD_add_response_header(r, "Accept-Ranges", "bytes");
    ret = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES) /* answering: no absolute deadline (sup_guard.c) */
        sup_guard_conn_phase(s->guard, sock_ctx(c), 2);
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

static void resp_free(sup_resp *rs)
{
    json_decref(rs->json);
    free(rs->bin);
    free(rs->text);
    free(rs->set_cookie);
    if (rs->shared && rs->shared_free)
        rs->shared_free(rs->shared);
}

/* 1 when r (method, pattern) is rq's route: its arguments go to st. */
static int route_is(conn_state *st, const sup_req *rq, const char *method, const char *pattern,
                    int *path_found)
{
    const char *args[KS_API_MAXARGS] = {NULL};
    if (!match(pattern, rq->url, args, st->store, sizeof st->store))
        return 0;
    *path_found = 1;
    if (strcmp(method, rq->method) != 0)
        return 0;
    memcpy(st->args, args, sizeof args);
    return 1;
}

/* Finds the route of rq (into st); 0 with a 404/405 in rs when none. */
static int find_route(conn_state *st, sup_req *rq, sup_resp *rs)
{
    int path_found = 0;

    for (size_t t = 0; t < sup_api_ntables; t++)
        for (const sup_api_route *r = sup_api_tables[t]; r->method; r++)
            if (route_is(st, rq, r->method, r->pattern, &path_found)) {
                st->route = r;
                st->body_kind = r->schema ? r->schema->body : SUP_BODY_ANY;
                return 1;
            }
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const sup_route *r = tables[t]; r && r->method; r++)
            if (route_is(st, rq, r->method, r->pattern, &path_found)) {
                st->found = (sup_api_route){r->method, r->pattern, r->auth, r->fn, NULL, NULL};
                st->route = &st->found;
                st->body_kind = r->body;
                return 1;
            }
    if (path_found)
        api_error(rs, 405, "BAD_REQUEST", "method %s is not allowed on %s", rq->method, rq->url);
    else
        api_error(rs, 404, "NOT_FOUND", "no such endpoint: %s %s", rq->method, rq->url);
    return 0;
}

/* The body limit of the route found, by what its body is, and the setting
 * that sets it: every route's, so no handler is special-cased here. */
static void route_max_body(const sup_ctx *s, conn_state *st)
{
    st->max_body = s->cfg.max_body;
    st->limit_name = "max_body";
    if (st->body_kind == SUP_BODY_FILE) {
        st->max_body = s->cfg.import_max_body;
        st->limit_name = "import_max_body";
    }
    if (st->route->auth == KS_AUTH_PUBLIC && st->max_body > KS_PUBLIC_MAX_BODY) {
        st->max_body = KS_PUBLIC_MAX_BODY;
        st->limit_name = "anonymous requests";
    }
}

/* Rate limits of anonymous routes; 0 to go on, else a 429 in rs. */
static int limit_public(sup_ctx *s, sup_req *rq, sup_resp *rs, const sup_api_route *r)
{
    uint32_t retry = 1;
    int bucket;
    if (strcmp(r->pattern, "/v1/device/nonce") == 0)
        bucket = KS_BUCKET_NONCE;
    else if (strcmp(r->method, "POST") == 0) /* enrolment: its failures are counted */
        bucket = KS_BUCKET_ENROLL;
    else
        return 0;
    if (sup_guard_allow(s->guard, rq->client, bucket, bucket == KS_BUCKET_NONCE, &retry))
        return 0;
    rs->retry_after = retry;
    api_refusal(rq, 0, "http.rate_limited", rq->url, "RATE_LIMITED",
                bucket == KS_BUCKET_NONCE ? "device nonces (nonce_rate)"
                                          : "failed enrolments (enroll_attempts_per_minute)");
    api_error(rs, 429, "RATE_LIMITED", "too many %s from this address; retry in %u s",
              bucket == KS_BUCKET_NONCE ? "nonce requests" : "failed enrolments", retry);
    return -1;
}

static void *sock_ctx(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void rq_init(sup_req *rq, sup_ctx *s, struct MHD_Connection *c, conn_state *st,
                    const char *method, const char *url)
{
    memset(rq, 0, sizeof *rq);
    rq->s = s;
    rq->conn = c;
    rq->method = method;
    rq->url = url;
    rq->body = st->body.len ? st->body.p : NULL; /* NULL without a body, as before reuse */
    rq->body_len = st->body.len;
    rq->client = &st->client;
    memcpy(rq->args, st->args, sizeof rq->args);
    snprintf(rq->actor, sizeof rq->actor, "anonymous");
}

/* Called by libmicrohttpd with the raw target, before it percent-decodes
 * the path (a %00 would silently cut the decoded path short). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    sup_reqbuf body;
    conn_state *st = sup_reqcache_take(sizeof *st, &body); /* reused: no 1.5 KiB calloc */
    const union MHD_ConnectionInfo *ci;
    (void)cls;
    if (!st)
        return NULL;
    st->body = body;
    st->t0 = sup_now_usec();
    sup_esc(st->target, sizeof st->target, uri ? uri : "", uri ? strlen(uri) : 0);
    if (uri && sup_target_check(uri, st->bad, sizeof st->bad) != 0 && !st->bad[0])
        snprintf(st->bad, sizeof st->bad, "bad request target");
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sup_client_from(&st->client, ci ? ci->client_addr : NULL);
    return st;
}

/* The first call (headers complete, no body read): everything that can be
 * refused without the body is refused here. 1 when a response was queued. */
static int first_call(sup_ctx *s, struct MHD_Connection *c, conn_state *st, const char *url,
                      const char *method, sup_resp *rs)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    sup_req rq;

    st->started = 1;
    st->max_body = s->cfg.max_body;
    st->limit_name = "max_body";
    sup_guard_conn_phase(s->guard, sock_ctx(c), 1);
    rq_init(&rq, s, c, st, method, url);
    if (st->bad[0]) {
        api_refusal(&rq, 0, "http.bad_target", st->target, "BAD_REQUEST", st->bad);
        api_error(rs, 400, "BAD_REQUEST", "%s", st->bad);
        return 1;
    }
    if (!find_route(st, &rq, rs))
        return 1;
    /* Storms: device requests beyond max_inflight are shed before any
     * database work (docs/operations.md, "Storms"). */
    if (strncmp(url, "/v1/device/", 11) == 0) {
        uint32_t retry = sup_shed_enter(s);
        if (retry) {
            rs->retry_after = retry;
            api_error(rs, 503, "KSE-121", "more than %u device requests in flight"
                      " (max_inflight); retry in %u s", s->cfg.max_inflight, retry);
            return 1;
        }
        st->inflight = 1;
    }
    route_max_body(s, st);
    if (cl && strtoull(cl, NULL, 10) > st->max_body) {
        /* Refuse before reading: the client learns at once. */
        st->too_big = 1;
        api_error(rs, 413, "BAD_REQUEST", "request body larger than %zu bytes (%s)",
                  st->max_body, st->limit_name);
        sup_log(KS_LOG_WARN, "http.too_large", "method=%s url=%s length=%s", method, url, cl);
        return 1;
    }
    memcpy(rq.args, st->args, sizeof rq.args);
    if (st->route->auth == KS_AUTH_DEVICE) {
        int r = auth_device(&rq, rs, 0);
        if (r < 0)
            return 1;
        /* A used or unknown nonce: the signature still decides whether this
         * is a replay (audited as such), but only over a small body. */
        if (r == 1 && st->max_body > KS_DEAD_NONCE_MAX_BODY) {
            st->max_body = KS_DEAD_NONCE_MAX_BODY;
            st->limit_name = "device request without a live nonce";
        }
        if (r == 1 && cl && strtoull(cl, NULL, 10) > st->max_body) {
            dev_fail(&rq, rs, "controller:?", "nonce unknown, expired or already used", 0);
            return 1;
        }
    } else if (st->route->auth > 0) {
        if (auth_token(&rq, rs, st->route->auth, rq.url))
            return 1;
    } else if (limit_public(s, &rq, rs, st->route)) {
        return 1;
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    sup_ctx *s = cls;
    conn_state *st = *con_cls;
    sup_resp rs;
    sup_req rq;
    enum MHD_Result ret;

    (void)version;
    if (!st) { /* the URI callback could not allocate */
        st = on_uri(s, "", c);
        if (!st)
            return MHD_NO;
        *con_cls = st;
    }
    memset(&rs, 0, sizeof rs);
    if (!st->started) {
        if (!first_call(s, c, st, url, method, &rs))
            return MHD_YES;
        st->answered = 1;
        ret = send_resp(s, c, &rs, NULL);
        resp_free(&rs);
        sup_log(KS_LOG_DEBUG, "http.request", "method=%s target=%s status=%d", method, st->target,
               rs.status);
        return ret;
    }
    if (st->watch) { /* a held watch, resumed: its answer (sup_watch.h) */
        rq_init(&rq, s, c, st, method, url);
        sup_watch_answer(s, st->watch, &rq, &rs);
        st->watch = NULL;
        goto send;
    }
    if (*upload_size) {
        /* A body that outlives body_timeout is cut here too, not only by
         * the guard thread. */
        if (sup_now_usec() - st->t0 > (uint64_t)s->cfg.body_timeout * 1000000u)
            return MHD_NO;
        if (!st->answered && !st->too_big) {
            int r = sup_reqbuf_add(&st->body, upload, *upload_size, st->max_body);
            if (r == SUP_REQBUF_NOMEM)
                return MHD_NO;
            st->too_big = r == SUP_REQBUF_TOO_BIG;
        } else {
            st->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->answered)
        return MHD_YES;
    if (st->too_big) {
        api_error(&rs, 413, "BAD_REQUEST", "request body larger than %zu bytes (%s)",
                  st->max_body, st->limit_name);
        sup_log(KS_LOG_WARN, "http.too_large", "method=%s url=%s", method, url);
    } else {
        rq_init(&rq, s, c, st, method, url);
        if (st->route->auth != KS_AUTH_DEVICE || auth_device(&rq, &rs, 1) == 0) {
            if (st->route->auth > 0 && auth_token(&rq, &rs, st->route->auth, rq.url) != 0)
                goto send; /* revoked while the body arrived */
            /* A bulk import's handler may run for minutes: body_timeout
             * bounds its upload, not its transaction. */
            if (st->body_kind == SUP_BODY_FILE)
                sup_guard_conn_phase(s->guard, sock_ctx(c), 2);
            /* A declared route's input is decoded and checked here, so
             * the handler holds only its business rule. */
            if (!st->route->schema || api_decode(&rq, &rs, st->route->schema) == 0)
                st->route->fn(&rq, &rs);
            api_decode_free(&rq);
            if (rs.held) { /* parked: neither a shedding slot nor a deadline while held */
                st->watch = rs.held;
                if (st->inflight)
                    sup_shed_leave(s);
                st->inflight = 0;
                sup_guard_conn_phase(s->guard, sock_ctx(c), 2);
                return MHD_YES;
            }
            st->download = rs.download_slot;
            if (!rs.status)
                api_error(&rs, 500, "INTERNAL", "handler produced no response");
        }
        /* A failed anonymous POST (a wrong enrolment token) spends the
         * client's enrolment budget. */
        if (st->route->auth == KS_AUTH_PUBLIC && rs.status == 401)
            sup_guard_allow(s->guard, &st->client, KS_BUCKET_ENROLL, 1, NULL);
    }
send:
    st->answered = 1;
    ret = send_resp(s, c, &rs, st->too_big ? NULL : &rq);
    resp_free(&rs);
    if (rs.status >= 500)
        sup_log(KS_LOG_ERROR, "http.error", "method=%s url=%s status=%d", method, url, rs.status);
    else
        sup_log(KS_LOG_DEBUG, "http.request", "method=%s url=%s status=%d", method, url, rs.status);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    sup_ctx *s = cls;
    conn_state *st = *con_cls;
    (void)toe;
    /* Keep-alive: the next request's header deadline starts now. */
    sup_guard_conn_phase(s->guard, sock_ctx(c), 0);
    if (!st)
        return;
    if (st->inflight)
        sup_shed_leave(s);
    if (st->download)
        sup_shed_download_done(s);
    if (st->watch)
        sup_watch_drop(s, st->watch);
    atomic_fetch_add(&s->metrics.request_usec_total, sup_now_usec() - st->t0);
    sup_hist_observe(&s->metrics.request_seconds, sup_now_usec() - st->t0);
    sup_reqcache_give(st, sizeof *st, &st->body); /* for this thread's next request */
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    sup_ctx *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? sup_guard_conn_open(s->guard, ci->connect_fd) : NULL;
    } else {
        sup_guard_conn_close(s->guard, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's own messages: one escaped keysupd line each, at debug
 * level (a client can cause thousands, e.g. by dropping connections). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sup_log(KS_LOG_DEBUG, "http.mhd", "msg=\"%s\"", msg);
}

/*
 * The daemon's options in one place (connection limits, deadlines,
 * callbacks); TLS options belong here too. Returns the number of items
 * written, MHD_OPTION_END included.
 */
static size_t http_options(sup_ctx *s, struct MHD_OptionItem *o, size_t cap,
                           struct sockaddr *addr)
{
    uint64_t nofile = sup_raise_nofile();
    /* Descriptors for the database, logs, the listener and the threads'
     * epoll sets stay free. */
    uint64_t conn_limit = s->cfg.max_connections;
    size_t n = 0;
    if (nofile > 128 && conn_limit > nofile - 128)
        conn_limit = nofile - 128;
#define OPT(opt, val, ptr)                                                             \
    do {                                                                               \
        if (n + 1 < cap) {                                                             \
            o[n].option = (opt);                                                       \
            o[n].value = (intptr_t)(val);                                              \
            o[n].ptr_value = (ptr);                                                    \
            n++;                                                                       \
        }                                                                              \
    } while (0)
    OPT(MHD_OPTION_SOCK_ADDR, 0, addr);
    OPT(MHD_OPTION_THREAD_POOL_SIZE, sup_config_threads(&s->cfg), NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, s);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, s);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, s);
    OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL);
    /* Idle limit; the absolute deadlines are the guard's (sup_guard.c). */
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.header_timeout, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, conn_limit, NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_conn_per_ip, NULL);
    /* Headers live in this pool: bigger requests get libmicrohttpd's 431. */
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, NULL);
    OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL);
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: a second daemon must not share
     * the port (and the data directory lock refuses it earlier). */
#undef OPT
    o[n].option = MHD_OPTION_END;
    o[n].value = 0;
    o[n].ptr_value = NULL;
    return n + 1;
}

int sup_http_start(sup_ctx *s, char *err, size_t errlen)
{
    sup_listen l;
    unsigned tls_flags;
    struct MHD_OptionItem tls_opts[KS_HTTP_TLS_OPTS];
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    struct MHD_OptionItem opts[24];
    int rc;

    /* Address (IPv4 or [IPv6]), the plain-HTTP rule and TLS: sup_http_tls.c. */
    rc = sup_http_listen_setup(s, &l, &tls_flags, tls_opts, err, errlen);
    if (rc != KS_OK)
        return rc;
    s->guard = sup_guard_new(s);
    if (!s->guard || sup_guard_start(s->guard) != KS_OK) {
        sup_guard_free(s->guard);
        s->guard = NULL;
        snprintf(err, errlen, "cannot start the connection guard");
        return KS_E_IO;
    }
    http_options(s, opts, sizeof opts / sizeof opts[0], (struct sockaddr *)&l.addr);
    /* epoll (or poll) in every pool thread: thousands of idle sockets cost
     * neither threads nor select()'s FD_SETSIZE. */
    if (sup_watch_start(s) != KS_OK) {
        snprintf(err, errlen, "cannot start the watch registry");
        sup_guard_free(s->guard);
        s->guard = NULL;
        return KS_E_IO;
    }
    /* Suspend/resume: held watches park without a thread (sup_watch.h). */
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | tls_flags |
                             MHD_ALLOW_SUSPEND_RESUME |
                             (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
                                  ? MHD_USE_EPOLL : MHD_USE_POLL),
                         0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
                         MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!d) {
        snprintf(err, errlen, "cannot listen on %s (in use?)", s->cfg.listen);
        sup_watch_shutdown(s);
        sup_watch_free(s);
        sup_guard_free(s->guard);
        s->guard = NULL;
        return KS_E_IO;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (uint16_t)l.port;
    s->http = d;
    return KS_OK;
}

void sup_http_stop(sup_ctx *s)
{
    sup_watch_shutdown(s); /* the daemon refuses to stop with suspended connections */
    if (s->http)
        MHD_stop_daemon(s->http);
    s->http = NULL;
    sup_watch_free(s);
    sup_guard_free(s->guard); /* after the daemon: no callback can reach it */
    s->guard = NULL;
    sup_tls_free(s->tls); /* after the daemon: handshakes may hold its pairs */
    s->tls = NULL;
}
