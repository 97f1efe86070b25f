/*
 * sup_restore.c - detects that this supervisor's records went back (restored
 * backup) and makes sure no version number is ever reused: a new history id
 * in every later snapshot header and a version floor above what the
 * controllers hold. See sup_restore.h; docs/supervisor.md "Backup and restore".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sup_restore.h"
#include "sup_diag.h"

typedef struct last_row {
    int64_t history, floor;
    int found;
} last_row;

static int last_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    last_row *l = ctx;
    (void)names;
    if (ncol >= 2 && c[0].type == KS_DBV_INT && c[1].type == KS_DBV_INT) {
        l->history = c[0].i;
        l->floor = c[1].i;
        l->found = 1;
    }
    return 1;
}

int sup_restore_load(sup_ctx *s)
{
    last_row l = {0, 0, 0};
    /* Not a migration: the table only ever matters after a restore, and a
     * database from before this release simply has none (history 0). */
    if (sup_db_exec(s->db, "CREATE TABLE IF NOT EXISTS restores(id INTEGER PRIMARY KEY,"
                          " detected_at INTEGER NOT NULL, history INTEGER NOT NULL,"
                          " floor INTEGER NOT NULL, controller_id INTEGER,"
                          " reported_version INTEGER)", NULL, 0, NULL, NULL))
        return KS_E_IO;
    if (sup_db_exec(s->db, "SELECT history, floor FROM restores ORDER BY id DESC LIMIT 1", NULL, 0,
                   last_cb, &l))
        return KS_E_IO;
    __atomic_store_n(&s->history, (uint32_t)l.history, __ATOMIC_RELEASE);
    __atomic_store_n(&s->version_floor, (uint64_t)l.floor, __ATOMIC_RELEASE);
    return KS_OK;
}

uint32_t sup_restore_history(const sup_ctx *s)
{
    return __atomic_load_n(&s->history, __ATOMIC_ACQUIRE);
}

uint64_t sup_restore_floor(const sup_ctx *s)
{
    return __atomic_load_n(&s->version_floor, __ATOMIC_ACQUIRE);
}

/* An unproved claim: one audit row a minute at most per supervisor
 * (a rogue unit sends one a heartbeat; the clock is s->claim_audit_at,
 * under the lock like every caller), a log line each time. */
static void unproved(sup_ctx *s, int64_t ctrl_id, uint64_t av, uint64_t pv, int had_header)
{
    uint64_t now = sup_now();
    char detail[160], target[48], kse[12];

    snprintf(target, sizeof target, "controller:%lld", (long long)ctrl_id);
    snprintf(detail, sizeof detail, "claims version %llu (published %llu) %s; ignored",
             (unsigned long long)av, (unsigned long long)pv,
             had_header ? "with a header this supervisor did not sign for it"
                        : "without the signed header (applied_header)");
    sup_log(KS_LOG_WARN, "supervisor.version_claim_refused", "controller=%lld %s",
            (long long)ctrl_id, detail);
    if (s->claim_audit_at && now < s->claim_audit_at + 60)
        return;
    s->claim_audit_at = now;
    sup_audit(s, 1, "keysupd", "supervisor.version_claim_refused", target, "denied",
              SUP_KSE_TEXT(kse, VERSION_CLAIM_UNPROVED), detail);
}

int sup_restore_suspect(const sup_ctx *s, uint64_t av, const uint8_t *root, int has_hist,
                        uint32_t hist, uint64_t pv, const uint8_t proot[KS_HASH_SIZE], int proof)
{
    uint32_t cur = sup_restore_history(s);
    uint64_t floor = sup_restore_floor(s);
    /* the three cases of sup_restore_check, explained there */
    int ahead = av > pv && av > floor;
    int forked = av == pv && av > floor && root && memcmp(root, proot, KS_HASH_SIZE) != 0 &&
                 (!has_hist || hist == cur);
    int broken = proof && has_hist && hist == cur;
    return ahead || forked || broken;
}

int sup_restore_check(sup_ctx *s, int64_t ctrl_id, uint32_t scope, uint64_t av, const uint8_t *root,
                     int has_hist, uint32_t hist, uint64_t pv, const uint8_t proot[KS_HASH_SIZE],
                     int proof, const char *hdr_hex)
{
    uint32_t cur = sup_restore_history(s), nh;
    uint64_t floor = sup_restore_floor(s);
    int64_t stored = 0;
    sup_dbv q = sup_dbv_int(scope);
    if (!sup_restore_suspect(s, av, root, has_hist, hist, pv, proot, proof))
        return 0; /* the usual heartbeat: no database read */
    /* The stored version, not only the one in memory: a scope whose chain
     * failed to load at startup (pv 0) is not a restore. */
    if (sup_db_int(s->db, "SELECT version FROM scopes WHERE scope = ?", &q, 1, &stored) < 0)
        return -1;
    if ((uint64_t)stored > pv)
        return 0;
    int ahead = av > pv && av > floor;
    /* Same number, other contents, in what the controller believes is our
     * current history: we published this version twice. */
    int forked = av == pv && av > floor && root && memcmp(root, proot, KS_HASH_SIZE) != 0 &&
                 (!has_hist || hist == cur);
    /* The controller refused our database of its own history because a key
     * it holds revoked is not revoked in it: revocation is final, so our
     * records went back (we published past its version before it could
     * report). */
    int broken = proof && has_hist && hist == cur;
    char detail[200], target[48], kse[12];

    if (!ahead && !forked && !broken)
        return 0;
    /* Only a header we signed makes the claim evidence (sup_vclaim.c). The
     * check costs a signature, and runs only when a claim would count. */
    if (!sup_vclaim_check(s, hdr_hex, scope, av, root, has_hist, hist)) {
        unproved(s, ctrl_id, av, pv, hdr_hex != NULL);
        return 0;
    }
    /* A lost revocation is the controller's word: the header proves the
     * version it holds, not what our records lack. When it holds exactly
     * what we publish (version and root), nothing can be lost and the claim
     * is false. Any unit of the scope can fetch a current header, so a
     * stolen unit claimed this on every heartbeat, each claim a new history
     * and a full republish to the whole fleet; now it needs a header older
     * than the current one, that is one real publish per claim. */
    if (broken && !ahead && !forked && av == pv && root &&
        memcmp(root, proot, KS_HASH_SIZE) == 0) {
        sup_log(KS_LOG_WARN, "supervisor.restore_claim_false",
                "controller=%lld version=%llu: a lost revocation while it holds exactly what is"
                " published; ignored", (long long)ctrl_id, (unsigned long long)av);
        return 0;
    }
    do
        nh = randombytes_random();
    while (nh == 0 || nh == cur || (has_hist && nh == hist));
    if (av > floor)
        floor = av;
    {
        sup_dbv p[5] = {sup_dbv_int((int64_t)sup_now()), sup_dbv_int(nh), sup_dbv_int((int64_t)floor),
                       sup_dbv_int(ctrl_id), sup_dbv_int((int64_t)av)};
        if (sup_db_exec(s->db, "INSERT INTO restores(detected_at, history, floor, controller_id,"
                              " reported_version) VALUES (?,?,?,?,?)", p, 5, NULL, NULL))
            return -1;
    }
    /* Every scope republishes under the new history, above the floor. */
    if (sup_pub_mark(s, KS_SCOPE_ALL))
        return -1;
    __atomic_store_n(&s->history, nh, __ATOMIC_RELEASE);
    __atomic_store_n(&s->version_floor, floor, __ATOMIC_RELEASE);
    snprintf(target, sizeof target, "controller:%lld", (long long)ctrl_id);
    snprintf(detail, sizeof detail,
             "controller holds version %llu%s; published %llu: restored from an older backup; "
             "new history %08x, versions continue above %llu", (unsigned long long)av,
             forked ? " with another root" : broken ? " and a revocation we lost" : "", (unsigned long long)pv, nh,
             (unsigned long long)floor);
    sup_audit(s, 1, "keysupd", "supervisor.restore_detected", target, "ok",
              SUP_KSE_TEXT(kse, SUPERVISOR_RESTORED), detail);
    sup_log(KS_LOG_WARN, "supervisor.restore_detected", "controller=%lld %s", (long long)ctrl_id,
           detail);
    return 1;
}

void sup_restore_steps(json_t *steps, const char *evidence)
{
    const char *p = evidence ? strstr(evidence, "Re-revoke: ") : NULL;
    size_t at = 0;
    if (!json_is_array(steps) || !p)
        return;
    p += strlen("Re-revoke: ");
    /* One concrete step per key id the controller reported, before the
     * catalogue's generic ones (the evidence holds at most what fits). */
    while (*p) {
        char id[33], step[160];
        size_t n = strspn(p, "0123456789abcdef");
        if (n == 32) {
            memcpy(id, p, 32);
            id[32] = '\0';
            snprintf(step, sizeof step, "Re-apply the revocation the backup lost: "
                     "`keysup key revoke %s`.", id);
            json_array_insert_new(steps, at++, json_string(step));
        }
        p += n;
        if (*p != ' ')
            break;
        p++;
    }
}
