/*
 * ks_store_mount.c - layout, format, boot-time mount and recovery, the full
 * check, and the read-only view the inspect tool prints.
 *
 * Mount picks the metadata block that is complete (its compaction finished:
 * END is on flash, or a later append is) with the highest epoch, replays it
 * in slot order, then picks the newest commit whose area still checks,
 * falling back to the other area's commit when the newest is damaged.
 */
#include <string.h>

#include "ks_store_int.h"

static int pow2(uint32_t v) { return v && !(v & (v - 1)); }

static int layout(ks_store *st, const ks_store_cfg *cfg)
{
    const ks_flash *f = cfg->flash;

    memset(st, 0, sizeof *st);
    if (!f || !f->read || !f->prog || !f->erase || !cfg->crypto || !cfg->crypto->hash)
        return KS_E_INVAL;
    if (!pow2(f->sector_size) || f->sector_size < 1024 || !pow2(f->prog_size) ||
        f->prog_size > 256 || (uint64_t)f->sector_size * f->sector_count > 0xFFFFFFFFu)
        return KS_E_INVAL;
    if (!cfg->buf || cfg->buf_size < KS_STORE_BUF_MIN || cfg->buf_size % 512 ||
        (cfg->counter_cap && !cfg->counters))
        return KS_E_INVAL;
    st->cfg = *cfg;
    /* A hardware CRC is used only if it computes the standard check value,
     * also when chained (ks_crc32c(0, "123456789", 9) = 0xE3069283). */
    if (f->crc32c) {
        static const uint8_t chk[9] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
        st->hw_crc = f->crc32c(f->ctx, 0, chk, 9) == 0xE3069283u &&
                     f->crc32c(f->ctx, f->crc32c(f->ctx, 0, chk, 4), chk + 4, 5) == 0xE3069283u &&
                     f->crc32c(f->ctx, 0, chk, 0) == 0;
    }
    if (!st->cfg.meta_sectors)
        st->cfg.meta_sectors = KS_STORE_META_SECTORS_DEFAULT;
    if (!st->cfg.audit_sectors)
        st->cfg.audit_sectors = KS_STORE_AUDIT_SECTORS_DEFAULT;
    if (!st->cfg.meta_blocks)
        st->cfg.meta_blocks = 2;
    if (st->cfg.meta_sectors > 255 || st->cfg.audit_sectors < 2 || st->cfg.meta_blocks < 2 ||
        st->cfg.meta_blocks > KS_STORE_META_BLOCKS_MAX ||
        st->cfg.meta_blocks * st->cfg.meta_sectors > 255)
        return KS_E_INVAL;

    st->meta_slot_size = ks__align(KS_META_AREA, f->prog_size) + f->prog_size;
    st->meta_slots = st->cfg.meta_sectors * (f->sector_size / st->meta_slot_size);
    st->audit_slot_size = ks__align(KS_AUDIT_AREA, f->prog_size) + f->prog_size;
    st->audit_slots = f->sector_size / st->audit_slot_size;
    st->audit_first = st->cfg.meta_blocks * st->cfg.meta_sectors;
    /* The overlay: two halves, used in turn (see ks_store_ovl.c), and a
     * RAM table to go with it. */
    if (st->cfg.overlay_sectors &&
        (st->cfg.overlay_sectors % 2 || !st->cfg.overlay || !st->cfg.overlay_cap))
        return KS_E_INVAL;
    st->ovl_first = st->audit_first + st->cfg.audit_sectors;
    st->ovl_half_sectors = st->cfg.overlay_sectors / 2;
    st->area_first[0] = st->ovl_first + st->cfg.overlay_sectors;
    if (f->sector_count < st->area_first[0] + 2)
        return KS_E_NOSPC;
    /* Layout 2 (paged) when the caller gives the sector map and a buffer
     * for a page; the image's SUPER has the last word at mount. */
    st->paged = cfg->sector_map && cfg->buf_size >= f->sector_size + 512;
    st->counted = st->paged && cfg->erase_counts; /* layout 3 */
    st->levelled = st->counted && cfg->vmap;      /* layout 4 */
    int lerr = ks__page_layout(st);
    if (lerr != KS_OK && st->levelled) {
        st->levelled = 0; /* a geometry layout 4 cannot hold: layout 3 */
        lerr = ks__page_layout(st);
    }
    if (lerr != KS_OK) {
        st->paged = st->counted = 0;
        (void)ks__page_layout(st);
    }
    if (ks__compact_slots(st) + 1 > st->meta_slots)
        return KS_E_NOSPC;
    (void)ks__deny_slots(st, st->meta_slots - ks__compact_slots(st) - 1);
    return KS_OK;
}

int ks_store_format(ks_store *st, const ks_store_cfg *cfg, const ks_trust *trust)
{
    int err = layout(st, cfg);
    if (err)
        return err;
    st->ring_last = 0xFF; /* the ring's first lap begins with format's erases */
    /* The fixed regions (layout 4: metadata and audit ring only; its
     * overlay and maps are pool sectors, erased when taken), but for
     * metadata block 0: the compaction below erases it before it writes,
     * and a second erase here would make its sectors the device's most
     * erased from the start. */
    for (uint32_t s = st->cfg.meta_sectors;
         s < (st->levelled ? st->pool_first : st->area_first[0]); s++)
        if ((err = ks__erase(st, s)) != 0)
            return err;
    if (st->counted) /* nothing in the pool counted yet */
        memset(cfg->erase_counts, 0, (size_t)st->pool_sectors * sizeof *cfg->erase_counts);
    if (trust)
        st->trust = *trust;
    else
        memset(&st->trust, 0, sizeof st->trust);
    st->meta_block = (uint8_t)(st->cfg.meta_blocks - 1); /* the compaction writes block 0, epoch 1 */
    st->meta_epoch = 0;
    if ((err = ks__meta_compact(st)) != 0)
        return err;
    st->mounted = 1;
    st->flags = KS_STORE_F_NEED_FULL;
    return KS_OK;
}

/* ----- mount ----- */

typedef struct block_scan {
    int complete, has_epoch, nonempty;
    uint64_t epoch, max_seq;
} block_scan;

static int scan_block(ks_store *st, unsigned b, block_scan *bs)
{
    ks_rec r;
    int cls, err;

    memset(bs, 0, sizeof *bs);
    for (uint32_t i = 0; i < st->meta_slots; i++) {
        if ((err = ks__slot_read(st, ks__meta_addr(st, b, i), KS_META_AREA, KS_META_MAGIC, &r,
                                 &cls)) != 0)
            return err;
        if (cls != KS_SLOT_EMPTY)
            bs->nonempty = 1;
        if (cls != KS_SLOT_VALID)
            continue;
        if (r.seq > bs->max_seq)
            bs->max_seq = r.seq;
        if ((r.type == KS_MT_SUPER && (r.len == KS_SUPER_SIZE || r.len == KS_SUPER_OVL_SIZE ||
                                       r.len == KS_SUPER_GEOM_SIZE ||
                                       r.len == KS_SUPER_RING_SIZE)) ||
            (r.type == KS_MT_END && (r.len == KS_END_SIZE || r.len == KS_END_WEAR_SIZE ||
                                     r.len == KS_END_WEAR_SIZE1))) {
            bs->epoch = ks_ld64(r.payload + (r.type == KS_MT_SUPER ? 8 : 0));
            bs->has_epoch = 1;
        }
        if (r.type == KS_MT_END || !(r.flags & KS_RF_COMPACT))
            bs->complete = 1;
    }
    return KS_OK;
}

/* Is commit c usable: header structure, count, and (unless told not to) every CRC. */
static int commit_ok(ks_store *st, const ks_store_commit *c, ks_diag *d)
{
    ks_snap_header h;
    uint32_t at = ks__area_addr(st, c->area);
    uint32_t cap = st->paged ? st->pool_sectors * st->page_k : ks_store_area_capacity(st);

    if (ks_snap_header_decode(&h, c->header, NULL) != 0 ||
        (!c->ovl_gen && h.record_count != c->count) || c->count > cap ||
        (st->paged && c->pages > st->pool_sectors))
        return ks_fail(d, ks__damage(st, at, "area.commit", KS_STORE_F_NEED_FULL), at,
                       "area.commit");
    if (st->cfg.mount_flags & KS_MOUNT_NO_SCAN)
        return KS_OK;
    return ks__area_scan(st, c, d);
}

static void use_commit(ks_store *st, const ks_store_commit *c)
{
    st->cur = *c;
    st->cur_seed = ks__gen_seed(c->gen);
    (void)ks_snap_header_decode(&st->hdr, c->header, NULL);
}

int ks_store_mount(ks_store *st, const ks_store_cfg *cfg, ks_diag *d)
{
    block_scan bs;
    ks_rec r;
    int err, cls, nonempty = 0, found = 0;
    unsigned b = 0;
    uint64_t max_seq = 0, epoch = 0;

    if ((err = layout(st, cfg)) != 0)
        return ks_fail(d, err, 0, "store geometry");
    /* The image says how many metadata blocks it has (a ring, or two). */
    uint32_t ring = ks__ring_probe(st);
    if (ring && ring != st->cfg.meta_blocks) {
        ks_store_cfg c = *cfg;
        c.meta_blocks = ring;
        if ((err = layout(st, &c)) != 0)
            return ks_fail(d, KS_E_FORMAT, 0, "store.super.geometry: metadata ring");
    }
    /* The complete block with the highest epoch is in charge. */
    for (unsigned i = 0; i < st->cfg.meta_blocks; i++) {
        if ((err = scan_block(st, i, &bs)) != 0)
            return ks_fail(d, err, 0, "reading the metadata blocks");
        nonempty |= bs.nonempty;
        if (bs.max_seq > max_seq)
            max_seq = bs.max_seq;
        if (bs.complete && bs.has_epoch && (!found || bs.epoch > epoch)) {
            found = 1;
            b = i;
            epoch = bs.epoch;
        }
    }
    if (!found) {
        if (!nonempty)
            return ks_fail(d, KS_E_NOTFOUND, 0, "no store on this device: format it");
        ks__damage(st, 0, "meta.block", KS_STORE_F_NEED_FULL | KS_STORE_F_META_DAMAGED);
        return ks_fail(d, KS_E_STORE_CORRUPT, 0, "meta.block: no complete metadata block");
    }
    st->meta_block = (uint8_t)b;
    st->ring_last = (uint8_t)b; /* the block in charge was the last one erased */
    st->meta_epoch = epoch;
    st->seq = max_seq;

    /* Replay the chosen block in slot (= sequence) order. */
    uint64_t valid_seq = 0, doubt_seq = 0;
    int doubt = 0, super = 0;
    for (uint32_t i = 0; i < st->meta_slots; i++) {
        uint32_t addr = ks__meta_addr(st, b, i);
        if ((err = ks__slot_read(st, addr, KS_META_AREA, KS_META_MAGIC, &r, &cls)) != 0)
            return ks_fail(d, err, addr, "reading the metadata log");
        if (cls != KS_SLOT_EMPTY)
            st->meta_head = i + 1;
        if (cls == KS_SLOT_CORRUPT) {
            ks__damage(st, addr, "meta.slot", KS_STORE_F_NEED_FULL | KS_STORE_F_META_DAMAGED);
            /* A lost COMMIT or changed-keys record (or one whose type is
             * unreadable) hides changes: remember where. */
            if (r.type == 0 || r.type == KS_MT_COMMIT || r.type == KS_MT_DENY) {
                doubt = 1;
                doubt_seq = valid_seq;
            }
        } else if (cls == KS_SLOT_VALID) {
            valid_seq = r.seq;
            if ((err = ks__meta_apply(st, &r, d)) != 0)
                return err;
            super |= r.type == KS_MT_SUPER;
        }
    }
    /* Only a SUPER checks the geometry (ks__meta_apply). A live block
     * without one (its slot lost, or an image pieced together) is damage,
     * not a clean store: fuzz_flash_image found an END-only block mounting
     * as KS_OK over a block 0 naming another geometry. */
    if (!super)
        ks__damage(st, ks__meta_addr(st, b, 0), "meta.super", KS_STORE_F_META_DAMAGED);

    /* The newest commit whose area checks; else the other area's. */
    for (int i = 0; i < 2; i++)
        if (st->last[i].valid) {
            ks_snap_header h;
            if (ks_snap_header_decode(&h, st->last[i].header, NULL) == 0 &&
                h.version > st->highest_version)
                st->highest_version = h.version;
        }
    int first = st->last[1].valid && (!st->last[0].valid || st->last[1].seq > st->last[0].seq);
    int bound[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        const ks_store_commit *c = &st->last[k == 0 ? first : !first];
        if (!c->valid)
            continue;
        /* Layout 4: the commit's root binds its map and overlay sectors;
         * a root that does not check is damage to that commit. */
        if (st->levelled) {
            bound[k == 0 ? first : !first] = 1;
            if (ks__root_bind(st, c, 1) != KS_OK)
                continue;
        }
        if (commit_ok(st, c, NULL) == KS_OK) {
            use_commit(st, c);
            /* The overlay, if any, is part of the state: damage there
             * makes this commit unusable as a whole. */
            if (ks__ovl_load(st, NULL) != KS_OK) {
                memset(&st->cur, 0, sizeof st->cur);
                st->ovl_n = 0;
                continue;
            }
            if (k == 1)
                st->flags |= KS_STORE_F_FELL_BACK;
            break;
        }
    }
    if (!st->cur.valid)
        st->flags |= KS_STORE_F_NEED_FULL;
    /* Layout 4: the fallback's sectors too, quietly (its damage is found
     * when it is needed, as in the fixed layouts), so nothing takes them. */
    for (int i = 0; i < 2 && st->levelled; i++)
        if (st->last[i].valid && !bound[i])
            (void)ks__root_bind(st, &st->last[i], 0);
    /* Two states never share a root, map or overlay sector (each write
     * takes sectors no committed state names). If the fallback names one
     * the applied state (checked whole) uses, the fallback's root is
     * wrong: KSE-301 at that sector, and the fallback is not used (nor
     * kept from the allocator) - a full install writes a new one. */
    if (st->levelled && st->cur.valid && st->last[st->cur.area ^ 1u].valid) {
        ks_store_commit *o = &st->last[st->cur.area ^ 1u];
        uint32_t s;
        if (ks__root_shared(st, &st->cur, o, &s)) {
            ks__damage(st, (st->pool_first + s) * st->cfg.flash->sector_size, "root.shared", 0);
            memset(o, 0, sizeof *o);
        }
    }
    /* Which page sectors the applied snapshot uses (damage there is
     * recorded; a full install then repairs it). */
    if (st->paged)
        (void)ks__pool_rebuild(st);
    if (st->counted) { /* each pool sector's erases, from the newest map */
        ks__cnt_load(st);
        /* layout 4: the counts of sectors erased after the map (the
         * applied root lists them) */
        if (st->levelled && st->cur.valid)
            (void)ks__rootcnt_load(st, &st->cur);
        ks__cnt_minmax(st);
    }
    /* A record lost after the applied commit may have been a newer commit
     * or the keys it changed: every key may have changed above the applied
     * version (docs/store.md, "Fallback policy"). */
    if (st->cur.valid && doubt && doubt_seq >= st->cur.seq && st->hdr.version + 1 > st->deny_firm)
        st->deny_firm = st->hdr.version + 1;
    ks__deny_trim(st);

    if ((err = ks__audit_scan(st, NULL)) != 0 && err != KS_E_STORE_CORRUPT)
        return ks_fail(d, err, 0, "reading the audit ring");
    ks__index_build(st);
    st->mounted = 1;
    if (st->flags & KS_STORE_F_DAMAGED) {
        if (d)
            *d = st->damage;
        return KS_E_STORE_CORRUPT;
    }
    return KS_OK;
}

/* ----- check ----- */

int ks_store_check(ks_store *st, ks_diag *d)
{
    ks_diag first = {0, 0, NULL};
    ks_rec r;
    int err, cls;

    if (!st->mounted)
        return ks_fail(d, KS_E_INVAL, 0, "store not mounted");
    if (st->flags & KS_STORE_F_DAMAGED)
        first = st->damage;
    for (uint32_t i = 0; i < st->meta_slots && !first.err; i++) {
        uint32_t addr = ks__meta_addr(st, st->meta_block, i);
        if ((err = ks__slot_read(st, addr, KS_META_AREA, KS_META_MAGIC, &r, &cls)) != 0)
            return ks_fail(d, err, addr, "reading the metadata log");
        if (cls == KS_SLOT_CORRUPT)
            ks_fail(&first, ks__damage(st, addr, "meta.slot", KS_STORE_F_META_DAMAGED), addr,
                    "meta.slot");
    }
    if (!first.err && (err = ks__audit_scan(st, &first)) != 0 && err != KS_E_STORE_CORRUPT)
        return ks_fail(d, err, 0, "reading the audit ring");
    if (!first.err && st->cur.valid) {
        ks_policy p;
        ks_recsrc src;
        uint8_t root[KS_HASH_SIZE];

        if ((err = ks__area_scan(st, &st->cur, &first)) != 0 && !first.err)
            ks_fail(&first, err, 0, "area.read");
        if (!first.err && st->cur.ovl_gen && (err = ks__ovl_load(st, &first)) != 0 && !first.err)
            ks_fail(&first, err, 0, "overlay.read");
        if (!first.err) {
            memset(&p, 0, sizeof p);
            p.trust = &st->trust;
            if ((err = ks_snap_header_check(st->cfg.crypto, st->cur.header, &p, &first)) != 0) {
                if (d)
                    *d = first;
                return err;
            }
            ks_store_records(st, &src);
            if ((err = ks_merkle_root(st->cfg.crypto, &src, st->hdr.bucket_bits, root)) != 0)
                return ks_fail(d, err, st->damage.offset, "area.record");
            if (memcmp(root, st->hdr.root, KS_HASH_SIZE) != 0)
                return ks_fail(d, KS_E_ROOT, ks__area_addr(st, st->cur.area),
                               "area: records do not hash to the signed root");
        }
    }
    if (first.err) {
        if (d)
            *d = first;
        return first.err;
    }
    return KS_OK;
}

/* ----- info ----- */

void ks_store_get_info(ks_store *st, ks_store_info *o)
{
    memset(o, 0, sizeof *o);
    o->flags = st->flags;
    o->has_snapshot = st->cur.valid;
    o->cur = st->cur;
    o->last[0] = st->last[0];
    o->last[1] = st->last[1];
    o->highest_version = st->highest_version;
    o->meta_block = st->meta_block;
    o->meta_used = st->meta_head;
    o->meta_slots = st->meta_slots;
    o->meta_epoch = st->meta_epoch;
    o->seq = st->seq;
    o->trust_count = st->trust.count;
    o->counter_count = st->counter_count;
    o->counter_cap = st->cfg.counter_cap;
    o->settings_len = st->settings_len;
    o->audit_last = st->audit_last;
    o->audit_acked = st->audit_acked;
    o->audit_first = st->audit_first_seq;
    o->audit_capacity = st->audit_slots * st->cfg.audit_sectors;
    o->area_sectors = st->area_sectors;
    o->area_capacity = ks_store_area_capacity(st);
    o->meta_sectors = st->cfg.meta_sectors;
    o->meta_blocks = st->cfg.meta_blocks;
    o->audit_sectors = st->cfg.audit_sectors;
    o->overlay_sectors = st->cfg.overlay_sectors;
    o->overlay_entries = st->cur.ovl_gen && st->ovl_ok ? st->ovl_n : 0;
    o->deny_count = st->deny_n;
    o->deny_cap = st->deny_cap;
    o->deny_all = st->deny_all;
    o->stale_deny_all = ks_store_deny_all(st);
    for (uint32_t i = 0; i < st->deny_n; i++)
        if (st->cur.valid && (st->flags & KS_STORE_F_FELL_BACK) &&
            st->deny[i].version > st->hdr.version)
            o->stale_denied++;
}
