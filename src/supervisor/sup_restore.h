/*
 * sup_restore.h - a supervisor restored from an older backup (issue 17 row 9).
 *
 * The database a backup brings back does not know the versions published
 * after the backup was taken, so left alone it would publish those version
 * numbers again with different contents. Controllers are the witnesses: a
 * controller that holds a version this supervisor never published (above its
 * newest, or the newest with another root in the same history) proves the
 * records went back. Then the supervisor draws a new history id, which every
 * later snapshot header carries (signed, bytes 60..63), and never publishes a
 * version at or below the highest one a controller reported. Both survive a
 * restart (table `restores`); a restore of a backup older than that row is
 * detected again the same way.
 */
#ifndef KEYSUP_KS_RESTORE_H
#define KEYSUP_KS_RESTORE_H

#include "sup.h"

/* Creates the table when missing and loads the current history and floor. */
int sup_restore_load(sup_ctx *s);

/* History id for the next snapshot header (0 until a restore was seen). */
uint32_t sup_restore_history(const sup_ctx *s);
/* The next version of any scope must be above this. */
uint64_t sup_restore_floor(const sup_ctx *s);

/*
 * One heartbeat's evidence, inside the heartbeat's transaction (lock held).
 * av/root/hist: what the controller holds (has_hist 0: it did not say);
 * pv/proot: what this supervisor published for its scope; proof: the
 * controller refused our database of its own history because it would undo
 * a revocation (its report's `restore`); hdr_hex: the signed header it holds
 * (applied_header), without which the claim moves nothing (audited once a
 * minute as KSE-711). Returns 1 when a
 * restore was detected and recorded (the caller kicks the publisher), 0 when
 * not, <0 on a database error.
 */
int sup_restore_check(sup_ctx *s, int64_t ctrl_id, uint32_t scope, uint64_t av, const uint8_t *root,
                     int has_hist, uint32_t hist, uint64_t pv, const uint8_t proot[KS_HASH_SIZE],
                     int proof, const char *hdr_hex);

/*
 * 1 when hdr_hex (the heartbeat's applied_header: 160 bytes in hex) is a
 * snapshot header signed by one of this supervisor's keys (supervisor_keys)
 * for scope, version av, root and (when has_hist) history hist; 0 otherwise.
 * Lock held. sup_restore_check acts on no version claim without it
 * (sup_vclaim.c says why).
 */
int sup_vclaim_check(sup_ctx *s, const char *hdr_hex, uint32_t scope, uint64_t av,
                     const uint8_t *root, int has_hist, uint32_t hist);

/* The same evidence judged without the database: 0 when sup_restore_check
 * would certainly find nothing (the heartbeat's fast path, api_hbfast.c). */
int sup_restore_suspect(const sup_ctx *s, uint64_t av, const uint8_t *root, int has_hist,
                        uint32_t hist, uint64_t pv, const uint8_t proot[KS_HASH_SIZE], int proof);

/* KSE-304 incident: one `keysup key revoke ID` step per key id the evidence
 * names ("Re-revoke: ID ID..."), put before the catalogue's steps. */
void sup_restore_steps(json_t *steps, const char *evidence);

#endif
