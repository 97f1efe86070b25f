/*
 * ks_store_commit.c - the single point where the applied state changes:
 * the changed-keys list goes on flash, then one COMMIT slot, then the RAM
 * state follows it. Also the Merkle-root check every write path runs
 * before it commits. Called by the entry points (ks_store.c) and the
 * overlay append (ks_store_ovl_write.c); calls only down (metadata log,
 * changed-keys list, area index).
 */
#include <string.h>

#include "ks_store_int.h"

/* Appends a WEAR record with the counts as they stand (durable on return). */
static int wear_save(ks_store *st)
{
    ks_rec r;
    memset(&r, 0, sizeof r);
    r.type = KS_MT_WEAR;
    r.len = st->paged ? KS_WEAR_SIZE : KS_WEAR_SIZE1; /* layout 1 keeps its 124 bytes */
    if (st->counted) /* layout 3: the pool's exact most and least erased */
        ks__cnt_minmax(st);
    ks__wear_encode(st, r.payload);
    return ks__meta_append(st, &r);
}

/* Commits a written area (or an overlay append): the commit record goes last. */
int ks__commit(ks_store *st, const ks_store_commit *c_in, int full, const ks_delta *dl)
{
    ks_store_commit c = *c_in;
    ks_snap_header h;
    ks_rec r;
    int err;

    /* Wear: the change this commit applies is counted now; an install or a
     * fold (which erased an area) puts the counts on flash before its
     * COMMIT, so a power cut loses at most an overlay epoch's erases. */
    if (ks_snap_header_decode(&h, c.header, NULL) == 0)
        ks__wear_commit(st,
                        dl ? (uint64_t)dl->n_upserts * KS_RECORD_SIZE +
                                 (uint64_t)dl->n_removals * KS_KEYID_SIZE
                           : (uint64_t)c.count * KS_RECORD_SIZE,
                        h.created_at);
    /* Layout 4: the root naming this state's map and overlay sectors goes
     * on flash (read back, synced) before anything names it. */
    if (st->levelled && c.paged && (err = ks__root_write(st, &c)) != 0)
        return err;
    if (!c.ovl_gen && (err = wear_save(st)) != 0)
        return err;
    /* The changes go on flash before the COMMIT that applies them, so a
     * state older than this one always knows what it must not answer for
     * (ks_store_deny.c). */
    if (dl)
        err = ks__deny_note_delta(st, dl);
    else if (full && ks_snap_header_decode(&h, c.header, NULL) == 0)
        err = ks__deny_note_all(st, h.version);
    else
        err = KS_OK;
    if (err)
        return err;
    c.valid = 1;
    ks__commit_encode(&c, &r);
    if ((err = ks__meta_append(st, &r)) != 0)
        return err;
    c.seq = r.seq;
    int new_base = !st->cur.valid || st->cur.gen != c.gen;
    /* Layout 4: an append's COMMIT supersedes the previous root of this
     * area; its sector is free now (a new base refills the bitmap below). */
    if (st->levelled && !new_base && st->cur.rooted && st->cur.root != c.root &&
        !(st->last[c.area ^ 1u].valid && st->last[c.area ^ 1u].rooted &&
          st->last[c.area ^ 1u].root == st->cur.root))
        st->cfg.sector_map[st->cur.root >> 3] &= (uint8_t)~(1u << (st->cur.root & 7));
    st->last[c.area] = c;
    st->cur = c;
    st->cur_seed = ks__gen_seed(c.gen);
    (void)ks_snap_header_decode(&st->hdr, c.header, NULL);
    if (st->hdr.version > st->highest_version)
        st->highest_version = st->hdr.version;
    st->flags &= ~(unsigned)KS_STORE_F_FELL_BACK;
    /* An overlay append keeps the base: its index stays valid. */
    if (!(st->idx_n && st->idx_gen == c.gen))
        ks__index_build(st);
    if (!c.ovl_gen) { /* an install or a fold: no overlay any more */
        st->ovl_n = 0;
        st->ovl_ok = 1;
    }
    if (full)
        st->flags &= ~(unsigned)KS_STORE_F_NEED_FULL;
    /* Paged: the sectors the new base uses (a fold's replaced pages are
     * free from now on; the fallback shares the rest). */
    if (st->paged && new_base)
        (void)ks__pool_rebuild(st);
    if (st->levelled && new_base && c.rooted)
        ks__rootcnt_new_base(st, c.root);
    return KS_OK;
}

int ks__verify_root(ks_store *st, const ks_recsrc *src, const ks_snap_header *h, ks_diag *d)
{
    uint8_t root[KS_HASH_SIZE];
    int err;
    if ((err = ks_merkle_root(st->cfg.crypto, src, h->bucket_bits, root)) != 0)
        return ks_fail(d, err, 0, "reading back the new records");
    if (memcmp(root, h->root, KS_HASH_SIZE) != 0)
        return ks_fail(d, KS_E_ROOT, 0, "records do not hash to the signed Merkle root");
    return KS_OK;
}
