/*
 * sup_watch.h - the push path (issue 13): controllers hold one signed
 * `GET /v1/device/watch/{version}/{wait}` each, which keysupd parks with
 * libmicrohttpd's suspend/resume (no thread, no buffer per waiter) and
 * answers when the controller's scope publishes a version above the one it
 * named, after the hold time ("nothing new"), when the same controller
 * opens a newer watch, or at shutdown (docs/supervisor.md, "The push path").
 *
 * Life of a waiter: sup_watch_hold registers it and suspends the connection
 * (both under the registry's mutex, so no wake-up can resume a connection
 * before it is suspended); a wake-up unlinks it and resumes the connection;
 * libmicrohttpd then calls the access handler again, which answers with
 * sup_watch_answer (that frees it). A connection that ends another way
 * frees it with sup_watch_drop.
 */
#ifndef KEYSUP_SUP_WATCH_H
#define KEYSUP_SUP_WATCH_H

#include "sup_api.h"

typedef struct sup_watcher sup_watcher;

typedef struct sup_watch_stats {
    uint64_t held, peak, woken, timeouts, replaced, refused;
    uint64_t carried;      /* answers that carried the delta */
    uint64_t last_pub_ms;  /* unix ms of the latest answer to a publish */
} sup_watch_stats;

/* The registry and its timer thread (s->watch). KS_OK or KS_E_NOMEM/IO. */
int sup_watch_start(sup_ctx *s);
/* Answers every held watch ("shutdown") and waits, at most about a second,
 * for those answers to be handed to libmicrohttpd. Before MHD_stop_daemon,
 * which refuses to stop with suspended connections. */
void sup_watch_shutdown(sup_ctx *s);
/* After the daemon stopped: no connection refers to a waiter any more. */
void sup_watch_free(sup_ctx *s);

/*
 * The authenticated watch of rq (its controller and scope) from version
 * `from`, held at most wait_s seconds (capped by watch_hold). Returns:
 *   0  held: the connection is suspended, *out is its waiter;
 *   1  the scope already publishes a newer version: answer now;
 *  -1  watch_max watches are held (answer 503 KSE-121);
 *  -2  out of memory.
 */
int sup_watch_hold(sup_req *rq, uint64_t from, uint32_t wait_s, sup_watcher **out);
/* Scope `scope` now serves `version` (sup_publish.c, after a publish or a
 * load of another instance's): wakes its watches from older versions. */
void sup_watch_published(sup_ctx *s, uint32_t scope, uint64_t version);
/* The answer of a woken waiter into rs, with what rq needs to sign it (the
 * request's nonce, controller and device key); frees w. */
void sup_watch_answer(sup_ctx *s, sup_watcher *w, sup_req *rq, sup_resp *rs);
/* sup_watch_delta.c: 1 when the request asks for the delta in the answer
 * (X-Keysup-Watch: delta). */
int sup_watch_wants_delta(const sup_req *rq);
/* The publisher's cached delta from `from` to the scope's current version
 * as the (unsigned, publisher-signed) answer: 1 when rs holds it, 0 when
 * there is none for `from` (then the signed JSON answer). */
int sup_watch_delta_answer(sup_ctx *s, int64_t ctrl_id, uint32_t scope, uint64_t from,
                           sup_resp *rs);
/* api_device.c: 1 unless the controller's last reported device protocol is
 * outside protocol_min..max (then no database is sent: KSE-401). */
int sup_dev_proto_ok(sup_ctx *s, int64_t ctrl_id);
/* The connection of w ended without an answer: unlinks and frees it. */
void sup_watch_drop(sup_ctx *s, sup_watcher *w);
void sup_watch_stats_get(sup_ctx *s, sup_watch_stats *st);

#endif
