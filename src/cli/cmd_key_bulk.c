/*
 * cmd_key_bulk.c - `keysup key import FILE` and `keysup key export`: a key
 * file (CSV or JSON lines, docs/cli.md) sent whole to POST /v1/keys:batch,
 * which imports all of it in one transaction or nothing, and the registry
 * read back in the same format from GET /v1/keys:export.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"
#include "ks_httpc.h"

/* The largest file read: the supervisor's import_max_body default. */
#define IMPORT_MAX ((size_t)512 << 20)

/* One request with a raw body; the answer in *out (ks_httpc_buf_free it;
 * no size cap: an export is as large as the registry). An exit code for
 * transport failures; the HTTP status in *code. */
static int raw(cli_ctx *cx, const cli_remote *r, const char *method, const char *path,
               const uint8_t *body, size_t blen, const char *ctype, ks_httpc_buf *out,
               long *code)
{
    const char *server = r->server ? r->server : getenv("KEYSUP_SERVER");
    char tok[256], auth[300], url[2048], ct[96], ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    CURL *c;
    CURLcode cc;
    int ret;

    if (!server)
        server = "http://127.0.0.1:8750";
    ret = cli_load_token(cx, r, tok, sizeof tok);
    if (ret)
        return ret;
    snprintf(url, sizeof url, "%.*s%s",
             cli_server_len(server, (int)strcspn(server, ",")), server, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    sodium_memzero(tok, sizeof tok);
    c = ks_httpc_open(method, url, out, SIZE_MAX, ebuf);
    if (!c) {
        sodium_memzero(auth, sizeof auth);
        return cli_err(cx, CLI_INTERNAL, "INTERNAL", "libcurl failed to initialise");
    }
    hdr = curl_slist_append(hdr, auth);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "text/plain");
    hdr = curl_slist_append(hdr, ct);
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    /* A million keys take a while to commit: no overall deadline, only
     * "no progress for two minutes". */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
    cli_tls_setopt(c);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    cc = curl_easy_perform(c);
    sodium_memzero(auth, sizeof auth);
    if (cc != CURLE_OK) {
        char why[CURL_ERROR_SIZE + 512];
        int tls = cli_tls_explain(why, sizeof why, server, (int)cc, ebuf);
        ret = cli_err(cx, CLI_IO, tls ? "TLS" : "CONNECT", "%s: %s", cx->cmd, why);
    } else {
        *code = ks_httpc_status(c);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return ret;
}

/* A non-2xx answer: the server's message, and for a refused file every
 * row it names ("FILE:LINE: reason"). */
static int refused(cli_ctx *cx, const char *file, const ks_httpc_buf *b, long code)
{
    json_t *e = b->n ? json_loadb((const char *)b->p, b->n, 0, NULL) : NULL;
    json_t *err = json_object_get(e, "error"), *rows = json_object_get(err, "rows"), *row;
    const char *ecode = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    size_t i;
    int ret;
    if (cx->json && e && rows) {
        json_incref(err);
        json_decref(e);
        cli_emit(cx, err);
        return code >= 500 ? CLI_INTERNAL : CLI_REFUSED;
    }
    json_array_foreach(rows, i, row)
        fprintf(stderr, "%s:%lld: %s\n", file ? file : "-",
                (long long)json_integer_value(json_object_get(row, "line")),
                json_string_value(json_object_get(row, "reason")));
    ret = cli_err(cx, code >= 500 ? CLI_INTERNAL : CLI_REFUSED, ecode ? ecode : "HTTP",
                  "%s: %s (HTTP %ld)", cx->cmd, msg ? msg : "request failed", code);
    json_decref(e);
    return ret;
}

static const char import_usage[] =
    "usage: keysup key import FILE [--dry-run]\n\n"
    "Imports keys from a CSV file (a header line naming the columns public_key,\n"
    "holder_id, label, privileges, scope, valid_from, valid_until, state) or a\n"
    "JSON-lines file (one object per line with those fields); state is active\n"
    "(the default), suspended or revoked. All rows are checked first: any\n"
    "bad row is printed as FILE:LINE: reason and nothing is imported. Keys already\n"
    "enrolled with the same attributes are left alone, so a re-run is a no-op.\n"
    "--dry-run checks the whole file against the registry and imports nothing.\n"
    CLI_REMOTE_USAGE;

int key_import(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1];
    int npos = 0, dry = 0, ret;
    cli_opt opts[] = {
        CLI_REMOTE_OPTS(&r),
        {"--dry-run", CLI_FLAG, &dry},
        {NULL, CLI_FLAG, NULL},
    };
    uint8_t *file = NULL;
    size_t len = 0;
    ks_httpc_buf b = {NULL, 0, 0, 0};
    long code = 0;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, import_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = cli_read(cx, pos[0], IMPORT_MAX, &file, &len);
    if (ret)
        return ret;
    if (len == 0) {
        free(file);
        return cli_err(cx, CLI_REFUSED, "KSE-750", "%s: %s is empty", cx->cmd, pos[0]);
    }
    ret = raw(cx, &r, "POST", dry ? "/v1/keys:batch?dry_run=1" : "/v1/keys:batch", file, len,
              len && file[0] == '{' ? "application/x-ndjson" : "text/csv", &b, &code);
    free(file);
    if (ret)
        goto cleanup;
    if (code < 200 || code >= 300) {
        ret = refused(cx, pos[0], &b, code);
        goto cleanup;
    }
    {
        json_t *o = json_loadb(b.p ? (const char *)b.p : "", b.n, 0, NULL);
        if (!o) {
            ret = cli_err(cx, CLI_INTERNAL, "INTERNAL", "%s: the answer is not JSON", cx->cmd);
            goto cleanup;
        }
        ret = cli_emit(cx, o);
    }
cleanup:
    ks_httpc_buf_free(&b);
    return ret;
}

static const char export_usage[] =
    "usage: keysup key export [--format csv|jsonl] [-o FILE] [--force]\n\n"
    "Writes every key at the supervisor in the import format (CSV by default) to\n"
    "FILE or stdout; `keysup key import` reads it back.\n" CLI_REMOTE_USAGE;

int key_export(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1], *fmt = NULL, *outf = NULL;
    int npos = 0, force = 0, ret;
    cli_opt opts[] = {
        CLI_REMOTE_OPTS(&r),
        {"--format", CLI_VALUE, &fmt}, {"-o", CLI_VALUE, &outf}, {"--force", CLI_FLAG, &force},
        {NULL, CLI_FLAG, NULL},
    };
    ks_httpc_buf b = {NULL, 0, 0, 0};
    long code = 0;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, export_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (fmt && strcmp(fmt, "csv") != 0 && strcmp(fmt, "jsonl") != 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --format is csv or jsonl", cx->cmd);
    ret = raw(cx, &r, "GET", fmt && strcmp(fmt, "jsonl") == 0 ? "/v1/keys:export?format=jsonl"
                                                              : "/v1/keys:export?format=csv",
              NULL, 0, NULL, &b, &code);
    if (ret)
        goto cleanup;
    if (code != 200) {
        ret = refused(cx, NULL, &b, code);
        goto cleanup;
    }
    if (outf)
        ret = cli_write(cx, outf, b.p ? (const char *)b.p : "", b.n, 0600, force);
    else if (b.n && fwrite(b.p, 1, b.n, stdout) != b.n)
        ret = cli_io_err(cx, "stdout", "write the export");
cleanup:
    ks_httpc_buf_free(&b);
    return ret;
}

/* A GET whose answer is a file, not JSON (keysup snapshot fetch): the body in
 * *out on 200, else the server's refusal printed and its exit code. */
int cli_get_file(cli_ctx *cx, const cli_remote *r, const char *path, ks_httpc_buf *out)
{
    long code = 0;
    int ret = raw(cx, r, "GET", path, NULL, 0, NULL, out, &code);
    if (!ret && code != 200)
        ret = refused(cx, NULL, out, code);
    return ret;
}
