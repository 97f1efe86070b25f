/*
 * sup_diag_rules.c - the technician's walk, as a pure function of the facts.
 *
 * Each area adds the conditions it can see; then refusals that an active
 * root cause explains become its symptoms. The order of the areas is the
 * order in which a fault upstream produces symptoms downstream: a link or a
 * damaged store makes the database wrong, a wrong database or clock makes
 * keys look unknown or expired. So the first root cause in the walk that
 * explains a refusal owns it.
 *
 * Size: over 500 lines because the walk is one ordered list of areas; the
 * order is the rule (see above), so it stays in one file.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <keysup/ks_auth.h>

#include "sup_diag.h"
#include "sup_licence.h"

/* Sync-type and store-type roots make keys look unknown. */
static const int db_roots[] = {
    SUP_KSE(STORE_CORRUPT),        SUP_KSE(DESYNC),   SUP_KSE(SYNC_STALE),
    SUP_KSE(SNAPSHOT_EXPIRED),     SUP_KSE(SUPERVISOR_UNTRUSTED),
    SUP_KSE(ROLLBACK),             SUP_KSE(FIRMWARE_INCOMPATIBLE),
    SUP_KSE(HARDWARE_FAULT),       0};
static const int clock_roots[] = {SUP_KSE(CLOCK_SKEW), SUP_KSE(RTC_FAILURE), 0};
/* What LOCKOUT follows from: failed supervisor attempts of these kinds. */
static const int attack_codes[] = {
    SUP_KSE(KEY_UNKNOWN),    SUP_KSE(KEY_REVOKED),    SUP_KSE(SIGNATURE_INVALID),
    SUP_KSE(CLONE_SUSPECTED), SUP_KSE(NOT_SUPERVISOR), SUP_KSE(LOCKOUT), 0};

int sup_diag_is_refusal_code(int code)
{
    /* 110 and 600/601 are also refusal codes, but they are device states
     * found in the report; these are only ever seen as refused decisions. */
    return (code >= 200 && code < 300) || code == SUP_KSE(PROTOCOL_MISMATCH) ||
           (code >= 501 && code <= 505) || code == SUP_KSE(ANSWER_NOT_AUTHENTIC) ||
           code == SUP_KSE(LICENCE_INVALID) || /* ANSWER_NOT_AUTHENTIC: a supervisor answer refused */
           code == SUP_KSE(LICENCE_POLICY_OLD) || code == SUP_KSE(LICENCE_REPLACED); /* rollback */
}

/* The policy working: the decision was right and the holder was told why. */
static const int policy_codes[] = {SUP_KSE(NOT_SUPERVISOR), SUP_KSE(PRIVILEGE_REQUIRED),
                                   SUP_KSE(SEAL_ENGAGED),   SUP_KSE(PENDING_TRANSACTION),
                                   SUP_KSE(KEY_REVOKED),    SUP_KSE(KEY_EXPIRED),
                                   SUP_KSE(KEY_UNKNOWN),    0};

static int in_list(const int *l, int code)
{
    for (; *l; l++)
        if (*l == code)
            return 1;
    return 0;
}

static sup_finding *find(sup_findings *o, int code)
{
    for (int i = 0; i < o->n; i++)
        if (o->f[i].code == code)
            return &o->f[i];
    return NULL;
}

static sup_finding *add(sup_findings *o, int code, int64_t first_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sup_finding *add(sup_findings *o, int code, int64_t first_ms, const char *fmt, ...)
{
    sup_finding *f = find(o, code);
    va_list ap;
    if (f)
        return f; /* one finding per code: the first area that saw it words it */
    /* A code the catalogue does not know (a device reporting "KSE-258") is
     * not a finding: nothing could explain it or say what to do. */
    if (o->n >= KS_DIAG_MAX_FINDINGS || !ks_kse_find(code))
        return NULL;
    f = &o->f[o->n++];
    memset(f, 0, sizeof *f);
    f->code = code;
    f->kse = ks_kse_find(code);
    f->root = 1;
    f->first_ms = first_ms;
    va_start(ap, fmt);
    vsnprintf(f->evidence, sizeof f->evidence, fmt, ap);
    va_end(ap);
    return f;
}

static const sup_diag_refusal *refusal(const sup_diag_facts *fa, int code)
{
    for (int i = 0; i < fa->nref; i++)
        if (fa->ref[i].code == code && fa->ref[i].fresh > 0)
            return &fa->ref[i];
    return NULL;
}

static int has_condition(json_t *report, int code)
{
    char want[16];
    json_t *c;
    size_t i;
    snprintf(want, sizeof want, "KSE-%d", code);
    json_array_foreach(json_object_get(report, "conditions"), i, c)
        if (json_is_string(c) && strcmp(json_string_value(c), want) == 0)
            return 1;
    return 0;
}

/* A report's integers are the device's word: clamped to +/-2^48 so that
 * no difference or product the rules take can overflow. */
#define JINT_MAX ((int64_t)1 << 48)

static int64_t jint(json_t *o, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        return dflt;
    int64_t x = (int64_t)json_integer_value(v);
    return x > JINT_MAX ? JINT_MAX : x < -JINT_MAX ? -JINT_MAX : x;
}

static int kse_of(json_t *v)
{
    const char *s = json_string_value(v);
    return s && strncmp(s, "KSE-", 4) == 0 ? atoi(s + 4) : 0;
}

/* Earliest evidence: a matching refusal's first time, else the report's. */
static int64_t first_of(const sup_diag_facts *fa, int code)
{
    const sup_diag_refusal *r = refusal(fa, code);
    return r && r->first_ms && r->first_ms < fa->report_ms ? r->first_ms : fa->report_ms;
}

/* ----- the areas, in order ----- */

static void communication(const sup_diag_cfg *cfg, const sup_diag_facts *fa, sup_findings *o)
{
    uint32_t iv = fa->interval_ms ? fa->interval_ms : cfg->interval_ms;
    int64_t limit = (int64_t)cfg->missed * iv;
    /* Shedding within the window: its heartbeats may be our own 503s, which
     * the controller does not count as a lost link either (ctl_resume.c).
     * Shown, no incident: a storm must not page once per controller. A
     * controller still silent one window after the shedding stopped is
     * KSE-100 as ever. */
    if (fa->last_seen_ms && fa->now_ms - fa->last_seen_ms > limit && fa->shed_ms &&
        fa->now_ms - fa->shed_ms <= limit && fa->shed_ms >= fa->last_seen_ms) {
        sup_finding *f = add(o, SUP_KSE(SUPERVISOR_BUSY), fa->last_seen_ms + iv,
                             "no heartbeat since %.1f s ago, but this supervisor shed device "
                             "requests (503 KSE-121) %.1f s ago: the controller is being told "
                             "to wait, not lost",
                             (double)(fa->now_ms - fa->last_seen_ms) / 1000.0,
                             (double)(fa->now_ms - fa->shed_ms) / 1000.0);
        if (f) {
            f->root = 0;
            f->evidence_only = 1;
        }
        return;
    }
    if (fa->last_seen_ms && fa->now_ms - fa->last_seen_ms > limit) {
        add(o, SUP_KSE(COMM_LOST), fa->last_seen_ms + iv,
            "no heartbeat since %.1f s ago (%u missed; the limit is %u): the controller is "
            "deciding offline on its cached database",
            (double)(fa->now_ms - fa->last_seen_ms) / 1000.0,
            (unsigned)((fa->now_ms - fa->last_seen_ms) / iv), cfg->missed);
        o->comm_lost = 1;
    }
}

/*
 * KSE-310: the flash's projected life at the change rate the controller
 * observed is under the threshold. Warned before sectors fail; a controller
 * that cannot project yet (less than a day of deltas) reports -1.
 */
static void wear(const sup_diag_facts *fa, const sup_diag_cfg *cfg, sup_findings *o)
{
    json_t *w = json_object_get(json_object_get(fa->report, "store"), "wear");
    json_t *life = json_object_get(w, "life_days");
    if (!json_is_number(life) || json_number_value(life) < 0 ||
        json_number_value(life) >= (double)cfg->wear_days)
        return;
    add(o, SUP_KSE(FLASH_WEAR), fa->report_ms,
        "the controller's flash is projected to reach its rated %lld erase cycles in %.0f days "
        "(most-erased sector %lld erases, %.1f deltas a day, write amplification %.1f)",
        (long long)jint(w, "endurance", 0), json_number_value(life),
        (long long)jint(w, "erase_max", 0),
        json_number_value(json_object_get(w, "deltas_per_day")),
        json_number_value(json_object_get(w, "write_amplification")));
}

/*
 * KSE-311: sectors have failed and been retired. Nothing is wrong yet, but
 * flash that has begun to fail keeps failing and the store's spare is
 * finite (retired_max); warned on the first, with the date the projection
 * gives, so the replacement is planned before the spare runs out.
 */
static void retired(const sup_diag_facts *fa, sup_findings *o)
{
    json_t *w = json_object_get(json_object_get(fa->report, "store"), "wear");
    json_int_t n = jint(w, "retired_sectors", 0), max = jint(w, "retired_max", 0);
    double life = json_number_value(json_object_get(w, "life_days"));
    char when[96] = "not known yet (less than a day of deltas observed)";
    if (n <= 0)
        return;
    if (json_is_number(json_object_get(w, "life_days")) && life >= 0) {
        time_t t = (time_t)(fa->report_ms / 1000 + (int64_t)(life < 1e6 ? life : 1e6) * 86400);
        struct tm tm;
        char d[16] = "?";
        if (gmtime_r(&t, &tm))
            strftime(d, sizeof d, "%Y-%m-%d", &tm);
        snprintf(when, sizeof when, "%.0f days at %.1f deltas a day, around %s", life,
                 json_number_value(json_object_get(w, "deltas_per_day")), d);
    }
    char spare[64] = "an agent that does not report its spare";
    if (max > 0)
        snprintf(spare, sizeof spare, "the store can retire %lld more",
                 (long long)(max > n ? max - n : 0));
    add(o, SUP_KSE(FLASH_RETIRED), fa->report_ms,
        "%lld flash sector(s) failed and were retired; %s; projected life: %s (most-erased "
        "sector %lld of %lld rated erases)",
        (long long)n, spare, when, (long long)jint(w, "erase_max", 0),
        (long long)jint(w, "endurance", 0));
}

static void store(const sup_diag_facts *fa, sup_findings *o)
{
    json_t *st = json_object_get(fa->report, "store");
    const char *integ = json_string_value(json_object_get(st, "integrity"));
    if ((integ && strcmp(integ, "corrupt") == 0) ||
        kse_of(json_object_get(st, "code")) == SUP_KSE(STORE_CORRUPT) ||
        has_condition(fa->report, SUP_KSE(STORE_CORRUPT))) {
        const char *what = json_string_value(json_object_get(st, "damage_what"));
        add(o, SUP_KSE(STORE_CORRUPT), first_of(fa, SUP_KSE(STORE_CORRUPT)),
            "the controller's flash fails its CRC check at byte %lld (%s); it fell back to the "
            "last good state%s",
            (long long)jint(st, "damage_offset", -1), what ? what : "record",
            json_is_true(json_object_get(st, "need_full")) ? " and needs a full download" : "");
    }
    if (refusal(fa, SUP_KSE(MEMORY_LOST)))
        add(o, SUP_KSE(MEMORY_LOST), first_of(fa, SUP_KSE(MEMORY_LOST)),
            "the controller lost its volatile state (brown-out)");
    /* The fallback policy in force (docs/controller.md): a state of the
     * store, reported until the full download lands. */
    const char *sp = json_string_value(json_object_get(st, "stale_policy"));
    if (sp && strcmp(sp, "deny_all") == 0)
        add(o, SUP_KSE(STALE_DENIED), first_of(fa, SUP_KSE(STALE_DENIED)),
            "the controller answers from an older database (version %lld) and cannot tell which "
            "keys changed since: it refuses every key until a full download",
            (long long)jint(fa->report, "applied_version", 0));
    else if (sp && strcmp(sp, "deny_changed") == 0)
        add(o, SUP_KSE(STALE_DENIED), first_of(fa, SUP_KSE(STALE_DENIED)),
            "the controller answers from an older database (version %lld): it refuses the %lld "
            "key(s) changed since that version until a full download",
            (long long)jint(fa->report, "applied_version", 0), (long long)jint(st, "stale_denied", 0));
}

static void trust(const sup_diag_facts *fa, sup_findings *o)
{
    const char *lse = json_string_value(json_object_get(fa->report, "last_sync_error"));
    /* A refused download is also counted as a refusal: a retry in the same
     * heartbeat may clear the condition before any report carries it. */
    if (has_condition(fa->report, SUP_KSE(SUPERVISOR_UNTRUSTED)) ||
        (lse && strcmp(lse, "SUPERVISOR_UNTRUSTED") == 0) ||
        refusal(fa, SUP_KSE(SUPERVISOR_UNTRUSTED)))
        add(o, SUP_KSE(SUPERVISOR_UNTRUSTED), first_of(fa, SUP_KSE(SUPERVISOR_UNTRUSTED)),
            "the controller refused a snapshot or an answer signed by a supervisor key it has "
            "not pinned, and no rotation record links the two");
    if (has_condition(fa->report, SUP_KSE(ROLLBACK)) || (lse && strcmp(lse, "ROLLBACK") == 0) ||
        refusal(fa, SUP_KSE(ROLLBACK)))
        add(o, SUP_KSE(ROLLBACK), first_of(fa, SUP_KSE(ROLLBACK)),
            "the controller was offered an older database than the one it applied and refused it");
    const sup_diag_refusal *r = refusal(fa, SUP_KSE(ANSWER_NOT_AUTHENTIC));
    if (r) {
        /* Each one is an answer of ours that reached the controller changed,
         * replayed or out of order: something on the link is bending it. */
        sup_finding *f = add(o, SUP_KSE(ANSWER_NOT_AUTHENTIC), r->first_ms,
                            "%lld answer(s) of this supervisor reached the controller without a "
                            "valid signature bound to its request (changed, replayed or "
                            "reordered on the way); the controller refused them and changed "
                            "nothing", (long long)r->fresh);
        if (f) {
            f->refusal = 1;
            f->count = r->fresh;
        }
    }
}

/*
 * Issue 17 row 9: this supervisor was restored from an older backup. The
 * controller holds a database of another history (or refused ours as one).
 * A full download would undo what the backup lost, so this is never the
 * automatic "initialize" of KSE-300: the evidence names each revocation to
 * re-apply first. Returns 1 when it owns the sync state.
 */
static int restored(const sup_diag_facts *fa, sup_findings *o)
{
    json_t *rs = json_object_get(fa->report, "restore");
    json_t *ah = json_object_get(fa->report, "applied_history");
    json_t *lost = json_object_get(rs, "lost"), *k;
    char keys[300] = "";
    size_t i, n = 0;
    if (!json_is_object(rs) && !(json_is_integer(ah) && (uint32_t)json_integer_value(ah) != fa->history))
        return 0;
    json_array_foreach(lost, i, k) {
        const char *id = json_string_value(json_object_get(k, "key_id"));
        if (id && n + strlen(id) + 2 < sizeof keys)
            n += (size_t)snprintf(keys + n, sizeof keys - n, "%s%s", n ? " " : "", id);
    }
    sup_finding *f;
    if (json_integer_value(json_object_get(rs, "lost_count")) > 0)
        f = add(o, SUP_KSE(SUPERVISOR_RESTORED), fa->report_ms,
                "supervisor restored from an older backup: the controller keeps version %lld and "
                "refused ours; %lld key(s) it holds revoked/suspended would be granted again. "
                "Re-revoke: %s",
                (long long)jint(fa->report, "applied_version", 0),
                (long long)json_integer_value(json_object_get(rs, "lost_count")), keys);
    else
        f = add(o, SUP_KSE(SUPERVISOR_RESTORED), fa->report_ms,
                "supervisor restored from an older backup: the controller keeps version %lld of "
                "history %08llx (ours: %08x); no key it holds revoked or suspended is active "
                "here. Re-apply other changes made after the backup, then initialize it",
                (long long)jint(fa->report, "applied_version", 0),
                (unsigned long long)json_integer_value(ah), fa->history);
    if (f)
        f->no_auto = 1;
    return 1;
}

static void sync_state(const sup_diag_cfg *cfg, const sup_diag_facts *fa, sup_findings *o)
{
    json_t *av = json_object_get(fa->report, "applied_version");
    const char *ar = json_string_value(json_object_get(fa->report, "applied_root"));
    if (restored(fa, o))
        av = NULL; /* no KSE-300 and no automatic initialize while it holds */
    if (json_is_integer(av) && fa->published_version) {
        uint64_t v = (uint64_t)json_integer_value(av);
        if (v == fa->published_version && ar && strcmp(ar, fa->published_root) != 0)
            add(o, SUP_KSE(DESYNC), fa->report_ms,
                "version %llu: the controller's Merkle root %.16s... differs from the published "
                "%.16s...", (unsigned long long)v, ar, fa->published_root);
        else if (v > fa->published_version) {
            /* A full download cannot help: the controller refuses the older
             * database as a rollback (KSE-701). A person restores the
             * supervisor's latest database instead. */
            sup_finding *f = add(o, SUP_KSE(DESYNC), fa->report_ms,
                                "the controller holds version %llu but the supervisor published "
                                "only %llu: the supervisor's records went back (restored "
                                "backup?); restore its latest database, a download would be "
                                "refused as a rollback",
                                (unsigned long long)v, (unsigned long long)fa->published_version);
            if (f)
                f->no_auto = 1;
        }
        else if (v < fa->published_version && fa->behind_since_ms &&
                 fa->now_ms - fa->behind_since_ms >
                     (int64_t)cfg->behind * (fa->interval_ms ? fa->interval_ms : cfg->interval_ms))
            add(o, SUP_KSE(DESYNC), fa->behind_since_ms,
                "the controller has stayed at version %llu for %.0f s while %llu is published",
                (unsigned long long)v, (double)(fa->now_ms - fa->behind_since_ms) / 1000.0,
                (unsigned long long)fa->published_version);
    }
    if (has_condition(fa->report, SUP_KSE(SYNC_STALE)))
        add(o, SUP_KSE(SYNC_STALE), first_of(fa, SUP_KSE(SYNC_STALE)),
            "the controller's last successful sync (%lld) is older than its maximum offline age; "
            "it applies its degraded policy (%s)", (long long)jint(fa->report, "last_sync", 0),
            json_string_value(json_object_get(fa->report, "degraded_policy"))
                ? json_string_value(json_object_get(fa->report, "degraded_policy")) : "?");
    const char *cause = json_string_value(json_object_get(fa->report, "expiry_cause"));
    if (has_condition(fa->report, SUP_KSE(SNAPSHOT_EXPIRED)) && cause &&
        strcmp(cause, "clock") == 0)
        /* issue 17 row 7: the link is fine, the clock is not */
        add(o, SUP_KSE(SNAPSHOT_EXPIRED), first_of(fa, SUP_KSE(SNAPSHOT_EXPIRED)),
            "the controller's snapshot looks expired (expires %lld) by the controller's own clock, "
            "which it does not trust: the cause is the clock (KSE-600); fix the clock first "
            "(time_sync, then check the RTC), restoring the link will not help",
            (long long)jint(fa->report, "expires_at", 0));
    else if (has_condition(fa->report, SUP_KSE(SNAPSHOT_EXPIRED)))
        add(o, SUP_KSE(SNAPSHOT_EXPIRED), first_of(fa, SUP_KSE(SNAPSHOT_EXPIRED)),
            "the controller's snapshot passed its expiry time (%lld)",
            (long long)jint(fa->report, "expires_at", 0));
}

/* Two agents heartbeat under this controller's id (KSE-730): while they
 * keep alternating, and for 10 intervals after the last time they did. */
static void identity(const sup_diag_cfg *cfg, const sup_diag_facts *fa, sup_findings *o)
{
    uint32_t iv = fa->interval_ms ? fa->interval_ms : cfg->interval_ms;
    if (!fa->clone_ms || fa->now_ms - fa->clone_ms > 10 * (int64_t)iv)
        return;
    add(o, SUP_KSE(IDENTITY_CLONED), fa->clone_first_ms ? fa->clone_first_ms : fa->clone_ms,
        "two agents heartbeat as this controller with its device key: instances %s and %s "
        "alternate (last %.1f s ago); its image and identity were copied to a second unit",
        fa->clone_inst[0][0] ? fa->clone_inst[0] : "?", fa->clone_inst[1][0] ? fa->clone_inst[1] : "?",
        (double)(fa->now_ms - fa->clone_ms) / 1000.0);
}

/* The controller says it cannot read its own flash medium (ctl_scrub.c):
 * a hardware fault no download can repair. */
static void hardware(const sup_diag_facts *fa, sup_findings *o)
{
    json_t *st = json_object_get(fa->report, "store");
    if (has_condition(fa->report, SUP_KSE(HARDWARE_FAULT)))
        add(o, SUP_KSE(HARDWARE_FAULT), first_of(fa, SUP_KSE(HARDWARE_FAULT)),
            "the controller cannot read its flash medium (sector %lld): the part or the file "
            "backing it is failing or truncated", (long long)jint(st, "medium_sector", 0));
}

static void clock_area(const sup_diag_cfg *cfg, const sup_diag_facts *fa, sup_findings *o)
{
    json_t *ck = json_object_get(fa->report, "clock");
    int code = kse_of(json_object_get(ck, "code"));
    int64_t rtc = jint(ck, "rtc", 0), trusted = jint(ck, "trusted", 0);
    int64_t at = fa->report_ms / 1000, off = trusted ? trusted - at : 0;
    if (code == SUP_KSE(RTC_FAILURE) || (rtc && rtc < (int64_t)KS_AUTH_EPOCH_MIN))
        add(o, SUP_KSE(RTC_FAILURE), first_of(fa, SUP_KSE(RTC_FAILURE)),
            "the controller's real-time clock reads %lld (before %u): it was reset or stopped",
            (long long)rtc, KS_AUTH_EPOCH_MIN);
    else if (code == SUP_KSE(CLOCK_SKEW) || (trusted && (off > (int64_t)cfg->clock_tolerance ||
                                         -off > (int64_t)cfg->clock_tolerance)))
        add(o, SUP_KSE(CLOCK_SKEW), first_of(fa, SUP_KSE(CLOCK_SKEW)),
            "the controller's clock is %+lld s from the supervisor's (RTC %+lld s); the tolerance "
            "is %u s", (long long)off, (long long)(rtc - at), cfg->clock_tolerance);
}

static void protocol(const sup_diag_cfg *cfg, const sup_diag_facts *fa, sup_findings *o)
{
    json_t *pv = json_object_get(fa->report, "protocol_version");
    const sup_diag_refusal *r;
    if (!pv)
        pv = json_object_get(fa->report, "protocol");
    if (json_is_integer(pv) && (json_integer_value(pv) < cfg->proto_min ||
                                json_integer_value(pv) > cfg->proto_max))
        add(o, SUP_KSE(FIRMWARE_INCOMPATIBLE), fa->report_ms,
            "the controller speaks device protocol %lld; this supervisor supports %d to %d",
            (long long)json_integer_value(pv), cfg->proto_min, cfg->proto_max);
    if ((r = refusal(fa, SUP_KSE(PROTOCOL_MISMATCH))) != NULL) {
        sup_finding *f = add(o, SUP_KSE(PROTOCOL_MISMATCH), r->first_ms,
                            "%lld key(s) refused: enrolled in a key format below the controller's "
                            "minimum (%lld)", (long long)r->fresh,
                            (long long)jint(fa->report, "min_key_format", 0));
        if (f) {
            f->refusal = 1;
            f->count = r->fresh;
        }
    }
}

static void lockout(const sup_diag_facts *fa, sup_findings *o)
{
    json_t *lo = json_object_get(fa->report, "lockouts"), *e;
    char who[400] = "";
    size_t i, len = 0;
    if (!json_array_size(lo))
        return;
    json_array_foreach(lo, i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *kind = json_string_value(json_object_get(e, "kind"));
        long long fails = (long long)jint(e, "fails", 0), after = (long long)jint(e, "locked_after", 0);
        json_t *until = json_object_get(e, "locked_until");
        char tail[96];
        /* The controller's failure count restarts at 0 when the lock is set:
         * "(0 failures)" read as if nothing had happened (issue 17 row 11). */
        if (json_is_string(until))
            snprintf(tail, sizeof tail, "until an administrator unlocks it");
        else
            snprintf(tail, sizeof tail, "until %lld", (long long)jint(e, "locked_until", 0));
        int n = fails == 0 && after > 0
                    ? snprintf(who + len, sizeof who - len, "%s%s %.16s (locked after %lld failed "
                               "attempts, %s)", i ? ", " : "", kind ? kind : "?", id ? id : "?",
                               after, tail)
                    : fails == 0
                    ? snprintf(who + len, sizeof who - len, "%s%s %.16s (locked after repeated "
                               "failed attempts, %s)", i ? ", " : "", kind ? kind : "?",
                               id ? id : "?", tail)
                    : snprintf(who + len, sizeof who - len, "%s%s %.16s (%lld failures, %s)",
                               i ? ", " : "", kind ? kind : "?", id ? id : "?", fails, tail);
        if (n < 0 || (size_t)n >= sizeof who - len)
            break;
        len += (size_t)n;
    }
    /* The attack started at the first failed attempt that led to it. */
    int64_t first = fa->report_ms;
    for (int k = 0; attack_codes[k]; k++) {
        const sup_diag_refusal *r = refusal(fa, attack_codes[k]);
        if (r && r->first_ms && r->first_ms < first)
            first = r->first_ms;
    }
    add(o, SUP_KSE(LOCKOUT), first, "locked: %s", who);
}

/* Refusal-type findings (profile, key, licence): one per fresh code. */
static void refusals(const sup_diag_facts *fa, sup_findings *o, int lo, int hi)
{
    for (int i = 0; i < fa->nref; i++) {
        const sup_diag_refusal *r = &fa->ref[i];
        const char *extra = "";
        sup_finding *f;
        if (r->fresh <= 0 || r->code < lo || r->code > hi || find(o, r->code))
            continue;
        if (!sup_diag_is_refusal_code(r->code) && r->code != SUP_KSE(LOCKOUT) &&
            r->code != SUP_KSE(TLS_PIN_MISMATCH))
            continue;
        if (r->code == SUP_KSE(SEAL_ENGAGED) &&
            json_is_true(json_object_get(fa->report, "seal_on")))
            extra = "; the seal switch is ON";
        if (r->code == SUP_KSE(PENDING_TRANSACTION) &&
            json_is_true(json_object_get(fa->report, "pending_transaction")))
            extra = "; a transaction is still pending on the terminal";
        f = add(o, r->code, r->first_ms, "%lld refusal(s) with %s since the last report%s",
                (long long)r->fresh, ks_kse_find(r->code) ? ks_kse_find(r->code)->symbol : "?",
                extra);
        if (f) {
            f->refusal = 1;
            f->count = r->fresh;
            f->last_ms = r->last_ms;
            if (r->code == SUP_KSE(LICENCE_INVALID)) /* licence, feature and fix */
                sup_diag_licence_note(fa->report, fa->ctrl_id, f->evidence,
                                      sizeof f->evidence);
        }
    }
}

int sup_diag_is_policy_refusal(int code)
{
    return in_list(policy_codes, code);
}

int sup_diag_explains(int root, int refusal_code)
{
    if ((refusal_code == SUP_KSE(KEY_UNKNOWN) || refusal_code == SUP_KSE(KEY_EXPIRED)) &&
        in_list(db_roots, root))
        return 1;
    if (refusal_code == SUP_KSE(KEY_EXPIRED) && in_list(clock_roots, root))
        return 1;
    return root == SUP_KSE(LOCKOUT) && in_list(attack_codes, refusal_code);
}

/* Marks refusals explained by an active root cause as its symptoms, then
 * the unexplained policy refusals below the threshold as evidence only. */
static void attach_symptoms(const sup_diag_cfg *cfg, const sup_diag_facts *fa, sup_findings *o)
{
    for (int i = 0; i < o->n; i++) {
        sup_finding *f = &o->f[i];
        int cause = 0;
        if (!f->refusal)
            continue;
        for (int j = 0; j < o->n && !cause; j++) {
            int c = o->f[j].code;
            if (!o->f[j].root || o->f[j].refusal)
                continue;
            if (sup_diag_explains(c, f->code))
                cause = c;
        }
        if (cause) {
            f->root = 0;
            f->cause = cause;
            continue;
        }
        if (sup_diag_is_policy_refusal(f->code)) {
            const sup_diag_refusal *r = refusal(fa, f->code);
            int64_t n = r ? (r->window >= 0 ? r->window : r->fresh) : f->count;
            uint32_t th = cfg->policy_threshold ? cfg->policy_threshold : 1;
            if (n < (int64_t)th) {
                f->root = 0;
                f->evidence_only = 1;
            } else {
                size_t len = strlen(f->evidence);
                snprintf(f->evidence + len, sizeof f->evidence - len,
                         "; %lld within %u s (the threshold is %u)", (long long)n,
                         cfg->policy_window, th);
            }
        }
    }
}

void sup_diag_walk(const sup_diag_cfg *cfg, const sup_diag_facts *fa, sup_findings *o)
{
    memset(o, 0, sizeof *o);
    if (!fa->enrolled)
        return;
    communication(cfg, fa, o);
    if (!fa->report)
        return;
    store(fa, o);
    wear(fa, cfg, o);
    retired(fa, o);
    hardware(fa, o);
    identity(cfg, fa, o);
    trust(fa, o);
    sync_state(cfg, fa, o);
    clock_area(cfg, fa, o);
    protocol(cfg, fa, o);
    lockout(fa, o);
    refusals(fa, o, 500, 599);   /* profile: 502 NOT_SUPERVISOR, 504 SEAL, 505 PENDING */
    refusals(fa, o, 200, 299);   /* key */
    refusals(fa, o, 800, 899);   /* licence */
    refusals(fa, o, 720, 720);   /* trust: a TLS key that failed the controller's pin */
    attach_symptoms(cfg, fa, o);
}
