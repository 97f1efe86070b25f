/*
 * sup_auditchain.h - the uploaded audit hash chain, re-checked on upload
 * (sup_auditchain.c, docs/audit.md).
 */
#ifndef KEYSUP_SUP_AUDITCHAIN_H
#define KEYSUP_SUP_AUDITCHAIN_H

#include <jansson.h>
#include <keysup/ks_auth.h>

struct sup_ctx;

/* One record's place in its controller's chain. */
typedef struct sup_achain_rec {
    int64_t seq;                /* the controller's ring sequence (dense) */
    uint64_t index;
    uint8_t prev[KS_HASH_SIZE];
    uint8_t hash[KS_HASH_SIZE]; /* recomputed from the raw bytes */
    int start;                  /* a chain start: index 1, zero prev */
    int gap;                    /* follows the record before it in the upload by a jump or
                                   a restart (set by sup_achain_check) */
} sup_achain_rec;

enum { SUP_ACHAIN_NEXT, SUP_ACHAIN_RESTART, SUP_ACHAIN_GAP, SUP_ACHAIN_BROKEN };

/* How r follows before: the next record, a chain start, a jump forward in
 * index by exactly the jump in seq (ring entries lost: the ring's sequence
 * numbers are dense, so a loss shows in both), or broken. */
int sup_achain_link(const sup_achain_rec *before, const sup_achain_rec *r);

/*
 * Checks an upload (a JSON array, in seq order): every record's members
 * against its "raw" bytes, and that each continues the one before it.
 * out holds one entry per record. 0, or -1 with why (the record named).
 */
int sup_achain_check(const ks_crypto *c, json_t *recs, sup_achain_rec *out, char *why, size_t n);

/*
 * The chain position of the newest record stored for ctrl below seq.
 * 0 found, 1 none (or stored without one), or a KS_DB_* error. Lock held.
 */
int sup_achain_prev(struct sup_ctx *s, int64_t ctrl, int64_t seq, sup_achain_rec *prev);

#endif
