/*
 * ks_httpc.h - the HTTP client part the CLI (cli_http.c) and the controller
 * (ctl_http.c) share: a libcurl handle for one request, the answer buffered
 * with a size cap, a JSON body, and the TLS policy (TLS 1.2 at least, a CA
 * bundle and/or a key pin). Each side keeps only its policy: the CLI its
 * bearer token and error messages, the controller its request signing,
 * deadlines, lock discipline (the agent lock is released around the wait)
 * and pin bookkeeping.
 */
#ifndef KEYSUP_KS_HTTPC_H
#define KEYSUP_KS_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/* The answer of one request: NUL-terminated, at most max bytes (more
 * aborts the transfer with CURLE_WRITE_ERROR). Free with ks_httpc_buf_free. */
typedef struct ks_httpc_buf {
    uint8_t *p;
    size_t n, cap, max;
} ks_httpc_buf;

/*
 * A handle for `method url` whose answer goes to b (zeroed here, capped at
 * max bytes); errbuf (CURL_ERROR_SIZE bytes, may be NULL) receives
 * libcurl's reason on failure. No signals (threads), at least TLS 1.2.
 * NULL when libcurl cannot make a handle.
 */
CURL *ks_httpc_open(const char *method, const char *url, ks_httpc_buf *b, size_t max,
                    char *errbuf);
/* The same on a handle the caller keeps (curl_easy_reset first): a kept
 * handle keeps its connection between requests (HTTP keep-alive). */
void ks_httpc_setup(CURL *c, const char *method, const char *url, ks_httpc_buf *b, size_t max,
                    char *errbuf);
/* A JSON body (NUL-terminated text), and its Content-Type added to *hdrs. */
void ks_httpc_json_body(CURL *c, const char *body, struct curl_slist **hdrs);
/*
 * TLS verification: cacert (a PEM bundle; NULL/"": the system's) and pins
 * (libcurl's "sha256//B64;sha256//B64" list; NULL/"": none). With pins and
 * no cacert the pins alone vouch for the server (a self-signed certificate):
 * the CA chain and host name are then not checked.
 */
void ks_httpc_tls(CURL *c, const char *cacert, const char *pins);
/* The HTTP status of the answer (0 when there was none). */
long ks_httpc_status(CURL *c);
/* Wipes (an answer may carry a secret) and frees the buffer. */
void ks_httpc_buf_free(ks_httpc_buf *b);

#endif
