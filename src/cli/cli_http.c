/*
 * cli_http.c - see cli_http.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "ks_httpc.h"

/* No answer of keysupd's API is near this; a bigger one is not keysupd. */
#define CLI_HTTP_MAX (256u << 20)

const char *cli_tls_cacert;
const char *cli_tls_pin;

void cli_tls_setopt(void *curl)
{
    CURL *c = curl;
    ks_httpc_tls(c, cli_tls_cacert ? cli_tls_cacert : getenv("KEYSUP_CACERT"),
                 cli_tls_pin ? cli_tls_pin : getenv("KEYSUP_PIN_SHA256"));
}

int cli_server_len(const char *sv, int len)
{
    /* The URL people copy is the API's, ".../v1" (run.sh prints it), or ends
     * in a slash: both name the same keysupd, so both are taken as its base
     * rather than asking for /v1/v1/... and reporting "no such endpoint". */
    for (;;) {
        if (len > 0 && sv[len - 1] == '/')
            len--;
        else if (len >= 3 && strncmp(sv + len - 3, "/v1", 3) == 0)
            len -= 3;
        else
            return len;
    }
}

int cli_tls_explain(char *out, size_t n, const char *server, int curl_code, const char *errbuf)
{
    CURLcode cc = (CURLcode)curl_code;
    const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
        cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || cc == CURLE_SSL_CONNECT_ERROR ||
        cc == CURLE_SSL_CERTPROBLEM) {
        /* "wrong version number": the answer was not TLS at all, the usual
         * https:// typed for a keysupd that serves plain HTTP. A handshake
         * cut short (keysupd drops what it cannot parse) may be the same
         * mistake or a broken TLS server: both hints then. */
        if (strstr(why, "wrong version number") || strstr(why, "packet length too long"))
            snprintf(out, n, "TLS verification of %s failed: %s (the server does not speak TLS: "
                     "if keysupd runs without a certificate, use http:// in --server / "
                     "KEYSUP_SERVER)", server, why);
        else if (cc == CURLE_SSL_CONNECT_ERROR)
            snprintf(out, n, "TLS verification of %s failed: %s (if keysupd runs without a "
                     "certificate, use http:// in --server / KEYSUP_SERVER; else check "
                     "--cacert / KEYSUP_CACERT or --server-pin / KEYSUP_PIN_SHA256)", server, why);
        else
            snprintf(out, n, "TLS verification of %s failed: %s (check --cacert / KEYSUP_CACERT "
                     "or --server-pin / KEYSUP_PIN_SHA256 and the host name in --server)",
                     server, why);
        return 1;
    }
    snprintf(out, n, "cannot reach keysupd at %s: %s (is it running? --server / KEYSUP_SERVER)",
             server, why);
    return 0;
}

int cli_load_token(cli_ctx *cx, const cli_remote *r, char *tok, size_t n)
{
    const char *f = r->token_file ? r->token_file : getenv("KEYSUP_TOKEN_FILE");
    FILE *fp;
    if (!f)
        return cli_err(cx, CLI_IO, "NO_TOKEN", "%s: a token is needed: --token-file FILE or"
                       " KEYSUP_TOKEN_FILE (keysupd init printed the first admin token)", cx->cmd);
    fp = fopen(f, "r");
    if (!fp)
        return cli_io_err(cx, f, "read the token file");
    if (!fgets(tok, (int)n, fp))
        tok[0] = '\0';
    fclose(fp);
    tok[strcspn(tok, "\r\n")] = '\0';
    if (!tok[0])
        return cli_err(cx, CLI_IO, "NO_TOKEN", "%s: token file %s is empty", cx->cmd, f);
    return CLI_OK;
}

int cli_api(cli_ctx *cx, const cli_remote *r, const char *method, const char *path, json_t *body,
            json_t **out, long *status)
{
    const char *server = r->server ? r->server : getenv("KEYSUP_SERVER");
    char tok[256], auth[300], url[2048] = "", ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    ks_httpc_buf b = {NULL, 0, 0, 0};
    char *payload = NULL;
    CURL *c = NULL;
    CURLcode cc;
    long code = 0;
    int ret;

    *out = NULL;
    if (!server)
        server = "http://127.0.0.1:8750";
    ret = cli_load_token(cx, r, tok, sizeof tok);
    if (ret)
        return ret;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    sodium_memzero(tok, sizeof tok);
    c = ks_httpc_open(method, url, &b, CLI_HTTP_MAX, ebuf);
    if (!c) {
        ret = cli_err(cx, CLI_INTERNAL, "INTERNAL", "libcurl failed to initialise");
        goto cleanup;
    }
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    cli_tls_setopt(c);
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload ? payload : "{}");
    }
    /* --server may list several keysupd on one PostgreSQL database, comma-
     * separated: one that cannot be reached passes the request to the next.
     * A request that reached one is never repeated (it may have been applied). */
    for (const char *sv = server;;) {
        const char *e = strchr(sv, ',');
        int len = cli_server_len(sv, (int)(e ? (size_t)(e - sv) : strlen(sv)));
        snprintf(url, sizeof url, "%.*s%s", len, sv, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        cc = curl_easy_perform(c);
        if (!e || (cc != CURLE_COULDNT_CONNECT && cc != CURLE_COULDNT_RESOLVE_HOST))
            break;
        sv = e + 1;
        ebuf[0] = '\0';
    }
    sodium_memzero(auth, sizeof auth);
    if (cc != CURLE_OK) {
        char why[CURL_ERROR_SIZE + 512];
        int tls = cli_tls_explain(why, sizeof why, server, (int)cc, ebuf);
        ret = cli_err(cx, CLI_IO, tls ? "TLS" : "CONNECT", "%s: %s", cx->cmd, why);
        goto cleanup;
    }
    code = ks_httpc_status(c);
    if (status)
        *status = code;
    if (code >= 200 && code < 300) {
        *out = b.n ? json_loadb((const char *)b.p, b.n, 0, NULL) : json_object();
        if (!*out)
            *out = json_object();
        ret = CLI_OK;
        goto cleanup;
    }
    {
        json_t *e = b.n ? json_loadb((const char *)b.p, b.n, 0, NULL) : NULL;
        json_t *err = json_object_get(e, "error");
        const char *ecode = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        /* A refused token is the one mistake every new user makes: say
         * which file was sent and where a good one comes from. */
        const char *hint = "";
        if (code == 401)
            hint = "\n  next step: check --token-file / KEYSUP_TOKEN_FILE names a token of this"
                   " keysupd (`keysupd init --token-out` wrote the first; an admin makes more"
                   " with `keysup token create`)";
        else if (code == 403)
            hint = "\n  next step: this token's role may not do that; an admin token can"
                   " (`keysup token list` shows the roles)";
        ret = cli_err(cx, code >= 500 ? CLI_INTERNAL : CLI_REFUSED, ecode ? ecode : "HTTP",
                      "%s: %s (HTTP %ld)%s", cx->cmd, msg ? msg : "request failed", code,
                      cx->json ? "" : hint);
        json_decref(e);
    }
cleanup:
    free(payload);
    ks_httpc_buf_free(&b);
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    return ret;
}

static void cell(char *out, size_t n, json_t *v)
{
    if (!v || json_is_null(v))
        snprintf(out, n, "-");
    else if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v)) {
        size_t i, used = 0;
        json_t *e;
        out[0] = '\0';
        json_array_foreach(v, i, e) {
            int w = snprintf(out + used, n - used, "%s%s", i ? "," : "",
                             json_is_string(e) ? json_string_value(e) : "?");
            if (w < 0 || (size_t)w >= n - used)
                break;
            used += (size_t)w;
        }
        if (!used)
            snprintf(out, n, "-");
    } else {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, n, "%s", d ? d : "?");
        free(d);
    }
}

int cli_table(cli_ctx *cx, json_t *answer, const char *items_key, const char *const *cols)
{
    json_t *items = json_object_get(answer, items_key), *row;
    size_t ncol = 0, i, w[16] = {0};
    char c[256];

    if (cx->json)
        return cli_emit(cx, answer);
    cli_people_times(answer, 0); /* times as local ISO time (cli_time.c) */
    while (cols[ncol] && ncol < 16)
        ncol++;
    for (size_t k = 0; k < ncol; k++)
        w[k] = strlen(cols[k]);
    json_array_foreach(items, i, row) {
        for (size_t k = 0; k < ncol; k++) {
            cell(c, sizeof c, json_object_get(row, cols[k]));
            if (strlen(c) > w[k])
                w[k] = strlen(c);
        }
    }
    /* The last column is not padded: no trailing blanks for diff or grep. */
    for (size_t k = 0; k < ncol; k++)
        printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, cols[k], k + 1 < ncol ? "  " : "\n");
    json_array_foreach(items, i, row) {
        for (size_t k = 0; k < ncol; k++) {
            cell(c, sizeof c, json_object_get(row, cols[k]));
            printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, c, k + 1 < ncol ? "  " : "\n");
        }
    }
    if (json_is_integer(json_object_get(answer, "total")))
        printf("(%zu of %lld)\n", json_array_size(items),
               (long long)json_integer_value(json_object_get(answer, "total")));
    json_decref(answer);
    fflush(stdout);
    return CLI_OK;
}

void cli_query_add(char *q, size_t n, const char *name, const char *value)
{
    char *e = curl_easy_escape(NULL, value, 0);
    size_t len = strlen(q);
    snprintf(q + len, n - len, "%s%s=%s", len ? "&" : "?", name, e ? e : "");
    curl_free(e);
}

/* Replaces the first "{}" of tmpl by arg. -1 when it does not fit. */
static int path_with(char *out, size_t n, const char *tmpl, const char *arg)
{
    const char *at = strstr(tmpl, "{}");
    if (!at)
        return snprintf(out, n, "%s", tmpl) < (int)n ? 0 : -1;
    int w = snprintf(out, n, "%.*s%s%s", (int)(at - tmpl), tmpl, arg, at + 2);
    return w >= 0 && (size_t)w < n ? 0 : -1;
}

int cli_remote_simple(cli_ctx *cx, int argc, char **argv, const char *usage, const char *method,
                      const char *path, enum cli_remote_arg arg, const char *const *cols)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1] = {NULL};
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {NULL, CLI_FLAG, NULL}};
    char full[512];
    json_t *out, *b = NULL;
    uint64_t id;

    ret = cli_parse(cx, argc, argv, opts, pos, arg ? 1 : 0, arg ? 1 : 0, &npos, usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (arg == CLI_ARG_ID && (cli_parse_u64(pos[0], &id) || id == 0))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: ID must be a positive number, got '%s'",
                       cx->cmd, pos[0]);
    if (arg == CLI_ARG_NAME && (strlen(pos[0]) == 0 || strlen(pos[0]) > 100 ||
                                strspn(pos[0], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                               "0123456789_-.") != strlen(pos[0])))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: '%s' is not a valid name", cx->cmd, pos[0]);
    if (path_with(full, sizeof full, path, arg ? pos[0] : "") != 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: argument too long", cx->cmd);
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        b = json_object();
    ret = cli_api(cx, &r, method, full, b, &out, NULL);
    json_decref(b);
    if (ret)
        return ret;
    return cols ? cli_table(cx, out, "items", cols) : cli_emit(cx, out);
}
