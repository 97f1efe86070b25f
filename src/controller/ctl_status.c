/*
 * ctl_status.c - what the controller knows about itself, as one JSON
 * object: `keysup-controller ctl status` shows it and every heartbeat sends
 * it to the supervisor as the health report (docs/controller.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "ctl_agent.h"
#include "ks_cred.h"
#include "ks_wear.h"
#include "ks_hex.h"
#include "ctl_tls.h"
#include "ctl_licence.h"

static void set_hex(json_t *o, const char *k, const uint8_t *p, size_t n)
{
    char hex[129];
    ks_hex(hex, p, n);
    json_object_set_new(o, k, json_string(hex));
}

static json_t *kse_code(int err)
{
    char code[16];
    int kse = ks_err_kse(err);
    if (!kse)
        return json_null();
    snprintf(code, sizeof code, "KSE-%d", kse);
    return json_string(code);
}

/* Flash wear and projected life (issue 18); the supervisor warns from it (KSE-310). */
static json_t *wear_json(ctl_agent *a)
{
    ks_wear_report w;
    ks_wear_report_get(&a->store, 0, &w);
    json_t *o = json_object();
    json_object_set_new(o, "erase_min", json_integer(w.erase_min));
    json_object_set_new(o, "erase_mean", json_real(w.erase_mean));
    json_object_set_new(o, "erase_max", json_integer(w.erase_max));
    json_object_set_new(o, "retired_sectors", json_integer(w.retired));
    /* how many sectors the store can still retire (layout 1 retires none):
     * the supervisor warns on the first (KSE-311), before this runs out */
    json_object_set_new(o, "retired_max",
                        json_integer(a->store.paged ? KS_STORE_RETIRED_MAX : 0));
    json_object_set_new(o, "write_amplification", json_real(w.write_amp));
    json_object_set_new(o, "commits", json_integer(w.commits));
    json_object_set_new(o, "endurance", json_integer(w.endurance));
    json_object_set_new(o, "life_deltas", json_real(w.life_commits));
    json_object_set_new(o, "deltas_per_day", json_real(w.rate_per_day));
    json_object_set_new(o, "life_days", json_real(w.life_days));
    /* the metadata pair or ring, and which region wears most */
    json_object_set_new(o, "metadata", json_pack("{s:i,s:i,s:i,s:i}", "blocks", (int)w.meta_blocks,
                                                 "sectors", (int)w.meta_sectors, "erase_min",
                                                 (int)w.meta_erase_min, "erase_max",
                                                 (int)w.meta_erase_max));
    json_object_set_new(o, "hottest", json_string(w.hottest));
    return o;
}

static json_t *store_json(ctl_agent *a)
{
    ks_store_info info;
    json_t *o = json_object();
    ks_store_get_info(&a->store, &info);
    int damaged = (info.flags & KS_STORE_F_DAMAGED) != 0;
    json_object_set_new(o, "integrity", json_string(damaged ? "corrupt" : "ok"));
    json_object_set_new(o, "code", damaged ? json_string("KSE-301") : json_null());
    if (damaged) {
        json_object_set_new(o, "damage_offset", json_integer(a->store.damage.offset));
        json_object_set_new(o, "damage_what",
                            json_string(a->store.damage.what ? a->store.damage.what : "?"));
    }
    json_object_set_new(o, "need_full", json_boolean(info.flags & KS_STORE_F_NEED_FULL));
    json_object_set_new(o, "fell_back", json_boolean(info.flags & KS_STORE_F_FELL_BACK));
    /* The fallback policy in force (docs/controller.md): on an older
     * database, keys changed since are refused (KSE-303), or all keys. */
    json_object_set_new(o, "stale_policy",
                        json_string(info.stale_deny_all ? "deny_all"
                                    : info.stale_denied ? "deny_changed" : "none"));
    json_object_set_new(o, "stale_denied", json_integer(info.stale_denied));
    /* the store's layout (1: two areas, older images; 2: paged; 3: paged
     * with per-sector erase counts) */
    json_object_set_new(o, "layout", json_integer(a->store.levelled ? KS_STORE_LAYOUT_LEVELLED
                                                  : a->store.counted ? KS_STORE_LAYOUT_COUNTED
                                                  : a->store.paged ? KS_STORE_LAYOUT_PAGED
                                                                   : KS_STORE_LAYOUT_VERSION));
    json_object_set_new(o, "capacity", json_integer(info.area_capacity));
    /* acknowledged by the supervisor, whether or not on flash yet (ctl_sync.c) */
    uint64_t acked = a->uploaded > info.audit_acked ? a->uploaded : info.audit_acked;
    json_object_set_new(o, "audit_pending",
                        json_integer((json_int_t)(info.audit_last > acked
                                                      ? info.audit_last - acked : 0)));
    json_object_set_new(o, "audit_last", json_integer((json_int_t)info.audit_last));
    json_object_set_new(o, "counters", json_integer(info.counter_count));
    /* the medium scrub (ctl_scrub.c): how far, and what it found */
    json_object_set_new(o, "scrub", json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "next_sector",
                                              (int)a->scrub_next, "slice_sectors",
                                              (int)ctl_scrub_slice(a), "pass_heartbeats",
                                              (int)CTL_SCRUB_BEATS, "passes", (int)a->scrub_passes,
                                              "medium_changes", (int)a->medium_changes,
                                              "last_change_at", (int)a->medium_change_at));
    json_object_set_new(o, "wear", wear_json(a));
    if (a->medium_err) {
        json_object_set_new(o, "medium", json_string("unreadable"));
        json_object_set_new(o, "medium_sector", json_integer(a->medium_sector));
    }
    return o;
}

static json_t *clock_json(ctl_agent *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "rtc", json_integer((json_int_t)ctl_rtc(a)));
    json_object_set_new(o, "system", json_integer((json_int_t)time(NULL)));
    if (!a->auth_ready)
        return o;
    ks_time_status ts;
    uint64_t now = 0;
    int rc = ks_auth_now(&a->auth, &now);
    ks_auth_time_status(&a->auth, &ts);
    json_object_set_new(o, "trusted", json_integer((json_int_t)now));
    json_object_set_new(o, "offset", json_integer(ts.offset));
    json_object_set_new(o, "drift_ppm", json_integer(ts.drift_ppm));
    json_object_set_new(o, "uncertainty", json_integer((json_int_t)ts.uncertainty));
    json_object_set_new(o, "anchored", json_boolean(ts.flags & KS_CLOCK_ANCHORED));
    json_object_set_new(o, "code", kse_code(rc));
    return o;
}

static json_t *lockout_json(ctl_agent *a)
{
    json_t *arr = json_array();
    uint64_t now = ctl_now(a, NULL); /* locks are set in the engine's (trusted) time */
    for (uint32_t i = 0; i < ks_store_counter_count(&a->store); i++) {
        const ks_counter *c = ks_store_counter_at(&a->store, i);
        if (!c || (c->kind != KS_COUNTER_KEY && c->kind != KS_COUNTER_READER))
            continue;
        if (c->locked_until == 0 || (c->locked_until != UINT64_MAX && c->locked_until <= now))
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "kind", json_string(c->kind == KS_COUNTER_KEY ? "key" : "reader"));
        if (c->kind == KS_COUNTER_READER) {
            char name[KS_READER_ID_SIZE + 1] = {0};
            memcpy(name, c->id, KS_READER_ID_SIZE);
            json_object_set_new(e, "id", json_string(name));
        } else {
            set_hex(e, "id", c->id, KS_KEYID_SIZE);
        }
        json_object_set_new(e, "fails", json_integer(c->fails));
        /* fails restarts at 0 when the lock is set: say what caused it */
        json_object_set_new(e, "locked_after", json_integer(a->auth_ready ? a->auth.cfg.deny : 0));
        json_object_set_new(e, "lock_level", json_integer(c->lock_level));
        json_object_set_new(e, "locked_until", c->locked_until == UINT64_MAX
                                                   ? json_string("admin")
                                                   : json_integer((json_int_t)c->locked_until));
        json_array_append_new(arr, e);
    }
    return arr;
}

static json_t *refusals_json(ctl_agent *a)
{
    json_t *arr = json_array();
    for (int i = 0; i < a->refusals.n; i++) {
        char code[16];
        snprintf(code, sizeof code, "KSE-%d", a->refusals.code[i]);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:I,s:I}", "code", code, "symbol",
                                             ks_err_name(-a->refusals.code[i]), "count",
                                             (int)a->refusals.count[i], "first",
                                             (json_int_t)a->refusals.first[i], "last",
                                             (json_int_t)a->refusals.last[i]));
    }
    return arr;
}

/* The pinned supervisor keys, and a Replace Supervisor Credential waiting
 * for its one-time code: the fingerprint the technician compares with the
 * one the operator reads out before typing the code. */
static void trust_json(ctl_agent *a, json_t *o)
{
    const ks_trust *t = ks_store_trust(&a->store);
    char fp[KS_FINGERPRINT_LEN + 1];
    json_t *keys = json_array();
    for (uint32_t i = 0; t && i < t->count && i < KS_TRUST_MAX; i++) {
        ks_key_fingerprint(&a->crypto, t->keys[i], fp);
        json_array_append_new(keys, json_string(fp));
    }
    json_object_set_new(o, "supervisor_keys", keys);
    if (!a->rc_command) {
        json_object_set_new(o, "replace_credential", json_null());
        return;
    }
    ks_key_fingerprint(&a->crypto, a->rc_pk, fp);
    json_object_set_new(o, "replace_credential",
                        json_pack("{s:I,s:s,s:b}", "command", (json_int_t)a->rc_command,
                                  "new_key_fingerprint", fp, "code_entered",
                                  a->entered_code[0] != 0));
}

json_t *ctl_status_json(ctl_agent *a)
{
    json_t *o = json_object();
    const ks_snap_header *h = ks_store_header(&a->store);
    json_object_set_new(o, "enrolled", json_boolean(a->set.controller_id != 0));
    json_object_set_new(o, "controller_id", json_integer((json_int_t)a->set.controller_id));
    if (a->set.controller_id)
        set_hex(o, "device_key_id", a->ctrl_id16, KS_CTRL_ID_SIZE);
    json_object_set_new(o, "scope", json_integer(a->set.scope));
    json_object_set_new(o, "firmware", json_string(CTL_FIRMWARE));
    json_object_set_new(o, "licence", ctl_licence_json(a));
    json_object_set_new(o, "protocol", json_integer(a->o.protocol));
    json_object_set_new(o, "min_key_format", json_integer(a->set.min_key_format));
    json_object_set_new(o, "applied_version", h ? json_integer((json_int_t)h->version) : json_null());
    if (h) {
        set_hex(o, "applied_root", h->root, KS_HASH_SIZE);
        /* The signed header itself: the supervisor acts on a version we
         * claim (restore detection) only with its own signature on it. */
        uint8_t raw[KS_SNAP_HEADER_SIZE];
        char hex[2 * KS_SNAP_HEADER_SIZE + 1]; /* too long for set_hex */
        ks_snap_header_encode(h, raw);
        ks_hex(hex, raw, sizeof raw);
        json_object_set_new(o, "applied_header", json_string(hex));
        json_object_set_new(o, "record_count", json_integer(h->record_count));
        json_object_set_new(o, "expires_at", json_integer((json_int_t)h->expires_at));
    }
    ctl_restore_report(a, o); /* applied_history; KSE-304 evidence */
    json_object_set_new(o, "last_sync", json_integer((json_int_t)a->set.last_sync));
    json_object_set_new(o, "last_contact", json_integer((json_int_t)a->last_contact));
    /* heartbeats keysupd shed (KSE-121): busy, not a lost link (ctl_resume.c) */
    json_object_set_new(o, "supervisor_busy", json_integer((json_int_t)a->shed_heartbeats));
    int clock_ok = 0;
    uint64_t now = ctl_now(a, &clock_ok);
    json_t *conds = json_array();
    if (a->comm_lost)
        json_array_append_new(conds, json_string("KSE-100"));
    if (ctl_stale(a, now))
        json_array_append_new(conds, json_string("KSE-110"));
    if (h && h->expires_at && now >= h->expires_at) {
        json_array_append_new(conds, json_string("KSE-702"));
        /* Expired by a clock the engine does not trust: the clock is the
         * cause to fix (KSE-600), not the link (issue 17 row 7). */
        json_object_set_new(o, "expiry_cause", json_string(clock_ok ? "age" : "clock"));
    }
    if (a->last_sync_err == KS_E_SNAPSHOT_EXPIRED && !clock_ok)
        json_object_set_new(o, "expiry_cause", json_string("clock"));
    if (a->medium_err)
        json_array_append_new(conds, json_string("KSE-900"));
    if (a->tls_mismatch)
        json_array_append_new(conds, json_string("KSE-720"));
    if (a->last_sync_err && ks_err_kse(a->last_sync_err))
        json_array_append_new(conds, kse_code(a->last_sync_err));
    json_object_set_new(o, "conditions", conds);
    json_object_set_new(o, "last_sync_error",
                        a->last_sync_err ? json_string(ks_err_name(a->last_sync_err)) : json_null());
    trust_json(a, o);
    json_object_set_new(o, "store", store_json(a));
    /* the unit's identity file (ctl_identity.c) and what start found */
    json_object_set_new(o, "identity", json_pack("{s:s,s:s,s:s}", "file", a->id_path,
                                                 "state", a->identity_state ? a->identity_state : "none",
                                                 "note", a->identity_note));
    json_object_set_new(o, "clock", clock_json(a));
    json_object_set_new(o, "seal_on", json_boolean(a->seal_on));
    json_object_set_new(o, "pending_transaction",
                        json_boolean(a->auth_ready && ks_auth_txn_pending(&a->auth)));
    json_object_set_new(o, "lockouts", lockout_json(a));
    json_object_set_new(o, "refusals", refusals_json(a));
    json_object_set_new(o, "tls", ctl_tls_status(a));
    json_object_set_new(o, "degraded_policy",
                        json_string(a->set.degraded == CTL_DEGRADED_ALLOW ? "allow"
                                    : a->set.degraded == CTL_DEGRADED_DENY_ALL ? "deny_all"
                                                                               : "deny_privileged"));
    return o;
}
