/*
 * api_hb.h - a heartbeat report read once, and the heartbeat's path that
 * needs no database (issue 13, docs/supervisor.md "What a heartbeat makes
 * durable"). api_device.c keeps the route and the full path.
 */
#ifndef KEYSUP_API_HB_H
#define KEYSUP_API_HB_H

#include "sup_api.h"
#include "sup_soft.h"
#include "api_hbsess.h"

typedef struct api_hb {
    sup_soft_row sr;                 /* the soft state (strings borrowed from the report) */
    uint64_t av, pv;                 /* applied (reported) and published versions */
    int has_av, has_root;
    uint8_t root[KS_HASH_SIZE], proot[KS_HASH_SIZE];
    int has_hist, proof;             /* restore evidence (sup_restore.h) */
    uint32_t hist;
    const char *header;              /* applied_header (hex), borrowed; sup_vclaim.c */
} api_hb;

/* Reads report r (its text for the health column) of the authenticated
 * controller of rq. */
void api_hb_read(sup_req *rq, json_t *r, char *text, api_hb *h);

/*
 * 1 when the heartbeat was taken without a transaction: its protocol is
 * unchanged (sup_devcache.h), the report is no restore evidence, and the
 * soft state went to the batch. *cmds gets the pending commands: none,
 * without reading the database, when the cache knows there are none (the
 * steady state); else read under s->lock, without BEGIN/COMMIT. 0: take the
 * full path (a transaction under s->lock); *cmds is NULL then.
 */
int api_hb_fast(sup_req *rq, const api_hb *h, json_t **cmds);

/*
 * Adds "next_nonce" (hex) and "nonce_ttl" to the heartbeat's answer ans: a
 * nonce for this controller's next signed request, single use and bound to
 * it (sup_cluster.h, sup_nonce_issue_dev), so the next heartbeat is one
 * request instead of two (issue 13). The answer's signature covers it.
 * Nothing is added when the nonce table has no room.
 */
void api_hb_next_nonce(sup_req *rq, json_t *ans);

/* The answer of a heartbeat with no pending command (the steady state):
 * the same fields as the general one (api_device.c) with the next nonce
 * (none for a session's heartbeat) and an opened session o (may be NULL),
 * printed into rs->text. -1 (rs untouched): answer with jansson. */
#define API_HB_ANSWER_MAX 768
int api_hb_answer(sup_req *rq, sup_resp *rs, uint64_t version, const char *root_hex,
                  const api_hbsess_offer *o);
/* Adds "hb_session" (id, pk, ttl) of an opened session o to ans. */
void api_hb_offer_json(json_t *ans, const api_hbsess_offer *o);

#endif
