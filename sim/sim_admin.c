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

#include "sim.h"

typedef struct body {
    char *p;
    size_t n;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body *b = ud;
    size_t n = size * nmemb;
    char *q = realloc(b->p, b->n + n + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, ptr, n);
    b->n += n;
    q[b->n] = '\0';
    b->p = q;
    return n;
}

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
        body b = {NULL, 0};
        long status = 0;
        snprintf(name, sizeof name, "%s-%u", s->o.prefix, i);
        json_t *req = json_pack("{s:s,s:I}", "name", name, "scope",
                                (json_int_t)(1 + i % s->o.scopes));
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        CURLcode cc = curl_easy_perform(c);
        free(text);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        json_t *ans = cc == CURLE_OK && b.p ? json_loads(b.p, 0, NULL) : NULL;
        const char *t = json_string_value(json_object_get(ans, "provisioning_token"));
        if (status != 201 || !t || strlen(t) >= sizeof s->ctl[i]->token) {
            fprintf(s->err, "keysup-sim: adding controller %s failed (HTTP %ld, %s): %s\n", name,
                    status, curl_easy_strerror(cc), b.p ? b.p : "");
            json_decref(ans);
            free(b.p);
            goto cleanup;
        }
        snprintf(s->ctl[i]->token, sizeof s->ctl[i]->token, "%s", t);
        json_decref(ans);
        free(b.p);
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
