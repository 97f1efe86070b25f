/*
 * ks_store_audit.c - the audit ring: fixed-size entries appended to a ring
 * of sectors, read back from the oldest unacknowledged one, acknowledged up
 * to a sequence number (the acknowledgement lives in the metadata log).
 *
 * Why drop the oldest when full instead of refusing: the auth engine must
 * keep deciding while a controller is offline, and a refusal to log would
 * become a refusal to open the door. The loss is never silent: sequence
 * numbers are dense, so the uploader sees the gap (and the entries are
 * hash-chained by the auth engine).
 */
#include <string.h>

#include "ks_store_int.h"

int ks__audit_scan(ks_store *st, ks_diag *d)
{
    uint64_t max = 0, min = 0;
    uint32_t hs = 0, hj = 0;
    int err, cls, bad = 0;
    ks_rec r;

    for (uint32_t s = 0; s < st->cfg.audit_sectors; s++)
        for (uint32_t j = 0; j < st->audit_slots; j++) {
            uint32_t addr = ks__audit_addr(st, s, j);
            if ((err = ks__slot_read(st, addr, KS_AUDIT_AREA, KS_AUDIT_MAGIC, &r, &cls)) != 0)
                return err;
            if (cls == KS_SLOT_CORRUPT ||
                (cls == KS_SLOT_VALID && (r.type != KS_AT_ENTRY || r.len != KS_AUDIT_PAYLOAD))) {
                if (!bad++)
                    ks_fail(d, ks__damage(st, addr, "audit.slot", 0), addr, "audit.slot");
                continue;
            }
            if (cls != KS_SLOT_VALID)
                continue;
            if (r.seq > max) {
                max = r.seq;
                hs = s;
                hj = j + 1;
            }
            if (!min || r.seq < min)
                min = r.seq;
        }
    st->audit_last = max;
    st->audit_first_seq = min;
    st->audit_head_sector = hs;
    st->audit_head_slot = hj;
    return bad ? KS_E_STORE_CORRUPT : KS_OK;
}

int ks_store_audit_append(ks_store *st, const uint8_t payload[KS_AUDIT_PAYLOAD], uint64_t *seq)
{
    uint32_t tries = st->audit_slots * st->cfg.audit_sectors + 1;
    ks_rec r;
    int err;

    if (!st->mounted)
        return KS_E_INVAL;
    r.type = KS_AT_ENTRY;
    r.flags = 0;
    r.len = KS_AUDIT_PAYLOAD;
    r.seq = (st->audit_last > st->audit_acked ? st->audit_last : st->audit_acked) + 1;
    memcpy(r.payload, payload, KS_AUDIT_PAYLOAD);
    while (tries--) {
        if (st->audit_head_slot >= st->audit_slots) {
            st->audit_head_sector = (st->audit_head_sector + 1) % st->cfg.audit_sectors;
            st->audit_head_slot = 0;
        }
        if (st->audit_head_slot == 0) {
            /* Entering a sector: erase it, dropping its (oldest) entries. */
            if ((err = ks__erase(st, st->audit_first + st->audit_head_sector)) != 0)
                return err;
            if (st->audit_first_seq && st->audit_first_seq <= r.seq)
                st->audit_first_seq = 0; /* unknown until the next scan */
        }
        err = ks__slot_write(st, ks__audit_addr(st, st->audit_head_sector, st->audit_head_slot++),
                             KS_AUDIT_AREA, KS_AUDIT_MAGIC, &r);
        if (err == KS__NOT_ERASED)
            continue;
        if (err)
            return err;
        st->audit_last = r.seq;
        if (!st->audit_first_seq)
            st->audit_first_seq = r.seq;
        if (seq)
            *seq = r.seq;
        return KS_OK;
    }
    return KS_E_NOSPC;
}

int ks_store_audit_read(ks_store *st, uint64_t after, uint8_t payload[KS_AUDIT_PAYLOAD],
                        uint64_t *seq)
{
    uint64_t floor = after > st->audit_acked ? after : st->audit_acked, best = 0;
    int err, cls;
    ks_rec r;

    if (!st->mounted)
        return KS_E_INVAL;
    for (uint32_t s = 0; s < st->cfg.audit_sectors; s++)
        for (uint32_t j = 0; j < st->audit_slots; j++) {
            uint32_t addr = ks__audit_addr(st, s, j);
            if ((err = ks__slot_read(st, addr, KS_AUDIT_AREA, KS_AUDIT_MAGIC, &r, &cls)) != 0)
                return err;
            if (cls == KS_SLOT_CORRUPT) {
                ks__damage(st, addr, "audit.slot", 0);
                continue;
            }
            if (cls != KS_SLOT_VALID || r.type != KS_AT_ENTRY || r.len != KS_AUDIT_PAYLOAD ||
                r.seq <= floor || (best && r.seq >= best))
                continue;
            best = r.seq;
            memcpy(payload, r.payload, KS_AUDIT_PAYLOAD);
        }
    if (!best)
        return KS_E_NOTFOUND;
    if (seq)
        *seq = best;
    return KS_OK;
}

int ks_store_audit_ack(ks_store *st, uint64_t seq)
{
    ks_rec r;
    int err;

    if (!st->mounted || seq > st->audit_last)
        return KS_E_INVAL;
    if (seq <= st->audit_acked)
        return KS_OK;
    r.type = KS_MT_ACK;
    r.len = KS_ACK_SIZE;
    ks_st64(r.payload, seq);
    if ((err = ks__meta_append(st, &r)) != 0)
        return err;
    st->audit_acked = seq;
    return KS_OK;
}
