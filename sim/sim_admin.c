/*
 * sim_admin.c - provisioning tokens for the fleet: read from --tokens (one
 * a line, as `keysup controller add` prints them), or made here with an
 * operator token (--admin-token FILE): POST /v1/controllers for each,
 * named PREFIX-N in scope 1 + N % scopes, on one kept connection.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ks_httpc.h"
#include "sim.h"

static int read_line(FILE *f, char *out, size_t cap)
{
    if (!fgets(out, (int)cap, f))
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int from_file(sim *s)
{
    FILE *f = fopen(s->o.tokens_path, "r");
    unsigned i = 0;
    if (!f) {
        fprintf(s->err, "keysup-sim: cannot read %s\n", s->o.tokens_path);
        return -1;
    }
    while (i < s->o.controllers && read_line(f, s->ctl[i]->token, sizeof s->ctl[i]->token) == 0)
        if (s->ctl[i]->token[0])
            i++;
    fclose(f);
    if (i < s->o.controllers) {
        fprintf(s->err, "keysup-sim: %s holds %u tokens, %u controllers asked for\n",
                s->o.tokens_path, i, s->o.controllers);
        return -1;
    }
    return 0;
}

static int add_all(sim *s)
{
    char tok[512], auth[600], url[1024], name[128];
    FILE *f = fopen(s->o.admin_path, "r");
    struct curl_slist *h = NULL;
    CURL *c = NULL;
    int rc = -1;
    if (!f || read_line(f, tok, sizeof tok) != 0) {
        fprintf(s->err, "keysup-sim: cannot read the operator token from %s\n", s->o.admin_path);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    memset(tok, 0, sizeof tok);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    memset(auth, 0, sizeof auth);
    snprintf(url, sizeof url, "%s/v1/controllers", s->o.url);
    if (!(c = curl_easy_init()))
        goto cleanup;
    for (unsigned i = 0; i < s->o.controllers; i++) {
        ks_httpc_buf b;
        long status = 0;
        snprintf(name, sizeof name, "%s-%u", s->o.prefix, i);
        json_t *req = json_pack("{s:s,s:I}", "name", name, "scope",
                                (json_int_t)(1 + i % s->o.scopes));
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        curl_easy_reset(c);
        ks_httpc_setup(c, "POST", url, &b, 1u << 20, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        /* A new connection each: libcurl re-sends a request whose reused
         * connection dies, and a re-sent add that keysupd had committed is
         * refused (409, the name exists), which ended a loaded 10,000 run. */
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        CURLcode cc = curl_easy_perform(c);
        free(text);
        status = ks_httpc_status(c);
        json_t *ans = cc == CURLE_OK && b.p ? json_loadb((const char *)b.p, b.n, 0, NULL) : NULL;
        const char *t = json_string_value(json_object_get(ans, "provisioning_token"));
        if (status != 201 || !t || strlen(t) >= sizeof s->ctl[i]->token) {
            fprintf(s->err, "keysup-sim: adding controller %s failed (HTTP %ld, %s): %s\n", name,
                    status, curl_easy_strerror(cc), b.p ? (const char *)b.p : "");
            json_decref(ans);
            ks_httpc_buf_free(&b);
            goto cleanup;
        }
        snprintf(s->ctl[i]->token, sizeof s->ctl[i]->token, "%s", t);
        json_decref(ans);
        ks_httpc_buf_free(&b);
    }
    rc = 0;
cleanup:
    curl_slist_free_all(h); /* holds the bearer line: the list owns copies */
    if (c)
        curl_easy_cleanup(c);
    return rc;
}

int sim_tokens(sim *s)
{
    return s->o.tokens_path ? from_file(s) : add_all(s);
}
