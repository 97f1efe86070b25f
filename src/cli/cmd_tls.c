/*
 * cmd_tls.c - `keysup tls pin|stage`: the supervisor's TLS key pin, and
 * announcing a new certificate to every controller before it is served.
 *
 * Changing keysupd's certificate (docs/supervisor.md, "Changing the
 * certificate"):
 *   1. keysup tls stage NEW-cert.pem     every controller gets tls_pin
 *   2. wait until each acknowledged it (keysup controller show ID)
 *   3. point tls_cert/tls_key at the new pair and `kill -HUP` keysupd
 * Controllers accept both keys in between and drop the old one the first
 * time they see the new one served.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli_cmds.h"
#include "cli_http.h"
#include "ks_tlspin.h"

static const char pin_usage[] =
    "usage: keysup tls pin --cert FILE\n"
    "       keysup tls pin --server https://HOST:PORT\n\n"
    "Prints the TLS key pin (sha256//BASE64 of the SubjectPublicKeyInfo) of a PEM\n"
    "certificate, or of the certificate a server presents right now (shown as\n"
    "served, not verified: compare it with what you expect).\n";

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

/* The pin of the leaf certificate a server presents (no verification). */
static int served_pin(cli_ctx *cx, const char *url, uint8_t h[KS_TLS_PIN_SIZE])
{
    CURL *c = curl_easy_init();
    struct curl_certinfo *ci = NULL;
    char full[1024], ebuf[CURL_ERROR_SIZE] = "", err[256] = "no certificate presented";
    CURLcode cc;
    int ret = -1;

    if (!c)
        return cli_err(cx, CLI_INTERNAL, "INTERNAL", "libcurl failed to initialise");
    snprintf(full, sizeof full, "%s/healthz", url);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK && curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci &&
        ci->num_of_certs > 0) {
        for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next)
            if (strncmp(l->data, "Cert:", 5) == 0) {
                ret = ks_tls_pin_of_cert(h, l->data + 5, strlen(l->data + 5), err, sizeof err);
                break;
            }
    }
    curl_easy_cleanup(c);
    if (cc != CURLE_OK)
        return cli_err(cx, CLI_IO, "CONNECT", "%s: %s: %s", cx->cmd, url,
                       *ebuf ? ebuf : curl_easy_strerror(cc));
    if (ret)
        return cli_err(cx, CLI_REFUSED, "TLS", "%s: %s: %s", cx->cmd, url, err);
    return CLI_OK;
}

static int tls_pin(cli_ctx *cx, int argc, char **argv)
{
    const char *cert = NULL, *server = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {{"--cert", CLI_VALUE, &cert}, {"--server", CLI_VALUE, &server},
                      {NULL, CLI_FLAG, NULL}};
    uint8_t h[KS_TLS_PIN_SIZE];
    char pin[KS_TLS_PIN_TEXT], err[512];
    json_t *o;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, pin_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!cert == !server)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: give --cert FILE or --server URL", cx->cmd);
    if (cert && ks_tls_pin_of_file(h, cert, err, sizeof err))
        return cli_err(cx, CLI_REFUSED, "FORMAT", "%s: %s", cx->cmd, err);
    if (server && (ret = served_pin(cx, server, h)) != CLI_OK)
        return ret;
    ks_tls_pin_format(pin, h);
    o = json_object();
    cli_set_str(o, cert ? "cert" : "server", cert ? cert : server);
    cli_set_str(o, "pin", pin);
    return cli_emit(cx, o);
}

static const char stage_usage[] =
    "usage: keysup tls stage NEW-CERT.pem\n\n"
    "Announces the pin of a new keysupd certificate to every enrolled controller\n"
    "(a tls_pin command each). Switch keysupd to the new pair (tls_cert, tls_key,\n"
    "kill -HUP) only after they acknowledged it; until then they accept both.\n"
    CLI_REMOTE_USAGE;

static int tls_stage(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1];
    int npos = 0, ret, sent = 0;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {NULL, CLI_FLAG, NULL}};
    uint8_t h[KS_TLS_PIN_SIZE];
    char pin[KS_TLS_PIN_TEXT], err[512];
    json_t *list = NULL, *e, *done = json_array(), *o;
    size_t i;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, stage_usage);
    if (ret) {
        json_decref(done);
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    }
    if (ks_tls_pin_of_file(h, pos[0], err, sizeof err)) {
        json_decref(done);
        return cli_err(cx, CLI_REFUSED, "FORMAT", "%s: %s", cx->cmd, err);
    }
    ks_tls_pin_format(pin, h);
    for (uint64_t off = 0;; off += 1000) {
        char path[96];
        size_t n;
        snprintf(path, sizeof path, "/v1/controllers?limit=1000&offset=%llu",
                 (unsigned long long)off);
        ret = cli_api(cx, &r, "GET", path, NULL, &list, NULL);
        if (ret)
            goto cleanup;
        n = json_array_size(json_object_get(list, "items"));
        json_array_foreach(json_object_get(list, "items"), i, e) {
            char cpath[96];
            json_t *b, *ans = NULL;
            json_int_t id = json_integer_value(json_object_get(e, "id"));
            if (!json_is_true(json_object_get(e, "enrolled")))
                continue;
            snprintf(cpath, sizeof cpath, "/v1/controllers/%lld/commands", (long long)id);
            b = json_pack("{s:s,s:{s:s}}", "command", "tls_pin", "args", "pin", pin);
            ret = cli_api(cx, &r, "POST", cpath, b, &ans, NULL);
            json_decref(b);
            json_decref(ans);
            if (ret)
                goto cleanup;
            json_array_append_new(done, json_integer(id));
            sent++;
        }
        json_decref(list);
        list = NULL;
        if (n < 1000)
            break;
    }
    o = json_object();
    cli_set_str(o, "pin", pin);
    json_object_set_new(o, "controllers", done);
    done = NULL;
    cli_set_str(o, "next", sent ? "wait until each controller acknowledged tls_pin (keysup "
                                  "controller show ID), then switch tls_cert/tls_key and kill -HUP"
                                : "no enrolled controller: switch when ready");
    return cli_emit(cx, o);
cleanup:
    json_decref(list);
    json_decref(done);
    return ret;
}

static const cli_verb verbs[] = {
    {"pin", "the TLS key pin of a certificate file or of a running server", tls_pin},
    {"stage", "announce a new certificate's pin to every controller", tls_stage},
};

int cmd_tls(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "tls", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
