/*
 * sup_pubcache.h - the publisher's incremental machinery, free of SQL and
 * threads: change sets between two versions of a scope, merging them into a
 * sorted record image, rehashing only the touched buckets of a cached tree,
 * the stored encoding of a version's changes ("step"), and deltas made from
 * change sets instead of whole images.
 *
 * A change set is a list of key ids, sorted and unique, each with the record
 * it had before (or none) and after (or none). Untouched keys are identical
 * in both versions, so a delta made from the small before/after sets is the
 * same delta ks_delta_write would make from the two whole images.
 */
#ifndef KEYSUP_KS_PUBCACHE_H
#define KEYSUP_KS_PUBCACHE_H

#include <keysup/keysup.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sup_pchange {
    uint8_t key_id[KS_KEYID_SIZE];
    uint8_t has_before, has_after;
    uint32_t ord; /* order of arrival, so collapsing keeps first/last */
    uint8_t before[KS_RECORD_SIZE];
    uint8_t after[KS_RECORD_SIZE];
} sup_pchange;

typedef struct sup_pchanges {
    sup_pchange *v;
    size_t n, cap;
} sup_pchanges;

void sup_pch_free(sup_pchanges *c);
/* New zeroed entry at the end, or NULL when out of memory. */
sup_pchange *sup_pch_add(sup_pchanges *c);

/*
 * Sorts by key id and merges entries for the same key: the earliest before
 * state and the latest after state survive. Then drops no-ops (same record
 * before and after, or absent in both). KS_OK or KS_E_NOSPC.
 */
int sup_pch_collapse(sup_pchanges *c);

/* Copies n records into out sorted by key id. KS_E_FORMAT when a key id
 * repeats, KS_E_NOSPC when out of memory. */
int sup_pch_sort_into(const uint8_t *recs, uint32_t n, uint8_t *out);

/*
 * Applies c (sorted, unique, after states) to the n sorted records of base,
 * writing the result to out (room for cap records), and fills each entry's
 * before state from base. Untouched runs are copied in bulk. Returns the
 * record count or KS_E_NOSPC.
 */
int64_t sup_pch_apply(const uint8_t *base, uint32_t n, sup_pchanges *c, uint8_t *out,
                     uint32_t cap);

/*
 * Rehashes the buckets the changes touch from the new records (recs, n) and
 * then each of their ancestors once, level by level. t->bits must be the
 * bucket bits of the new record count.
 */
int sup_pch_tree_update(ks_tree *t, const ks_crypto *cr, const uint8_t *recs, uint32_t n,
                       const sup_pchanges *c);

/*
 * Step encoding (stored per version, never sent to controllers): per entry
 * key_id[16], flags u8 (1 = before present, 2 = after present), then the
 * present records. Entries sorted by key id.
 */
size_t sup_pch_step_size(const sup_pchanges *c);
void sup_pch_step_encode(const sup_pchanges *c, uint8_t *out);
/* Appends the entries of a step to c (ord continues from c->n). */
int sup_pch_step_decode(sup_pchanges *c, const uint8_t *in, size_t len);

/*
 * Delta from base (its version and root) to the version whose signed,
 * encoded header is target_hdr, given the collapsed changes between them.
 * *out is malloc'd.
 */
int sup_pch_delta(const sup_pchanges *c, const ks_snap_header *base,
                 const uint8_t target_hdr[KS_SNAP_HEADER_SIZE], uint8_t **out, size_t *len);

/*
 * Fills and signs the header of a snapshot whose records hash to t: h
 * supplies version, created_at, expires_at, scope. Writes the encoded header
 * to out and copies signer and signature back into h.
 */
int sup_pch_sign_header(const ks_crypto *cr, ks_snap_header *h, const ks_tree *t,
                       uint32_t count, const uint8_t sk[KS_SECKEY_SIZE],
                       uint8_t out[KS_SNAP_HEADER_SIZE]);

#endif
