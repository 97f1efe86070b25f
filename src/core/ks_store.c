/*
 * ks_store.c - the store's entry points, the file to read first.
 *
 *   ks_store_format, ks_store_mount, ks_store_check   ks_store_mount.c
 *   ks_store_install        a full snapshot into the spare area   (here)
 *   ks_store_apply_delta    overlay append, or a fold into the spare area (here)
 *   ks_store_lookup, ks_store_records, ks_store_header            (here)
 *   counters, trust, settings                          ks_store_state.c
 *   audit ring                                         ks_store_audit.c
 *
 * Below these, one way only (no file calls back up):
 *   ks_store_commit.c   the COMMIT that changes the applied state, root check
 *   ks_store_ovl_write.c  appending a delta to the overlay
 *   ks_store_ovl.c      the overlay's RAM table, merged view, mount replay
 *   ks_store_pagew.c    layout 2: writing pages, keeping the untouched ones
 *   ks_store_area.c     snapshot areas: writer, CRC-checked reads, proven search
 *   ks_store_page.c     layout 2: page map, reads, scan, index, proven search
 *   ks_store_meta.c, ks_store_deny.c   metadata log and changed-keys list
 *   ks_store_io.c       raw flash, slots
 * docs/store.md describes the design and every byte on flash.
 */
#include <string.h>

#include <keysup/ks_merge.h>

#include "ks_store_int.h"

/* ----- install and delta ----- */

static unsigned target_area(const ks_store *st)
{
    return st->cur.valid ? st->cur.area ^ 1u : 0u;
}

static void policy_of(const ks_store *st, ks_policy *p, uint64_t now)
{
    p->trust = &st->trust;
    p->has_applied = st->last[0].valid || st->last[1].valid;
    /* Same version may be re-installed (repair); anything older is rollback. */
    p->applied_version = st->highest_version;
    p->now = now;
}

static int commit(ks_store *st, unsigned area, uint64_t gen, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                  uint32_t count, uint32_t pages, uint32_t retired, int full,
                  const ks_delta *dl)
{
    ks_store_commit c;
    memset(&c, 0, sizeof c);
    c.area = (uint8_t)area;
    c.gen = gen;
    c.count = count;
    c.paged = st->paged ? 1 : 0;
    c.pages = pages;
    c.retired = retired;
    memcpy(c.header, hdr, KS_SNAP_HEADER_SIZE);
    return ks__commit(st, &c, full, dl);
}

static int verify_root(ks_store *st, unsigned area, uint64_t gen, uint32_t count,
                       uint32_t pages, const ks_snap_header *h, ks_diag *d)
{
    ks_store_commit c;
    ks_areasrc a;
    ks_recsrc src;

    memset(&c, 0, sizeof c);
    c.area = (uint8_t)area;
    c.gen = gen;
    c.count = count;
    c.paged = st->paged ? 1 : 0;
    c.pages = pages;
    ks__areasrc(st, &c, &a, &src);
    return ks__verify_root(st, &src, h, d);
}

int ks_store_install(ks_store *st, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                     const ks_recsrc *records, uint64_t now, ks_diag *d)
{
    ks_snap_header h;
    ks_policy p;
    ks__area_writer w;
    ks__pager pw;
    uint8_t rec[KS_RECORD_SIZE];
    unsigned area;
    uint64_t gen;
    uint32_t pages = 0, retired = 0;
    int err;

    if (!st->mounted)
        return ks_fail(d, KS_E_INVAL, 0, "store not mounted");
    if ((err = ks_snap_header_decode(&h, hdr, d)) != 0)
        return err;
    policy_of(st, &p, now);
    if ((err = ks_snap_header_check(st->cfg.crypto, hdr, &p, d)) != 0)
        return err;
    if (records->count != h.record_count)
        return ks_fail(d, KS_E_FORMAT, 0, "record source count differs from record_count");
    if (h.record_count > ks_store_area_capacity(st))
        return ks_fail(d, KS_E_NOSPC, 0, "snapshot larger than a store area");

    area = target_area(st);
    gen = ++st->seq;
    if (st->paged) {
        /* every page new, in sectors the applied snapshot does not use */
        if ((err = ks__pg_begin(&pw, st, area, gen, h.record_count, NULL)) != 0)
            goto fail;
    } else if ((err = ks__aw_begin(&w, st, area, gen, h.record_count)) != 0) {
        return ks_fail(d, err, 0, "erasing the spare area");
    }
    for (uint32_t i = 0; i < records->count; i++) {
        if ((err = ks_recsrc_get(records, i, rec)) != 0) {
            ks_fail(d, err, i, "reading the snapshot records");
            goto fail;
        }
        ks_record r;
        if ((err = ks_record_decode(&r, rec, d)) != 0)
            goto fail;
        if ((err = st->paged ? ks__pg_push(&pw, rec, d) : ks__aw_push(&w, rec, d)) != 0) {
            if (err < 0 && d && !d->err)
                ks_fail(d, err, i, "writing the spare area");
            goto fail;
        }
    }
    if ((err = st->paged ? ks__pg_end(&pw, &pages, &retired, d) : ks__aw_end(&w, d)) != 0)
        goto fail;
    if ((err = verify_root(st, area, gen, h.record_count, pages, &h, d)) != 0)
        goto fail;
    if ((err = commit(st, area, gen, hdr, h.record_count, pages, retired, 1, NULL)) != 0) {
        ks_fail(d, err, 0, "writing the commit record");
        goto fail;
    }
    /* A full install is the repair: damage in the metadata log (lost
     * counters, a dead superseded slot) is cleared with it, or the next
     * check would find it again and ask for another download. A failure
     * here leaves the flag set; the install itself stands. */
    (void)ks__meta_repair(st);
    return KS_OK;

fail:
    if (d && !d->err)
        ks_fail(d, err, 0, "writing the spare area");
    if (st->paged) /* sectors taken for pages that never committed are free again */
        (void)ks__pool_rebuild(st);
    return err;
}

static int rebuild_tree(ks_store *st, ks_tree *t)
{
    ks_recsrc src;
    ks_store_records(st, &src);
    return ks_tree_build(t, st->cfg.crypto, &src, t->bits, t->nodes, ks_tree_nodes(t->bits));
}

int ks_store_apply_delta(ks_store *st, const uint8_t *delta, size_t len, uint64_t now,
                         ks_tree *tree, ks_diag *d)
{
    ks_delta dl;
    ks_policy p;
    ks_areasrc a;
    ks_recsrc base;
    ks__area_writer w;
    ks__pager pw;
    ks_merge_it it;
    uint32_t pages = 0, retired = 0;
    const uint8_t *recs;
    int64_t run;
    unsigned area;
    uint64_t gen;
    int err, tree_moved = 0;

    if (!st->mounted)
        return ks_fail(d, KS_E_INVAL, 0, "store not mounted");
    if (!st->cur.valid)
        return ks_fail(d, KS_E_BASE, 0, "no snapshot applied: a full download is needed");
    if ((err = ks_delta_parse(&dl, delta, len, d)) != 0)
        return err;
    policy_of(st, &p, now);
    if ((err = ks_delta_check(st->cfg.crypto, &dl, &st->hdr, &p, d)) != 0)
        return err;
    if (dl.target.record_count >
        (st->paged ? st->pool_sectors * st->page_k : ks_store_area_capacity(st)))
        return ks_fail(d, KS_E_NOSPC, 0, "snapshot larger than a store area");
    if (st->cur.ovl_gen && !st->ovl_ok)
        return ks_fail(d, ks__damage(st, ks__ovl_addr(st, st->cur.ovl_half), "overlay.entry",
                                     KS_STORE_F_NEED_FULL),
                       0, "overlay unusable: a full download is needed");
    /* The applied state: the base area, merged with the overlay if any. */
    if (st->cur.ovl_gen)
        ks__mergedsrc(st, &st->cur, st->hdr.record_count, &a, &base);
    else
        ks__areasrc(st, &st->cur, &a, &base);
    if (tree && tree->bits == dl.target.bucket_bits) {
        if ((err = ks_delta_update_tree(tree, st->cfg.crypto, &base, &dl, d)) != 0)
            return err;
        tree_moved = 1;
    }

    /* Small deltas go to the overlay; the rest (and a full overlay) fold
     * base + overlay + delta into the spare area below. */
    err = ks__ovl_append(st, &dl, tree_moved, d);
    if (err == KS_OK)
        return KS_OK;
    if (err < 0) {
        (void)ks__ovl_load(st, NULL); /* the table describes cur again */
        goto fail;
    }

    area = target_area(st);
    gen = ++st->seq;
    /* Paged: the old pages are walked beside the merge and only the pages
     * the change touches are written (ks_store_pagew.c). */
    if ((err = st->paged ? ks__pg_begin(&pw, st, area, gen, dl.target.record_count, &st->cur)
                         : ks__aw_begin(&w, st, area, gen, dl.target.record_count)) != 0) {
        ks_fail(d, err, 0, "erasing the spare area");
        goto fail;
    }
    /* base (the merged view of area + overlay) + delta, in key order */
    ks_merge_begin(&it, &base, &dl);
    while ((run = ks_merge_next(&it, &recs)) > 0)
        for (int64_t i = 0; i < run; i++)
            if ((err = st->paged ? ks__pg_push(&pw, recs + (size_t)i * KS_RECORD_SIZE, d)
                                 : ks__aw_push(&w, recs + (size_t)i * KS_RECORD_SIZE, d)) != 0)
                goto fail;
    if (run == KS_E_BASE) {
        err = ks_fail(d, KS_E_BASE, 0, "delta removes a key the base does not hold");
        goto fail;
    }
    if (run < 0) {
        err = ks_fail(d, (int)run, st->damage.offset, "base record fails its CRC");
        goto fail;
    }
    if ((err = st->paged ? ks__pg_end(&pw, &pages, &retired, d) : ks__aw_end(&w, d)) != 0)
        goto fail;
    if (!tree_moved &&
        (err = verify_root(st, area, gen, dl.target.record_count, pages, &dl.target, d)) != 0)
        goto fail;
    if ((err = commit(st, area, gen, dl.target_raw, dl.target.record_count, pages, retired, 0, &dl)) !=
        0) {
        ks_fail(d, err, 0, "writing the commit record");
        goto fail;
    }
    return KS_OK;

fail:
    if (d && !d->err)
        ks_fail(d, err, 0, "applying the delta");
    if (st->paged)
        (void)ks__pool_rebuild(st);
    if (tree_moved)
        (void)rebuild_tree(st, tree);
    return err;
}

void ks_store_mark_damaged(ks_store *st, const ks_diag *d)
{
    st->flags |= KS_STORE_F_DAMAGED | KS_STORE_F_NEED_FULL;
    if (!st->damage.err && d)
        st->damage = *d;
}

/* ----- lookups ----- */

void ks_store_records(ks_store *st, ks_recsrc *src)
{
    static const ks_store_commit none;
    /* The source's context lives in the store so it outlives this call. */
    if (st->cur.valid && st->cur.ovl_gen) {
        ks__mergedsrc(st, &st->cur, st->hdr.record_count, &st->src, src);
        return;
    }
    ks__areasrc(st, st->cur.valid ? &st->cur : &none, &st->src, src);
    if (!st->cur.valid)
        src->count = 0;
}

const ks_snap_header *ks_store_header(const ks_store *st)
{
    return st->cur.valid ? &st->hdr : NULL;
}

int ks_store_lookup(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                    uint8_t rec[KS_RECORD_SIZE])
{
    uint32_t pos;

    if (!st->cur.valid)
        return KS_E_NOTFOUND;
    /* The overlay holds the newest word on every key it names. */
    if (st->cur.ovl_gen) {
        const ks_ovl_ent *e;
        if (!st->ovl_ok)
            return ks__damage(st, ks__ovl_addr(st, st->cur.ovl_half), "overlay.entry",
                              KS_STORE_F_NEED_FULL);
        if ((e = ks__ovl_find(st, key_id)) != NULL) {
            if (e->kind == KS_OVL_PUT)
                return ks__ovl_record(st, e, rec);
            memset(rec, 0, KS_RECORD_SIZE);
            return KS_E_NOTFOUND;
        }
    }
    /* A paged base through its page fence index when that is current (no
     * map entry read); what the index cannot prove, the map path decides.
     * Only here: callers that need the record's position take the map. */
    if (st->pidx_n) {
        int err = ks__pidx_find(st, key_id, rec);
        if (err != KS__PIDX_UNSURE)
            return err;
    }
    return ks__base_find(st, key_id, rec, &pos);
}

