/*
 * ctl_rollback.c - the controller never goes back to licence state older
 * than what it has applied (docs/security.md "Rollback").
 *
 * Three ways to go back, all needing someone who can write the controller's
 * flash or who restored the supervisor from an old backup:
 *   - an older licence-policy answer: every answer carries a sequence (the
 *     supervisor's time of the change, moved past every older one), kept in
 *     the settings; a lower one, or the same number with other content, is
 *     refused with KSE-802 and the policy in force stays;
 *   - a licence file put back offline (a revoked one, or one replaced by a
 *     newer): the settings keep the hash of the licence last taken from the
 *     supervisor, or "none" once it took the licence away; another file is
 *     refused with KSE-803 until the supervisor serves one;
 *   - settings of an older version (say 2, which knows no enforcement)
 *     written over version 4: the identity file, kept apart from the store,
 *     records the oldest settings version this unit may read. Older settings
 *     keep the protection instead of dropping it: every feature enforced
 *     and no licence file until the supervisor answers (KSE-802).
 * A whole older copy of the store and the identity file together cannot be
 * told from the real thing without hardware the unit does not have (a
 * monotonic counter); docs/security.md says so.
 */
#include "ctl_rollback.h"

#include <stdio.h>
#include <string.h>

int ctl_identity_save(ctl_agent *a);

int ctl_rollback_bind(ctl_agent *a, uint8_t id_floor)
{
    int err;
    a->set_floor = id_floor;
    if (a->set.version && a->set.version < id_floor) {
        snprintf(a->identity_note, sizeof a->identity_note,
                 "KSE-802: the settings on %s are version %u, older than this unit has written "
                 "(%u): rolled back? every licence feature is enforced and no licence file is "
                 "loaded until the supervisor answers", a->o.flash_path,
                 (unsigned)a->set.version, (unsigned)id_floor);
        fprintf(stderr, "keysup-controller: %s\n", a->identity_note);
        a->identity_state = "settings_rolled_back";
        a->set.lic_enforce = 0xFF;
        a->set.lic_grace = 0;
        a->set.lic_seq = 0;
        a->set.lic_held = CTL_LIC_HELD_NONE;
        memset(a->set.lic_hash, 0, sizeof a->set.lic_hash);
        return ctl_settings_save(a); /* the kept protection survives a power cut */
    }
    if (a->set.version >= CTL_SETTINGS_VERSION && id_floor >= CTL_SETTINGS_VERSION)
        return KS_OK;
    /* Settings first, then the floor: a cut between them leaves new settings
     * under the old floor, never old settings under the new one. */
    if (a->set.version < CTL_SETTINGS_VERSION && (err = ctl_settings_save(a)) != KS_OK)
        return err;
    a->set_written = 1;
    return ctl_identity_save(a);
}

int ctl_policy_take(const ctl_settings *s, uint64_t seq, uint8_t enforce, uint32_t grace)
{
    int same = enforce == s->lic_enforce && grace == s->lic_grace;
    if (seq < s->lic_seq)
        return KS_E_LICENCE_POLICY_OLD;
    if (seq == s->lic_seq)
        /* 0 is "no number yet" (an upgraded controller, an older supervisor):
         * the content decides, as before sequences. Any other number names one
         * policy; other content under it is a supervisor that went back. */
        return same ? 1 : seq ? KS_E_LICENCE_POLICY_OLD : KS_OK;
    return KS_OK;
}

void ctl_licence_hash(ctl_agent *a, const uint8_t *b, size_t n, uint8_t out[16])
{
    uint8_t h[KS_HASH_SIZE];
    ks_iov iov[2] = {{"keysup-licence-held-v1", 22}, {b, n}};
    a->crypto.hash(a->crypto.ctx, h, iov, 2);
    memcpy(out, h, 16);
}

int ctl_licence_file_ok(ctl_agent *a, const uint8_t *b, size_t n, const char **why)
{
    uint8_t h[16];
    *why = NULL;
    if (a->set.lic_held == CTL_LIC_HELD_ANY)
        return KS_OK;
    if (a->set.lic_held == CTL_LIC_HELD_NONE) {
        *why = "licence.taken_away";
        return KS_E_LICENCE_REPLACED;
    }
    ctl_licence_hash(a, b, n, h);
    if (memcmp(h, a->set.lic_hash, sizeof h) != 0) {
        *why = "licence.not_held";
        return KS_E_LICENCE_REPLACED;
    }
    return KS_OK;
}
