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
 * Issues a licence for controller ctrl_id: signs the licence bytes with the
 * active supervisor key (file or token) and stores the row. replaces (0
 * none) is the licence this one reactivates: it is marked replaced and its
 * warning incident resolved, in the same transaction. *id is the new row.
 *   KS_E_NOTFOUND  no such controller; KS_E_INVAL not enrolled yet (no
 *   device key to bind to); KS_E_CRYPTO signing failed; KS_E_IO database.
 */
int sup_licence_issue(sup_ctx *s, int64_t ctrl_id, const char *name, uint64_t features,
                      uint64_t valid_until, uint32_t warn_days, int64_t replaces, int64_t *id,
                      char *err, size_t errlen);

/* Resolves licence id's open warning incident (revoked, replaced). Locked. */
void sup_licence_resolve_warning(sup_ctx *s, int64_t id, const char *why);

/* Opens a KSE-801 incident for each active licence inside its warning
 * window that has none yet. Called by the diagnosis sweeper. */
void sup_licence_sweep(sup_ctx *s);

#endif
