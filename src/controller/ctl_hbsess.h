/*
 * ctl_hbsess.h - the agent's side of the heartbeat session (issue 13;
 * docs/protocol.md, "Heartbeat session"; keysupd's side: api_hbsess.h).
 * Shared with keysup-sim through keysup_ctl.
 */
#ifndef KEYSUP_CTL_HBSESS_H
#define KEYSUP_CTL_HBSESS_H

#include <curl/curl.h>
#include <jansson.h>

#include "ctl_agent.h"
#include "ctl_http.h"

/* Adds "hb_session_pk" (a fresh ephemeral X25519 key) to a heartbeat report
 * that will be signed: when no session is usable, and not as an older agent
 * (fetch_nonce) or while keysupd declined the last offers. */
void ctl_hbsess_offer(ctl_agent *a, json_t *report);
/* After the heartbeat: ans is the VERIFIED answer to the report that made
 * the offer (NULL when there is none). Opens the session its "hb_session"
 * names; wipes the ephemeral secret either way. */
void ctl_hbsess_accept(ctl_agent *a, json_t *ans);
/* 1 when the next heartbeat may be MAC'd: open, for this supervisor, not
 * near its expiry. */
int ctl_hbsess_usable(const ctl_agent *a);
/* The next counter's MAC headers (api_hbsess.h) for method path body;
 * chal gets the challenge the answer must bind, *counter the counter. */
int ctl_hbsess_headers(ctl_agent *a, const char *method, const char *path, const char *body,
                       struct curl_slist **h, uint8_t chal[32], uint64_t *counter);
/* 0 when r's X-Keysup-Answer-Mac verifies (r from a MAC'd request), else -1
 * and the session is dropped (the next heartbeat is signed and re-opens). */
int ctl_hbsess_check(ctl_agent *a, const char *method, const char *path, const ctl_http_resp *r);
/* Forgets the session, wiping its keys. */
void ctl_hbsess_drop(ctl_agent *a);

#endif
