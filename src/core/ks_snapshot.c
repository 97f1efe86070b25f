/*
 * ks_snapshot.c - the signed snapshot: header encoding, signing, and the
 * full verification a controller runs before it trusts a database.
 *
 * Header (160 bytes, docs/formats.md):
 *   0 magic "KSSN"  4 format u16  6 bucket_bits u8  7 reserved u8
 *   8 version u64  16 created_at u64  24 expires_at u64  32 signer_id[16]
 *  48 record_count u32  52 record_size u32 (128)  56 scope u32
 *  60 history u32  64 root[32]  96 signature[64]
 * The signature covers "KEYSUP-SNAPSHOT1" || bytes 0..95.
 */
#include <keysup/ks_assert.h>
#include <keysup/ks_snapshot.h>

#include <string.h>

#include "ks_sign.h"

void ks_snap_header_encode(const ks_snap_header *h, uint8_t out[KS_SNAP_HEADER_SIZE])
{
    memset(out, 0, KS_SNAP_HEADER_SIZE);
    memcpy(out, KS_SNAP_MAGIC, 4);
    ks_st16(out + 4, h->format);
    out[6] = h->bucket_bits;
    ks_st64(out + 8, h->version);
    ks_st64(out + 16, h->created_at);
    ks_st64(out + 24, h->expires_at);
    memcpy(out + 32, h->signer_id, KS_KEYID_SIZE);
    ks_st32(out + 48, h->record_count);
    ks_st32(out + 52, KS_RECORD_SIZE);
    ks_st32(out + 56, h->scope);
    ks_st32(out + 60, h->history);
    memcpy(out + 64, h->root, KS_HASH_SIZE);
    memcpy(out + 96, h->signature, KS_SIG_SIZE);
}

int ks_snap_header_decode(ks_snap_header *h, const uint8_t in[KS_SNAP_HEADER_SIZE], ks_diag *d)
{
    if (memcmp(in, KS_SNAP_MAGIC, 4) != 0)
        return ks_fail(d, KS_E_FORMAT, 0, "snapshot.magic is not KSSN");
    if (ks_ld16(in + 4) != KS_SNAP_FORMAT)
        return ks_fail(d, KS_E_FORMAT, 4, "snapshot.format is not supported");
    if (in[6] > KS_BUCKET_BITS_MAX)
        return ks_fail(d, KS_E_FORMAT, 6, "snapshot.bucket_bits exceeds 20");
    if (in[7] != 0)
        return ks_fail(d, KS_E_FORMAT, 7, "snapshot.reserved is not zero");
    if (ks_ld32(in + 52) != KS_RECORD_SIZE)
        return ks_fail(d, KS_E_FORMAT, 52, "snapshot.record_size is not 128");
    h->format = ks_ld16(in + 4);
    h->bucket_bits = in[6];
    h->version = ks_ld64(in + 8);
    h->created_at = ks_ld64(in + 16);
    h->expires_at = ks_ld64(in + 24);
    if (h->expires_at != 0 && h->expires_at <= h->created_at)
        return ks_fail(d, KS_E_FORMAT, 24, "snapshot.expires_at is not after created_at");
    memcpy(h->signer_id, in + 32, KS_KEYID_SIZE);
    h->record_count = ks_ld32(in + 48);
    h->scope = ks_ld32(in + 56);
    h->history = ks_ld32(in + 60);
    memcpy(h->root, in + 64, KS_HASH_SIZE);
    memcpy(h->signature, in + 96, KS_SIG_SIZE);
    return KS_OK;
}

int ks_snap_header_sign(const ks_crypto *c, uint8_t hdr[KS_SNAP_HEADER_SIZE],
                        const uint8_t sk[KS_SECKEY_SIZE])
{
    ks_key_id(c, hdr + 32, sk + 32);
    return ks_sign_labelled(c, hdr + 96, KS_LABEL_SNAPSHOT, hdr, KS_SNAP_SIGNED_SIZE, sk);
}

/* Signer and signature only; h is already decoded. */
static int check_signature(const ks_crypto *c, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                           const ks_snap_header *h, const ks_policy *p, ks_diag *d)
{
    const uint8_t *pk = p->trust ? ks_trust_find(p->trust, h->signer_id) : NULL;
    if (!pk)
        return ks_fail(d, KS_E_SUPERVISOR_UNTRUSTED, 32,
                       "snapshot.signer_id is not a pinned supervisor key");
    if (ks_verify_labelled(c, hdr + 96, KS_LABEL_SNAPSHOT, hdr, KS_SNAP_SIGNED_SIZE, pk) != 0)
        return ks_fail(d, KS_E_SIGNATURE, 96, "snapshot.signature does not verify");
    return KS_OK;
}

/* Rollback then expiry: only meaningful once the header is authentic. */
static int check_freshness(const ks_snap_header *h, const ks_policy *p, ks_diag *d)
{
    if (p->has_applied && h->version < p->applied_version)
        return ks_fail(d, KS_E_ROLLBACK, 8, "snapshot.version is older than the applied snapshot");
    if (p->now != 0 && h->expires_at != 0 && p->now >= h->expires_at)
        return ks_fail(d, KS_E_SNAPSHOT_EXPIRED, 24, "snapshot.expires_at has passed");
    return KS_OK;
}

int ks_snap_header_check(const ks_crypto *c, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                         const ks_policy *p, ks_diag *d)
{
    ks_snap_header h;
    int err = ks_snap_header_decode(&h, hdr, d);
    if (!err)
        err = check_signature(c, hdr, &h, p, d);
    if (!err)
        err = check_freshness(&h, p, d);
    return err;
}

/* Records well-formed, strictly ascending by key id. offset0 = where they start. */
static int check_records(const uint8_t *recs, uint32_t count, uint32_t offset0, ks_diag *d)
{
    ks_record r;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *rec = recs + (size_t)i * KS_RECORD_SIZE;
        uint32_t off = offset0 + i * KS_RECORD_SIZE;
        int err = ks_record_decode(&r, rec, d);
        if (err) {
            if (d)
                d->offset += off;
            return err;
        }
        if (i > 0 && memcmp(rec - KS_RECORD_SIZE, rec, KS_KEYID_SIZE) >= 0)
            return ks_fail(d, KS_E_FORMAT, off, "records are not sorted by key id, or repeat one");
    }
    return KS_OK;
}

int ks_snapshot_verify(const ks_crypto *c, const uint8_t *buf, size_t len, const ks_policy *p,
                       ks_snap_header *out, ks_diag *d)
{
    ks_snap_header h;
    ks_recsrc src;
    uint8_t root[KS_HASH_SIZE];
    int err;

    if (len < KS_SNAP_HEADER_SIZE)
        return ks_fail(d, KS_E_FORMAT, (uint32_t)len, "snapshot is shorter than its 160-byte header");
    if ((err = ks_snap_header_decode(&h, buf, d)) != 0)
        return err;
    if ((len - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE != h.record_count ||
        (len - KS_SNAP_HEADER_SIZE) % KS_RECORD_SIZE != 0)
        return ks_fail(d, KS_E_FORMAT, 48, "snapshot size does not match record_count");
    if ((err = check_signature(c, buf, &h, p, d)) != 0)
        return err;
    if ((err = check_records(buf + KS_SNAP_HEADER_SIZE, h.record_count, KS_SNAP_HEADER_SIZE, d)) != 0)
        return err;
    ks_recsrc_mem(&src, buf + KS_SNAP_HEADER_SIZE, h.record_count);
    if ((err = ks_merkle_root(c, &src, h.bucket_bits, root)) != 0)
        return ks_fail(d, err, 0, "records could not be hashed");
    if (memcmp(root, h.root, KS_HASH_SIZE) != 0)
        return ks_fail(d, KS_E_ROOT, 64, "records do not hash to snapshot.root");
    if (out)
        *out = h;
    return check_freshness(&h, p, d);
}

int ks_snapshot_write(const ks_crypto *c, ks_snap_header *h, const uint8_t *records,
                      uint32_t count, const uint8_t sk[KS_SECKEY_SIZE], uint8_t *out,
                      size_t out_len)
{
    ks_recsrc src;
    ks_diag d;
    int err;

    if (out_len < KS_SNAP_HEADER_SIZE + (size_t)count * KS_RECORD_SIZE)
        return KS_E_NOSPC;
    if ((err = check_records(records, count, 0, &d)) != 0)
        return err;
    h->format = KS_SNAP_FORMAT;
    h->bucket_bits = (uint8_t)ks_bucket_bits_for(count);
    h->record_count = count;
    ks_recsrc_mem(&src, records, count);
    if ((err = ks_merkle_root(c, &src, h->bucket_bits, h->root)) != 0)
        return err;
    memset(h->signature, 0, KS_SIG_SIZE);
    ks_snap_header_encode(h, out);
    if ((err = ks_snap_header_sign(c, out, sk)) != 0)
        return err;
    memcpy(h->signer_id, out + 32, KS_KEYID_SIZE);
    memcpy(h->signature, out + 96, KS_SIG_SIZE);
#if defined(KS_ASSERTS) && KS_ASSERTS
    {   /* docs/formats.md: the writer never makes a header its own reader refuses */
        ks_snap_header chk;
        KS_ASSERT(ks_snap_header_decode(&chk, out, NULL) == KS_OK);
    }
#endif
    if (count > 0 && out + KS_SNAP_HEADER_SIZE != records)
        memmove(out + KS_SNAP_HEADER_SIZE, records, (size_t)count * KS_RECORD_SIZE);
    return KS_OK;
}
