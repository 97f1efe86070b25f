/*
 * ctl_tls.h - the TLS side of the controller's requests (ctl_tls.c): the
 * pin check on every connection and what follows from its outcome.
 */
#ifndef KEYSUP_CTL_TLS_H
#define KEYSUP_CTL_TLS_H

#include <curl/curl.h>
#include <jansson.h>

#include "ctl_agent.h"

/* Splits "ksp_...[.PINHEX[.PINHEX]]" into the bare token (out) and the
 * pins it carries (into a->set). -1 when a pin part is malformed. */
int ctl_tls_token(ctl_agent *a, const char *token, char *out, size_t n);
/* The tls_pin command: args.pin becomes the next accepted pin. */
int ctl_tls_pin_cmd(ctl_agent *a, json_t *args, char *msg, size_t n);
/* The "tls" object of the status and health report. */
json_t *ctl_tls_status(ctl_agent *a);

/* Sets curl's TLS options for one request to a->o.supervisor. */
void ctl_tls_prepare(ctl_agent *a, CURL *c);
/* After the request: records KSE-720 on a pin mismatch, clears it on a
 * verified connection, and switches to the announced pin once the
 * supervisor serves it. */
void ctl_tls_done(ctl_agent *a, CURL *c, CURLcode rc);

#endif
