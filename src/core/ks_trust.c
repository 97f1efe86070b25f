/*
 * ks_trust.c - pinned supervisor keys and the rotation records that move
 * trust from one supervisor key to the next.
 *
 * Rotation record (216 bytes, docs/formats.md):
 *   0 magic "KSRT"  4 format u16 (1)  6 reserved u16 (0)  8 seq u64
 *  16 created_at u64  24 old_pk[32]  56 new_pk[32]
 *  88 sig_old[64]  152 sig_new[64]   (both over "KEYSUP-ROTATION1" || bytes 0..87)
 * The new key's signature proves the supervisor holds it, so a typo'd or
 * foreign public key can never become trusted.
 */
#include <keysup/ks_snapshot.h>

#include <string.h>

#include "ks_sign.h"

#define ROT_SIGNED 88

void ks_trust_init(ks_trust *t)
{
    memset(t, 0, sizeof *t);
}

static int trust_index(const ks_trust *t, const uint8_t pk[KS_PUBKEY_SIZE])
{
    for (uint32_t i = 0; i < t->count; i++)
        if (memcmp(t->keys[i], pk, KS_PUBKEY_SIZE) == 0)
            return (int)i;
    return -1;
}

int ks_trust_add(ks_trust *t, const ks_crypto *c, const uint8_t pk[KS_PUBKEY_SIZE])
{
    if (trust_index(t, pk) >= 0)
        return KS_OK;
    if (t->count >= KS_TRUST_MAX)
        return KS_E_NOSPC;
    memcpy(t->keys[t->count], pk, KS_PUBKEY_SIZE);
    ks_key_id(c, t->ids[t->count], pk);
    t->count++;
    return KS_OK;
}

const uint8_t *ks_trust_find(const ks_trust *t, const uint8_t id[KS_KEYID_SIZE])
{
    for (uint32_t i = 0; i < t->count; i++)
        if (memcmp(t->ids[i], id, KS_KEYID_SIZE) == 0)
            return t->keys[i];
    return NULL;
}

int ks_rotation_make(const ks_crypto *c, const ks_rotation *r,
                     const uint8_t old_sk[KS_SECKEY_SIZE], const uint8_t new_sk[KS_SECKEY_SIZE],
                     uint8_t out[KS_ROTATION_SIZE])
{
    memset(out, 0, KS_ROTATION_SIZE);
    memcpy(out, "KSRT", 4);
    ks_st16(out + 4, 1);
    ks_st64(out + 8, r->seq);
    ks_st64(out + 16, r->created_at);
    memcpy(out + 24, r->old_pk, KS_PUBKEY_SIZE);
    memcpy(out + 56, r->new_pk, KS_PUBKEY_SIZE);
    int err = ks_sign_labelled(c, out + 88, KS_LABEL_ROTATION, out, ROT_SIGNED, old_sk);
    if (!err)
        err = ks_sign_labelled(c, out + 152, KS_LABEL_ROTATION, out, ROT_SIGNED, new_sk);
    return err;
}

int ks_rotation_decode(ks_rotation *r, const uint8_t in[KS_ROTATION_SIZE], ks_diag *d)
{
    if (memcmp(in, "KSRT", 4) != 0)
        return ks_fail(d, KS_E_FORMAT, 0, "rotation.magic is not KSRT");
    if (ks_ld16(in + 4) != 1)
        return ks_fail(d, KS_E_FORMAT, 4, "rotation.format is not supported");
    if (ks_ld16(in + 6) != 0)
        return ks_fail(d, KS_E_FORMAT, 6, "rotation.reserved is not zero");
    if (memcmp(in + 24, in + 56, KS_PUBKEY_SIZE) == 0)
        return ks_fail(d, KS_E_FORMAT, 56, "rotation.new_pk equals old_pk");
    r->seq = ks_ld64(in + 8);
    r->created_at = ks_ld64(in + 16);
    memcpy(r->old_pk, in + 24, KS_PUBKEY_SIZE);
    memcpy(r->new_pk, in + 56, KS_PUBKEY_SIZE);
    return KS_OK;
}

int ks_trust_follow(ks_trust *t, const ks_crypto *c, const uint8_t *chain, size_t len, ks_diag *d)
{
    ks_trust work;
    ks_rotation r;
    uint32_t followed = 0, skipped = 0, first_skipped = 0;

    if (len % KS_ROTATION_SIZE != 0)
        return ks_fail(d, KS_E_FORMAT, (uint32_t)len, "rotation chain length is not a multiple of 216");
    work = *t;
    for (size_t off = 0; off < len; off += KS_ROTATION_SIZE) {
        const uint8_t *rec = chain + off;
        int err = ks_rotation_decode(&r, rec, d);
        if (err) {
            if (d)
                d->offset += (uint32_t)off;
            return err;
        }
        if (r.seq <= t->rotation_seq)
            continue; /* history the controller already followed */
        int slot = trust_index(&work, r.old_pk);
        if (slot < 0 && followed == 0) {
            /* History from before the key this controller was provisioned
             * with: skip until the chain reaches a pinned key. Skipping
             * grants nothing; only records that chain are followed. */
            if (skipped++ == 0)
                first_skipped = (uint32_t)off;
            continue;
        }
        if (slot < 0)
            return ks_fail(d, KS_E_SUPERVISOR_UNTRUSTED, (uint32_t)off + 24,
                           "rotation.old_pk is not a trusted supervisor key");
        if (followed > 0 && r.seq <= work.rotation_seq)
            return ks_fail(d, KS_E_FORMAT, (uint32_t)off + 8, "rotation.seq does not increase along the chain");
        if (++followed > KS_ROTATION_CHAIN_MAX)
            return ks_fail(d, KS_E_CHAIN, (uint32_t)off, "rotation chain exceeds KS_ROTATION_CHAIN_MAX records");
        if (ks_verify_labelled(c, rec + 88, KS_LABEL_ROTATION, rec, ROT_SIGNED, r.old_pk) != 0)
            return ks_fail(d, KS_E_SIGNATURE, (uint32_t)off + 88, "rotation.sig_old does not verify");
        if (ks_verify_labelled(c, rec + 152, KS_LABEL_ROTATION, rec, ROT_SIGNED, r.new_pk) != 0)
            return ks_fail(d, KS_E_SIGNATURE, (uint32_t)off + 152, "rotation.sig_new does not verify");
        if (trust_index(&work, r.new_pk) >= 0) {
            /* New key already pinned: retire the old slot by moving the last one in. */
            work.count--;
            memcpy(work.keys[slot], work.keys[work.count], KS_PUBKEY_SIZE);
            memcpy(work.ids[slot], work.ids[work.count], KS_KEYID_SIZE);
        } else {
            memcpy(work.keys[slot], r.new_pk, KS_PUBKEY_SIZE);
            ks_key_id(c, work.ids[slot], r.new_pk);
        }
        work.rotation_seq = r.seq;
    }
    if (followed == 0 && skipped > 0)
        return ks_fail(d, KS_E_SUPERVISOR_UNTRUSTED, first_skipped + 24,
                       "rotation.old_pk is not a trusted supervisor key");
    *t = work;
    return KS_OK;
}
