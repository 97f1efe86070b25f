/*
 * ctl_licence.c - the controller's feature licence (docs/licences.md): kept
 * in FLASH.licence beside the flash image so it survives power cuts, loaded
 * at start before the supervisor is reachable, fetched from
 * /v1/device/licence (a signed answer) every CTL_LICENCE_EVERY seconds, and
 * verified by the engine (ks_auth_set_licence: this controller, a pinned
 * supervisor key, the signature, expiry). A licence the engine refuses is a
 * KSE-800 refusal in the health report, with the check that failed.
 *
 * The enforcement policy (which features the engine checks, and the grace
 * after expiry) comes from /v1/device/licence-policy, a signed answer, and
 * is kept in the store's settings (version 3), so it holds offline and
 * across power cuts; until the supervisor first answers, nothing is
 * enforced (the rollout rule, docs/licences.md).
 *
 * State: one agent per process, so the licence state lives here; every
 * entry point runs under the agent lock (ctl_lock), as the heartbeat and
 * the control socket do.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_agent.h"
#include "ctl_answer.h"
#include "ctl_licence.h"
#include "ctl_rollback.h"
#include "ks_fileio.h"
#include "ks_hex.h"

#define LICENCE_PATH "/v1/device/licence"
#define POLICY_PATH "/v1/device/licence-policy"
#define CTL_LICENCE_EVERY 5 /* seconds between fetches: a reactivation arrives within this */

static struct {
    int loaded;            /* the file was read once */
    uint64_t last_fetch;   /* monotonic-ish: unix seconds */
    int err;               /* KS_OK, KS_E_LICENCE_INVALID, or KS_E_NOTFOUND (none) */
    const char *what;      /* the engine's check that failed */
    uint8_t bytes[KS_LICENCE_MAX];
    size_t len;            /* KS_LICENCE_SIZE (v1) or KS_LICENCE_SIZE_V2 */
    int have;
    int policy_unsaved;    /* the policy in force could not be written: retried */
    uint8_t bad[KS_LICENCE_MAX]; /* an update refused while a good licence holds */
    size_t bad_len;
    const char *bad_what;
    uint64_t pol_refused_seq;  /* a policy answer refused with KSE-802 (0: none) */
    int pol_refused;
} lic = {.err = KS_E_NOTFOUND};

/* Settings changed by the licence path: kept now, as the policy is. */
static void keep(ctl_agent *a)
{
    int err = ctl_settings_save(a);
    if (err)
        fprintf(stderr, "keysup-controller: cannot keep the licence state: %s\n",
                ks_strerror(err));
}

static int licence_len(size_t n)
{
    return n == KS_LICENCE_SIZE || n == KS_LICENCE_SIZE_V2;
}

static void path_of(const ctl_agent *a, char *out, size_t n)
{
    snprintf(out, n, "%s.licence", a->o.flash_path);
}

/* Hands bytes to the engine and records the outcome. A good licence in
 * force is not lost to a refused one (the engine forgets its licence on any
 * failure): it is handed back, and the refused update is reported beside
 * it and not tried again until the supervisor serves other bytes. */
static void apply(ctl_agent *a, const uint8_t *b, size_t len)
{
    ks_diag d = {0, 0, NULL};
    int err = ks_auth_set_licence(&a->auth, b, len, &d);
    const char *what = err ? (d.what ? d.what : "licence") : NULL;
    if (err) {
        ctl_note_refusal(a, err, (uint64_t)time(NULL));
        fprintf(stderr, "keysup-controller: KSE-800 LICENCE_INVALID: the licence is refused "
                        "(%s); `keysup licence list --controller %llu`\n", what,
                (unsigned long long)a->set.controller_id);
    }
    lic.bad_len = 0;
    if (err && lic.have && lic.err == KS_OK &&
        ks_auth_set_licence(&a->auth, lic.bytes, lic.len, NULL) == KS_OK) {
        lic.bad_what = what;
        lic.bad_len = licence_len(len) ? len : 0;
        memcpy(lic.bad, b, lic.bad_len);
        return; /* the licence in force stays in force */
    }
    lic.err = err;
    lic.what = what;
    lic.have = licence_len(len);
    lic.len = lic.have ? len : 0;
    if (lic.have)
        memcpy(lic.bytes, b, len);
}

static void load(ctl_agent *a)
{
    char p[1024];
    uint8_t *buf = NULL;
    size_t len = 0;
    lic.loaded = 1;
    path_of(a, p, sizeof p);
    if (ks_file_read(p, 4096, &buf, &len) != KS_OK) {
        if (errno != ENOENT)
            fprintf(stderr, "keysup-controller: %s: cannot read the licence: %s\n", p,
                    strerror(errno));
        return;
    }
    apply(a, buf, len);
    if (lic.err == KS_OK) {
        const char *why;
        int err = ctl_licence_file_ok(a, buf, len, &why);
        if (err) { /* the engine took it; the rollback guard does not */
            (void)ks_auth_set_licence(&a->auth, NULL, 0, NULL);
            ctl_note_refusal(a, err, (uint64_t)time(NULL));
            fprintf(stderr, "keysup-controller: KSE-803 LICENCE_REPLACED: %s is not the licence "
                            "this controller last took from its supervisor (%s); not loaded "
                            "until the supervisor answers\n", p, why);
            lic.err = err;
            lic.what = why;
        } else if (a->set.lic_held == CTL_LIC_HELD_ANY) {
            /* upgraded from older settings: bind the file held now */
            a->set.lic_held = CTL_LIC_HELD_HASH;
            ctl_licence_hash(a, buf, len, a->set.lic_hash);
            keep(a);
        }
    }
    free(buf);
}

static void drop(ctl_agent *a)
{
    char p[1024];
    path_of(a, p, sizeof p);
    if (unlink(p) != 0 && errno != ENOENT)
        fprintf(stderr, "keysup-controller: %s: cannot remove the licence: %s\n", p,
                strerror(errno));
    (void)ks_auth_set_licence(&a->auth, NULL, 0, NULL); /* forgets it */
    if (a->set.lic_held != CTL_LIC_HELD_NONE) { /* a copy put back offline is refused */
        a->set.lic_held = CTL_LIC_HELD_NONE;
        memset(a->set.lic_hash, 0, sizeof a->set.lic_hash);
        keep(a);
    }
    lic.err = KS_E_NOTFOUND;
    lic.what = NULL;
    lic.have = 0;
    lic.bad_len = 0;
}

static void fetch(ctl_agent *a)
{
    ctl_http_resp r;
    char p[1024];
    if (ctl_http(a, "GET", LICENCE_PATH, NULL, 1, &r) != 0)
        return; /* offline: keep what we hold */
    if (r.status == 404 && ctl_answer_check(a, "GET", LICENCE_PATH, &r, NULL) == KS_OK) {
        if (lic.have || a->set.lic_held == CTL_LIC_HELD_HASH) /* revoked at the supervisor */
            drop(a);
    } else if (r.status == 200 && ctl_answer_check(a, "GET", LICENCE_PATH, &r, NULL) == KS_OK &&
               !(lic.have && lic.err != KS_E_LICENCE_REPLACED && r.len == lic.len &&
                 memcmp(r.body, lic.bytes, lic.len) == 0) &&
               !(lic.bad_len && r.len == lic.bad_len && memcmp(r.body, lic.bad, r.len) == 0)) {
        apply(a, r.body, r.len);
        path_of(a, p, sizeof p);
        /* Kept only when the engine took it: a refused licence must not
         * replace a good one on flash. */
        if (lic.err == KS_OK && lic.len == r.len && memcmp(lic.bytes, r.body, r.len) == 0) {
            if (ks_file_write_atomic(p, r.body, r.len, 0600, 1) != KS_OK)
                fprintf(stderr, "keysup-controller: %s: cannot keep the licence: %s\n", p,
                        strerror(errno));
            /* The file first, then its hash: a cut between them leaves the
             * new file refused at start (KSE-803) until the next fetch,
             * never an old file accepted. */
            a->set.lic_held = CTL_LIC_HELD_HASH;
            ctl_licence_hash(a, r.body, r.len, a->set.lic_hash);
            keep(a);
        }
    }
    ctl_http_free(&r);
}

/* The enforcement policy: applied to the engine and kept in the settings
 * only from an authentic answer, and written only when it changed. */
static void fetch_policy(ctl_agent *a)
{
    int status = 0, err = 0;
    json_t *ans = ctl_answer_json(a, "GET", POLICY_PATH, NULL, &status, &err);
    json_int_t en, gr, sq;
    int take;
    if (!ans || status != 200 || err)
        goto cleanup; /* offline, or an older supervisor: keep what we hold */
    en = json_integer_value(json_object_get(ans, "enforce"));
    gr = json_integer_value(json_object_get(ans, "grace"));
    sq = json_integer_value(json_object_get(ans, "seq")); /* 0: an older supervisor */
    if (en < 0 || en > 255 || gr < 0 || gr > UINT32_MAX || sq < 0) {
        fprintf(stderr, "keysup-controller: the licence policy answer is out of range\n");
        goto cleanup;
    }
    take = ctl_policy_take(&a->set, (uint64_t)sq, (uint8_t)en, (uint32_t)gr);
    if (take < 0) { /* never back to an older policy: the one in force stays */
        if (!lic.pol_refused || lic.pol_refused_seq != (uint64_t)sq) {
            ctl_note_refusal(a, take, (uint64_t)time(NULL));
            fprintf(stderr, "keysup-controller: KSE-802 LICENCE_POLICY_OLD: the supervisor "
                            "serves licence policy %lld, this controller applied %llu; kept "
                            "(restored from a backup? set the policy again there)\n",
                    (long long)sq, (unsigned long long)a->set.lic_seq);
        }
        lic.pol_refused = 1;
        lic.pol_refused_seq = (uint64_t)sq;
        goto cleanup;
    }
    lic.pol_refused = 0;
    if (take == 1 && !lic.policy_unsaved)
        goto cleanup;
    /* In force at once; on flash for the next start (offline included). */
    a->set.lic_seq = (uint64_t)sq;
    a->set.lic_enforce = (uint8_t)en;
    a->set.lic_grace = (uint32_t)gr;
    ks_auth_licence_policy(&a->auth, a->set.lic_enforce, a->set.lic_grace);
    lic.policy_unsaved = (err = ctl_settings_save(a)) != KS_OK;
    if (lic.policy_unsaved)
        fprintf(stderr, "keysup-controller: cannot keep the licence policy (retried at the next "
                        "fetch): %s\n", ks_strerror(err));
    else
        fprintf(stderr, "keysup-controller: licence.policy enforce=%u grace=%u seq=%llu\n",
                (unsigned)a->set.lic_enforce, (unsigned)a->set.lic_grace,
                (unsigned long long)a->set.lic_seq);
cleanup:
    json_decref(ans);
}

void ctl_licence_tick(ctl_agent *a)
{
    uint64_t now = (uint64_t)time(NULL);
    if (!a->auth_ready || !a->set.controller_id)
        return;
    if (!lic.loaded) {
        if (a->identity_state && strcmp(a->identity_state, "settings_rolled_back") == 0)
            ctl_note_refusal(a, KS_E_LICENCE_POLICY_OLD, now);
        load(a);
    }
    if (now - lic.last_fetch < CTL_LICENCE_EVERY)
        return;
    lic.last_fetch = now;
    fetch_policy(a);
    fetch(a);
}

static json_t *feature_list(uint64_t bits)
{
    json_t *o = json_array();
    char b[12];
    for (unsigned i = 0; i < 64; i++) {
        if (!((bits >> i) & 1u))
            continue;
        if (ks_feature_name(i)) {
            json_array_append_new(o, json_string(ks_feature_name(i)));
        } else {
            snprintf(b, sizeof b, "bit%u", i);
            json_array_append_new(o, json_string(b));
        }
    }
    return o;
}

/* What the diagnosis needs to name the licence, the feature and the fix:
 * the policy, the binding and the last action the licence refused. */
static void enforcement_json(ctl_agent *a, json_t *o, const ks_licence *l)
{
    const ks_auth *e = &a->auth;
    char hex[2 * KS_KEYID_SIZE + 1];
    json_object_set_new(o, "enforce", feature_list(a->set.lic_enforce));
    json_object_set_new(o, "grace", json_integer(a->set.lic_grace));
    json_object_set_new(o, "policy_seq", json_integer((json_int_t)a->set.lic_seq));
    if (lic.pol_refused)
        json_object_set_new(o, "policy_refused",
                            json_pack("{s:s,s:I,s:I}", "code", "KSE-802", "served",
                                      (json_int_t)lic.pol_refused_seq, "held",
                                      (json_int_t)a->set.lic_seq));
    if (l && ks_licence_bound(l)) {
        ks_hex(hex, l->bound_key, KS_KEYID_SIZE);
        json_object_set_new(o, "bound_key", json_string(hex));
        json_object_set_new(o, "bound_window", json_integer(l->bound_window));
        json_object_set_new(o, "dongle_seen", json_boolean(e->lic_seen));
    }
    if (e->lic_refused_what)
        json_object_set_new(o, "last_refusal",
                            json_pack("{s:s,s:o,s:I}", "check", e->lic_refused_what, "features",
                                      feature_list(e->lic_refused_feature), "at",
                                      (json_int_t)e->lic_refused_at));
}

json_t *ctl_licence_json(ctl_agent *a)
{
    ks_licence l;
    json_t *o;
    int ok;
    if (!lic.have) {
        o = json_pack("{s:s}", "state", "none");
        if (a->auth_ready)
            enforcement_json(a, o, NULL);
        return o;
    }
    o = json_pack("{s:s}", "state", lic.err ? "refused" : "valid");
    if (lic.err) {
        json_object_set_new(o, "code", json_string(lic.err == KS_E_LICENCE_REPLACED ? "KSE-803"
                                                                                  : "KSE-800"));
        json_object_set_new(o, "check", json_string(lic.what));
    }
    ok = ks_licence_decode(&l, lic.bytes, lic.len, NULL) == KS_OK;
    if (ok) {
        json_object_set_new(o, "version", json_integer(l.version));
        if (l.serial) /* the supervisor's licence id (version 2) */
            json_object_set_new(o, "id", json_integer((json_int_t)l.serial));
        json_object_set_new(o, "features", json_integer((json_int_t)l.features));
        json_object_set_new(o, "issued_at", json_integer((json_int_t)l.issued_at));
        json_object_set_new(o, "expires_at", json_integer((json_int_t)l.expires_at));
    }
    if (lic.bad_len) /* a newer licence was refused; this one stays in force */
        json_object_set_new(o, "refused_update", json_string(lic.bad_what));
    if (a->auth_ready)
        enforcement_json(a, o, ok ? &l : NULL);
    return o;
}

void ctl_licence_explain(ctl_agent *a, json_t *o)
{
    ks_licence l;
    json_object_set_new(o, "licence_features", feature_list(a->auth.lic_refused_feature));
    if (lic.have && ks_licence_decode(&l, lic.bytes, lic.len, NULL) == KS_OK && l.serial)
        json_object_set_new(o, "licence_id", json_integer((json_int_t)l.serial));
}
