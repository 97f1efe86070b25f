/*
 * ctl_licence.c - the controller's feature licence (docs/licences.md): kept
 * in FLASH.licence beside the flash image so it survives power cuts, loaded
 * at start before the supervisor is reachable, fetched from
 * /v1/device/licence (a signed answer) every CTL_LICENCE_EVERY seconds, and
 * verified by the engine (ks_auth_set_licence: this controller, a pinned
 * supervisor key, the signature, expiry). A licence the engine refuses is a
 * KSE-800 refusal in the health report, with the check that failed.
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
#include "ks_fileio.h"

#define LICENCE_PATH "/v1/device/licence"
#define CTL_LICENCE_EVERY 5 /* seconds between fetches: a reactivation arrives within this */

static struct {
    int loaded;            /* the file was read once */
    uint64_t last_fetch;   /* monotonic-ish: unix seconds */
    int err;               /* KS_OK, KS_E_LICENSE_INVALID, or KS_E_NOTFOUND (none) */
    const char *what;      /* the engine's check that failed */
    uint8_t bytes[KS_LICENCE_SIZE];
    int have;
} lic = {0, 0, KS_E_NOTFOUND, NULL, {0}, 0};

static void path_of(const ctl_agent *a, char *out, size_t n)
{
    snprintf(out, n, "%s.licence", a->o.flash_path);
}

/* Hands bytes to the engine and records the outcome. */
static void apply(ctl_agent *a, const uint8_t *b, size_t len)
{
    ks_diag d = {0, 0, NULL};
    int err = ks_auth_set_licence(&a->auth, b, len, &d);
    lic.err = err;
    lic.what = err ? (d.what ? d.what : "licence") : NULL;
    lic.have = len == KS_LICENCE_SIZE;
    if (lic.have)
        memcpy(lic.bytes, b, KS_LICENCE_SIZE);
    if (err) {
        ctl_note_refusal(a, err, (uint64_t)time(NULL));
        fprintf(stderr, "keysup-controller: KSE-800 LICENSE_INVALID: the licence is refused "
                        "(%s); `keysup licence list --controller %llu`\n", lic.what,
                (unsigned long long)a->set.controller_id);
    }
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
    lic.err = KS_E_NOTFOUND;
    lic.what = NULL;
    lic.have = 0;
}

static void fetch(ctl_agent *a)
{
    ctl_http_resp r;
    char p[1024];
    if (ctl_http(a, "GET", LICENCE_PATH, NULL, 1, &r) != 0)
        return; /* offline: keep what we hold */
    if (r.status == 404 && ctl_answer_check(a, "GET", LICENCE_PATH, &r, NULL) == KS_OK) {
        if (lic.have) /* revoked at the supervisor */
            drop(a);
    } else if (r.status == 200 && ctl_answer_check(a, "GET", LICENCE_PATH, &r, NULL) == KS_OK &&
               !(lic.have && r.len == KS_LICENCE_SIZE &&
                 memcmp(r.body, lic.bytes, KS_LICENCE_SIZE) == 0)) {
        apply(a, r.body, r.len);
        path_of(a, p, sizeof p);
        /* Kept only when the engine took it: a refused licence must not
         * replace a good one on flash. */
        if (lic.err == KS_OK &&
            ks_file_write_atomic(p, r.body, r.len, 0600, 1) != KS_OK)
            fprintf(stderr, "keysup-controller: %s: cannot keep the licence: %s\n", p,
                    strerror(errno));
    }
    ctl_http_free(&r);
}

void ctl_licence_tick(ctl_agent *a)
{
    uint64_t now = (uint64_t)time(NULL);
    if (!a->auth_ready || !a->set.controller_id)
        return;
    if (!lic.loaded)
        load(a);
    if (now - lic.last_fetch < CTL_LICENCE_EVERY)
        return;
    lic.last_fetch = now;
    fetch(a);
}

json_t *ctl_licence_json(ctl_agent *a)
{
    ks_licence l;
    json_t *o;
    (void)a;
    if (!lic.have)
        return json_pack("{s:s}", "state", "none");
    o = json_pack("{s:s}", "state", lic.err ? "refused" : "valid");
    if (lic.err) {
        json_object_set_new(o, "code", json_string("KSE-800"));
        json_object_set_new(o, "check", json_string(lic.what));
    }
    if (ks_licence_decode(&l, lic.bytes, KS_LICENCE_SIZE, NULL) == KS_OK) {
        json_object_set_new(o, "features", json_integer((json_int_t)l.features));
        json_object_set_new(o, "issued_at", json_integer((json_int_t)l.issued_at));
        json_object_set_new(o, "expires_at", json_integer((json_int_t)l.expires_at));
    }
    return o;
}
