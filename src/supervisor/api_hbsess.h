/*
 * api_hbsess.h - the heartbeat session on keysupd's HTTP path (issue 13;
 * docs/protocol.md, "Heartbeat session"). The table is sup_hbsess.h.
 *
 * A steady heartbeat sends, instead of X-Keysup-Nonce and -Signature:
 *   X-Keysup-Controller: <id>
 *   X-Keysup-Session: <32 hex>   the session id
 *   X-Keysup-Counter: <decimal>  strictly above the last one keysupd took
 *   X-Keysup-Elapsed: <decimal>  ms since the session's last answer it took
 *   X-Keysup-Mac: <64 hex>       ks_hbs_req_mac under the session's c2s key
 *   X-Keysup-Challenge: <64 hex> required; bound into the answer's MAC
 * and gets X-Keysup-Answer-Mac (ks_hbs_ans_mac under s2c) instead of the
 * answer signature. Only POST /v1/device/heartbeat may be authenticated so.
 */
#ifndef KEYSUP_API_HBSESS_H
#define KEYSUP_API_HBSESS_H

#include "sup_api.h"
#include "sup_hbsess.h"

/* What a signed heartbeat's answer carries when its report offered a
 * session ("hb_session_pk") and keysupd opened one. ok = 0: nothing. */
typedef struct api_hbsess_offer {
    int ok;
    char id[2 * KS_HBS_SID + 1];
    char pk[2 * KS_HBS_PK + 1];
    unsigned ttl;
    const char *report_held;      /* the report hash keysupd holds (api_hbrep.h), or NULL */
} api_hbsess_offer;

/* 1 when the request is session-authenticated (X-Keysup-Session without
 * X-Keysup-Nonce): auth_device hands it to api_hbsess_auth. */
int api_hbsess_is(sup_req *rq);

/* auth_device's contract: final 0 (before the body): -1 refused (rs set),
 * 0 go on, 1 the counter was taken already (judged with the body, over a
 * small body); final 1: MAC and counter, 0 or -1. An unknown session is
 * 401 KSE-122, neither an authentication failure nor a replay. */
int api_hbsess_auth(sup_req *rq, sup_resp *rs, int final);

/* X-Keysup-Answer-Mac for the answer (status, body) of a MAC'd heartbeat. */
void api_hbsess_answer_header(sup_ctx *s, const sup_req *rq, void *mhd_response, int status,
                              const uint8_t *body, size_t len);

/* Opens the session a signed heartbeat's report offers, for its answer. */
void api_hbsess_take_offer(sup_req *rq, json_t *report, api_hbsess_offer *o);

#endif
