/*
 * api_console.c - the operator console's routes (docs/console.md):
 *   GET /, GET /ui/{file}   the console's static files (web_dir), public:
 *                           they hold no data; every datum comes from /v1
 *   GET /v1/session         who is signed in here, and the CSRF token
 *   POST /v1/session        sign in {name, password}: the session cookie
 *   DELETE /v1/session      sign out
 * (GET /v1/fleet, the console's fleet page, is api_fleet.c.)
 */
#define _POSIX_C_SOURCE 200809L
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ks_kse.h"
#include "sup_api.h"
#include "sup_console.h"
#include "sup_diag.h"
#include "sup_proxyaddr.h"

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

typedef struct signin_in {
    const char *name, *password;
} signin_in;

/*
 * Login CSRF: another site's page can post a sign-in (a text/plain form
 * whose field name and value spell JSON) and the browser stores the cookie
 * of the answer, so the victim works in the attacker's account. The
 * console's own fetch sends application/json, which no form can, and a
 * same-origin Origin; other sites' requests say cross-site. Refused before
 * the name is looked at, so a forged page cannot lock accounts either.
 * 0 when the request may sign in, else the answer is set.
 */
static int signin_forged(sup_req *rq, sup_resp *rs)
{
    const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Type");
    const char *origin = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Host");
    const char *site = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    const char *why = NULL;
    char kse[12];

    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';')) {
        api_error(rs, 415, "BAD_REQUEST", "sign-in takes Content-Type: application/json");
        return -1;
    }
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        why = "Sec-Fetch-Site is not same-origin";
    if (!why && origin) {
        const char *o = strncmp(origin, "https://", 8) == 0 ? origin + 8
                        : strncmp(origin, "http://", 7) == 0 ? origin + 7 : NULL;
        if (!o || !host || strcasecmp(o, host) != 0)
            why = "Origin is not this supervisor";
    }
    if (!why)
        return 0;
    sup_audit(rq->s, 0, "anonymous", "console.signin", "session", "denied",
              SUP_KSE_TEXT(kse, CSRF_REJECTED), why);
    api_error(rs, 403, kse, "sign-in from another site's page refused (%s)", why);
    return -1;
}

static void session_create(sup_req *rq, sup_resp *rs)
{
    const signin_in *in = rq->in;
    sup_client via; /* behind the trusted proxy: its X-Forwarded-For hop */
    const sup_client *from = sup_console_client(rq, &via);
    const char *addr = from ? from->text : "";
    char cookie[80], csrf[65], detail[96], actor[80], kse[12];
    sup_signin si;
    int rc;

    if (signin_forged(rq, rs) != 0)
        return;
    rc = sup_operator_signin(rq->s, in->name, in->password, from, &si);
    if (rc == KS_E_OPERATOR_LOCKED || (rc == KS_E_BAD_CREDENTIALS && si.locked)) {
        snprintf(detail, sizeof detail, "locked for %llu s after %u failures from %s",
                 (unsigned long long)si.retry_after, si.failures, addr);
        SUP_KSE_TEXT(kse, OPERATOR_LOCKED);
        sup_audit(rq->s, 0, "anonymous", "console.signin", in->name, "denied", kse, detail);
        rs->retry_after = (uint32_t)si.retry_after;
        api_error(rs, 403, kse, "operator '%s' is locked after too many failed sign-ins;"
                  " try again in %llu s or ask an admin (keysup operator unlock)", in->name,
                  (unsigned long long)si.retry_after);
        return;
    }
    if (rc == KS_E_BAD_CREDENTIALS) {
        snprintf(detail, sizeof detail, "failure %u from %s", si.failures, addr);
        SUP_KSE_TEXT(kse, BAD_CREDENTIALS);
        sup_audit(rq->s, 0, "anonymous", "console.signin", in->name, "denied", kse, detail);
        api_error(rs, 401, kse, "wrong operator name or password");
        return;
    }
    if (rc != KS_OK) {
        api_error(rs, 500, "INTERNAL", "sign-in failed (database)");
        return;
    }
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_session_create(rq->s, si.operator_id, addr, cookie, csrf);
    pthread_mutex_unlock(&rq->s->lock);
    if (rc != KS_OK) {
        api_error(rs, 500, "INTERNAL", "cannot store the session");
        return;
    }
    snprintf(detail, sizeof detail, "from %s", addr);
    snprintf(actor, sizeof actor, "operator:%s", si.name);
    sup_audit(rq->s, 0, actor, "console.signin", si.name, "ok", NULL, detail);
    rs->set_cookie = sup_session_cookie(rq->s, cookie);
    api_json(rs, 200, json_pack("{s:b,s:s,s:s,s:s}", "signed_in", 1, "operator", si.name, "role",
                                sup_role_name(si.role), "csrf", csrf));
    sodium_memzero(cookie, sizeof cookie);
    sodium_memzero(csrf, sizeof csrf);
    /* The password's copies (the body, jansson's string) are wiped by the
     * dispatcher: the field is SUP_SECRET. */
}

static void session_delete(sup_req *rq, sup_resp *rs)
{
    sup_session_end(rq);
    rs->set_cookie = sup_session_cookie(rq->s, NULL);
    sup_audit(rq->s, 0, rq->actor, "console.signout", rq->actor, "ok", NULL, NULL);
    api_json(rs, 200, json_pack("{s:b}", "signed_in", 0));
}

/* The static files: not JSON API routes, so outside docs/openapi.json
 * (docs/api.md); the name is checked by safe_name, the answer is a file. */
const sup_route sup_routes_web[] = {
    {"GET", "/", KS_AUTH_PUBLIC, web_index, SUP_BODY_NONE},
    {"GET", "/ui/*", KS_AUTH_PUBLIC, web_file, SUP_BODY_NONE},
    {NULL, NULL, 0, NULL, 0},
};

static const sup_field signin_fields[] = {
    SUP_STR("name", SUP_REQUIRED, 63, signin_in, name, "the operator's name"),
    SUP_STR("password", SUP_REQUIRED | SUP_SECRET, KS_OPERATOR_PW_MAX, signin_in, password,
            "the operator's password"),
    SUP_END,
};
static const sup_schema signin_schema = {sizeof(signin_in), SUP_BODY_FIELDS, signin_fields};

const sup_api_route sup_routes_console[] = {
    {"GET", "/v1/session", KS_AUTH_PUBLIC, session_show, &sup_no_input,
     "who is signed in with this cookie, and the CSRF token"},
    {"POST", "/v1/session", KS_AUTH_PUBLIC, session_create, &signin_schema,
     "sign in to the console: sets the session cookie"},
    {"DELETE", "/v1/session", KS_ROLE_AUDITOR, session_delete, &sup_no_input,
     "sign out: ends the session, clears the cookie"},
    {.method = NULL},
};
