/*
 * ctl_credential.c - Replace Supervisor Credential at the controller
 * (docs/controller.md).
 *
 * The command names the supervisor key to pin and carries an Argon2id tag
 * of the one-time code bound to that key and to this controller
 * (ks_cred.h). The controller shows the key's fingerprint (`ctl status`)
 * so the technician can compare it with the one the operator read out,
 * and pins the key only when the code typed here reproduces the tag: a
 * proxy that swaps the key, or replays the command to another controller,
 * fails. Each typed code gets one try.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ctl_answer.h"
#include "ks_cred.h"
#include "ks_hex.h"

typedef struct rc_args {
    uint8_t pk[KS_PUBKEY_SIZE];
    uint8_t tag[KS_CRED_TAG_SIZE];
    uint32_t ops, mem_kib;
} rc_args;

static int parse(json_t *args, rc_args *r)
{
    const char *pkh = json_string_value(json_object_get(args, "supervisor_public_key"));
    const char *th = json_string_value(json_object_get(args, "code_tag"));
    const char *kdf = json_string_value(json_object_get(args, "kdf"));
    json_int_t ops = json_integer_value(json_object_get(args, "ops"));
    json_int_t mem = json_integer_value(json_object_get(args, "mem_kib"));
    if (!pkh || !th || !kdf || strcmp(kdf, "argon2id13") != 0 ||
        ks_unhex(r->pk, sizeof r->pk, pkh) || ks_unhex(r->tag, sizeof r->tag, th) || ops < 1 || ops > KS_CRED_OPS_MAX || mem < 8 ||
        mem > KS_CRED_MEM_KIB_MAX)
        return KS_E_FORMAT;
    r->ops = (uint32_t)ops;
    r->mem_kib = (uint32_t)mem;
    return KS_OK;
}

/* Checks the typed code (and forgets it) and pins the key. */
static int confirm(ctl_agent *a, json_int_t id, const rc_args *r, char *msg, size_t n)
{
    uint8_t tag[KS_CRED_TAG_SIZE];
    char fp[KS_FINGERPRINT_LEN + 1];
    ks_trust t;
    char code[sizeof a->entered_code];
    uint64_t cid = a->set.controller_id;
    uint8_t kid[KS_CTRL_ID_SIZE];
    int err;
    /* The KDF is slow on purpose (tens of MiB, a few passes): run it with
     * the agent unlocked, so decisions at the reader do not wait for it. */
    memcpy(code, a->entered_code, sizeof code);
    memcpy(kid, a->ctrl_id16, sizeof kid);
    sodium_memzero(a->entered_code, sizeof a->entered_code);
    ctl_unlock(a);
    err = ks_cred_tag(code, cid, kid, r->pk, r->ops, r->mem_kib, tag);
    ctl_lock(a);
    sodium_memzero(code, sizeof code);
    ks_key_fingerprint(&a->crypto, r->pk, fp);
    if (err) {
        snprintf(msg, n, "cannot check the one-time code: %s", ks_strerror(err));
        return err;
    }
    if (sodium_memcmp(tag, r->tag, sizeof tag) != 0) {
        snprintf(msg, n, "the one-time code entered at the controller does not authorise key %s "
                 "for this controller", fp);
        fprintf(stderr, "keysup-controller: credential.refused %s; the pinned key is unchanged\n",
                msg);
        return KS_E_SUPERVISOR_UNTRUSTED;
    }
    ks_trust_init(&t);
    err = ks_trust_add(&t, &a->crypto, r->pk);
    if (!err)
        err = ks_store_set_trust(&a->store, &t);
    if (err) {
        snprintf(msg, n, "cannot store the new supervisor key");
        return err;
    }
    a->rc_command = 0;
    a->rc_done = (int64_t)id;
    snprintf(msg, n, "supervisor key replaced: %s", fp);
    fprintf(stderr, "keysup-controller: credential.replaced key %s\n", fp);
    return KS_OK;
}

static void offered(ctl_agent *a, json_int_t id, const rc_args *r)
{
    if (a->rc_command != (int64_t)id || memcmp(a->rc_pk, r->pk, sizeof r->pk) != 0) {
        char fp[KS_FINGERPRINT_LEN + 1];
        ks_key_fingerprint(&a->crypto, r->pk, fp);
        fprintf(stderr, "keysup-controller: credential.offered command %lld key %s; enter the "
                "one-time code only if the operator reads the same fingerprint\n",
                (long long)id, fp);
    }
    a->rc_command = (int64_t)id;
    memcpy(a->rc_pk, r->pk, sizeof a->rc_pk);
}

int ctl_credential_command(ctl_agent *a, json_int_t id, json_t *args, char *msg, size_t n)
{
    rc_args r;
    const ks_trust *cur = ks_store_trust(&a->store);
    if (parse(args, &r) != KS_OK) {
        snprintf(msg, n, "malformed replace_credential arguments");
        return KS_E_FORMAT;
    }
    if ((int64_t)id == a->rc_done && cur->count == 1 &&
        memcmp(cur->keys[0], r.pk, sizeof r.pk) == 0) {
        snprintf(msg, n, "supervisor key replaced"); /* our acknowledgement was lost */
        return KS_OK;
    }
    offered(a, id, &r);
    if (!a->entered_code[0])
        return 1; /* still waiting for the code at the controller */
    return confirm(a, id, &r, msg, n);
}

void ctl_credential_untrusted(ctl_agent *a, json_t *ans, const uint8_t signer_pk[32])
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(ans, "commands"), i, c) {
        const char *name = json_string_value(json_object_get(c, "command"));
        json_int_t id = json_integer_value(json_object_get(c, "id"));
        char msg[256], path[96];
        rc_args r;
        int err, status;
        if (!name || strcmp(name, "replace_credential") != 0 ||
            parse(json_object_get(c, "args"), &r) != KS_OK ||
            memcmp(r.pk, signer_pk, sizeof r.pk) != 0)
            continue; /* only the key that signed this very answer can be offered by it */
        offered(a, id, &r);
        if (!a->entered_code[0])
            return;
        err = confirm(a, id, &r, msg, sizeof msg);
        snprintf(path, sizeof path, "/v1/device/commands/%lld/ack", (long long)id);
        json_t *b = json_pack("{s:s,s:s}", "result", err ? "failed" : "ok", "message", msg);
        json_decref(ctl_answer_json(a, "POST", path, b, &status, &err));
        json_decref(b);
        return;
    }
}
