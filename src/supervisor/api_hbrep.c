/*
 * api_hbrep.c - a heartbeat's report, completed when it was left out
 * (api_hbrep.h, sup_hbrep.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "api_hbrep.h"

#include <stdlib.h>
#include <string.h>

int api_hbrep_take(sup_req *rq, sup_resp *rs, api_hbrep *r)
{
    sup_hbrep *t = rq->s->hbrep;
    int needed = 0;

    memset(r, 0, sizeof *r);
    r->report = rq->json;
    r->text = rq->json ? (char *)rq->body : NULL;
    if (!sup_hbrep_is_short(rq->json)) {
        if (sup_hbrep_hold(t, rq->ctrl_id, rq->json, r->held) != 1)
            r->held[0] = '\0'; /* not held: no "report_held", the agent stays on full reports */
        return 0;
    }
    /* No text of the completed report: the health column keeps the whole
     * report as it came, and this body beside it (sup_health.h). */
    r->own = sup_hbrep_complete(t, rq->ctrl_id, rq->json, rq->body, &needed, NULL);
    if (!r->own && needed) {
        api_error(rs, 409, "KSE-123", "keysupd holds no report under this report_hash (it "
                  "restarted, or is another instance): send the heartbeat with its full report");
        return -1;
    }
    if (!r->own) {
        api_error(rs, 500, "INTERNAL", "out of memory completing the heartbeat's report");
        return -1;
    }
    r->report = r->own;
    r->text = NULL;
    r->live = rq->body;
    memcpy(r->held, json_string_value(json_object_get(rq->json, "report_hash")), sizeof r->held);
    return 0;
}

void api_hbrep_done(api_hbrep *r)
{
    json_decref(r->own);
    r->own = NULL;
}
