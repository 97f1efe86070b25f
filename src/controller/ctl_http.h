/*
 * ctl_http.h - the controller's HTTP client for keysupd's device API.
 */
#ifndef KEYSUP_CTL_HTTP_H
#define KEYSUP_CTL_HTTP_H

#include <curl/curl.h>
#include <jansson.h>

#include "ctl_agent.h"

/* Largest answer accepted (a full snapshot of the area's capacity fits). */
#define CTL_HTTP_MAX (256u << 20)
/* One snapshot attempt is bounded by this many request deadlines (ctl_http.c). */
#define CTL_SNAPSHOT_DEADLINES 10L

typedef struct ctl_http_resp {
    int status;
    uint8_t *body;   /* NUL-terminated; owned, free with ctl_http_free */
    size_t len;
    /* What a signed answer is checked against (ctl_answer.c): the nonce the
     * request carried mixed with its challenge (ks_answer_challenge), and
     * the X-Keysup-Answer-* headers ("" when absent). */
    int signed_req;
    uint8_t nonce[32];
    char answer_key[65];
    char answer_sig[129];
    /* a heartbeat MAC'd in its session (ctl_hbsess.c): nonce holds the
     * challenge, hbs_counter the counter, answer_mac X-Keysup-Answer-Mac */
    int mac_req;
    uint64_t hbs_counter;
    char answer_mac[65];
    /* storms (issue 13): a 503's Retry-After seconds; the snapshot's ETag and
     * a 206's Content-Range start; cut = 1 when the transfer broke after
     * these bytes arrived (only with ctl_http_ex's keep_partial) */
    uint32_t retry_after;
    char etag[64];
    uint64_t range_start;
    int cut;
} ctl_http_resp;

/*
 * One request to a->o.supervisor + path. sign: authenticate with the device
 * key over a fresh nonce. Returns 0 when an HTTP answer came back (any
 * status), -1 when the supervisor could not be reached (or the link fault
 * hook is set).
 */
int ctl_http(ctl_agent *a, const char *method, const char *path, const char *body, int sign,
             ctl_http_resp *out);
void ctl_http_free(ctl_http_resp *r);

/* Appends one header line, formatted, to *h. On failure (the line too long
 * for 512 bytes, no memory) it returns -1 and *h still owns every line it had:
 * the caller frees it, and never sends a request missing a header. */
int ctl_http_header(struct curl_slist **h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ctl_http with extra request headers (NULL-ended, may be NULL); with
 * keep_partial a transfer cut short returns -1 but leaves what arrived in
 * out (cut = 1; free it with ctl_http_free). */
int ctl_http_ex(ctl_agent *a, const char *method, const char *path, const char *body, int sign,
                const char *const *extra, int keep_partial, ctl_http_resp *out);
/* Keeps the next nonce a verified heartbeat answer carries ("next_nonce",
 * "nonce_ttl"; issue 13) for the next heartbeat, which is then one request
 * instead of two. Without them (an older keysupd) the next heartbeat
 * fetches its nonce. A carried nonce that is refused (401) is replaced by a
 * fetched one and the request sent once more. */
void ctl_http_keep_nonce(ctl_agent *a, json_t *ans);
/* The same with JSON in and out; NULL when unreachable or not JSON. */
json_t *ctl_http_json(ctl_agent *a, const char *method, const char *path, json_t *body, int sign,
                      int *status);

#endif
