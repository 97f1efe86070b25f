/*
 * ctl_answer.c - checks the supervisor's signature on an answer before the
 * controller acts on it (docs/formats.md, "Signed answer").
 *
 * Why every answer and not only the snapshot: the snapshot is signed, but
 * what tells the controller to act is not in it - the published version and
 * root, the commands and their arguments, the rotation chain, an audit
 * acknowledgement. A proxy on the site network could bend those (and did:
 * docs/controller.md). The signature binds the answer to this controller
 * and to the single-use nonce of the request, so it can be neither
 * rewritten, nor replayed later, nor swapped with another answer.
 */
#define _POSIX_C_SOURCE 200809L
#include "ctl_answer.h"
#include "ctl_hbsess.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ks_cred.h"
#include "ks_hex.h"

#define ROTATION_PATH "/v1/device/rotation"

static int refuse(ctl_agent *a, int err, const char *method, const char *path, const char *why)
{
    ctl_note_refusal(a, err, (uint64_t)time(NULL));
    if (err == KS_E_SUPERVISOR_UNTRUSTED)
        a->last_sync_err = err; /* a condition of the report, like an untrusted snapshot */
    fprintf(stderr, "keysup-controller: KSE-%d %s: answer to %s %s: %s; nothing changed\n",
            ks_err_kse(err), ks_err_name(err), method, path, why);
    return err;
}

int ctl_answer_check(ctl_agent *a, const char *method, const char *path, const ctl_http_resp *r,
                     uint8_t signer_pk[32])
{
    ks_answer an;
    uint8_t sig[KS_SIG_SIZE], claimed[KS_PUBKEY_SIZE];
    const ks_trust *pinned = ks_store_trust(&a->store);
    char why[160], fp[KS_FINGERPRINT_LEN + 1];

    if (!r->signed_req)
        return refuse(a, KS_E_ANSWER_NOT_AUTHENTIC, method, path, "the request carried no nonce");
    if (r->mac_req) /* a heartbeat of the session: its answer is MAC'd (ctl_hbsess.c) */
        return ctl_hbsess_check(a, method, path, r) == 0
                   ? KS_OK
                   : refuse(a, KS_E_ANSWER_NOT_AUTHENTIC, method, path,
                            "the session MAC does not verify (changed, replayed or meant for "
                            "another request); the next heartbeat is signed");
    memset(&an, 0, sizeof an);
    an.controller_id = a->set.controller_id;
    memcpy(an.device_key_id, a->ctrl_id16, KS_KEYID_SIZE);
    memcpy(an.nonce, r->nonce, sizeof an.nonce);
    an.status = (uint16_t)r->status;
    ks_answer_bind(&a->crypto, &an, method, path, r->body, r->len);
    if (ks_unhex(sig, sizeof sig, r->answer_sig) != 0)
        return refuse(a, KS_E_ANSWER_NOT_AUTHENTIC, method, path,
                      "no X-Keysup-Answer-Signature on it");
    if (pinned && ks_answer_verify(&a->crypto, &an, sig, pinned, NULL) == KS_OK)
        return KS_OK;
    if (ks_unhex(claimed, sizeof claimed, r->answer_key) != 0 ||
        ks_answer_verify_key(&a->crypto, &an, sig, claimed) != KS_OK)
        return refuse(a, KS_E_ANSWER_NOT_AUTHENTIC, method, path,
                      "the supervisor's signature does not verify (changed, replayed or "
                      "meant for another request)");
    /* A genuine signature by a key not pinned here: the supervisor may have
     * rotated to it. Only a rotation chain from a pinned key can say so. */
    if (strcmp(path, ROTATION_PATH) == 0) {
        ks_trust t = *pinned;
        if (r->status == 200 && ks_trust_follow(&t, &a->crypto, r->body, r->len, NULL) == KS_OK &&
            ks_answer_verify(&a->crypto, &an, sig, &t, NULL) == KS_OK)
            return KS_OK;
    } else if (ctl_answer_rotation(a) == KS_OK &&
               ks_answer_verify(&a->crypto, &an, sig, ks_store_trust(&a->store), NULL) == KS_OK) {
        return KS_OK;
    }
    if (signer_pk)
        memcpy(signer_pk, claimed, KS_PUBKEY_SIZE);
    ks_key_fingerprint(&a->crypto, claimed, fp);
    snprintf(why, sizeof why, "signed by supervisor key %s, which this controller has not pinned "
             "and no rotation record leads to", fp);
    return refuse(a, KS_E_SUPERVISOR_UNTRUSTED, method, path, why);
}

json_t *ctl_answer_json(ctl_agent *a, const char *method, const char *path, json_t *body,
                        int *status, int *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    ctl_http_resp r;
    json_t *o = NULL;
    uint8_t signer[KS_PUBKEY_SIZE];
    *status = 0;
    *err = 0;
    if (ctl_http(a, method, path, text, 1, &r) == 0) {
        *status = r.status;
        o = json_loadb((const char *)r.body, r.len, 0, NULL);
        if (r.status >= 200 && r.status < 300 &&
            (*err = ctl_answer_check(a, method, path, &r, signer)) != KS_OK) {
            if (*err == KS_E_SUPERVISOR_UNTRUSTED && o && strcmp(path, "/v1/device/heartbeat") == 0)
                ctl_credential_untrusted(a, o, signer);
            json_decref(o);
            o = NULL;
        }
    }
    ctl_http_free(&r);
    free(text);
    return o;
}

int ctl_answer_rotation(ctl_agent *a)
{
    ctl_http_resp r;
    int err = KS_E_SUPERVISOR_UNTRUSTED;
    if (ctl_http(a, "GET", ROTATION_PATH, NULL, 1, &r) != 0)
        return KS_E_COMM_LOST;
    if (r.status == 200 && (err = ctl_answer_check(a, "GET", ROTATION_PATH, &r, NULL)) == KS_OK) {
        ks_trust t = *ks_store_trust(&a->store);
        err = ks_trust_follow(&t, &a->crypto, r.body, r.len, NULL);
        if (!err)
            err = ks_store_set_trust(&a->store, &t);
    }
    ctl_http_free(&r);
    return err;
}
