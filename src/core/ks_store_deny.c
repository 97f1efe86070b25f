/*
 * ks_store_deny.c - the changed-keys list and the fallback policy.
 *
 * A store that answers from an older snapshot than the newest it committed
 * (the newest area or the overlay is damaged, a COMMIT slot was lost) must
 * not bring back a right the supervisor has since taken away. So before a
 * delta's COMMIT the store appends, in the metadata log and apart from the
 * snapshot areas and the overlay, the key ids the delta changes (upserted
 * or removed) with the delta's target version. A full install cannot name
 * its changes cheaply, so it records "every key changed at this version".
 *
 * Policy (ks_store_fallback_check): on an older snapshot than the newest
 * commit (FELL_BACK) the applied snapshot answers for a key unless the key
 * changed at a version above the applied one; when every key may have
 * changed above it (a full install since, a list that overflowed) every
 * key is refused. On the newest commit the list is not consulted (a power
 * cut between a list record and its COMMIT leaves entries above the
 * applied version: that delta never applied, the state is the newest). A
 * lost metadata slot that may have been a newer COMMIT or a list record is
 * the one case where the store cannot know it is behind: mount then sets a
 * firm deny-all (deny_firm) that holds, across compactions, until a commit
 * at or above it.
 *
 * The list is trimmed to what a committed state can still need: entries at
 * or below the oldest version either area's latest commit holds can never
 * be above an applied version again.
 */
#include <string.h>

#include "ks_store_int.h"

uint32_t ks__deny_slots(ks_store *st, uint32_t spare_slots)
{
    /* Leave most of the block to appends, so a compaction buys room for
     * many records, not one. One more slot for the firm marker. */
    uint32_t slots = spare_slots / 4;
    uint32_t max = (KS_STORE_DENY_MAX + KS_DENY_PER_REC - 1) / KS_DENY_PER_REC;
    if (slots > max)
        slots = max;
    st->deny_cap = slots * KS_DENY_PER_REC;
    if (st->deny_cap > KS_STORE_DENY_MAX)
        st->deny_cap = KS_STORE_DENY_MAX;
    /* The firm marker keeps its slot even with no room for a list: a deny
     * set by a lost COMMIT must survive the compaction that erases the
     * block it was found in (fuzz_flash_image found a geometry where the
     * next remount answered from the older state as if nothing was lost). */
    st->deny_slots = slots ? slots + 1 : spare_slots ? 1 : 0;
    return st->deny_slots;
}

/* Adds (id, version), keeping the highest version per id. 0 when full. */
static int deny_add(ks_store *st, const uint8_t id[KS_KEYID_SIZE], uint64_t version)
{
    for (uint32_t i = 0; i < st->deny_n; i++)
        if (memcmp(st->deny[i].id, id, KS_KEYID_SIZE) == 0) {
            if (version > st->deny[i].version)
                st->deny[i].version = version;
            return 1;
        }
    if (st->deny_n >= st->deny_cap)
        return 0;
    memcpy(st->deny[st->deny_n].id, id, KS_KEYID_SIZE);
    st->deny[st->deny_n++].version = version;
    return 1;
}

/* A list entry that does not fit means "some key changed at version":
 * without knowing which, every key is. */
static void deny_add_or_all(ks_store *st, const uint8_t id[KS_KEYID_SIZE], uint64_t version)
{
    if (!deny_add(st, id, version) && version > st->deny_all)
        st->deny_all = version;
}

int ks__deny_apply(ks_store *st, const ks_rec *r, ks_diag *d)
{
    const uint8_t *p = r->payload;
    uint32_t n = p[0];

    if (n > KS_DENY_PER_REC || r->len != KS_DENY_SIZE(n) || (p[1] & ~KS_DENY_FIRM))
        return ks_fail(d, KS_E_FORMAT, 0, "store.deny");
    for (uint32_t i = 2; i < KS_DENY_HDR - 8; i++)
        if (p[i])
            return ks_fail(d, KS_E_FORMAT, 0, "store.deny.reserved");
    if (p[1] & KS_DENY_FIRM) {
        if (ks_ld64(p + 8) > st->deny_firm)
            st->deny_firm = ks_ld64(p + 8);
    } else if (ks_ld64(p + 8) > st->deny_all) {
        st->deny_all = ks_ld64(p + 8);
    }
    for (uint32_t i = 0; i < n; i++)
        deny_add_or_all(st, p + KS_DENY_HDR + i * KS_DENY_ENC,
                        ks_ld64(p + KS_DENY_HDR + i * KS_DENY_ENC + KS_KEYID_SIZE));
    return KS_OK;
}

/* The oldest version a committed state still holds; 0 when none (or when
 * a commit's header does not decode: then nothing is trimmed). */
static uint64_t deny_floor(const ks_store *st)
{
    uint64_t floor = 0;
    int any = 0;
    for (int i = 0; i < 2; i++) {
        ks_snap_header h;
        /* An area with no commit holds nothing to fall back to (the usual
         * case of one area plus the overlay): only the other one counts. */
        if (!st->last[i].valid)
            continue;
        if (ks_snap_header_decode(&h, st->last[i].header, NULL) != 0)
            return 0; /* a commit we cannot read: keep everything */
        if (!any || h.version < floor)
            floor = h.version;
        any = 1;
    }
    return floor;
}

void ks__deny_trim(ks_store *st)
{
    uint64_t floor = deny_floor(st);
    uint32_t k = 0;
    if (!floor)
        return;
    for (uint32_t i = 0; i < st->deny_n; i++)
        if (st->deny[i].version > floor)
            st->deny[k++] = st->deny[i];
    st->deny_n = k;
    if (st->deny_all <= floor)
        st->deny_all = 0;
    if (st->deny_firm <= floor)
        st->deny_firm = 0;
}

/* Appends one DENY record: n entries from ents (may be 0) and all. */
static int deny_write(ks_store *st, const uint8_t *ids, size_t stride, uint32_t n,
                      uint64_t version, uint64_t all)
{
    ks_rec r;
    memset(r.payload, 0, KS_DENY_SIZE(KS_DENY_PER_REC));
    r.type = KS_MT_DENY;
    r.len = (uint16_t)KS_DENY_SIZE(n);
    r.payload[0] = (uint8_t)n;
    ks_st64(r.payload + 8, all);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(r.payload + KS_DENY_HDR + i * KS_DENY_ENC, ids + i * stride, KS_KEYID_SIZE);
        ks_st64(r.payload + KS_DENY_HDR + i * KS_DENY_ENC + KS_KEYID_SIZE, version);
    }
    return ks__meta_append(st, &r);
}

int ks__deny_note_delta(ks_store *st, const ks_delta *dl)
{
    uint64_t v = dl->target.version;
    uint32_t n = dl->n_upserts + dl->n_removals, room;
    int err;

    if (!n)
        return KS_OK;
    ks__deny_trim(st);
    room = st->deny_cap - st->deny_n;
    /* A delta larger than the list (or than the room a compaction gives
     * it) is recorded as "every key changed at v": one slot, and safe.
     * RAM is updated before each record is written: a compaction that a
     * write triggers copies the list from RAM, and must not drop what an
     * earlier record of this delta put in the old block. RAM holding more
     * than flash after a failed write only refuses more. */
    if (n > room) {
        if (v > st->deny_all)
            st->deny_all = v;
        return deny_write(st, NULL, 0, 0, v, v);
    }
    for (uint32_t i = 0; i < dl->n_upserts; i += KS_DENY_PER_REC) {
        uint32_t k = dl->n_upserts - i < KS_DENY_PER_REC ? dl->n_upserts - i : KS_DENY_PER_REC;
        for (uint32_t j = 0; j < k; j++)
            deny_add_or_all(st, dl->upserts + (size_t)(i + j) * KS_RECORD_SIZE, v);
        if ((err = deny_write(st, dl->upserts + (size_t)i * KS_RECORD_SIZE, KS_RECORD_SIZE, k, v,
                              0)) != 0)
            return err;
    }
    for (uint32_t i = 0; i < dl->n_removals; i += KS_DENY_PER_REC) {
        uint32_t k = dl->n_removals - i < KS_DENY_PER_REC ? dl->n_removals - i : KS_DENY_PER_REC;
        for (uint32_t j = 0; j < k; j++)
            deny_add_or_all(st, dl->removals + (size_t)(i + j) * KS_KEYID_SIZE, v);
        if ((err = deny_write(st, dl->removals + (size_t)i * KS_KEYID_SIZE, KS_KEYID_SIZE, k, v,
                              0)) != 0)
            return err;
    }
    return KS_OK;
}

int ks__deny_note_all(ks_store *st, uint64_t version)
{
    /* Nothing committed before: there is no older state to fall back to. */
    if (!st->last[0].valid && !st->last[1].valid)
        return KS_OK;
    ks__deny_trim(st);
    if (version <= st->deny_all)
        return KS_OK;
    st->deny_all = version;
    return deny_write(st, NULL, 0, 0, version, version);
}

int ks__deny_compact(ks_store *st, int (*put)(ks_store *, unsigned, uint32_t *, ks_rec *),
                     unsigned nb, uint32_t *head)
{
    ks_rec r;
    uint32_t i = 0;
    int err;

    ks__deny_trim(st);
    if (!st->deny_slots)
        return KS_OK;
    if (st->deny_firm) {
        memset(r.payload, 0, KS_DENY_HDR);
        r.type = KS_MT_DENY;
        r.flags = KS_RF_COMPACT;
        r.len = KS_DENY_SIZE(0);
        r.payload[1] = KS_DENY_FIRM;
        ks_st64(r.payload + 8, st->deny_firm);
        if ((err = put(st, nb, head, &r)) != 0)
            return err;
    }
    /* No room for a list: a fallback refuses every key anyway
     * (ks_store_deny_all), so the all-keys version is not kept. */
    if (!st->deny_cap)
        return KS_OK;
    do {
        uint32_t n = st->deny_n - i < KS_DENY_PER_REC ? st->deny_n - i : KS_DENY_PER_REC;
        if (!n && !st->deny_all)
            return KS_OK;
        memset(r.payload, 0, KS_DENY_SIZE(KS_DENY_PER_REC));
        r.type = KS_MT_DENY;
        r.flags = KS_RF_COMPACT;
        r.len = (uint16_t)KS_DENY_SIZE(n);
        r.payload[0] = (uint8_t)n;
        if (i == 0)
            ks_st64(r.payload + 8, st->deny_all);
        for (uint32_t j = 0; j < n; j++) {
            memcpy(r.payload + KS_DENY_HDR + j * KS_DENY_ENC, st->deny[i + j].id, KS_KEYID_SIZE);
            ks_st64(r.payload + KS_DENY_HDR + j * KS_DENY_ENC + KS_KEYID_SIZE,
                    st->deny[i + j].version);
        }
        if ((err = put(st, nb, head, &r)) != 0)
            return err;
        i += n;
    } while (i < st->deny_n);
    return KS_OK;
}

int ks_store_deny_all(const ks_store *st)
{
    if (!st->cur.valid)
        return 0;
    /* A lost COMMIT or list record: this may not be the newest state. */
    if (st->deny_firm > st->hdr.version)
        return 1;
    /* Otherwise the list matters only on an older state than the newest
     * commit: after a power cut between a list record and its COMMIT the
     * store is on its newest committed state, and decides as usual. */
    if (!(st->flags & KS_STORE_F_FELL_BACK))
        return 0;
    /* A geometry with no room for the list cannot tell what changed. */
    return st->deny_all > st->hdr.version || !st->deny_cap;
}

int ks_store_fallback_check(const ks_store *st, const uint8_t key_id[KS_KEYID_SIZE])
{
    if (!st->cur.valid)
        return KS_OK; /* nothing applied: every lookup misses anyway */
    if (ks_store_deny_all(st))
        return KS_E_STALE_DENIED;
    if (!(st->flags & KS_STORE_F_FELL_BACK))
        return KS_OK;
    for (uint32_t i = 0; i < st->deny_n; i++)
        if (st->deny[i].version > st->hdr.version &&
            memcmp(st->deny[i].id, key_id, KS_KEYID_SIZE) == 0)
            return KS_E_STALE_DENIED;
    return KS_OK;
}
