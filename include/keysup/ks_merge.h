/*
 * ks_merge.h - the one merge of a sorted base with a delta (base minus the
 * removals, plus the upserts, in key-id order), and applying a delta to a
 * base held in a buffer the way a controller does.
 *
 * Every place that needs the merged view walks it with ks_merge_it: the
 * store's fold (base area + overlay + delta into the spare area),
 * ks_delta_merge (into a buffer), and through ks_delta_apply_buf the CLI's
 * `keysup delta apply`.
 */
#ifndef KEYSUP_KS_MERGE_H
#define KEYSUP_KS_MERGE_H

#include <keysup/ks_merkle.h>
#include <keysup/ks_snapshot.h>

/*
 * Iterator over base ∪ upserts \ removals. With an in-memory base it hands
 * out whole runs of untouched base records (found by binary search, so the
 * walk costs O(changes · log n) compares and the caller copies in bulk);
 * with any other source it reads the base once, in order, one record per
 * step. Both walks refuse a removal of a key the base does not hold with
 * KS_E_BASE.
 */
typedef struct ks_merge_it {
    const ks_recsrc *base;
    const ks_delta *dl;
    uint32_t k, ui, ri;
    int pending_up;                /* in-memory walk: an upsert follows the run */
    uint8_t rec[KS_RECORD_SIZE];   /* streamed walk: the base record handed out */
} ks_merge_it;

void ks_merge_begin(ks_merge_it *it, const ks_recsrc *base, const ks_delta *dl);

/*
 * The next run of the merged view: *out points at n >= 1 records, stored
 * contiguously (valid until the next call). Returns n, 0 at the end, or a
 * negative error: KS_E_BASE (a removal the base does not hold) or the base
 * source's read error.
 */
int64_t ks_merge_next(ks_merge_it *it, const uint8_t **out);

/*
 * Applies a parsed, checked delta (ks_delta_parse, ks_delta_check against
 * bh) to the base records: proves the target root, then writes the merged
 * records into out (room for cap). With nodes (ks_tree_nodes(bh->bucket_bits)
 * of them) and an unchanged bucket layout the proof moves a tree of the
 * base to the target before anything is merged (*incremental = 1);
 * otherwise the merged records are hashed in full. *count gets the merged
 * record count. KS_E_BASE when the merge does not give the target's record
 * count, KS_E_ROOT when the records do not hash to the signed root.
 */
int ks_delta_apply_buf(const ks_crypto *c, const ks_snap_header *bh, const ks_recsrc *base,
                       const ks_delta *dl, uint8_t (*nodes)[KS_HASH_SIZE], size_t n_nodes,
                       uint8_t *out, uint32_t cap, uint32_t *count, int *incremental,
                       ks_diag *d);

#endif
