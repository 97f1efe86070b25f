/*
 * ks_auth_licence.c - the feature licence inside the engine
 * (docs/licences.md): verifying and keeping one licence, the rollout rule
 * (which features are enforced at all), the grace after expiry, and a
 * licence bound to a dongle that counts only while that key has been
 * presented within the licence's window.
 *
 * Clock rules. Expiry is judged on the engine's trusted time (RTC checked
 * against the supervisor's time tokens and the monotonic tick): when that
 * clock cannot be trusted, a licence that expires is not honoured and the
 * refusal carries the clock's own code (KSE-600/601), because fixing the
 * clock is the fix; a licence without an end needs no clock. The dongle
 * window is measured on the monotonic tick when the HAL has one, so an RTC
 * that jumps neither stretches nor cuts it; presence is RAM only, so after
 * a power cut the dongle is presented again.
 */
#include <string.h>

#include "ks_auth_int.h"

int ks_auth_set_licence(ks_auth *a, const uint8_t *lic, size_t len, ks_diag *d)
{
    const uint8_t *pk;
    ks_licence l;
    uint64_t now;
    size_t signed_len;

    a->has_licence = 0;
    if (!lic || len == 0)
        return ks_fail(d, KS_E_LICENCE_INVALID, 0, "licence.missing");
    if (ks_licence_decode(&l, lic, len, d) != 0)
        return ks_fail(d, KS_E_LICENCE_INVALID, d ? d->offset : 0, d ? d->what : "licence");
    if (memcmp(l.controller_id, a->cfg.controller_id, KS_CTRL_ID_SIZE) != 0)
        return ks_fail(d, KS_E_LICENCE_INVALID, 8, "licence.controller");
    pk = ks_trust_find(ks_store_trust(a->cfg.store), l.signer_id);
    if (!pk)
        return ks_fail(d, KS_E_LICENCE_INVALID, 48, "licence.signer");
    signed_len = l.version == KS_LICENCE_VERSION_BOUND ? KS_LICENCE_V2_SIGNED
                                                       : KS_AUTH_SIGNED_SIZE;
    if (ks_verify_labelled(a->cfg.crypto, lic + signed_len, KS_LABEL_LICENCE, lic, signed_len,
                           pk) != 0)
        return ks_fail(d, KS_E_LICENCE_INVALID, (uint32_t)signed_len, "licence.signature");
    (void)ks_auth_now(a, &now);
    if (l.expires_at && now >= l.expires_at + a->lic_grace)
        return ks_fail(d, KS_E_LICENCE_INVALID, 40, "licence.expired");
    /* A presentation of another key does not carry over to a new binding. */
    if (!ks_licence_bound(&l) || memcmp(l.bound_key, a->lic_seen_key, KS_KEYID_SIZE) != 0)
        a->lic_seen = 0;
    a->licence = l;
    a->has_licence = 1;
    return KS_OK;
}

void ks_auth_licence_policy(ks_auth *a, uint64_t enforce, uint32_t grace)
{
    a->lic_enforce = enforce;
    a->lic_grace = grace;
}

/* The clock the dongle window is measured on: see the top of the file. */
static int presence_clock(ks_auth *a, uint64_t *t)
{
    if (a->cfg.hal.mono)
        return a->cfg.hal.mono(a->cfg.hal.ctx, t) == 0 ? KS_OK : KS_E_RTC_FAILURE;
    return ks_auth_time_read(a, t);
}

void ks_auth_licence_seen(ks_auth *a, const uint8_t key_id[KS_KEYID_SIZE])
{
    uint64_t t;
    if (!a->has_licence || !ks_licence_bound(&a->licence) ||
        memcmp(key_id, a->licence.bound_key, KS_KEYID_SIZE) != 0 ||
        presence_clock(a, &t) != KS_OK)
        return;
    memcpy(a->lic_seen_key, key_id, KS_KEYID_SIZE);
    a->lic_seen_at = t;
    a->lic_seen = 1;
}

static int gate_fail(const char **what, const char *why, int err)
{
    if (what)
        *what = why;
    return err;
}

int ks_auth_licence_gate(ks_auth *a, uint64_t feature, const char **what)
{
    const ks_licence *l = &a->licence;
    uint64_t now;
    int err;

    if (!a->has_licence)
        return gate_fail(what, "licence.none", KS_E_LICENCE_INVALID);
    if ((l->features & feature) != feature)
        return gate_fail(what, "licence.feature", KS_E_LICENCE_INVALID);
    if (l->expires_at) {
        if ((err = ks_auth_now(a, &now)) != 0)
            return gate_fail(what, "licence.clock", err);
        if (now >= l->expires_at + a->lic_grace)
            return gate_fail(what, "licence.expired", KS_E_LICENCE_INVALID);
    }
    if (ks_licence_bound(l)) {
        if (!a->lic_seen || presence_clock(a, &now) != KS_OK || now < a->lic_seen_at ||
            now - a->lic_seen_at > l->bound_window)
            return gate_fail(what, "licence.dongle", KS_E_LICENCE_INVALID);
    }
    if (what)
        *what = NULL;
    return KS_OK;
}

int ks_auth_licence_check(ks_auth *a, uint64_t feature)
{
    return ks_auth_licence_gate(a, feature, NULL);
}
