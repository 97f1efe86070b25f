/*
 * ctl_restore.c - a supervisor restored from an older backup (issue 17 row 9).
 *
 * An automatic full download replaces the whole database. That is right when
 * the supervisor's database continues ours, and wrong when the supervisor's
 * records went back: it would undo every revocation made after its backup.
 * Three signs tell them apart, all signed by the supervisor: another history
 * id in the header (the supervisor draws a new one when it sees it was
 * restored), the same version as ours with another Merkle root (a version
 * published twice), or a key we hold revoked that is not revoked in the
 * offer (revocation is final: only a restore undoes one; this covers a
 * supervisor that published past our version before any heartbeat of ours
 * could tell it that it was restored). Then the agent keeps its own database (fail closed: what
 * it revoked stays revoked), says KSE-304 and reports the keys it holds
 * revoked or suspended that the offered database would grant, so the
 * supervisor's diagnosis can name what to re-apply. A delta whose base is
 * our exact root may cross into a new history (it continues our line), and
 * an operator's `initialize` adopts whatever the supervisor offers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ctl_http.h"
#include "ks_hex.h"

/*
 * Keys the offered database would let through that this store holds revoked
 * or suspended: active there. revoked_only: keys revoked here and not revoked
 * there, which no single line of records can produce (revocation is final),
 * so it proves a restore even without a new history.
 */
static uint32_t find_lost(ctl_agent *a, const uint8_t *img, uint32_t count, int revoked_only)
{
    uint8_t mine[KS_RECORD_SIZE];
    ks_record theirs, ours;
    uint32_t lost = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *r = img + KS_SNAP_HEADER_SIZE + (size_t)i * KS_RECORD_SIZE;
        if (ks_record_decode(&theirs, r, NULL) != KS_OK)
            continue; /* the offer was verified; a record it cannot hold is not ours to judge */
        if (revoked_only ? theirs.state == KS_STATE_REVOKED : theirs.state != KS_STATE_ACTIVE)
            continue;
        if (ks_store_lookup(&a->store, theirs.key_id, mine) != KS_OK ||
            ks_record_decode(&ours, mine, NULL) != KS_OK)
            continue;
        if (revoked_only ? ours.state != KS_STATE_REVOKED : ours.state == KS_STATE_ACTIVE)
            continue;
        if (revoked_only)
            return 1;
        if (lost < 16) {
            memcpy(a->restore.keys[lost], theirs.key_id, KS_KEYID_SIZE);
            a->restore.states[lost] = ours.state;
        }
        lost++;
    }
    return lost;
}

int ctl_restore_guard(ctl_agent *a, const uint8_t *img, size_t len)
{
    const ks_snap_header *h = ks_store_header(&a->store);
    ks_policy p = {ks_store_trust(&a->store), 0, 0, 0};
    ks_snap_header nh;
    ks_diag d = {0};
    if (!h)
        return KS_OK;
    /* Only an authentic offer is compared; anything else is refused by the
     * install with its own code. */
    if (ks_snapshot_verify(&a->crypto, img, len, &p, &nh, &d) != KS_OK)
        return KS_OK;
    if (nh.history == h->history &&
        !(nh.version == h->version && memcmp(nh.root, h->root, KS_HASH_SIZE) != 0) &&
        !find_lost(a, img, nh.record_count, 1))
        return KS_OK;
    a->restore.active = 1;
    a->restore.version = nh.version;
    a->restore.history = nh.history;
    memcpy(a->restore.root, nh.root, KS_HASH_SIZE);
    a->restore.lost = find_lost(a, img, nh.record_count, 0);
    fprintf(stderr, "keysup-controller: KSE-304 SUPERVISOR_RESTORED: offered version %llu "
                    "history %08x, holding %llu history %08x; %u revocation(s) would be undone; "
                    "database kept until an operator orders initialize\n",
            (unsigned long long)nh.version, nh.history, (unsigned long long)h->version, h->history,
            a->restore.lost);
    ctl_note_refusal(a, KS_E_SUPERVISOR_RESTORED, (uint64_t)time(NULL));
    return KS_E_SUPERVISOR_RESTORED;
}

int ctl_restore_skip(ctl_agent *a, uint64_t version, const uint8_t *root)
{
    const ks_snap_header *h = ks_store_header(&a->store);
    if (!a->restore.active || !h)
        return 0;
    if (h->version == version && memcmp(h->root, a->restore.root, KS_HASH_SIZE) == 0) {
        a->restore.active = 0; /* we hold what was refused: an initialize adopted it */
        return 0;
    }
    return version == a->restore.version && root &&
           memcmp(root, a->restore.root, KS_HASH_SIZE) == 0;
}

void ctl_restore_report(ctl_agent *a, json_t *o)
{
    const ks_snap_header *h = ks_store_header(&a->store);
    char hex[2 * KS_HASH_SIZE + 1];
    if (h)
        json_object_set_new(o, "applied_history", json_integer(h->history));
    if (!a->restore.active || !h || (h->version == a->restore.version &&
                                     memcmp(h->root, a->restore.root, KS_HASH_SIZE) == 0))
        return;
    json_t *keys = json_array();
    for (uint32_t i = 0; i < a->restore.lost && i < 16; i++) {
        ks_hex(hex, a->restore.keys[i], KS_KEYID_SIZE);
        json_array_append_new(keys, json_pack("{s:s,s:s}", "key_id", hex, "state",
                                              a->restore.states[i] == KS_STATE_REVOKED
                                                  ? "revoked" : "suspended"));
    }
    ks_hex(hex, a->restore.root, KS_HASH_SIZE);
    json_object_set_new(o, "restore",
                        json_pack("{s:s,s:I,s:I,s:s,s:I,s:o}", "code", "KSE-304",
                                  "offered_version", (json_int_t)a->restore.version,
                                  "offered_history", (json_int_t)a->restore.history,
                                  "offered_root", hex, "lost_count",
                                  (json_int_t)a->restore.lost, "lost", keys));
}
