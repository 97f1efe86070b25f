/*
 * sup_licence.h - feature licences the supervisor issues (docs/licences.md):
 * the registry, the signed 128-byte licence (docs/formats.md) and the
 * expiry warning incident (KSE-801).
 */
#ifndef KEYSUP_SUP_LICENCE_H
#define KEYSUP_SUP_LICENCE_H

#include "sup.h"

extern const char sup_licence_schema[];

/* Feature names <-> bits (the engine's enum ks_feature); "bit12" for the
 * integrators' bits 8..63. Returns -1 for an unknown name. */
int sup_licence_feature_bit(const char *name);
/* The name of a named feature bit (0..3), NULL for the others. */
const char *sup_licence_feature_name(int bit);
json_t *sup_licence_feature_names(uint64_t features);

/*
 * Issues a licence for controller ctrl_id: a version 2 licence whose serial
 * is its row id, signed with the active supervisor key (file or token), and
 * stores the row. bound_key (NULL: unbound) is the key id of the dongle the
 * licence is bound to, honoured while that key was presented within
 * bound_window seconds. replaces (0 none) is the licence this one
 * reactivates: it is marked replaced and its warning incident resolved, in
 * the same transaction. *id is the new row.
 *   KS_E_NOTFOUND  no such controller; KS_E_INVAL not enrolled yet (no
 *   device key to bind to); KS_E_CRYPTO signing failed; KS_E_IO database.
 */
int sup_licence_issue(sup_ctx *s, int64_t ctrl_id, const char *name, uint64_t features,
                      uint64_t valid_until, uint32_t warn_days, int64_t replaces,
                      const uint8_t *bound_key, uint32_t bound_window, int64_t *id,
                      char *err, size_t errlen);

/* ----- enforcement (sup_licence_policy.c) ----- */

/* The migration that creates the enforcement table (sup_db_migrate.c). */
extern const char sup_licence_policy_schema[];
/* Controller ctrl_id's effective policy: its own row, else the fleet's
 * (controller 0), else nothing enforced. Lock held. */
void sup_licence_policy_get(sup_ctx *s, int64_t ctrl_id, uint64_t *enforce, uint32_t *grace);

/* ----- diagnosis (sup_diag_licence.c) ----- */

/* Appends to a KSE-800 finding's evidence (cap bytes in all) what the
 * controller's report says: the licence id, the feature refused, why, and
 * the exact fix. Pure: report only. */
void sup_diag_licence_note(const json_t *report, int64_t ctrl_id, char *evidence, size_t cap);

/* Resolves licence id's open warning incident (revoked, replaced). Locked. */
void sup_licence_resolve_warning(sup_ctx *s, int64_t id, const char *why);

/* Opens a KSE-801 incident for each active licence inside its warning
 * window that has none yet. Called by the diagnosis sweeper. */
void sup_licence_sweep(sup_ctx *s);

#endif
