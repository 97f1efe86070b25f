/*
 * api_watch.c - GET /v1/device/watch/{version}/{wait}: the push path
 * (issue 13; docs/supervisor.md, "The push path").
 *
 * Signed like every device route (sup_http.c): the version the controller
 * holds and the longest it will wait are path segments, so the signature
 * covers them. Answered at once when the scope already publishes a newer
 * version, else held (sup_watch.c) until it does, until min(wait,
 * watch_hold) seconds passed, or until keysupd stops. Over watch_max held
 * watches: 503 KSE-121 with Retry-After, and the controller keeps to its
 * heartbeat. The answer, signed: {"version", "root", "changed", "reason"};
 * on "changed" the controller fetches the delta the usual way. A controller
 * that sends X-Keysup-Watch: delta gets instead, when the publisher cached
 * the delta from its version (the publisher's d_img, sup_pub_build.c, the same bytes for
 * every controller of the scope), that delta as the answer: binary, signed
 * by the publisher and not again per request (sup_watch_delta.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "sup_watch.h"

typedef struct watch_in {
    uint64_t version, wait;
} watch_in;

static const sup_field watch_fields[] = {
    SUP_P_INT("version", watch_in, version, "the version the controller holds"),
    {SUP_FIELD("wait", SUP_T_INT, SUP_IN_PATH, SUP_REQUIRED, watch_in, wait,
               "seconds the controller waits at most (1 to 3600; watch_hold caps it)"),
     .lo = 1, .hi = 3600},
    SUP_END};
static const sup_schema watch_schema = {sizeof(watch_in), SUP_BODY_NONE, watch_fields};

static void dev_watch(sup_req *rq, sup_resp *rs)
{
    const watch_in *in = rq->in;
    sup_watcher *w = NULL;
    int r = sup_watch_hold(rq, in->version, (uint32_t)in->wait, &w);
    if (r == 0) {
        rs->held = w; /* sup_http.c answers once it is woken */
        return;
    }
    if (r == -1) {
        rs->retry_after = rq->s->cfg.retry_after;
        api_error(rs, 503, "KSE-121", "%u watches are held (watch_max); keep to the heartbeat,"
                  " retry in %u s", rq->s->cfg.watch_max, rs->retry_after);
        return;
    }
    if (r == -2) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        return;
    }
    /* Already newer: the delta at once when it is the cached one (sup_watch_delta.c). */
    if (sup_watch_wants_delta(rq) &&
        sup_watch_delta_answer(rq->s, rq->ctrl_id, rq->ctrl_scope, in->version, rs))
        return;
    {
        uint8_t root[KS_HASH_SIZE];
        char rh[2 * KS_HASH_SIZE + 1];
        uint64_t pv = sup_pub_version(rq->s, rq->ctrl_scope, root);
        json_t *o;
        ks_hex(rh, root, KS_HASH_SIZE);
        o = json_pack("{s:I,s:s,s:b,s:s}", "version", (json_int_t)pv, "root", rh, "changed",
                      pv > in->version, "reason", pv > in->version ? "published" : "shutdown");
        if (!o) {
            api_error(rs, 500, "INTERNAL", "out of memory");
            return;
        }
        api_json(rs, 200, o);
        rs->version = pv;
    }
}

const sup_api_route sup_routes_watch[] = {
    {"GET", "/v1/device/watch/*/*", KS_AUTH_DEVICE, dev_watch, &watch_schema,
     "held until the scope publishes a newer version or the wait ends (the push path)"},
    {.method = NULL},
};
