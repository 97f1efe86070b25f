/*
 * ctl_hbrep.h - the agent's side of "the report only when it changed"
 * (issue 13; docs/protocol.md; keysupd's side: sup_hbrep.h). Shared with
 * keysup-sim through keysup_ctl.
 *
 * A heartbeat that will be MAC'd in its session carries "report_hash",
 * BLAKE2b-256 over the report with the members that move on every
 * heartbeat (CTL_HBREP_VOLATILE) set to null. Once a verified answer says
 * keysupd holds that hash ("report_held"), the next heartbeats with the
 * same hash send only the moving members, the hash and "report_elided":
 * true. Signed heartbeats (no session, an older keysupd, --fetch-nonce)
 * send the full report without a hash, as before.
 */
#ifndef KEYSUP_CTL_HBREP_H
#define KEYSUP_CTL_HBREP_H

#include <jansson.h>

#include "ctl_agent.h"

/* The top-level members that change on every heartbeat: the clocks the
 * three-clock checks read (time, clock) and the times of the last answer
 * and the last sync check (last_contact, last_sync). The store is hashed
 * (issue 13: it was two thirds of a short body, 550 of its 850 bytes, and
 * of keysupd's parse), but for its progress counters (CTL_HBREP_PROGRESS):
 * its wear rates move only with a commit, and whatever the scrub finds
 * (medium_changes) is hashed, so the report goes whole when it does. */
#define CTL_HBREP_VOLATILE {"time", "clock", "last_contact", "last_sync"}
/* The store's progress counters, nulled in the hash and never sent short:
 * keysupd's copy keeps them as of the last full report (docs/protocol.md).
 * The scrub's position moves every tick; the audit counters with every
 * event a door logs, which would otherwise send a busy door's report
 * whole at every heartbeat. Members of store.scrub, then of store. */
#define CTL_HBREP_PROGRESS {"next_sector", "passes"}
#define CTL_HBREP_STORE_PROGRESS {"audit_pending", "audit_last"}

/* The body to send for report (complete, offer included): report itself
 * (a new reference) with "report_hash" added when the heartbeat goes MAC'd,
 * or a new short body. NULL out of memory. */
json_t *ctl_hbrep_body(ctl_agent *a, json_t *report);
/* After the heartbeat: 1 when keysupd answered 409 KSE-123 to a short
 * body, and the heartbeat must go again with the full report (report,
 * which carries its hash). */
int ctl_hbrep_retry(ctl_agent *a, int status, json_t *ans);
/* ans: the VERIFIED 200 answer, or NULL. Takes "report_held". */
void ctl_hbrep_answer(ctl_agent *a, json_t *ans);
/* The hash of report (tests): -1 out of memory. */
int ctl_hbrep_hash(json_t *report, uint8_t out[32]);

#endif
