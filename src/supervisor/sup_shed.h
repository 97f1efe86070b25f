/*
 * sup_shed.h - load shedding for storms (issue 13 item 4, docs/operations.md
 * "Storms"): a bounded number of device requests in flight and of snapshot
 * downloads being sent. Above either bound keysupd answers 503 (KSE-121
 * SUPERVISOR_BUSY) with a Retry-After that grows with the queue, instead of
 * letting every client hold a worker, a connection and a buffer at once.
 *
 * Counters only, lock-free; the limits are read from the config each time.
 */
#ifndef KEYSUP_SUP_SHED_H
#define KEYSUP_SUP_SHED_H

#include "sup.h"

/* A device request starts: 0 when admitted (call sup_shed_leave when it
 * completes), else the Retry-After seconds of a 503. */
uint32_t sup_shed_enter(sup_ctx *s);
void sup_shed_leave(sup_ctx *s);

/* A snapshot download starts: 0 when a slot was taken (released by
 * sup_shed_download_done once the answer is sent or dropped), else the
 * Retry-After seconds. */
uint32_t sup_shed_download(sup_ctx *s);
void sup_shed_download_done(sup_ctx *s);

/* Counters for /metrics and the tests: in flight now, downloads now, and
 * requests shed since start. */
void sup_shed_stats(uint64_t *inflight, uint64_t *downloads, uint64_t *shed);
/* Unix seconds of the last request shed (0: none): the diagnosis does not
 * call a controller lost while its heartbeats may be our own 503s. */
uint64_t sup_shed_last(void);

#endif
