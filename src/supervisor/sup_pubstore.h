/*
 * sup_pubstore.h - what the publisher keeps in the database, and how it reads
 * records and changes from it. Every function expects s->lock held (the
 * database handle is not thread-safe) and does no hashing or signing.
 *
 * Tables (migration 4, docs/supervisor.md):
 *   key_changes(seq, key_id, scope)  every insert/update/delete of a keys row,
 *       written by triggers in the change's own transaction;
 *   snapshot_versions(scope, version, created_at, change_seq, header, step)
 *       one row per published version: its signed header, the key_changes
 *       seq it includes, and its step (changes from version-1, sup_pubcache.h)
 *       or NULL when it was a full rebuild;
 *   snapshots(scope, version, created_at, data)  full images, written by
 *       full rebuilds and checkpoints only.
 * A version's records are the newest full image at or below it plus the
 * steps after that image.
 */
#ifndef KEYSUP_KS_PUBSTORE_H
#define KEYSUP_KS_PUBSTORE_H

#include "sup_pubcache.h"
#include "sup.h"

/* A refcounted image (header + records), shared with readers. */
typedef struct sup_pimg {
    atomic_int ref;
    uint64_t version;
    size_t len;
    uint8_t data[];
} sup_pimg;

sup_pimg *sup_pimg_new(size_t len);
sup_pimg *sup_pimg_ref(sup_pimg *i);
void sup_pimg_unref(sup_pimg *i);
static inline uint32_t sup_pimg_count(const sup_pimg *i)
{
    return (uint32_t)((i->len - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE);
}

/* The current image of scope, referenced (sup_pimg_unref it), or NULL when
 * none is published: what snapshot downloads are served from, shared by all
 * clients (sup_publish.c). */
sup_pimg *sup_pub_image(sup_ctx *s, uint32_t scope);

/* Highest key_changes seq (0 when empty). */
int sup_ps_max_seq(sup_ctx *s, int64_t *seq);

/*
 * All records of scope (its keys plus scope 0), encoded, in table order
 * (malloc'd; sup_pch_sort_into sorts them). Reading unordered and sorting in
 * memory is ~4x faster than ORDER BY key_id, which walks the key_id index
 * and fetches every row at random.
 */
int sup_ps_read_all(sup_ctx *s, uint32_t scope, uint8_t **recs, uint32_t *n);

/*
 * The keys of scope logged in key_changes with from < seq <= to, each with
 * its current record as the after state (none when the row is gone or left
 * the scope), sorted by key id. More than limit keys: KS_E_NOSPC (rebuild
 * in full instead).
 */
int sup_ps_read_changes(sup_ctx *s, uint32_t scope, int64_t from, int64_t to, size_t limit,
                       sup_pchanges *c);

typedef struct sup_ps_version {
    uint32_t scope;
    const ks_snap_header *h;
    const uint8_t *hdr_raw;   /* the signed, encoded header */
    int64_t change_seq;
    const sup_pimg *image;     /* full image to store, or NULL */
    const uint8_t *step;      /* step to store (when image is NULL) */
    size_t step_len;
    int64_t dirty_seen;
    uint32_t retain;
} sup_ps_version;

/*
 * One transaction: the version row (and the full image when given), the
 * scope's version/root/dirty, retention (keeps the last `retain` versions
 * and every row back to the newest full image at or below the oldest of
 * them) and the key_changes rows no scope needs any more.
 */
int sup_ps_commit(sup_ctx *s, const sup_ps_version *v);

/* Stores the full image of an already published version (a checkpoint, so
 * a restart and old deltas need not replay a long chain of steps). */
int sup_ps_checkpoint(sup_ctx *s, uint32_t scope, const sup_pimg *im);

/*
 * Newest full image version <= version (0 when none), and how many steps
 * and changed keys lie between it and version.
 */
int sup_ps_chain(sup_ctx *s, uint32_t scope, uint64_t version, uint64_t *full,
                uint64_t *steps, uint64_t *keys);

/*
 * Rebuilds the image of (scope, version) from the newest full image below
 * it and the steps after; *change_seq gets its watermark (-1 when unknown:
 * written before migration 4). KS_E_NOTFOUND when the chain is incomplete.
 * Records are not rehashed here: the caller checks the root.
 */
int sup_ps_materialize(sup_ctx *s, uint32_t scope, uint64_t version, sup_pimg **out,
                      int64_t *change_seq);

/*
 * The collapsed changes from version `since` to `to` (steps since+1..to)
 * and since's header. KS_E_NOTFOUND when a version in between was a full
 * rebuild or is gone.
 */
int sup_ps_changes_between(sup_ctx *s, uint32_t scope, uint64_t since, uint64_t to,
                          sup_pchanges *c, ks_snap_header *since_hdr);

/* Publishes done incrementally and in full since sup_pub_start (tests and
 * the benchmark check which path ran). */
void sup_pub_stats(sup_ctx *s, uint64_t *incremental, uint64_t *full);

#endif
