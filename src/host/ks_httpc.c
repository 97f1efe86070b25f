/*
 * ks_httpc.c - see ks_httpc.h.
 */
#include "ks_httpc.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    ks_httpc_buf *b = ud;
    size_t n = size * nmemb;
    if (n > b->max || b->n > b->max - n)
        return 0; /* larger than any answer the caller accepts: abort */
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return 0;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, ptr, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

CURL *ks_httpc_open(const char *method, const char *url, ks_httpc_buf *b, size_t max,
                    char *errbuf)
{
    CURL *c = curl_easy_init();
    memset(b, 0, sizeof *b);
    b->max = max;
    if (!c)
        return NULL;
    ks_httpc_setup(c, method, url, b, max, errbuf);
    return c;
}

void ks_httpc_setup(CURL *c, const char *method, const char *url, ks_httpc_buf *b, size_t max,
                    char *errbuf)
{
    memset(b, 0, sizeof *b);
    b->max = max;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (errbuf) {
        errbuf[0] = '\0';
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    }
}

void ks_httpc_json_body(CURL *c, const char *body, struct curl_slist **hdrs)
{
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    *hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
}

void ks_httpc_tls(CURL *c, const char *cacert, const char *pins)
{
    int ca = cacert && *cacert;
    if (ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
    if (pins && *pins) {
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pins);
        if (!ca) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
}

long ks_httpc_status(CURL *c)
{
    long status = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        return 0;
    return status;
}

void ks_httpc_buf_free(ks_httpc_buf *b)
{
    /* An answer may carry a secret (a generated key seed, a token). */
    if (b->p)
        sodium_memzero(b->p, b->cap);
    free(b->p);
    memset(b, 0, sizeof *b);
}
