/*
 * api_console.c - the operator console's routes (docs/console.md):
 *   GET /, GET /ui/{file}   the console's static files (web_dir), public:
 *                           they hold no data; every datum comes from /v1
 *   GET /v1/session         who is signed in here, and the CSRF token
 *   POST /v1/session        sign in {name, password}: the session cookie
 *   DELETE /v1/session      sign out
 *   GET /v1/fleet           every controller with its state and KSE code
 */
#define _POSIX_C_SOURCE 200809L
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ks_kse.h"
#include "sup_api.h"
#include "sup_console.h"

#define WEB_FILE_MAX (1024u * 1024u)

static const char *mime(const char *name)
{
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t m = strlen(map[i][0]);
        if (n > m && strcmp(name + n - m, map[i][0]) == 0)
            return map[i][1];
    }
    return NULL;
}

/* A plain file name of web_dir: letters, digits, '-', '_' and one
 * extension; no path, no hidden files. */
static int safe_name(const char *n)
{
    if (!n[0] || n[0] == '.' || strlen(n) > 64)
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return strstr(n, "..") == NULL;
}

static void serve_file(sup_req *rq, sup_resp *rs, const char *name)
{
    char dir[PATH_MAX], path[PATH_MAX + 80];
    const char *type = mime(name);
    FILE *f = NULL;
    struct stat st;
    char *buf = NULL;

    if (!safe_name(name) || !type) {
        api_error(rs, 404, "NOT_FOUND", "no such console file: %s", name);
        return;
    }
    sup_console_web_dir(rq->s, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > WEB_FILE_MAX) {
        sup_log(KS_LOG_WARN, "console.file", "path=%s found=%d", path, f != NULL);
        api_error(rs, 404, "NOT_FOUND", "no such console file: %s (web_dir %s)", name, dir);
        goto cleanup;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        api_error(rs, 500, "INTERNAL", "cannot read console file %s", name);
        goto cleanup;
    }
    buf[st.st_size] = '\0';
    if (strlen(buf) != (size_t)st.st_size) { /* text only: the response is strlen'd */
        api_error(rs, 500, "INTERNAL", "console file %s is not text", name);
        goto cleanup;
    }
    rs->status = 200;
    rs->text = buf;
    rs->ctype = type;
    rs->page = 1;
    buf = NULL;
cleanup:
    free(buf);
    if (f)
        fclose(f);
}

static void web_index(sup_req *rq, sup_resp *rs) { serve_file(rq, rs, "index.html"); }
static void web_file(sup_req *rq, sup_resp *rs) { serve_file(rq, rs, rq->args[0]); }

/* ----- sessions ----- */

static void session_show(sup_req *rq, sup_resp *rs)
{
    char csrf[65];
    uint64_t expires = 0;
    json_t *o;
    sup_resp tmp;

    memset(&tmp, 0, sizeof tmp);
    if (!sup_session_present(rq) || sup_session_auth(rq, &tmp, KS_ROLE_AUDITOR, rq->url) != 0 ||
        sup_session_csrf(rq, csrf, &expires) != 0) {
        /* Not signed in is an answer here, not an error: the console asks
         * this first on every load. A stale cookie is cleared. */
        json_decref(tmp.json);
        rs->set_cookie = tmp.set_cookie;
        api_json(rs, 200, json_pack("{s:b}", "signed_in", 0));
        return;
    }
    json_decref(tmp.json);
    free(tmp.set_cookie);
    o = json_pack("{s:b,s:s,s:s,s:s,s:I,s:I,s:I}", "signed_in", 1, "operator", rq->actor + 9,
                  "role", sup_role_name(rq->role), "csrf", csrf, "expires_at", (json_int_t)expires,
                  "idle_seconds", (json_int_t)rq->s->cfg.console.idle, "heartbeat_interval_ms",
                  (json_int_t)rq->s->cfg.heartbeat_interval * 1000);
    sodium_memzero(csrf, sizeof csrf);
    api_json(rs, 200, o);
}

static void session_create(sup_req *rq, sup_resp *rs)
{
    json_t *b = api_body(rq, rs);
    const char *name = NULL, *pw = NULL;
    const char *addr = rq->client ? rq->client->text : "";
    char cookie[80], csrf[65], detail[96];
    sup_signin si;
    int rc;

    if (!b)
        return;
    if (api_str(rs, b, "name", 1, 63, &name) < 0 ||
        api_str(rs, b, "password", 1, KS_OPERATOR_PW_MAX, &pw) < 0)
        goto cleanup;
    rc = sup_operator_signin(rq->s, name, pw, &si);
    if (rc == KS_E_OPERATOR_LOCKED || (rc == KS_E_BAD_CREDENTIALS && si.locked)) {
        snprintf(detail, sizeof detail, "locked for %llu s after %u failures from %s",
                 (unsigned long long)si.retry_after, si.failures, addr);
        sup_audit(rq->s, 0, "anonymous", "console.signin", name, "denied", "KSE-740", detail);
        rs->retry_after = (uint32_t)si.retry_after;
        api_error(rs, 403, "KSE-740", "operator '%s' is locked after too many failed sign-ins;"
                  " try again in %llu s or ask an admin (keysup operator unlock)", name,
                  (unsigned long long)si.retry_after);
        goto cleanup;
    }
    if (rc == KS_E_BAD_CREDENTIALS) {
        snprintf(detail, sizeof detail, "failure %u from %s", si.failures, addr);
        sup_audit(rq->s, 0, "anonymous", "console.signin", name, "denied", "KSE-743", detail);
        api_error(rs, 401, "KSE-743", "wrong operator name or password");
        goto cleanup;
    }
    if (rc != KS_OK) {
        api_error(rs, 500, "INTERNAL", "sign-in failed (database)");
        goto cleanup;
    }
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_session_create(rq->s, si.operator_id, addr, cookie, csrf);
    pthread_mutex_unlock(&rq->s->lock);
    if (rc != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot store the session");
        goto cleanup;
    }
    snprintf(detail, sizeof detail, "from %s", addr);
    {
        char actor[80];
        snprintf(actor, sizeof actor, "operator:%s", si.name);
        sup_audit(rq->s, 0, actor, "console.signin", si.name, "ok", NULL, detail);
    }
    rs->set_cookie = sup_session_cookie(rq->s, cookie);
    api_json(rs, 200, json_pack("{s:b,s:s,s:s,s:s}", "signed_in", 1, "operator", si.name, "role",
                                sup_role_name(si.role), "csrf", csrf));
    sodium_memzero(cookie, sizeof cookie);
    sodium_memzero(csrf, sizeof csrf);
cleanup:
    /* The password's copies: jansson's string and the request body. */
    if (pw)
        sodium_memzero((char *)pw, strlen(pw));
    if (rq->body)
        sodium_memzero((char *)rq->body, rq->body_len);
    json_decref(b);
}

static void session_delete(sup_req *rq, sup_resp *rs)
{
    sup_session_end(rq);
    rs->set_cookie = sup_session_cookie(rq->s, NULL);
    sup_audit(rq->s, 0, rq->actor, "console.signout", rq->actor, "ok", NULL, NULL);
    api_json(rs, 200, json_pack("{s:b}", "signed_in", 0));
}

const sup_route sup_routes_console[] = {
    {"GET", "/", KS_AUTH_PUBLIC, web_index},
    {"GET", "/ui/*", KS_AUTH_PUBLIC, web_file},
    {"GET", "/v1/session", KS_AUTH_PUBLIC, session_show},
    {"POST", "/v1/session", KS_AUTH_PUBLIC, session_create},
    {"DELETE", "/v1/session", KS_ROLE_AUDITOR, session_delete},
    {"GET", "/v1/fleet", KS_ROLE_AUDITOR, sup_api_fleet},
    {NULL, NULL, 0, NULL},
};
