/*
 * ks_store_ovl_write.c - appending a delta to the overlay: one segment of
 * entries written after the committed end, read back into the RAM table,
 * proven against the signed Merkle root, and only then committed. A power
 * cut before the COMMIT leaves bytes past the committed end, which nothing
 * reads; the next append starts after them (ks_store_ovl.c).
 */
#include <string.h>

#include "ks_store_int.h"

/* Internal: the delta does not fit the overlay; nothing was written. */
#define KS__NO_ROOM 2

/* Streams entries through the work buffer. A full buffer is a whole number
 * of program units (buf_size is a multiple of 512, the unit at most 256). */
typedef struct seg_writer {
    ks_store *st;
    uint32_t addr, fill;
} seg_writer;

static int sw_flush(seg_writer *w, int last)
{
    const ks_flash *f = w->st->cfg.flash;
    uint32_t len = w->fill;
    int err;
    if (!len)
        return KS_OK;
    if (last) {
        len = ks__align(w->fill, f->prog_size);
        memset(w->st->cfg.buf + w->fill, f->erase_value, len - w->fill);
    }
    err = ks__virt_prog(w->st, w->addr, w->st->cfg.buf, len);
    w->addr += len;
    w->fill = 0;
    return err;
}

static int sw_put(seg_writer *w, const uint8_t e[KS_OVL_ENT])
{
    uint32_t cap = w->st->cfg.buf_size;
    int err;
    for (uint32_t i = 0; i < KS_OVL_ENT;) {
        uint32_t n = KS_OVL_ENT - i < cap - w->fill ? KS_OVL_ENT - i : cap - w->fill;
        memcpy(w->st->cfg.buf + w->fill, e + i, n);
        w->fill += n;
        i += n;
        if (w->fill == cap && (err = sw_flush(w, 0)) != 0)
            return err;
    }
    return KS_OK;
}

/* Writes the delta's changes, merged by key id, as entries at off. */
static int write_segment(ks_store *st, const ks_delta *dl, uint32_t hbase, uint32_t off,
                         uint32_t link)
{
    uint32_t n = dl->n_upserts + dl->n_removals, ui = 0, ri = 0;
    seg_writer w = {st, hbase + off, 0};
    uint8_t e[KS_OVL_ENT];
    int err;

    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *up = ui < dl->n_upserts ? dl->upserts + (size_t)ui * KS_RECORD_SIZE : NULL;
        const uint8_t *rm = ri < dl->n_removals ? dl->removals + (size_t)ri * KS_KEYID_SIZE : NULL;
        memset(e, 0, sizeof e);
        /* ks_delta_parse checked both lists sorted and disjoint. */
        if (up && (!rm || memcmp(up, rm, KS_KEYID_SIZE) < 0)) {
            memcpy(e, up, KS_RECORD_SIZE);
            e[128] = KS_OVL_PUT;
            ui++;
        } else {
            memcpy(e, rm, KS_KEYID_SIZE);
            e[128] = KS_OVL_DEL;
            ri++;
        }
        if (i + 1 == n)
            e[128] |= KS_OVL_LAST;
        if (i == 0) /* back link: the previous segment's offset + 1, 0 for none */
            ks_st32(e + 136, link);
        ks_st32(e + 132, off + i * KS_OVL_ENT);
        ks_st32(e + 140, ks__crc(st, st->ovl_seed, e, 140));
        if ((err = sw_put(&w, e)) != 0)
            return err;
    }
    if ((err = sw_flush(&w, 1)) != 0)
        return err;
    return ks__sync(st);
}

int ks__ovl_append(ks_store *st, const ks_delta *dl, int tree_done, ks_diag *d)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t ss = f->sector_size, n = dl->n_upserts + dl->n_removals;
    uint32_t off = 0, end, next, first, count, prev, hbase, hb = ks__ovl_half_bytes(st);
    int fresh = !st->cur.ovl_gen, err;
    ks_store_commit c = st->cur;
    ks_areasrc a;
    ks_recsrc src;

    if (!st->cfg.overlay_sectors)
        return KS__NO_ROOM;
    if (fresh) {
        /* A new epoch takes the half the fallback commit does not use. */
        const ks_store_commit *fb = &st->last[st->cur.area ^ 1u];
        c.ovl_half = fb->valid && fb->ovl_gen ? (uint8_t)(fb->ovl_half ^ 1u) : 0;
        c.ovl_end = 0;
    } else {
        off = st->ovl_free;
    }
    /* Every entry written in an epoch counts against the table, so the
     * mount's replay (which keeps tombstones until the end) always fits. */
    if ((fresh ? 0 : st->ovl_n) + n > ks__ovl_cap(st) || off > hb ||
        (uint64_t)off + (uint64_t)n * KS_OVL_ENT > (uint64_t)ks__ovl_cap(st) * KS_OVL_ENT)
        return KS__NO_ROOM;
    end = off + n * KS_OVL_ENT;
    next = n ? ks__align(end, f->prog_size) : c.ovl_end;
    hbase = ks__ovl_addr(st, c.ovl_half);
    /* Sectors from `first` on are erased when entered; the rest of the
     * sector holding off was entered before and must still read erased
     * (a flipped bit there would make a prog fail: fold instead). */
    first = ks__align(off, ss);
    if (n && first > off) {
        int rc = ks__is_erased(st, hbase + off, (first < end ? first : end) - off);
        if (rc < 0)
            return ks_fail(d, rc, hbase + off, "reading the overlay");
        if (rc == 0)
            return KS__NO_ROOM;
    }

    /* From here on the table stops describing cur until the commit (or the
     * caller's reload after a failure). */
    st->ovl_ok = 0;
    if (n) {
        if (fresh) {
            c.ovl_gen = ++st->seq;
            st->ovl_n = 0;
        }
        st->ovl_seed = ks__gen_seed(c.ovl_gen);
        for (uint32_t s = first; s < end; s += ss)
            if ((err = ks__virt_erase(st, hbase / ss + s / ss)) != 0)
                return ks_fail(d, err, hbase + s, "erasing the overlay");
        /* Never program these bytes again in this epoch, whatever happens. */
        if (!fresh)
            st->ovl_free = next;
        if ((err = write_segment(st, dl, hbase, off, fresh ? 0 : c.ovl_last + 1)) != 0)
            return ks_fail(d, err, hbase + off, "writing the overlay");
        err = ks__ovl_apply_seg(st, c.ovl_half, off, end, 0, &next, &prev);
        if (err == KS_E_BASE)
            return ks_fail(d, err, 0, "delta removes a key the applied snapshot does not hold");
        if (err)
            return ks_fail(d, err, st->damage.offset, "reading back the overlay");
    }
    ks__ovl_positions(st, c.count, &count);
    st->ovl_ok = 1; /* consistent again: the merged source may read it */
    if (count != dl->target.record_count)
        return ks_fail(d, KS_E_BASE, 0,
                       "base count plus delta does not give the target record_count");
    if (!tree_done) {
        if (c.ovl_gen)
            ks__mergedsrc(st, &c, count, &a, &src);
        else
            ks__areasrc(st, &c, &a, &src);
        if ((err = ks__verify_root(st, &src, &dl->target, d)) != 0)
            return err;
    }
    if (n)
        c.ovl_last = off;
    c.ovl_end = next;
    memcpy(c.header, dl->target_raw, KS_SNAP_HEADER_SIZE);
    if ((err = ks__commit(st, &c, 0, dl)) != 0)
        return ks_fail(d, err, 0, "writing the commit record");
    st->ovl_free = next;
    return KS_OK;
}
