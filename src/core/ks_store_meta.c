/*
 * ks_store_meta.c - the metadata log: two blocks of sectors used in turn.
 *
 * The active block is a log of fixed-size slots, appended in order. When it
 * fills, a compaction erases the other block, writes the whole live state
 * into it (SUPER, the latest commit of each snapshot area, trust, settings,
 * audit acknowledgement, the counter table), syncs, and writes END last.
 * Until END (or any later append) is on flash the new block does not count,
 * so a power cut during compaction leaves the old block in charge, intact.
 */
#include <string.h>

#include "ks_store_int.h"

/* ----- encoders ----- */

void ks__commit_encode(const ks_store_commit *c, ks_rec *r)
{
    memset(r->payload, 0, KS_COMMIT_ROOT_SIZE);
    r->type = KS_MT_COMMIT;
    /* Without an overlay the record is the original 176 bytes, so stores
     * that never use one keep their exact layout; a paged store (layout 2)
     * always writes 200 (overlay fields zero when none, then the pages). */
    r->len = c->paged ? KS_COMMIT_PAGED_SIZE : c->ovl_gen ? KS_COMMIT_OVL_SIZE : KS_COMMIT_SIZE;
    if (c->paged) {
        ks_st32(r->payload + KS_COMMIT_OVL_SIZE, c->pages);
        ks_st32(r->payload + KS_COMMIT_OVL_SIZE + 4, c->retired);
    }
    if (c->rooted) { /* layout 4: the root naming its map and overlay sectors */
        r->len = KS_COMMIT_ROOT_SIZE;
        ks_st32(r->payload + KS_COMMIT_PAGED_SIZE, c->root);
    }
    r->payload[0] = c->area;
    ks_st32(r->payload + 4, c->count);
    ks_st64(r->payload + 8, c->gen);
    memcpy(r->payload + 16, c->header, KS_SNAP_HEADER_SIZE);
    if (c->ovl_gen) {
        ks_st64(r->payload + KS_COMMIT_SIZE, c->ovl_gen);
        ks_st32(r->payload + KS_COMMIT_SIZE + 8, c->ovl_end);
        ks_st32(r->payload + KS_COMMIT_SIZE + 12, c->ovl_last);
        r->payload[KS_COMMIT_SIZE + 16] = c->ovl_half;
    }
}

void ks__counter_encode(const ks_counter *c, int removed, uint8_t out[KS_COUNTER_ENC])
{
    memcpy(out, c->id, KS_KEYID_SIZE);
    out[16] = (uint8_t)((c->kind & 0x7f) | (removed ? 0x80 : 0));
    out[17] = c->flags;
    ks_st16(out + 18, c->lock_level);
    ks_st32(out + 20, c->fails);
    ks_st64(out + 24, c->use_counter);
    ks_st64(out + 32, c->window_start);
    ks_st64(out + 40, c->locked_until);
}

void ks__counter_decode(ks_counter *c, int *removed, const uint8_t in[KS_COUNTER_ENC])
{
    memcpy(c->id, in, KS_KEYID_SIZE);
    c->kind = in[16] & 0x7f;
    *removed = (in[16] & 0x80) != 0;
    c->flags = in[17];
    c->lock_level = ks_ld16(in + 18);
    c->fails = ks_ld32(in + 20);
    c->use_counter = ks_ld64(in + 24);
    c->window_start = ks_ld64(in + 32);
    c->locked_until = ks_ld64(in + 40);
}

static void trust_encode(const ks_trust *t, ks_rec *r)
{
    memset(r->payload, 0, KS_TRUST_SIZE);
    r->type = KS_MT_TRUST;
    r->len = KS_TRUST_SIZE;
    ks_st32(r->payload, t->count);
    ks_st64(r->payload + 8, t->rotation_seq);
    for (uint32_t i = 0; i < t->count && i < KS_TRUST_MAX; i++) {
        memcpy(r->payload + 16 + i * 48, t->keys[i], KS_PUBKEY_SIZE);
        memcpy(r->payload + 16 + i * 48 + 32, t->ids[i], KS_KEYID_SIZE);
    }
}

static void super_encode(const ks_store *st, uint64_t epoch, ks_rec *r)
{
    const ks_flash *f = st->cfg.flash;
    memset(r->payload, 0, KS_SUPER_GEOM_SIZE);
    r->type = KS_MT_SUPER;
    /* The full geometry, counter table included, so a tool can open the
     * image with no flags (ks_store_probe). */
    r->len = KS_SUPER_GEOM_SIZE;
    ks_st32(r->payload + 32, st->cfg.overlay_sectors);
    ks_st32(r->payload + 36, st->cfg.counter_cap);
    memcpy(r->payload, "KSST", 4);
    ks_st32(r->payload + 4, st->levelled ? KS_STORE_LAYOUT_LEVELLED
                            : st->counted ? KS_STORE_LAYOUT_COUNTED
                            : st->paged ? KS_STORE_LAYOUT_PAGED
                                        : KS_STORE_LAYOUT_VERSION);
    ks_st64(r->payload + 8, epoch);
    ks_st32(r->payload + 16, f->sector_size);
    ks_st32(r->payload + 20, f->sector_count);
    ks_st16(r->payload + 24, (uint16_t)f->prog_size);
    r->payload[26] = f->erase_value;
    r->payload[27] = (uint8_t)st->cfg.meta_sectors;
    ks_st32(r->payload + 28, st->cfg.audit_sectors);
    if (st->cfg.meta_blocks > 2) { /* a ring; two-block images keep their 40 bytes */
        r->len = KS_SUPER_RING_SIZE;
        ks_st32(r->payload + 40, st->cfg.meta_blocks);
    }
}

uint32_t ks__compact_slots(const ks_store *st)
{
    /* SUPER, two commits, trust, settings, ack, the counters, END, and the
     * changed-keys list (deny_slots, set by the layout from what is left). */
    return 7 + (st->cfg.counter_cap + KS_COUNTERS_PER_REC - 1) / KS_COUNTERS_PER_REC +
           st->deny_slots;
}

/* ----- apply (mount replay) ----- */

static int counter_apply(ks_store *st, const ks_counter *c, int removed)
{
    for (uint32_t i = 0; i < st->counter_count; i++) {
        ks_counter *e = &st->cfg.counters[i];
        if (e->kind == c->kind && memcmp(e->id, c->id, KS_KEYID_SIZE) == 0) {
            if (removed)
                *e = st->cfg.counters[--st->counter_count];
            else
                *e = *c;
            return KS_OK;
        }
    }
    if (removed)
        return KS_OK;
    if (st->counter_count >= st->cfg.counter_cap)
        return KS_E_NOSPC;
    st->cfg.counters[st->counter_count++] = *c;
    return KS_OK;
}

int ks__meta_apply(ks_store *st, const ks_rec *r, ks_diag *d)
{
    const uint8_t *p = r->payload;
    const ks_flash *f = st->cfg.flash;

    switch (r->type) {
    case KS_MT_SUPER:
        if ((r->len != KS_SUPER_SIZE && r->len != KS_SUPER_OVL_SIZE &&
             r->len != KS_SUPER_GEOM_SIZE && r->len != KS_SUPER_RING_SIZE) ||
            memcmp(p, "KSST", 4) != 0 ||
            ks_ld32(p + 4) < KS_STORE_LAYOUT_VERSION || ks_ld32(p + 4) > KS_STORE_LAYOUT_LEVELLED)
            return ks_fail(d, KS_E_FORMAT, 0, "store.super.version");
        /* The image says which layout it has: a layout 1 image mounts as
         * before; layout 2 needs the sector map (and a page of buffer),
         * layout 3 the erase counts too. */
        st->paged = ks_ld32(p + 4) >= KS_STORE_LAYOUT_PAGED;
        st->counted = ks_ld32(p + 4) >= KS_STORE_LAYOUT_COUNTED;
        st->levelled = ks_ld32(p + 4) == KS_STORE_LAYOUT_LEVELLED;
        if (ks__page_layout(st) != KS_OK)
            return ks_fail(d, KS_E_FORMAT, 0,
                           st->levelled ? "store.super.version: a levelled store (layout 4) needs "
                                          "cfg.sector_map, cfg.erase_counts, cfg.vmap and "
                                          "buf_size >= sector_size + 512"
            : st->counted ? "store.super.version: a paged store with erase counts "
                                         "(layout 3) needs cfg.sector_map, cfg.erase_counts "
                                         "and buf_size >= sector_size + 512"
                                       : "store.super.version: a paged store (layout 2) needs "
                                         "cfg.sector_map and buf_size >= sector_size + 512");
        if (ks_ld32(p + 16) != f->sector_size || ks_ld32(p + 20) != f->sector_count ||
            ks_ld16(p + 24) != f->prog_size || p[26] != f->erase_value ||
            p[27] != st->cfg.meta_sectors || ks_ld32(p + 28) != st->cfg.audit_sectors ||
            (r->len >= KS_SUPER_OVL_SIZE ? ks_ld32(p + 32) : 0) != st->cfg.overlay_sectors ||
            (r->len >= KS_SUPER_RING_SIZE ? ks_ld32(p + 40) : 2u) != st->cfg.meta_blocks)
            return ks_fail(d, KS_E_FORMAT, 0, "store.super.geometry");
        return KS_OK;
    case KS_MT_END:
        if (r->len == KS_END_WEAR_SIZE || r->len == KS_END_WEAR_SIZE1)
            ks__wear_decode(st, p + KS_END_SIZE, r->len - KS_END_SIZE);
        return KS_OK;
    case KS_MT_WEAR:
        if (r->len != KS_WEAR_SIZE && r->len != KS_WEAR_SIZE1)
            return ks_fail(d, KS_E_FORMAT, 0, "store.wear");
        ks__wear_decode(st, p, r->len);
        return KS_OK;
    case KS_MT_COMMIT: {
        ks_store_commit c;
        uint16_t paged_len = st->levelled ? KS_COMMIT_ROOT_SIZE : KS_COMMIT_PAGED_SIZE;
        if ((r->len != KS_COMMIT_SIZE && r->len != KS_COMMIT_OVL_SIZE &&
             r->len != paged_len) ||
            p[0] > 1 || (r->len == paged_len) != (st->paged != 0))
            return ks_fail(d, KS_E_FORMAT, 0, "store.commit");
        memset(&c, 0, sizeof c);
        if (r->len == KS_COMMIT_ROOT_SIZE) {
            c.rooted = 1;
            c.root = ks_ld32(p + KS_COMMIT_PAGED_SIZE);
            if (c.root >= st->pool_sectors)
                return ks_fail(d, KS_E_FORMAT, 0, "store.commit.root");
        }
        if (r->len == paged_len) {
            c.paged = 1;
            c.pages = ks_ld32(p + KS_COMMIT_OVL_SIZE);
            c.retired = ks_ld32(p + KS_COMMIT_OVL_SIZE + 4);
            if (c.retired > KS_STORE_RETIRED_MAX)
                return ks_fail(d, KS_E_FORMAT, 0, "store.commit.retired");
        }
        if (r->len == KS_COMMIT_OVL_SIZE ||
            (r->len == paged_len && ks_ld64(p + KS_COMMIT_SIZE))) {
            c.ovl_gen = ks_ld64(p + KS_COMMIT_SIZE);
            c.ovl_end = ks_ld32(p + KS_COMMIT_SIZE + 8);
            c.ovl_last = ks_ld32(p + KS_COMMIT_SIZE + 12);
            c.ovl_half = p[KS_COMMIT_SIZE + 16];
            if (!c.ovl_gen || c.ovl_half > 1 || !st->cfg.overlay_sectors ||
                c.ovl_end > ks__ovl_half_bytes(st) || c.ovl_last >= c.ovl_end)
                return ks_fail(d, KS_E_FORMAT, 0, "store.commit.overlay");
        }
        c.valid = 1;
        c.area = p[0];
        c.count = ks_ld32(p + 4);
        c.gen = ks_ld64(p + 8);
        c.seq = r->seq;
        memcpy(c.header, p + 16, KS_SNAP_HEADER_SIZE);
        st->last[c.area] = c;
        return KS_OK;
    }
    case KS_MT_TRUST: {
        uint32_t n = ks_ld32(p);
        if (r->len != KS_TRUST_SIZE || n > KS_TRUST_MAX)
            return ks_fail(d, KS_E_FORMAT, 0, "store.trust");
        memset(&st->trust, 0, sizeof st->trust);
        st->trust.count = n;
        st->trust.rotation_seq = ks_ld64(p + 8);
        for (uint32_t i = 0; i < n; i++) {
            memcpy(st->trust.keys[i], p + 16 + i * 48, KS_PUBKEY_SIZE);
            memcpy(st->trust.ids[i], p + 16 + i * 48 + 32, KS_KEYID_SIZE);
        }
        return KS_OK;
    }
    case KS_MT_COUNTER: {
        uint32_t n = p[0];
        if (n == 0 || n > KS_COUNTERS_PER_REC || r->len != KS_COUNTER_REC_SIZE(n))
            return ks_fail(d, KS_E_FORMAT, 0, "store.counter");
        for (uint32_t i = 0; i < n; i++) {
            ks_counter c;
            int removed;
            ks__counter_decode(&c, &removed, p + 8 + i * KS_COUNTER_ENC);
            if (counter_apply(st, &c, removed) != KS_OK)
                return ks_fail(d, KS_E_NOSPC, 0, "store.counter: table larger than counter_cap");
        }
        return KS_OK;
    }
    case KS_MT_SETTINGS:
        if (r->len > KS_SETTINGS_MAX)
            return ks_fail(d, KS_E_FORMAT, 0, "store.settings");
        memcpy(st->settings, p, r->len);
        st->settings_len = r->len;
        return KS_OK;
    case KS_MT_ACK:
        if (r->len != KS_ACK_SIZE)
            return ks_fail(d, KS_E_FORMAT, 0, "store.ack");
        if (ks_ld64(p) > st->audit_acked)
            st->audit_acked = ks_ld64(p);
        return KS_OK;
    case KS_MT_DENY:
        return ks__deny_apply(st, r, d);
    default:
        return ks_fail(d, KS_E_FORMAT, 0, "store.meta.type");
    }
}

/* ----- compaction ----- */

/* Writes r at the head of the block being built; skips slots that are not blank. */
static int put(ks_store *st, unsigned block, uint32_t *head, ks_rec *r)
{
    for (;;) {
        if (*head >= st->meta_slots)
            return KS_E_NOSPC;
        r->seq = ++st->seq;
        int err = ks__slot_write(st, ks__meta_addr(st, block, (*head)++), KS_META_AREA,
                                 KS_META_MAGIC, r);
        if (err != KS__NOT_ERASED)
            return err;
    }
}

/* Builds the live state into block nb (erased first); it takes charge at END. */
static int compact_into(ks_store *st, unsigned nb)
{
    uint32_t head = 0;
    uint64_t epoch = st->meta_epoch + 1;
    ks_rec r;
    int err;

    if ((err = ks__ring_erase(st, nb)) != 0)
        return err;

    super_encode(st, epoch, &r);
    r.flags = KS_RF_COMPACT;
    if ((err = put(st, nb, &head, &r)) != 0)
        return err;
    /* Older commit first, so replay order keeps "newest wins". */
    unsigned order[2], nc = 0;
    if (st->last[0].valid && st->last[1].valid) {
        order[0] = st->last[0].seq < st->last[1].seq ? 0u : 1u;
        order[1] = order[0] ^ 1u;
        nc = 2;
    } else if (st->last[0].valid || st->last[1].valid) {
        order[0] = st->last[0].valid ? 0u : 1u;
        nc = 1;
    }
    for (unsigned i = 0; i < nc; i++) {
        ks_store_commit *c = &st->last[order[i]];
        ks__commit_encode(c, &r);
        r.flags = KS_RF_COMPACT;
        if ((err = put(st, nb, &head, &r)) != 0)
            return err;
        c->seq = r.seq;
        if (st->cur.valid && st->cur.area == c->area && st->cur.gen == c->gen)
            st->cur.seq = r.seq;
    }
    trust_encode(&st->trust, &r);
    r.flags = KS_RF_COMPACT;
    if ((err = put(st, nb, &head, &r)) != 0)
        return err;
    if ((err = ks__deny_compact(st, put, nb, &head)) != 0)
        return err;
    if (st->settings_len) {
        r.type = KS_MT_SETTINGS;
        r.flags = KS_RF_COMPACT;
        r.len = (uint16_t)st->settings_len;
        memcpy(r.payload, st->settings, st->settings_len);
        if ((err = put(st, nb, &head, &r)) != 0)
            return err;
    }
    if (st->audit_acked) {
        r.type = KS_MT_ACK;
        r.flags = KS_RF_COMPACT;
        r.len = KS_ACK_SIZE;
        ks_st64(r.payload, st->audit_acked);
        if ((err = put(st, nb, &head, &r)) != 0)
            return err;
    }
    for (uint32_t i = 0; i < st->counter_count; i += KS_COUNTERS_PER_REC) {
        uint32_t n = st->counter_count - i;
        if (n > KS_COUNTERS_PER_REC)
            n = KS_COUNTERS_PER_REC;
        memset(r.payload, 0, 8);
        r.type = KS_MT_COUNTER;
        r.flags = KS_RF_COMPACT;
        r.len = (uint16_t)KS_COUNTER_REC_SIZE(n);
        r.payload[0] = (uint8_t)n;
        for (uint32_t j = 0; j < n; j++)
            ks__counter_encode(&st->cfg.counters[i + j], 0, r.payload + 8 + j * KS_COUNTER_ENC);
        if ((err = put(st, nb, &head, &r)) != 0)
            return err;
    }
    /* Everything above must be durable before END can be. */
    if ((err = ks__sync(st)) != 0)
        return err;
    memset(r.payload, 0, KS_END_SIZE);
    r.type = KS_MT_END;
    r.flags = KS_RF_COMPACT;
    r.len = st->paged ? KS_END_WEAR_SIZE : KS_END_WEAR_SIZE1;
    if (st->counted)
        ks__cnt_minmax(st);
    ks_st64(r.payload, epoch);
    ks_st32(r.payload + 8, head);
    /* The wear counts ride in END: no slot of their own, and they include
     * this compaction's erase of the block. */
    ks__wear_encode(st, r.payload + KS_END_SIZE);
    if ((err = put(st, nb, &head, &r)) != 0)
        return err;
    st->meta_block = (uint8_t)nb;
    st->meta_epoch = epoch;
    st->meta_head = head;
    return KS_OK;
}

int ks__meta_compact(ks_store *st)
{
    uint32_t k = st->cfg.meta_blocks;
    int err = KS_E_IO;

    /* The block after the one in charge; in a ring (k > 2), a block that
     * fails an erase or a program is passed over for the next, never the
     * one in charge: it stays intact until the new block's END. With two
     * blocks there is no other, and the failure is the compaction's. */
    for (uint32_t i = 1; i < k; i++) {
        err = compact_into(st, (st->meta_block + i) % k);
        if (err != KS_E_IO || k == 2)
            return err;
    }
    return err;
}

int ks__meta_repair(ks_store *st)
{
    int err;
    unsigned old = st->meta_block;

    if (!(st->flags & KS_STORE_F_META_DAMAGED))
        return KS_OK;
    /* The live state (in RAM) goes forward into the other block; the
     * damaged one is then erased at once, so the damage a check found is
     * gone rather than left in dead space to be found again (and repaired
     * again, by download after download). Safe: the new block is complete
     * (END is on flash) and newer, so a power cut in the erase leaves it
     * in charge. */
    if ((err = ks__meta_compact(st)) != 0)
        return err;
    /* A ring leaves it for its turn: erasing out of turn would break the
     * ring's even wear (and its counts), and nothing reads a block that is
     * not in charge but the mount's epoch scan. */
    if (st->cfg.meta_blocks == 2 && (err = ks__ring_erase(st, old)) != 0)
        return err;
    st->flags &= ~(unsigned)KS_STORE_F_META_DAMAGED;
    if (st->damage.what && st->damage.what[0] == 'm' && st->damage.what[1] == 'e' &&
        st->damage.what[2] == 't' && st->damage.what[3] == 'a') {
        memset(&st->damage, 0, sizeof st->damage);
        st->flags &= ~(unsigned)KS_STORE_F_DAMAGED;
    }
    return KS_OK;
}

int ks__meta_append(ks_store *st, ks_rec *r)
{
    int err, compacted = 0;

    r->flags = 0;
    for (;;) {
        if (st->meta_head >= st->meta_slots) {
            /* One compaction must make room; a second would loop forever
             * on a block whose every slot fails. */
            if (compacted++)
                return KS_E_NOSPC;
            if ((err = ks__meta_compact(st)) != 0)
                return err;
        }
        r->seq = ++st->seq;
        err = ks__slot_write(st, ks__meta_addr(st, st->meta_block, st->meta_head++), KS_META_AREA,
                             KS_META_MAGIC, r);
        if (err != KS__NOT_ERASED)
            return err;
    }
}
