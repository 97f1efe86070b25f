/*
 * ctl_http.h - the controller's HTTP client for keysupd's device API.
 */
#ifndef KEYSUP_CTL_HTTP_H
#define KEYSUP_CTL_HTTP_H

#include <jansson.h>

#include "ctl_agent.h"

/* Largest answer accepted (a full snapshot of the area's capacity fits). */
#define CTL_HTTP_MAX (256u << 20)

typedef struct ctl_http_resp {
    int status;
    uint8_t *body;   /* NUL-terminated; owned, free with ctl_http_free */
    size_t len;
    /* What a signed answer is checked against (ctl_answer.c): the nonce the
     * request carried and the X-Keysup-Answer-* headers ("" when absent). */
    int signed_req;
    uint8_t nonce[32];
    char answer_key[65];
    char answer_sig[129];
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
/* The same with JSON in and out; NULL when unreachable or not JSON. */
json_t *ctl_http_json(ctl_agent *a, const char *method, const char *path, json_t *body, int sign,
                      int *status);

#endif
