/*
 * ctl_ops.c - what the control socket does: the operations of the reader
 * (challenge, respond), the terminal (session actions, seal switch,
 * finishing a transaction, typing a one-time code) and the technician
 * (status, help), as one table. The dispatcher (ctl_handle) looks the op up,
 * refuses what needs enrolment before the controller is enrolled, and hands
 * the request to the handler. The fault hooks are not here: ctl_fault.c.
 * docs/controller.md lists every request.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl_licence.h"
#include "ctl_ops.h"
#include "ks_cred.h"
#include "ks_hex.h"

json_t *ctl_fail(const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

json_t *ctl_kse_fail(int err, const char *what)
{
    char code[32];
    int kse = ks_err_kse(err);
    if (kse)
        snprintf(code, sizeof code, "KSE-%d", kse);
    else
        snprintf(code, sizeof code, "%s", ks_err_name(err));
    json_t *e = json_pack("{s:s,s:s,s:s}", "code", code, "symbol", ks_err_name(err), "message",
                          ks_strerror(err));
    if (what)
        json_object_set_new(e, "check", json_string(what));
    return json_pack("{s:o}", "error", e);
}

/* Reader names are at most 16 bytes, zero padded into the reader id. */
static int reader_id(json_t *req, uint8_t out[KS_READER_ID_SIZE], json_t **err)
{
    const char *r = json_string_value(json_object_get(req, "reader"));
    if (!r)
        r = "reader-1";
    size_t n = strlen(r);
    if (n == 0 || n > KS_READER_ID_SIZE) {
        *err = ctl_fail("BAD_REQUEST", "reader: a name of 1 to 16 bytes, got '%s'", r);
        return -1;
    }
    memset(out, 0, KS_READER_ID_SIZE);
    memcpy(out, r, n);
    return 0;
}

static const ks_action_def *action_arg(json_t *req, json_t **err)
{
    const char *name = json_string_value(json_object_get(req, "action"));
    const ks_action_def *def = name ? ks_action_by_name(name, strlen(name)) : NULL;
    if (!def)
        *err = ctl_fail("BAD_REQUEST", "action: unknown action '%s' (see docs/auth.md)",
                        name ? name : "");
    return def;
}

static uint64_t now_of(ctl_agent *a)
{
    uint64_t now = 0;
    if (a->auth_ready)
        (void)ks_auth_now(&a->auth, &now);
    return now ? now : ctl_rtc(a);
}

/* The declared degraded policy once the database is too old (KSE-110). */
static int degraded_refuses(ctl_agent *a, const ks_action_def *def)
{
    int trusted = 0, refuse;
    if (!ctl_stale(a, ctl_now(a, &trusted)))
        return 0;
    switch (a->set.degraded) {
    case CTL_DEGRADED_ALLOW: refuse = 0; break;
    case CTL_DEGRADED_DENY_ALL: refuse = 1; break;
    default: refuse = ks_action_needs_supervisor(def);
    }
    /* "Stale" by a clock the engine does not trust (a jump): the age cannot
     * be judged, and the cause to name is the clock, not the link. */
    if (!trusted) {
        uint64_t now;
        int cerr = a->auth_ready ? ks_auth_now(&a->auth, &now) : KS_E_RTC_FAILURE;
        return cerr ? cerr : KS_E_CLOCK_SKEW;
    }
    return refuse ? KS_E_SYNC_STALE : 0;
}

/* The degraded-policy refusal, noted for the health report; NULL: go on. */
static json_t *degraded_answer(ctl_agent *a, const ks_action_def *def)
{
    int derr = degraded_refuses(a, def);
    if (!derr)
        return NULL;
    ctl_note_refusal(a, derr, now_of(a));
    return ctl_kse_fail(derr, derr == KS_E_SYNC_STALE ? "controller.degraded_policy" : "auth.clock");
}

static json_t *op_challenge(ctl_agent *a, json_t *req)
{
    uint8_t reader[KS_READER_ID_SIZE], ch[KS_CHALLENGE_SIZE];
    char hex[2 * KS_CHALLENGE_SIZE + 1];
    json_t *err = NULL;
    const ks_action_def *def;
    if (reader_id(req, reader, &err) || !(def = action_arg(req, &err)))
        return err;
    if ((err = degraded_answer(a, def)) != NULL)
        return err;
    int rc = ks_auth_challenge(&a->auth, reader, def->id, ch);
    if (rc) {
        ctl_note_refusal(a, rc, now_of(a));
        return ctl_kse_fail(rc, NULL);
    }
    ks_hex(hex, ch, sizeof ch);
    return json_pack("{s:s,s:s}", "challenge", hex, "action", def->name);
}

static json_t *result_json(ctl_agent *a, int rc, const ks_auth_result *res)
{
    char hex[2 * KS_KEYID_SIZE + 1];
    json_t *o = json_object();
    const ks_action_def *def = ks_action_find(res->action);
    json_object_set_new(o, "granted", json_boolean(rc == KS_OK));
    json_object_set_new(o, "second_supervisor_needed", json_boolean(rc == KS_AUTH_SECOND));
    json_object_set_new(o, "action", json_string(def ? def->name : "?"));
    if (res->key_known) {
        ks_hex(hex, res->record.key_id, KS_KEYID_SIZE);
        json_object_set_new(o, "key_id", json_string(hex));
        json_object_set_new(o, "holder_id", json_integer((json_int_t)res->record.holder_id));
    }
    if (res->session)
        json_object_set_new(o, "session", json_integer(res->session));
    if (rc == KS_E_IO) {
        /* The decision could not be recorded (the use counter, the audit
         * record): a flash write failed. Refused, as it must be, but named
         * as the hardware fault it is, not a bare "IO" (field5). */
        json_t *e = ctl_kse_fail(KS_E_HARDWARE_FAULT, "store.write");
        json_object_set_new(json_object_get(e, "error"), "message",
                            json_string("the decision could not be recorded: a write to the "
                                        "flash failed (its disk full or failing); refused"));
        json_object_update(o, e);
        json_decref(e);
        ctl_note_refusal(a, KS_E_HARDWARE_FAULT, res->time ? res->time : now_of(a));
        return o;
    }
    if (rc < 0) {
        json_t *e = ctl_kse_fail(rc, res->what);
        json_object_update(o, e);
        json_decref(e);
        if (rc == KS_E_NOT_SUPERVISOR && def && res->key_known) {
            /* Name what is missing (REFUND), not only that something is. */
            uint64_t miss = def->privileges & ~res->record.privileges;
            json_t *m = json_array();
            for (unsigned b = 0; b < 64; b++) {
                const char *name = (miss >> b) & 1u ? ks_priv_name(1ull << b) : NULL;
                if ((miss >> b) & 1u)
                    json_array_append_new(m, json_string(name ? name : "?"));
            }
            json_object_set_new(o, "missing_privileges", m);
        }
        if (rc == KS_E_LICENCE_INVALID)
            ctl_licence_explain(a, o); /* the feature to ask for, the licence held */
        ctl_note_refusal(a, rc, res->time ? res->time : now_of(a));
    }
    return o;
}

static json_t *op_respond(ctl_agent *a, json_t *req)
{
    uint8_t reader[KS_READER_ID_SIZE], resp[KS_RESPONSE_SIZE + 1];
    size_t len = 0;
    json_t *err = NULL;
    const char *hex = json_string_value(json_object_get(req, "response"));
    json_t *kerr = json_object_get(req, "key_error");
    if (reader_id(req, reader, &err))
        return err;
    if (kerr) {
        /* The reader says the key failed before it could answer (a token
         * absent, locked, pulled out): no decision, but the cause is counted
         * like the key causes the engine finds itself. */
        json_int_t code = json_integer_value(kerr);
        if (!json_is_integer(kerr) || code < 200 || code > 299 || !ks_err_kse(-(int)code))
            return ctl_fail("BAD_REQUEST", "key_error: a key cause KSE-2xx expected");
        ctl_note_refusal(a, -(int)code, now_of(a));
        return ctl_kse_fail(-(int)code, "key.reader");
    }
    if (ks_unhex_upto(resp, sizeof resp, hex, &len) != 0)
        return ctl_fail("BAD_REQUEST", "response: hex of the key's %d-byte answer expected",
                        KS_RESPONSE_SIZE);
    unsigned flags = json_is_true(json_object_get(req, "session")) ? KS_AUTH_F_SESSION : 0;
    ks_auth_result res;
    memset(&res, 0, sizeof res);
    int rc = ks_auth_respond(&a->auth, reader, resp, len, flags, &res);
    return result_json(a, rc, &res);
}

static json_t *op_session_action(ctl_agent *a, json_t *req)
{
    uint8_t reader[KS_READER_ID_SIZE];
    json_t *err = NULL;
    const ks_action_def *def;
    if (reader_id(req, reader, &err) || !(def = action_arg(req, &err)))
        return err;
    json_int_t session = json_integer_value(json_object_get(req, "session"));
    if ((err = degraded_answer(a, def)) != NULL)
        return err;
    ks_auth_result res;
    memset(&res, 0, sizeof res);
    int rc = ks_auth_session_action(&a->auth, (uint32_t)session, reader, def->id, &res);
    res.action = def->id;
    return result_json(a, rc, &res);
}

static json_t *op_session_close(ctl_agent *a, json_t *req)
{
    json_int_t session = json_integer_value(json_object_get(req, "session"));
    int rc = ks_auth_session_close(&a->auth, (uint32_t)session);
    return rc ? ctl_kse_fail(rc, NULL) : json_pack("{s:b}", "ok", 1);
}

static json_t *op_txn_done(ctl_agent *a, json_t *req)
{
    (void)req;
    int rc = ks_auth_txn_done(&a->auth);
    return rc ? ctl_kse_fail(rc, NULL) : json_pack("{s:b}", "ok", 1);
}

static json_t *op_status(ctl_agent *a, json_t *req)
{
    (void)req;
    return ctl_status_json(a);
}

static json_t *op_seal(ctl_agent *a, json_t *req)
{
    a->seal_on = json_is_true(json_object_get(req, "on"));
    return json_pack("{s:b}", "seal_on", a->seal_on);
}

/* Replace Supervisor Credential: the code the operator was given, typed
 * here once the unit shows the key it is offered; the pending command
 * checks it at the next heartbeat. */
static json_t *op_enter_code(ctl_agent *a, json_t *req)
{
    const char *code = json_string_value(json_object_get(req, "code"));
    char fp[KS_FINGERPRINT_LEN + 1];
    if (!code || strlen(code) >= sizeof a->entered_code)
        return ctl_fail("BAD_REQUEST", "code: the one-time code (8 digits)");
    /* Nothing offered yet: refused, not kept (field5). A kept code was
     * checked against whatever key the next offer named, before the unit
     * had shown its fingerprint, so the comparison the code exists for
     * was skipped; the code alone cannot tell the operator's key from one
     * a proxy offers with a code it learnt. */
    if (!a->rc_command)
        return ctl_fail("NOT_OFFERED", "no Replace Supervisor Credential has reached this unit "
                        "yet, so the code was not kept: wait until `ctl status` shows the new "
                        "key's fingerprint, compare it with the one the operator reads out, "
                        "then type the code again");
    snprintf(a->entered_code, sizeof a->entered_code, "%s", code);
    /* Say which key the code is about to authorise. */
    ks_key_fingerprint(&a->crypto, a->rc_pk, fp);
    return json_pack("{s:b,s:I,s:s}", "ok", 1, "command", (json_int_t)a->rc_command,
                     "new_key_fingerprint", fp);
}

static void list_ops(json_t *arr, const ctl_op *t)
{
    for (; t->name; t++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s}", "op", t->name, "args", t->args,
                                             "needs_enrolment", (t->flags & CTL_OP_ENROLLED) != 0,
                                             "help", t->help));
}

static json_t *op_help(ctl_agent *a, json_t *req)
{
    (void)req;
    json_t *o = json_object(), *ops = json_array();
    list_ops(ops, ctl_ops);
    if (a->o.fault_hooks) {
        list_ops(ops, ctl_fault_ops);
        json_object_set_new(o, "fault_kinds", ctl_fault_kinds_json());
    }
    json_object_set_new(o, "ops", ops);
    json_object_set_new(o, "fault_hooks", json_boolean(a->o.fault_hooks));
    return o;
}

const ctl_op ctl_ops[] = {
    {"status", "", 0, op_status, "the controller's state, as `ctl status` shows it"},
    {"help", "", 0, op_help, "this list"},
    {"seal", "on", 0, op_seal, "the seal switch: on (true) blocks calibration"},
    {"enter_code", "code", 0, op_enter_code,
     "the one-time code of a pending Replace Supervisor Credential"},
    {"challenge", "reader? action", CTL_OP_ENROLLED, op_challenge,
     "a key was presented at reader for action: the challenge to sign"},
    {"respond", "reader? response? key_error? session?", CTL_OP_ENROLLED, op_respond,
     "the key's answer (hex): the decision; session true opens a session"},
    {"session_action", "reader? action session", CTL_OP_ENROLLED, op_session_action,
     "a further action inside an open session"},
    {"session_close", "session", CTL_OP_ENROLLED, op_session_close, "ends a session"},
    {"txn_done", "", CTL_OP_ENROLLED, op_txn_done,
     "the terminal finished the granted transaction"},
    {NULL, NULL, 0, NULL, NULL},
};

static const ctl_op *find(const ctl_op *t, const char *name)
{
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

json_t *ctl_handle(ctl_agent *a, json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "op"));
    if (!name)
        return ctl_fail("BAD_REQUEST", "op: missing");
    const ctl_op *op = find(ctl_ops, name);
    if (!op && (op = find(ctl_fault_ops, name)) != NULL && !a->o.fault_hooks)
        return ctl_fail("BAD_REQUEST", "op: '%s' is a test hook, off in this agent (start it "
                        "with --enable-fault-hooks)", name);
    if (!op)
        return ctl_fail("BAD_REQUEST", "op: unknown '%s'", name);
    if ((op->flags & CTL_OP_ENROLLED) && !a->auth_ready)
        return ctl_fail("NOT_ENROLLED", "this controller is not enrolled: run `keysup-controller "
                                        "enroll --supervisor URL --token T`");
    return op->fn(a, req);
}
