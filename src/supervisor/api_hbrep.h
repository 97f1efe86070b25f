/*
 * api_hbrep.h - a heartbeat's report, completed when it was left out
 * (sup_hbrep.h; docs/protocol.md, "The report only when it changed").
 */
#ifndef KEYSUP_API_HBREP_H
#define KEYSUP_API_HBREP_H

#include "sup_api.h"
#include "sup_hbrep.h"

typedef struct api_hbrep {
    json_t *report;               /* the full report: rq->json, or own */
    char *text;                   /* a full body's text for the health column (rq->body);
                                   * NULL for a short one */
    json_t *own;                  /* a completed report (NULL: the body was full) */
    const char *live;             /* a short body's text (rq->body) for last_health_live; NULL:
                                   * the body was full (sup_health.h) */
    char held[2 * SUP_HBREP_HASH + 1]; /* the hash keysupd holds after this ("": none) */
} api_hbrep;

/*
 * Fills r for the heartbeat of rq: a full report with "report_hash" is
 * held for the next short one; a short one is completed from the held
 * report. 0, or -1 with rs set: 409 KSE-123 when nothing is held under its
 * hash (the agent sends the full report at once), 500 out of memory.
 * api_hbrep_done frees what r owns, either way.
 */
int api_hbrep_take(sup_req *rq, sup_resp *rs, api_hbrep *r);
void api_hbrep_done(api_hbrep *r);

#endif
