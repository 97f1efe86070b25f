/*
 * sup_watch_delta.c - the publisher's delta carried in the watch's answer
 * (issue 13; docs/supervisor.md "The push path", docs/security.md "The delta
 * in the watch's answer").
 *
 * Why: when a revocation wakes 10,000 watches, each woken controller would
 * otherwise fetch a nonce and send a signed GET /v1/device/delta for bytes
 * that are the same for every controller of the scope at that version (the
 * publisher builds them once, sup_publish.c's d_img). Sent in the watch's
 * answer they cost keysupd a copy, and the controller one round trip, one
 * nonce, one request signature and the answer's verify fewer.
 *
 * Why unsigned: the delta is exactly what GET /v1/device/delta answers,
 * which keysupd does not sign per request either (rs->self_signed): the
 * publisher's signature over the target header, the base version and root
 * it names and the root the controller recomputes are what make it safe to
 * apply, and a replayed or foreign delta fails them. Only a controller that
 * asks for it (X-Keysup-Watch: delta) gets this form; every other answer
 * ("nothing new", "shutdown", a version with no cached delta for the
 * controller's) stays the signed JSON answer.
 */
#define _POSIX_C_SOURCE 200809L
#include <microhttpd.h>
#include <string.h>

#include "sup_watch.h"

/* Larger deltas (a bulk import) are fetched the usual way: a copy per
 * woken waiter of a big delta would multiply keysupd's memory by the fleet. */
#define W_DELTA_MAX (64u << 10)

int sup_watch_wants_delta(const sup_req *rq)
{
    const char *v = rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                          "X-Keysup-Watch") : NULL;
    return v && strcmp(v, "delta") == 0;
}

int sup_watch_delta_answer(sup_ctx *s, int64_t ctrl_id, uint32_t scope, uint64_t from,
                           sup_resp *rs)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t v = 0;
    /* The same rule as GET /v1/device/delta: no database for a controller
     * whose protocol this keysupd does not speak; it gets the signed
     * "changed" answer, and its fetch gets the KSE-401 refusal. */
    if (!sup_dev_proto_ok(s, ctrl_id))
        return 0;
    if (sup_pub_delta_cached(s, scope, from, W_DELTA_MAX, &buf, &len, &v) != KS_OK)
        return 0;
    rs->bin = buf;
    rs->bin_len = len;
    rs->self_signed = 1; /* signed by the publisher, like /v1/device/delta */
    rs->status = 200;
    rs->version = v;
    atomic_fetch_add(&s->metrics.deltas_served, 1);
    return 1;
}
