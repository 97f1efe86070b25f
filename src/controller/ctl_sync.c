/*
 * ctl_sync.c - the supervisor link: enrolment, heartbeat with the health
 * report, remediation commands, snapshot and delta sync, audit upload.
 *
 * Order inside one heartbeat, and why:
 *   1. report first, so the supervisor sees the state that needs repair;
 *   2. run the commands it answered with (each acknowledged once done);
 *   3. sync: a delta when one applies, a full download when the store asks
 *      for one (KSE-301), when told to (initialize), or when a delta fails;
 *   4. upload audit records; they are acknowledged in the store only after
 *      the supervisor confirmed them, so nothing is lost or sent twice.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_answer.h"
#include "ctl_hbsess.h"
#include "ctl_hbrep.h"
#include "ctl_http.h"
#include "ctl_tls.h"
#include "ks_hex.h"

#define AUDIT_BATCH 200

static void logf_(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(const char *event, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "keysup-controller: %s ", event);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ctl_enroll(ctl_agent *a, const char *url, const char *token)
{
    int status = 0, err = 1;
    json_t *ans = NULL;
    char bare[128];
    a->o.supervisor = url;
    /* The token may carry the supervisor's TLS pin: checked from this request on. */
    if (ctl_tls_token(a, token, bare, sizeof bare) != 0) {
        fprintf(stderr, "keysup-controller: the provisioning token is malformed (its TLS pin "
                        "part is not 64 hex digits)\n");
        return 1;
    }
    token = bare;
    randombytes_buf(a->set.device_seed, sizeof a->set.device_seed);
    a->set.controller_id = 0;
    ctl_device_key(a);
    char pk[65];
    ks_hex(pk, a->device_pk, sizeof a->device_pk);
    json_t *req = json_pack("{s:s,s:s,s:s,s:i}", "token", token, "public_key", pk,
                            "firmware_version", CTL_FIRMWARE, "protocol_version", a->o.protocol);
    ans = ctl_http_json(a, "POST", "/v1/device/enroll", req, 0, &status);
    json_decref(req);
    if (!ans || status != 200) {
        const char *msg = ans ? json_string_value(json_object_get(json_object_get(ans, "error"), "message")) : NULL;
        if (status == 0) /* no answer at all: say where it looked, not "refused" */
            fprintf(stderr, "keysup-controller: cannot reach the supervisor at %s: is keysupd "
                            "running and listening there? (--supervisor; URL/healthz answers "
                            "when it is)\n", url);
        else
            fprintf(stderr, "keysup-controller: enrolment refused (HTTP %d): %s\n", status,
                    msg ? msg : "no reason given");
        goto cleanup;
    }
    ks_trust t;
    ks_trust_init(&t);
    json_t *keys = json_object_get(ans, "supervisor_keys"), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        uint8_t spk[32];
        if (ks_unhex(spk, sizeof spk, json_string_value(k)) || ks_trust_add(&t, &a->crypto, spk)) {
            fprintf(stderr, "keysup-controller: enrolment answer has a bad supervisor key\n");
            goto cleanup;
        }
    }
    if (t.count == 0) {
        fprintf(stderr, "keysup-controller: enrolment answer pins no supervisor key\n");
        goto cleanup;
    }
    a->set.controller_id = (uint64_t)json_integer_value(json_object_get(ans, "controller_id"));
    a->set.scope = (uint32_t)json_integer_value(json_object_get(ans, "scope"));
    a->set.min_key_format = (uint8_t)json_integer_value(json_object_get(ans, "min_key_format"));
    if (!a->set.min_key_format)
        a->set.min_key_format = 1;
    if (!a->set.max_offline)
        a->set.max_offline = 86400;
    ctl_identity_new(a); /* the unit secret stays in the identity file only */
    if ((err = ks_store_set_trust(&a->store, &t)) != 0 || (err = ctl_settings_save(a)) != 0 ||
        (err = ctl_identity_save(a)) != 0) {
        fprintf(stderr, "keysup-controller: cannot store the enrolment: %s\n", ks_strerror(err));
        err = 1;
        goto cleanup;
    }
    printf("enrolled as controller %llu (scope %u); supervisor key pinned; device key id ",
           (unsigned long long)a->set.controller_id, a->set.scope);
    for (int j = 0; j < KS_CTRL_ID_SIZE; j++)
        printf("%02x", a->ctrl_id16[j]);
    printf("\n");
    err = 0;
cleanup:
    json_decref(ans);
    return err;
}

/* ----- sync ----- */

/* The rotation chain is a signed answer too (ctl_answer.c). */
static int follow_rotation(ctl_agent *a)
{
    return ctl_answer_rotation(a);
}

static int install_bytes(ctl_agent *a, const uint8_t *img, size_t len, ks_diag *d)
{
    ks_recsrc src;
    if (len < KS_SNAP_HEADER_SIZE || (len - KS_SNAP_HEADER_SIZE) % KS_RECORD_SIZE)
        return ks_fail(d, KS_E_FORMAT, (uint32_t)len, "snapshot size");
    ks_recsrc_mem(&src, img + KS_SNAP_HEADER_SIZE, (uint32_t)((len - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE));
    return ks_store_install(&a->store, img, &src, ctl_now(a, NULL), d);
}

/* Initialize Terminal: the whole snapshot into the spare area. */
static int full_download(ctl_agent *a, int force)
{
    ctl_http_resp r;
    ks_diag d = {0};
    int err, st;
    if (ctl_busy(a))
        return KS_E_SUPERVISOR_BUSY; /* told to wait (ctl_resume.c) */
    st = ctl_snapshot_fetch(a, &r); /* resumes a cut download */
    if (st < 0)
        return KS_E_COMM_LOST;
    if (st == 503) {
        ctl_http_free(&r);
        return KS_E_SUPERVISOR_BUSY;
    }
    if (r.status != 200) {
        logf_("sync.full_download_refused", "HTTP %d", r.status);
        ctl_http_free(&r);
        return KS_E_IO;
    }
    /* Not ordered by an operator: never adopt a restored supervisor's
     * database over later revocations (ctl_restore.c). */
    if (!force && (err = ctl_restore_guard(a, r.body, r.len)) != KS_OK) {
        ctl_http_free(&r);
        return err;
    }
    err = install_bytes(a, r.body, r.len, &d);
    if (err == KS_E_SUPERVISOR_UNTRUSTED && follow_rotation(a) == KS_OK) {
        /* the signer is known now: compare the histories before installing */
        if (!force && (err = ctl_restore_guard(a, r.body, r.len)) != KS_OK) {
            ctl_http_free(&r);
            return err;
        }
        err = install_bytes(a, r.body, r.len, &d);
    }
    ctl_http_free(&r);
    if (err) {
        logf_("sync.install_refused", "%s %s", ks_err_name(err), d.what ? d.what : "");
        ctl_note_refusal(a, err, (uint64_t)time(NULL)); /* 700/701 reach the report */
    }
    return err;
}

/* A delta fetched or carried by a watch's answer (ctl_watch.c): the same checks. */
static int delta_bytes(ctl_agent *a, const uint8_t *buf, size_t len)
{
    ks_diag d = {0};
    uint64_t t0 = ctl_thread_cpu_ns();
    int err = ks_store_apply_delta(&a->store, buf, len, ctl_now(a, NULL), NULL, &d);
    if (err == KS_E_SUPERVISOR_UNTRUSTED && follow_rotation(a) == KS_OK)
        err = ks_store_apply_delta(&a->store, buf, len, ctl_now(a, NULL), NULL, &d);
    else
        a->cpu_apply_ns += ctl_thread_cpu_ns() - t0, a->n_apply++; /* no fetch in between */
    if (err) {
        logf_("sync.delta_refused", "%s %s", ks_err_name(err), d.what ? d.what : "");
        ctl_note_refusal(a, err, (uint64_t)time(NULL));
    }
    return err;
}

static int apply_delta(ctl_agent *a, uint64_t from)
{
    char path[64];
    ctl_http_resp r;
    int err;
    snprintf(path, sizeof path, "/v1/device/delta/%llu", (unsigned long long)from);
    if (ctl_busy(a))
        return KS_E_SUPERVISOR_BUSY;
    if (ctl_http(a, "GET", path, NULL, 1, &r) != 0)
        return KS_E_COMM_LOST;
    if (r.status == 503) { /* shed: wait, do not fall back to a full download */
        ctl_busy_note(a, &r);
        ctl_http_free(&r);
        return KS_E_SUPERVISOR_BUSY;
    }
    if (r.status == 204) {
        ctl_http_free(&r);
        return KS_OK;
    }
    if (r.status != 200) {
        ctl_http_free(&r);
        return KS_E_BASE; /* not retained, or we are off the supervisor's line: full download */
    }
    err = delta_bytes(a, r.body, r.len);
    ctl_http_free(&r);
    return err;
}

/* The database is in step at `now`. Persisted only when the version moved
 * or hourly: flash has a write budget, and KSE-110 only needs hour precision. */
static void synced(ctl_agent *a, int changed)
{
    uint64_t now = ctl_now(a, NULL);
    int persist = changed || a->set.last_sync + 3600 < now;
    a->set.last_sync = now;
    if (persist)
        (void)ctl_settings_save(a);
}

static int need_full(ctl_agent *a)
{
    ks_store_info info;
    ks_store_get_info(&a->store, &info);
    return !info.has_snapshot || (info.flags & (KS_STORE_F_NEED_FULL | KS_STORE_F_DAMAGED));
}

static void sync_db(ctl_agent *a, uint64_t published, const uint8_t root[KS_HASH_SIZE], int force)
{
    const ks_snap_header *h = ks_store_header(&a->store);
    uint64_t before = h ? h->version : 0;
    int err = KS_OK;
    if (ctl_busy(a)) {
        err = KS_E_SUPERVISOR_BUSY; /* a 503 told us to wait (ctl_resume.c) */
    } else if (force || need_full(a) || !h) {
        fprintf(stderr, "keysup-controller: sync.full_download%s\n", force ? " (initialize)" : "");
        err = full_download(a, force);
        if (!err) {
            /* A clean install clears the damage; remount to drop stale flags. */
            ks_diag dd = {0};
            if (ks_store_mount(&a->store, &a->scfg, &dd) == KS_OK)
                a->mount_err = KS_OK;
        }
    } else if (ctl_restore_skip(a, published, root)) {
        err = KS_E_SUPERVISOR_RESTORED; /* refused already: no download loop */
    } else if (h->version < published) {
        err = apply_delta(a, h->version);
        if (err && err != KS_E_COMM_LOST && err != KS_E_SUPERVISOR_BUSY)
            err = full_download(a, 0);
    } else if (h->version == published && root && memcmp(h->root, root, KS_HASH_SIZE) != 0) {
        err = full_download(a, 0); /* KSE-300: same version, different database */
    }
    /* not reaching the supervisor, or being told to wait, is no refusal */
    a->last_sync_err = err == KS_E_COMM_LOST || err == KS_E_SUPERVISOR_BUSY ? a->last_sync_err : err;
    h = ks_store_header(&a->store);
    if (!err && h && h->version >= published)
        synced(a, h->version != before);
}

void ctl_sync_to(ctl_agent *a, uint64_t published, const uint8_t *root)
{
    sync_db(a, published, root, 0); /* the push path (ctl_watch.c) */
}

int ctl_sync_delta_bytes(ctl_agent *a, const uint8_t *buf, size_t len)
{
    const ks_snap_header *h = ks_store_header(&a->store);
    uint64_t before = h ? h->version : 0;
    int err;
    /* A store that needs a full download takes no delta: not a refusal,
     * the caller's fallback (ctl_sync_to) downloads. */
    if (!h || need_full(a))
        return KS_E_BASE;
    err = delta_bytes(a, buf, len);
    if (!err) {
        h = ks_store_header(&a->store);
        a->last_sync_err = KS_OK;
        synced(a, h && h->version != before);
    } else {
        a->last_sync_err = err;
    }
    return err;
}

/* ----- remediation commands ----- */

static void ack(ctl_agent *a, json_int_t id, int ok, const char *msg)
{
    char path[96];
    int status;
    snprintf(path, sizeof path, "/v1/device/commands/%lld/ack", (long long)id);
    json_t *b = json_pack("{s:s,s:s}", "result", ok ? "ok" : "failed", "message", msg);
    json_decref(ctl_http_json(a, "POST", path, b, 1, &status));
    json_decref(b);
}

static int time_sync(ctl_agent *a, char *msg, size_t n)
{
    uint8_t nonce[KS_NONCE_SIZE], tok[KS_TIME_TOKEN_SIZE + 1];
    char nh[2 * KS_NONCE_SIZE + 1];
    int status, err;
    size_t got = 0;
    ks_diag d = {0};
    if ((err = ks_auth_time_request(&a->auth, nonce)) != 0) {
        snprintf(msg, n, "time request: %s", ks_err_name(err));
        return err;
    }
    ks_hex(nh, nonce, sizeof nonce);
    json_t *b = json_pack("{s:s}", "nonce", nh);
    json_t *ans = ctl_answer_json(a, "POST", "/v1/device/time", b, &status, &err);
    json_decref(b);
    if (err) {
        snprintf(msg, n, "time answer refused: %s", ks_err_name(err));
        return err;
    }
    const char *th = ans ? json_string_value(json_object_get(ans, "token")) : NULL;
    if (ks_unhex_upto(tok, sizeof tok, th, &got)) {
        snprintf(msg, n, "no time token from the supervisor (HTTP %d)", status);
        json_decref(ans);
        return KS_E_COMM_LOST;
    }
    json_decref(ans);
    err = ks_auth_time_apply(&a->auth, tok, got, &d);
    snprintf(msg, n, err ? "time token refused: %s" : "clock set from the supervisor's signed time%s",
             err ? (d.what ? d.what : ks_err_name(err)) : "");
    return err;
}

static int unlock_all(ctl_agent *a, char *msg, size_t n)
{
    uint8_t by[KS_KEYID_SIZE] = {0};
    int count = 0;
    memcpy(by, "supervisor-cmd", 14);
    for (uint32_t i = 0; i < ks_store_counter_count(&a->store); i++) {
        const ks_counter *c = ks_store_counter_at(&a->store, i);
        if (!c || (c->kind != KS_COUNTER_KEY && c->kind != KS_COUNTER_READER))
            continue;
        if (!c->locked_until && !c->fails)
            continue;
        uint8_t kind = c->kind, id[KS_KEYID_SIZE];
        memcpy(id, c->id, sizeof id);
        if (ks_auth_admin_unlock(&a->auth, kind, id, by) == KS_OK) {
            count++;
            i = (uint32_t)-1; /* the table may have been reordered: rescan */
        }
    }
    snprintf(msg, n, "%d lockout(s) cleared", count);
    return KS_OK;
}

static int run_command(ctl_agent *a, json_t *cmd, uint64_t published, const uint8_t *root)
{
    const char *name = json_string_value(json_object_get(cmd, "command"));
    json_int_t id = json_integer_value(json_object_get(cmd, "id"));
    char msg[256] = "";
    int err = KS_OK;
    if (!name)
        return 0;
    if (strcmp(name, "initialize") == 0) {
        sync_db(a, published, root, 1);
        err = a->last_sync_err;
        snprintf(msg, sizeof msg, err ? "full download failed: %s" : "full download applied%s",
                 err ? ks_err_name(err) : "");
    } else if (!a->auth_ready) {
        err = KS_E_INVAL;
        snprintf(msg, sizeof msg, "the auth engine is not running");
    } else if (strcmp(name, "time_sync") == 0) {
        err = time_sync(a, msg, sizeof msg);
    } else if (strcmp(name, "unlock") == 0) {
        err = unlock_all(a, msg, sizeof msg);
    } else if (strcmp(name, "clear_pending") == 0) {
        err = ks_auth_txn_pending(&a->auth) ? ks_auth_txn_done(&a->auth) : KS_OK;
        snprintf(msg, sizeof msg, err ? "cannot clear: %s" : "pending transactions cleared%s",
                 err ? ks_err_name(err) : "");
    } else if (strcmp(name, "tls_pin") == 0) {
        err = ctl_tls_pin_cmd(a, json_object_get(cmd, "args"), msg, sizeof msg);
    } else if (strcmp(name, "replace_credential") == 0) {
        err = ctl_credential_command(a, id, json_object_get(cmd, "args"), msg, sizeof msg);
        if (err == 1)
            return 0; /* not yet: acknowledged once the code is entered */
    } else {
        err = KS_E_INVAL;
        snprintf(msg, sizeof msg, "unknown command '%s'", name);
    }
    if (err == KS_E_COMM_LOST)
        return 0; /* retried at the next heartbeat */
    ack(a, id, err == KS_OK, msg);
    return 0;
}

/* ----- audit upload ----- */

static json_t *audit_json(ctl_agent *a, uint64_t seq, const uint8_t p[KS_AUDIT_PAYLOAD])
{
    ks_audit_rec r;
    char kid[33], rd[KS_READER_ID_SIZE + 1] = {0}, ph[65], hh[65], code[16];
    uint8_t h[KS_HASH_SIZE];
    if (ks_audit_decode(&r, p, NULL) != KS_OK)
        return json_pack("{s:I,s:s}", "seq", (json_int_t)seq, "event", "unreadable");
    const ks_action_def *def = ks_action_find(r.action);
    ks_audit_hash(&a->crypto, h, p);
    ks_hex(kid, r.key_id, sizeof r.key_id);
    memcpy(rd, r.reader, KS_READER_ID_SIZE);
    ks_hex(ph, r.prev, sizeof r.prev);
    ks_hex(hh, h, sizeof h);
    snprintf(code, sizeof code, "KSE-%d", ks_err_kse(r.err));
    /* clock: the engine's KS_CLOCK_* flags, so the supervisor can tell a
     * trusted time from a guess when it orders decisions across controllers
     * (clone detection, docs/diagnosis.md). */
    /* raw: the bytes the chain hash is over, so keysupd re-checks the chain
     * and every member against them on upload (sup_auditchain.c). */
    char raw[2 * KS_AUDIT_PAYLOAD + 1];
    ks_hex(raw, p, KS_AUDIT_PAYLOAD);
    return json_pack("{s:I,s:I,s:i,s:s,s:s?,s:s,s:s,s:I,s:I,s:s,s:s,s:b,s:i,s:s}", "seq", (json_int_t)seq,
                     "time", (json_int_t)r.time, "event", r.event, "action",
                     def ? def->name : "none", "code", r.err && ks_err_kse(r.err) ? code : NULL,
                     "key_id", kid, "reader", rd, "detail", (json_int_t)r.detail, "index",
                     (json_int_t)r.index, "prev", ph, "hash", hh, "granted",
                     r.event == KS_EV_DECISION && r.err == 0, "clock", (int)r.clock, "raw", raw);
}

static void upload_audit(ctl_agent *a)
{
    ks_store_info info;
    ks_store_get_info(&a->store, &info);
    if (a->uploaded > info.audit_last)
        a->uploaded = 0; /* the store was formatted again: its sequence starts over */
    for (int round = 0; round < 20; round++) {
        json_t *recs = json_array();
        uint64_t after = a->uploaded, seq = 0; /* acknowledged, perhaps not on flash yet */
        uint8_t p[KS_AUDIT_PAYLOAD];
        while (json_array_size(recs) < AUDIT_BATCH &&
               ks_store_audit_read(&a->store, after, p, &seq) == KS_OK) {
            json_array_append_new(recs, audit_json(a, seq, p));
            after = seq;
        }
        if (json_array_size(recs) == 0) {
            json_decref(recs);
            return;
        }
        int status, aerr;
        json_t *b = json_pack("{s:o}", "records", recs);
        json_t *ans = ctl_answer_json(a, "POST", "/v1/device/audit", b, &status, &aerr);
        json_decref(b);
        json_int_t through = ans && status == 200
                                 ? json_integer_value(json_object_get(ans, "acked_through")) : 0;
        json_decref(ans);
        if (through <= 0 || (uint64_t)through != after)
            return; /* not confirmed: keep them, resend next time (idempotent) */
        a->uploaded = after;
        ctl_audit_ack_save(a, 0);
    }
}

/* ----- heartbeat ----- */

static void fault_powercut_check(ctl_agent *a)
{
    if (!a->flash.powered) {
        fprintf(stderr, "keysup-controller: power cut (fault hook): dying mid-write\n");
        _exit(99);
    }
}

int ctl_heartbeat(ctl_agent *a)
{
    uint64_t now = (uint64_t)time(NULL);
    int status = 0;
    a->last_attempt = now;
    if (!a->set.controller_id)
        return KS_E_INVAL;

    /* Integrity: a full CRC scan is cheap at controller scale and catches a
     * sector damaged since boot before a key lookup trips over it. */
    int scrub = ctl_scrub_tick(a); /* the medium itself, not only the RAM copy */
    ks_diag cd = {0};
    int cerr = ks_store_check(&a->store, &cd);
    if (scrub == 1 && cerr == KS_OK)
        fprintf(stderr, "keysup-controller: the change at flash byte %u is outside live data; "
                        "no download needed\n", a->medium_change_at);
    if (cerr == KS_E_STORE_CORRUPT || cerr == KS_E_ROOT) {
        if (!a->damage_reported)
            fprintf(stderr, "keysup-controller: KSE-301 STORE_CORRUPT at flash byte %u (%s); "
                            "full download requested\n", cd.offset, cd.what ? cd.what : "?");
        a->damage_reported = 1;
        ks_store_mark_damaged(&a->store, &cd);
    } else if (cerr == KS_OK) {
        a->damage_reported = 0;
    }

    json_t *report = ctl_status_json(a);
    uint64_t tnow = 0;
    if (a->auth_ready)
        (void)ks_auth_now(&a->auth, &tnow);
    json_object_set_new(report, "time", json_integer((json_int_t)(tnow ? tnow : ctl_rtc(a))));
    json_object_set_new(report, "firmware_version", json_string(CTL_FIRMWARE));
    json_object_set_new(report, "protocol_version", json_integer(a->o.protocol));
    /* the supervisor's missed-heartbeat count starts from this (row 10) */
    json_object_set_new(report, "heartbeat_interval", json_integer(a->o.heartbeat));
    char inst[17];
    snprintf(inst, sizeof inst, "%016llx", (unsigned long long)a->instance);
    json_object_set_new(report, "instance", json_string(inst));
    json_object_set_new(report, "lockout",
                        json_boolean(json_array_size(json_object_get(report, "lockouts")) > 0));
    ctl_hbsess_offer(a, report); /* when no session is open (ctl_hbsess.h) */
    /* the report, or only what moved when keysupd holds the rest (ctl_hbrep.h) */
    json_t *body = ctl_hbrep_body(a, report);
    int aerr = 0;
    json_t *ans = ctl_answer_json(a, "POST", "/v1/device/heartbeat", body ? body : report,
                                  &status, &aerr);
    if (ctl_hbrep_retry(a, status, ans)) { /* 409 KSE-123: keysupd holds no report */
        json_decref(ans);
        ans = ctl_answer_json(a, "POST", "/v1/device/heartbeat", report, &status, &aerr);
    }
    ctl_hbrep_answer(a, status == 200 ? ans : NULL); /* ans is verified or NULL */
    json_decref(body);
    json_decref(report);
    ctl_hbsess_accept(a, status == 200 ? ans : NULL); /* ans is verified or NULL */
    fault_powercut_check(a);
    if (aerr)
        return aerr; /* not authentic: refused and counted, nothing acted on */
    if ((status == 503 || status == 429) && a->shed_retry_after) {
        json_decref(ans);
        ctl_shed_heartbeat(a); /* busy, not lost: no KSE-100 */
        return KS_E_SUPERVISOR_BUSY;
    }
    if (!ans || status != 200) {
        json_decref(ans);
        /* KSE-100 counts from the last answer, on the monotonic clock, at
         * the time the request failed (not when it started). */
        ctl_link_watch(a);
        return KS_E_COMM_LOST;
    }
    if (a->comm_lost)
        fprintf(stderr, "keysup-controller: link to the supervisor restored\n");
    a->comm_lost = 0;
    a->last_contact = (uint64_t)time(NULL);
    a->last_contact_ms = ctl_mono_ms();
    ctl_http_keep_nonce(a, ans); /* the next heartbeat's nonce, when keysupd sent one */

    uint64_t published = (uint64_t)json_integer_value(json_object_get(ans, "version"));
    const char *rh = json_string_value(json_object_get(ans, "root"));
    uint8_t root[KS_HASH_SIZE];
    int have_root = ks_unhex(root, sizeof root, rh) == 0;
    json_t *st = json_object_get(ans, "server_time");
    if (a->auth_ready && json_is_integer(st))
        (void)ks_auth_time_hint(&a->auth, (uint64_t)json_integer_value(st));

    json_t *cmds = json_object_get(ans, "commands"), *c;
    size_t i;
    json_array_foreach(cmds, i, c) {
        run_command(a, c, published, have_root ? root : NULL);
        fault_powercut_check(a);
    }
    if (published)
        sync_db(a, published, have_root ? root : NULL, 0);
    fault_powercut_check(a);
    if (a->auth_ready)
        upload_audit(a);
    fault_powercut_check(a);
    ctl_identity_sync(a); /* the pins in the identity file follow a rotation */
    json_decref(ans);
    return KS_OK;
}
