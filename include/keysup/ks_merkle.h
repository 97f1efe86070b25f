/*
 * ks_merkle.h - the Merkle tree over a sorted record set.
 *
 * Hashes are RFC 6962 style with BLAKE2b-256: leaf = H(0x00 || record),
 * node = H(0x01 || left || right), MTH(empty) = H(""). The records are split
 * into 2^bits buckets by the top `bits` bits of their key id (key ids are
 * uniform hashes, so buckets stay even); each bucket's hash is the RFC 6962
 * MTH of its records, and the root is the MTH of the 2^bits bucket hashes.
 * With bits = 0 this is exactly RFC 6962 over all records.
 *
 * Why buckets: records are kept sorted so a controller can binary-search on
 * flash, and an insertion shifts every later leaf, which in a plain RFC 6962
 * tree changes every node to its right. With buckets, a change only rehashes
 * its own bucket (about 16 records) and one path of `bits` nodes, so the
 * cost of a delta grows with the change, not the database.
 */
#ifndef KEYSUP_KS_MERKLE_H
#define KEYSUP_KS_MERKLE_H

#include "ks_record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KS_BUCKET_BITS_MAX 20
/* Target number of records per bucket used by ks_bucket_bits_for(). */
#define KS_BUCKET_TARGET 16

/* Bucket bits a supervisor should choose for n records. */
unsigned ks_bucket_bits_for(uint32_t n);
/* Bucket index of a key id for `bits` bucket bits. */
uint32_t ks_bucket_of(const uint8_t key_id[KS_KEYID_SIZE], unsigned bits);

/* leaf hash of one encoded record: H(0x00 || record). */
void ks_merkle_leaf(const ks_crypto *c, uint8_t out[32], const uint8_t rec[KS_RECORD_SIZE]);
/* node hash: H(0x01 || l || r). */
void ks_merkle_node(const ks_crypto *c, uint8_t out[32], const uint8_t l[32], const uint8_t r[32]);

/*
 * Root of all records of src with `bits` bucket bits, computed in one pass
 * with O(bits + log n) stack and no tree cache. Fails only on read errors
 * or bits > KS_BUCKET_BITS_MAX.
 */
int ks_merkle_root(const ks_crypto *c, const ks_recsrc *src, unsigned bits,
                   uint8_t root[32]);

/*
 * A cached tree: the bucket hashes and every node above them, in heap order
 * (node 1 is the root, node i has children 2i and 2i+1, bucket b is node
 * 2^bits + b). The caller provides ks_tree_nodes(bits) hashes of storage.
 */
typedef struct ks_tree {
    unsigned bits;
    uint8_t (*nodes)[32];
} ks_tree;

static inline size_t ks_tree_nodes(unsigned bits) { return (size_t)2 << bits; }

/* Builds the whole cache from src. O(n). */
int ks_tree_build(ks_tree *t, const ks_crypto *c, const ks_recsrc *src,
                  unsigned bits, uint8_t (*storage)[32], size_t storage_len);
static inline const uint8_t *ks_tree_root(const ks_tree *t) { return t->nodes[1]; }
/* Sets one bucket hash and rehashes its path to the root. */
void ks_tree_set_bucket(ks_tree *t, const ks_crypto *c, uint32_t bucket,
                        const uint8_t hash[32]);

/*
 * Incremental RFC 6962 MTH over a stream of leaf hashes whose count is not
 * known in advance (a stack of perfect subtrees, folded right to left at the
 * end). Used for buckets and by the one-pass root.
 */
typedef struct ks_mth {
    uint8_t stack[33][32];
    uint8_t height[33];
    unsigned depth;
    uint32_t count;
} ks_mth;

void ks_mth_init(ks_mth *m);
void ks_mth_push(ks_mth *m, const ks_crypto *c, const uint8_t leaf_hash[32]);
void ks_mth_final(ks_mth *m, const ks_crypto *c, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif
