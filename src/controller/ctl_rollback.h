/*
 * ctl_rollback.h - guards against putting the controller's licence state
 * back to an older one (ctl_rollback.c, docs/security.md "Rollback").
 */
#ifndef KEYSUP_CTL_ROLLBACK_H
#define KEYSUP_CTL_ROLLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_agent.h"

/* At start, once the store and the identity file agree (ctl_identity.c):
 * id_floor is the identity file's settings floor. Settings older than it
 * were written over newer ones: the protection is kept (every feature
 * enforced, no licence file until the supervisor answers). Settings older
 * than this binary's are written back now and the floor raised. */
int ctl_rollback_bind(ctl_agent *a, uint8_t id_floor);

/* Whether a policy answer (seq, enforce, grace) may replace the one in s:
 * KS_OK (take it), 1 (the same: nothing to do) or
 * KS_E_LICENCE_POLICY_OLD (older, or its number reused for other data). */
int ctl_policy_take(const ctl_settings *s, uint64_t seq, uint8_t enforce, uint32_t grace);

/* BLAKE2b-128 of a licence file, as kept in the settings. */
void ctl_licence_hash(ctl_agent *a, const uint8_t *b, size_t n, uint8_t out[16]);

/* Whether the licence file b may be loaded at start (offline): KS_OK, or
 * KS_E_LICENCE_REPLACED with *why saying which guard refused it. */
int ctl_licence_file_ok(ctl_agent *a, const uint8_t *b, size_t n, const char **why);

#endif
