/*
 * sup_session.c - console sessions: the cookie a signed-in browser carries
 * instead of a bearer token, and the CSRF token every state change made
 * with it must repeat.
 *
 * The cookie value is "kss_" + 64 hex (32 random bytes); the database keeps
 * only its BLAKE2b hash, as for bearer tokens, so a copy of the database
 * signs nobody in. The cookie is HttpOnly (page scripts cannot read it),
 * SameSite=Strict (other sites' pages do not send it) and Secure under TLS.
 * A session ends when idle longer than console_idle, older than
 * console_session_max, signed out, or its operator removed. The two limits
 * are judged on the monotonic clock (sup_conmem.c); the wall-clock columns
 * are for display, for the housekeeping purge at each sign-in (a wall clock
 * stepped forward can only end sessions early there, never extend them)
 * and for a session this process has not seen before.
 *
 * CSRF: POST, PUT, PATCH and DELETE with a session cookie must carry the
 * session's token in X-Keysup-CSRF (the console reads it from GET
 * /v1/session). SameSite=Strict already keeps other sites' requests
 * cookie-less in current browsers; the token is the second lock, for older
 * browsers and for same-site pages that are not the console.
 */
#define _POSIX_C_SOURCE 200809L
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_api.h"
#include "sup_conmem.h"
#include "sup_console.h"
#include "sup_diag.h"

#define COOKIE_NAME "ks_session"

int sup_session_present(sup_req *rq)
{
    const char *c = MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, COOKIE_NAME);
    return c != NULL && c[0] != '\0';
}

int sup_session_create(sup_ctx *s, int64_t operator_id, const char *address, char cookie[80],
                       char csrf[65])
{
    uint8_t r[32], h[KS_HASH_SIZE];
    int64_t now = (int64_t)sup_now();
    sup_dbv p[6];
    int rc;

    randombytes_buf(r, sizeof r);
    memcpy(cookie, "kss_", 4);
    ks_hex(cookie + 4, r, sizeof r);
    randombytes_buf(r, sizeof r);
    ks_hex(csrf, r, sizeof r);
    sodium_memzero(r, sizeof r);
    sup_token_hash(&s->crypto, cookie, h);
    p[0] = sup_dbv_blob(h, sizeof h);
    p[1] = sup_dbv_int(operator_id);
    p[2] = sup_dbv_text(csrf);
    p[3] = sup_dbv_int(now);
    p[4] = sup_dbv_int(now);
    p[5] = sup_dbv_text(address ? address : "");
    /* Expired sessions of everybody go first: the table stays small. */
    {
        sup_dbv e[2] = {sup_dbv_int(now - (int64_t)s->cfg.console.idle),
                        sup_dbv_int(now - (int64_t)s->cfg.console.session_max)};
        sup_db_exec(s->db, "DELETE FROM console_sessions WHERE last_used < ? OR created_at < ?",
                    e, 2, NULL, NULL);
    }
    rc = sup_db_exec(s->db, "INSERT INTO console_sessions(hash, operator_id, csrf, created_at,"
                            " last_used, address) VALUES (?,?,?,?,?,?)", p, 6, NULL, NULL);
    if (rc == KS_DB_OK) /* its monotonic start is now */
        (void)sup_conmem_session(s, h, now, now, now, sup_conmem_mono());
    return rc == KS_DB_OK ? KS_OK : KS_E_IO;
}

char *sup_session_cookie(const sup_ctx *s, const char *cookie)
{
    char buf[256];
    /* Max-Age: the browser drops it with the session's absolute end. */
    snprintf(buf, sizeof buf, COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%u%s",
             cookie ? cookie : "", cookie ? s->cfg.console.session_max : 0u,
             s->tls ? "; Secure" : "");
    return strdup(buf);
}

typedef struct sess_row {
    int64_t id, created_at, last_used;
    int role, found;
    char csrf[65];
    char name[64];
} sess_row;

static int sess_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    sess_row *r = ctx;
    char role[16];
    (void)names;
    if (ncol < 6 || c[1].type != KS_DBV_TEXT || c[4].type != KS_DBV_TEXT || c[5].type != KS_DBV_TEXT)
        return 1;
    r->id = c[0].i;
    snprintf(r->csrf, sizeof r->csrf, "%.*s", (int)c[1].n, (const char *)c[1].p);
    r->created_at = c[2].i;
    r->last_used = c[3].i;
    snprintf(r->name, sizeof r->name, "%.*s", (int)c[4].n, (const char *)c[4].p);
    snprintf(role, sizeof role, "%.*s", (int)c[5].n, (const char *)c[5].p);
    r->role = sup_role_from_name(role);
    r->found = 1;
    return 1;
}

static void lookup(sup_req *rq, sess_row *r, int64_t *created, uint8_t h[KS_HASH_SIZE]);

static int state_changing(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

int sup_session_auth(sup_req *rq, sup_resp *rs, int need, const char *action)
{
    sup_ctx *s = rq->s;
    const char *c = MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, COOKIE_NAME);
    const char *tok = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "X-Keysup-CSRF");
    sess_row r;
    sup_dbv p[2];
    int64_t now = (int64_t)sup_now();
    uint8_t h[KS_HASH_SIZE];
    char kse[12];

    memset(&r, 0, sizeof r);
    if (c) {
        pthread_mutex_lock(&s->lock);
        lookup(rq, &r, NULL, h);
        /* Expiry on the monotonic clock (sup_conmem.c): a wall clock set
         * back must not keep a session alive; the columns are for display. */
        if (r.found && sup_conmem_session(s, h, r.created_at, r.last_used, now, sup_conmem_mono())) {
            p[0] = sup_dbv_int(r.id);
            sup_db_exec(s->db, "DELETE FROM console_sessions WHERE id = ?", p, 1, NULL, NULL);
            r.found = 0;
        } else if (r.found && r.last_used != now) {
            /* Idle time counts from the last request (one write a second at most). */
            p[0] = sup_dbv_int(now);
            p[1] = sup_dbv_int(r.id);
            sup_db_exec(s->db, "UPDATE console_sessions SET last_used = ? WHERE id = ?", p, 2,
                        NULL, NULL);
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (!r.found) {
        atomic_fetch_add(&s->metrics.auth_failures, 1);
        SUP_KSE_TEXT(kse, CONSOLE_SESSION_EXPIRED);
        api_refusal(rq, 0, "console.session_denied", action, kse,
                    "unknown, expired or signed-out console session");
        api_error(rs, 401, kse, "the console session has expired or was signed out;"
                  " sign in again");
        rs->set_cookie = sup_session_cookie(s, NULL);
        return -1;
    }
    rq->role = r.role;
    snprintf(rq->actor, sizeof rq->actor, "operator:%s", r.name);
    /* The CSRF check comes before the role's: a forged request is named as
     * such whatever the operator may do. */
    if (state_changing(rq->method) &&
        (!tok || strlen(tok) != 64 || sodium_memcmp(tok, r.csrf, 64) != 0)) {
        atomic_fetch_add(&s->metrics.auth_failures, 1);
        SUP_KSE_TEXT(kse, CSRF_REJECTED);
        sup_audit(s, 0, rq->actor, "console.csrf_rejected", action, "denied", kse,
                  tok ? "wrong X-Keysup-CSRF token" : "no X-Keysup-CSRF token");
        api_error(rs, 403, kse, "a state change made with a console session needs the"
                  " session's X-Keysup-CSRF token");
        return -1;
    }
    if (r.role < need) {
        atomic_fetch_add(&s->metrics.auth_failures, 1);
        sup_audit(s, 0, rq->actor, "auth.forbidden", action, "denied", "FORBIDDEN",
                  sup_role_name(r.role));
        api_error(rs, 403, "FORBIDDEN", "role '%s' may not do this; it needs '%s'",
                  sup_role_name(r.role), sup_role_name(need));
        return -1;
    }
    sodium_memzero(r.csrf, sizeof r.csrf);
    return 0;
}

/* The session row of rq's cookie (r->found 0 when none). Lock held. */
static void lookup(sup_req *rq, sess_row *r, int64_t *created, uint8_t h[KS_HASH_SIZE])
{
    const char *c = MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, COOKIE_NAME);
    uint8_t hb[KS_HASH_SIZE];
    sup_dbv p;
    if (!h)
        h = hb;
    memset(r, 0, sizeof *r);
    if (!c || strlen(c) != 68 || strncmp(c, "kss_", 4) != 0)
        return;
    sup_token_hash(&rq->s->crypto, c, h);
    p = sup_dbv_blob(h, KS_HASH_SIZE);
    sup_db_exec(rq->s->db, "SELECT s.id, s.csrf, s.created_at, s.last_used, o.name, o.role"
                           " FROM console_sessions s JOIN operators o ON o.id = s.operator_id"
                           " WHERE s.hash = ?", &p, 1, sess_cb, r);
    if (created)
        *created = r->created_at;
}

int sup_session_csrf(sup_req *rq, char csrf[65], uint64_t *expires_at)
{
    sess_row r;
    int64_t created = 0;
    uint8_t h[KS_HASH_SIZE];
    uint64_t mono_end;
    pthread_mutex_lock(&rq->s->lock);
    lookup(rq, &r, &created, h);
    mono_end = r.found ? sup_conmem_session_expires(rq->s, h, sup_now(), sup_conmem_mono()) : 0;
    pthread_mutex_unlock(&rq->s->lock);
    if (!r.found)
        return -1;
    memcpy(csrf, r.csrf, 65);
    /* For display: the end the monotonic clock keeps, in wall-clock time. */
    *expires_at = mono_end ? mono_end : (uint64_t)created + rq->s->cfg.console.session_max;
    sodium_memzero(r.csrf, sizeof r.csrf);
    return 0;
}

void sup_session_end(sup_req *rq)
{
    sess_row r;
    uint8_t h[KS_HASH_SIZE];
    pthread_mutex_lock(&rq->s->lock);
    lookup(rq, &r, NULL, h);
    if (r.found) {
        sup_conmem_session_end(rq->s, h);
        sup_dbv p = sup_dbv_int(r.id);
        sup_db_exec(rq->s->db, "DELETE FROM console_sessions WHERE id = ?", &p, 1, NULL, NULL);
    }
    pthread_mutex_unlock(&rq->s->lock);
    sodium_memzero(r.csrf, sizeof r.csrf);
}

void sup_console_headers(void *mhd_response)
{
    struct MHD_Response *r = mhd_response;
    /* Only the console's own files and API: no inline script, no framing. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
}
