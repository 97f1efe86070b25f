/*
 * ks_snapshot.h - signed snapshots of the credential database, supervisor
 * trust (pinned keys and rotation records) and deltas between snapshots.
 * Byte layouts: docs/formats.md.
 */
#ifndef KEYSUP_KS_SNAPSHOT_H
#define KEYSUP_KS_SNAPSHOT_H

#include "ks_merkle.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----- trust: the supervisor keys a controller accepts ----- */

#define KS_TRUST_MAX 4
#define KS_ROTATION_SIZE 216
/* A controller follows at most this many rotations in one go; a longer
 * chain means it was offline too long and must be re-provisioned. */
#define KS_ROTATION_CHAIN_MAX 8

typedef struct ks_trust {
    uint32_t count;
    uint64_t rotation_seq;  /* highest rotation sequence applied */
    uint8_t keys[KS_TRUST_MAX][KS_PUBKEY_SIZE];
    uint8_t ids[KS_TRUST_MAX][KS_KEYID_SIZE];
} ks_trust;

void ks_trust_init(ks_trust *t);
/* Pins a key (provisioning). KS_E_NOSPC when full; adding a pinned key is a no-op. */
int ks_trust_add(ks_trust *t, const ks_crypto *c, const uint8_t pk[KS_PUBKEY_SIZE]);
/* Public key pinned under key id, or NULL. */
const uint8_t *ks_trust_find(const ks_trust *t, const uint8_t id[KS_KEYID_SIZE]);

typedef struct ks_rotation {
    uint64_t seq;
    uint64_t created_at;
    uint8_t old_pk[KS_PUBKEY_SIZE];
    uint8_t new_pk[KS_PUBKEY_SIZE];
} ks_rotation;

/* Makes a rotation record signed by both the old and the new secret key. */
int ks_rotation_make(const ks_crypto *c, const ks_rotation *r,
                     const uint8_t old_sk[KS_SECKEY_SIZE],
                     const uint8_t new_sk[KS_SECKEY_SIZE],
                     uint8_t out[KS_ROTATION_SIZE]);
int ks_rotation_decode(ks_rotation *r, const uint8_t in[KS_ROTATION_SIZE], ks_diag *d);
/*
 * Follows a chain of rotation records (concatenated, len a multiple of
 * KS_ROTATION_SIZE). Each record's old key must be trusted at that point
 * (else KSE-700), both signatures must verify (else KS_E_SIGNATURE), and
 * sequence numbers must increase (else KS_E_FORMAT). The new key replaces the
 * old one. All or nothing: t changes only when the whole chain is accepted.
 * Records already applied (seq <= t->rotation_seq) are skipped, and so are
 * leading records from before the pinned keys (a supervisor may send its
 * whole history); once one record chains, every later one must. A chain
 * with new records none of which chains is KSE-700. At most
 * KS_ROTATION_CHAIN_MAX records are followed (KS_E_CHAIN).
 */
int ks_trust_follow(ks_trust *t, const ks_crypto *c, const uint8_t *chain,
                    size_t len, ks_diag *d);

/* ----- snapshot header ----- */

#define KS_SNAP_MAGIC "KSSN"
#define KS_SNAP_FORMAT 1
#define KS_SNAP_HEADER_SIZE 160
#define KS_SNAP_SIGNED_SIZE 96

typedef struct ks_snap_header {
    uint16_t format;         /* KS_SNAP_FORMAT */
    uint8_t bucket_bits;     /* see ks_merkle.h */
    uint64_t version;        /* monotonic per scope */
    uint64_t created_at;     /* unix seconds */
    uint64_t expires_at;     /* unix seconds; 0 = never */
    uint8_t signer_id[KS_KEYID_SIZE];
    uint32_t record_count;
    uint32_t scope;
    /* Which line of the supervisor's records this version belongs to (0 =
     * the first). A supervisor restored from a backup draws a new one, so
     * the same version number can never name two different databases of one
     * history (docs/formats.md, issue 17 row 9). Signed like the rest. */
    uint32_t history;
    uint8_t root[KS_HASH_SIZE];
    uint8_t signature[KS_SIG_SIZE];
} ks_snap_header;

void ks_snap_header_encode(const ks_snap_header *h, uint8_t out[KS_SNAP_HEADER_SIZE]);
/* Structure only (magic, format, sizes, reserved). No signature check. */
int ks_snap_header_decode(ks_snap_header *h, const uint8_t in[KS_SNAP_HEADER_SIZE], ks_diag *d);
/* Signs the encoded header in place (fills signer id and signature). */
int ks_snap_header_sign(const ks_crypto *c, uint8_t hdr[KS_SNAP_HEADER_SIZE],
                        const uint8_t sk[KS_SECKEY_SIZE]);

/*
 * What a verifier knows: whom it trusts, what it has applied, what time it
 * is. now = 0 skips the expiry check (a tool inspecting an old file).
 */
typedef struct ks_policy {
    const ks_trust *trust;
    uint64_t applied_version; /* meaningful when has_applied */
    int has_applied;
    uint64_t now;
} ks_policy;

/*
 * Header checks in a fixed order: signer pinned (KSE-700), signature
 * (KS_E_SIGNATURE), rollback (KSE-701: version below the applied one),
 * expiry (KSE-702: now >= expires_at). KSE-701/702 are only returned for an
 * authentic header, so a caller may keep an expired one in degraded mode.
 */
int ks_snap_header_check(const ks_crypto *c, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                         const ks_policy *p, ks_diag *d);

/* ----- whole snapshot (header + records) in memory ----- */

/*
 * Full verification of a snapshot image: structure, records sorted strictly
 * by key id and well-formed, size exact, signer and signature, Merkle root,
 * then rollback and expiry. On success (or KSE-701/702) *out holds the header.
 */
int ks_snapshot_verify(const ks_crypto *c, const uint8_t *buf, size_t len,
                       const ks_policy *p, ks_snap_header *out, ks_diag *d);

/*
 * Writes a signed snapshot of `count` records (already encoded, sorted and
 * unique by key id) into out (KS_SNAP_HEADER_SIZE + count*KS_RECORD_SIZE
 * bytes). h supplies version, created_at, expires_at, scope; the function
 * fills format, bucket bits, count, root, signer and signature.
 */
int ks_snapshot_write(const ks_crypto *c, ks_snap_header *h, const uint8_t *records,
                      uint32_t count, const uint8_t sk[KS_SECKEY_SIZE],
                      uint8_t *out, size_t out_len);

/* ----- deltas ----- */

#define KS_DELTA_MAGIC "KSDL"
#define KS_DELTA_FORMAT 1
#define KS_DELTA_FIXED 56
#define KS_DELTA_PREFIX (KS_DELTA_FIXED + KS_SNAP_HEADER_SIZE)

typedef struct ks_delta {
    uint64_t base_version;
    uint8_t base_root[KS_HASH_SIZE];
    ks_snap_header target;
    const uint8_t *target_raw;   /* the encoded target header inside buf */
    const uint8_t *upserts;      /* n_upserts records, sorted by key id */
    uint32_t n_upserts;
    const uint8_t *removals;     /* n_removals key ids, sorted */
    uint32_t n_removals;
} ks_delta;

static inline size_t ks_delta_size(uint32_t n_up, uint32_t n_rm)
{
    return KS_DELTA_PREFIX + (size_t)n_up * KS_RECORD_SIZE + (size_t)n_rm * KS_KEYID_SIZE;
}

/* Parses structure (no crypto): sizes, order, disjointness, records well-formed. */
int ks_delta_parse(ks_delta *dl, const uint8_t *buf, size_t len, ks_diag *d);

/*
 * Everything about a parsed delta except the records: it is for this base
 * (version and root, else KS_E_BASE), the target header passes
 * ks_snap_header_check, and the target version is above the base.
 */
int ks_delta_check(const ks_crypto *c, const ks_delta *dl, const ks_snap_header *base,
                   const ks_policy *p, ks_diag *d);

/*
 * Moves a cached tree of the base to the target and checks it lands exactly
 * on the target's signed root, rehashing only the buckets the delta touches.
 * The base records are read from `base`. Also checks every removal exists
 * and the resulting count matches (KS_E_BASE). On any failure the tree is
 * restored to the base. Requires t->bits == target bucket bits
 * (KS_E_INVAL otherwise: rebuild the tree from the merged records instead).
 */
int ks_delta_update_tree(ks_tree *t, const ks_crypto *c, const ks_recsrc *base,
                         const ks_delta *dl, ks_diag *d);

/*
 * Writes the merged record set (base minus removals, plus upserts, sorted)
 * into out, which has room for cap records. Returns the record count, or a
 * negative error. Pure data movement: no hashing.
 */
int64_t ks_delta_merge(const ks_recsrc *base, const ks_delta *dl, uint8_t *out, uint32_t cap);

/*
 * Writes a delta from old to new records (both sorted). new_hdr is new's
 * signed, encoded header. out_len must be ks_delta_size(...) which the
 * function computes into *needed first; pass out=NULL to ask only the size.
 */
int ks_delta_write(const ks_recsrc *old_src, const ks_snap_header *old_hdr,
                   const ks_recsrc *new_src, const uint8_t new_hdr[KS_SNAP_HEADER_SIZE],
                   uint8_t *out, size_t out_len, size_t *needed);

#ifdef __cplusplus
}
#endif
#endif
