/*
 * sup_soft.h - a heartbeat's soft state, held in memory and written in
 * batches (issue 13 item 2, docs/supervisor.md "What a heartbeat makes
 * durable").
 *
 * Durable before the answer: an audit upload (acknowledged only after its
 * commit) and a command acknowledgement; each has its own transaction.
 * Soft: what a heartbeat reports about the controller (last seen, applied
 * version and root, clock offset, firmware, lockout, the health report).
 * The protocol version is written at once when it changes (api_device.c):
 * it decides what the supervisor serves. The next heartbeat reports it all again, so it is kept here
 * and a flusher writes every changed row in one transaction every
 * SUP_SOFT_FLUSH_MS: one commit (one fsync) per batch, not per heartbeat.
 * A crash loses at most the last batch of soft state, never an acknowledged
 * audit record or command acknowledgement.
 */
#ifndef KEYSUP_SUP_SOFT_H
#define KEYSUP_SUP_SOFT_H

#include <stdint.h>

#include <keysup/keysup.h>

#include "sup.h"

#define SUP_SOFT_FLUSH_MS 200

typedef struct sup_soft_row {
    int64_t id;
    int64_t last_seen;
    int64_t last_sync;           /* 0: the report did not prove it in step */
    int has_av;
    int64_t applied_version;
    int has_root;
    uint8_t applied_root[KS_HASH_SIZE];
    int has_offset;
    int64_t clock_offset;
    char *firmware;              /* NULL: keep the stored one */
    int has_protocol;
    int64_t protocol;
    int lockout;
    char *health;                /* the whole report as JSON text; NULL: keep the stored one */
    char *live;                  /* a short report's body (its moving members), written to
                                  * last_health_live; NULL with a whole report (sup_health.h) */
} sup_soft_row;

/* Takes one heartbeat's soft state (its strings are copied). Starts the
 * flusher on first use. 0, or -1 (out of memory) after which the caller writes
 * the row itself (sup_soft_write). */
int sup_soft_put(sup_ctx *s, const sup_soft_row *r);
/* Writes one row now (caller holds s->lock inside a transaction). */
int sup_soft_write(sup_ctx *s, const sup_soft_row *r);
/* The pending (not yet written) last_seen and report of controller id: 1,
 * with *health (the whole report, NULL when none is pending: the stored one
 * stands) and *live (the pending short body's members, NULL when none)
 * copies the caller frees; or 0 when the database is current. Readers that
 * judge a controller (diagnosis) take these over the database's, so a batch
 * in flight is never read as an older state; sup_health_merge makes the
 * report of them. */
int sup_soft_peek(sup_ctx *s, int64_t id, int64_t *last_seen, char **health, char **live);
/* Writes every pending row now: tests, and the callers that read them. */
void sup_soft_flush(sup_ctx *s);
/* Final flush and stop (sup_close, before the database closes). */
void sup_soft_stop(sup_ctx *s);

#endif
