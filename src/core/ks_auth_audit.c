/*
 * ks_auth_audit.c - the hash-chained audit record: every decision the
 * engine makes becomes one KS_AUDIT_PAYLOAD-byte entry in the store's ring,
 * carrying the chain hash of the entry before it, so that a removed,
 * inserted or altered entry breaks the chain where it happened.
 *
 * What the chain does not do alone: it is unkeyed, so someone who can
 * rewrite the whole ring can recompute it. The defence is the head: the
 * controller reports ks_auth_audit_head in its health report and the
 * supervisor checks uploads against the heads it has seen.
 */
#include <string.h>

#include "ks_auth_int.h"

void ks_audit_encode(const ks_audit_rec *r, uint8_t out[KS_AUDIT_PAYLOAD])
{
    out[0] = r->version;
    out[1] = r->event;
    ks_st16(out + 2, r->action);
    ks_st32(out + 4, (uint32_t)r->err);
    ks_st64(out + 8, r->time);
    memcpy(out + 16, r->key_id, KS_KEYID_SIZE);
    memcpy(out + 32, r->reader, KS_READER_ID_SIZE);
    ks_st64(out + 48, r->detail);
    ks_st64(out + 56, r->index);
    memcpy(out + 64, r->prev, KS_HASH_SIZE);
    ks_st32(out + 96, r->session);
    ks_st32(out + 100, r->clock);
}

int ks_audit_decode(ks_audit_rec *r, const uint8_t in[KS_AUDIT_PAYLOAD], ks_diag *d)
{
    uint32_t e;
    if (in[0] != KS_AUDIT_VERSION)
        return ks_fail(d, KS_E_FORMAT, 0, "audit.version");
    if (in[1] < KS_EV_DECISION || in[1] > KS_EV_CHAIN_START)
        return ks_fail(d, KS_E_FORMAT, 1, "audit.event");
    r->version = in[0];
    r->event = in[1];
    r->action = ks_ld16(in + 2);
    e = ks_ld32(in + 4);
    /* Two's complement back to int32 without implementation-defined casts. */
    r->err = e & 0x80000000u ? -(int32_t)(~e) - 1 : (int32_t)e;
    r->time = ks_ld64(in + 8);
    memcpy(r->key_id, in + 16, KS_KEYID_SIZE);
    memcpy(r->reader, in + 32, KS_READER_ID_SIZE);
    r->detail = ks_ld64(in + 48);
    r->index = ks_ld64(in + 56);
    memcpy(r->prev, in + 64, KS_HASH_SIZE);
    r->session = ks_ld32(in + 96);
    r->clock = ks_ld32(in + 100);
    if (r->index == 0)
        return ks_fail(d, KS_E_FORMAT, 56, "audit.index");
    if (r->err > 0)
        return ks_fail(d, KS_E_FORMAT, 4, "audit.err");
    return KS_OK;
}

void ks_audit_hash(const ks_crypto *c, uint8_t out[KS_HASH_SIZE],
                   const uint8_t rec[KS_AUDIT_PAYLOAD])
{
    ks_iov iov[2];
    iov[0].p = KS_LABEL_AUDIT;
    iov[0].n = KS_LABEL_SIZE;
    iov[1].p = rec;
    iov[1].n = KS_AUDIT_PAYLOAD;
    c->hash(c->ctx, out, iov, 2);
}

int ks_audit_verify(const ks_crypto *c, const uint8_t *recs, size_t n,
                    const uint8_t prev[KS_HASH_SIZE], const uint8_t head[KS_HASH_SIZE],
                    size_t *bad)
{
    uint8_t h[KS_HASH_SIZE];
    uint64_t last_index = 0;
    ks_audit_rec r;
    int have = prev != NULL, err;

    if (have)
        memcpy(h, prev, KS_HASH_SIZE);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = recs + i * KS_AUDIT_PAYLOAD;
        if (bad)
            *bad = i;
        if ((err = ks_audit_decode(&r, p, NULL)) != 0)
            return err;
        /* A chain (re)starts at index 1 with a zero prev; otherwise it
         * continues the previous record exactly. */
        if (r.index == 1 && ks__is_zero(r.prev, KS_HASH_SIZE)) {
            /* a start */
        } else if (have || i > 0) {
            if (memcmp(r.prev, h, KS_HASH_SIZE) != 0)
                return KS_E_ROOT;
            if (i > 0 && r.index != last_index + 1)
                return KS_E_ROOT;
        }
        ks_audit_hash(c, h, p);
        last_index = r.index;
        have = 1;
    }
    if (head && (n == 0 ? !prev || memcmp(prev, head, KS_HASH_SIZE) != 0
                        : memcmp(h, head, KS_HASH_SIZE) != 0)) {
        if (bad)
            *bad = n ? n - 1 : 0;
        return KS_E_ROOT;
    }
    return KS_OK;
}

int ks__auth_audit(ks_auth *a, const ks_auth_ev *ev, uint64_t *seq)
{
    uint8_t p[KS_AUDIT_PAYLOAD];
    ks_audit_rec r;
    int err;

    memset(&r, 0, sizeof r);
    r.version = KS_AUDIT_VERSION;
    r.event = ev->event;
    r.action = ev->action;
    r.err = ev->err;
    r.time = ev->time;
    if (ev->key_id)
        memcpy(r.key_id, ev->key_id, KS_KEYID_SIZE);
    if (ev->reader)
        memcpy(r.reader, ev->reader, KS_READER_ID_SIZE);
    r.detail = ev->detail;
    r.session = ev->session;
    r.clock = a->clock;
    if (ev->event == KS_EV_CHAIN_START) {
        r.index = 1;
    } else {
        r.index = a->audit_index + 1;
        memcpy(r.prev, a->audit_prev, KS_HASH_SIZE);
    }
    ks_audit_encode(&r, p);
    if ((err = ks_store_audit_append(a->cfg.store, p, seq)) != 0)
        return err;
    a->audit_index = r.index;
    ks_audit_hash(a->cfg.crypto, a->audit_prev, p);
    return KS_OK;
}

/*
 * Finds the chain head after a restart: the newest entry in the ring when it
 * can still be read (not yet acknowledged). When every entry was uploaded
 * and acknowledged the store no longer hands it out, so a CHAIN_START entry
 * names the store sequence it follows; the supervisor, which has that entry,
 * links the two.
 */
int ks__auth_audit_load(ks_auth *a)
{
    uint8_t p[KS_AUDIT_PAYLOAD];
    ks_store_info info;
    ks_audit_rec r;
    uint64_t seq = 0;
    ks_auth_ev ev;
    int err;

    a->audit_index = 0;
    memset(a->audit_prev, 0, KS_HASH_SIZE);
    ks_store_get_info(a->cfg.store, &info);
    if (info.audit_last == 0)
        return KS_OK;
    err = ks_store_audit_read(a->cfg.store, info.audit_last - 1, p, &seq);
    if (err == KS_OK && seq == info.audit_last && ks_audit_decode(&r, p, NULL) == KS_OK) {
        a->audit_index = r.index;
        ks_audit_hash(a->cfg.crypto, a->audit_prev, p);
        return KS_OK;
    }
    if (err != KS_OK && err != KS_E_NOTFOUND && err != KS_E_STORE_CORRUPT)
        return err;
    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_CHAIN_START;
    ev.detail = info.audit_last;
    return ks__auth_audit(a, &ev, NULL);
}

void ks_auth_audit_head(const ks_auth *a, uint8_t out[KS_HASH_SIZE], uint64_t *index)
{
    memcpy(out, a->audit_prev, KS_HASH_SIZE);
    if (index)
        *index = a->audit_index;
}
