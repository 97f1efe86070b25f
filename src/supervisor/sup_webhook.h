/*
 * sup_webhook.h - incident notifications for those without Prometheus: each
 * incident opened or resolved is POSTed as JSON to a configured URL, signed
 * with HMAC-SHA256, retried with exponential back-off, from one thread that
 * never holds the supervisor's lock. Configured by DATA/webhook.conf
 * (docs/operations.md); without that file nothing is sent.
 */
#ifndef KS_WEBHOOK_H
#define KS_WEBHOOK_H

#include <stdint.h>

typedef struct sup_ctx sup_ctx;

/* Queues one incident event ("incident.open", "incident.resolve"). Starts
 * the sender on first use when DATA/webhook.conf exists; never blocks on
 * the network. */
void sup_webhook_incident(sup_ctx *s, const char *event, int64_t incident, int64_t controller,
                         int code);

/* Stops the sender (what is still queued is logged as dropped). */
void sup_webhook_stop(sup_ctx *s);

#endif
