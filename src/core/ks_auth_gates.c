/*
 * ks_auth_gates.c - what every grant passes after the key is proved and
 * the privilege found (the licence's enforced features, the seal switch, a
 * pending transaction), and what a grant changes (a transaction starts or
 * is cleared, durably before the answer). One copy for single decisions
 * (ks_auth.c) and for actions inside a session (ks_auth_session.c), apart
 * from both so that neither depends on the other.
 */
#include "ks_auth_int.h"

int ks__auth_gates(ks_auth *a, const ks_action_def *def, const char **what)
{
    int err;
    /* The rollout rule: only the enforced bits of the action's feature. */
    uint64_t need = def->feature & a->lic_enforce;
    if (need && (err = ks_auth_licence_gate(a, need, what)) != 0) {
        a->lic_refused_what = *what;
        a->lic_refused_feature = need;
        (void)ks_auth_time_read(a, &a->lic_refused_at);
        return err;
    }
    /* A seal switch that cannot be read counts as ON. */
    if ((def->flags & KS_ACT_F_SEALED) && a->cfg.hal.seal && a->cfg.hal.seal(a->cfg.hal.ctx)) {
        *what = "auth.seal";
        return KS_E_SEAL_ENGAGED;
    }
    if (a->pending_action && !(def->flags & KS_ACT_F_WHILE_PENDING)) {
        *what = "auth.pending";
        return KS_E_PENDING_TRANSACTION;
    }
    return KS_OK;
}

int ks__auth_grant_effects(ks_auth *a, const ks_action_def *def, uint64_t now)
{
    if (def->flags & KS_ACT_F_TRANSACTION) {
        /* Durable before the grant: a power cut during the transaction
         * leaves it pending, which is the point. */
        a->pending_action = def->id;
        a->pending_since = now;
        return ks__auth_state_save(a);
    }
    if (def->id == KS_ACT_CLEAR_PENDING && a->pending_action) {
        a->pending_action = 0;
        a->pending_since = 0;
        return ks__auth_state_save(a);
    }
    return KS_OK;
}
