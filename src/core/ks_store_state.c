/*
 * ks_store_state.c - the small durable state: pinned supervisor keys, the
 * counter/lockout table and the settings blob. Each change is one metadata
 * record appended (and synced) before the in-RAM copy changes, so a power
 * cut leaves the old value or the new one, and a return of KS_OK means the
 * new value survives any later power cut.
 */
#include <string.h>

#include "ks_store_int.h"

const ks_trust *ks_store_trust(const ks_store *st)
{
    return &st->trust;
}

int ks_store_set_trust(ks_store *st, const ks_trust *t)
{
    ks_rec r;
    int err;

    if (!st->mounted || t->count > KS_TRUST_MAX)
        return KS_E_INVAL;
    memset(r.payload, 0, KS_TRUST_SIZE);
    r.type = KS_MT_TRUST;
    r.len = KS_TRUST_SIZE;
    ks_st32(r.payload, t->count);
    ks_st64(r.payload + 8, t->rotation_seq);
    for (uint32_t i = 0; i < t->count; i++) {
        memcpy(r.payload + 16 + i * 48, t->keys[i], KS_PUBKEY_SIZE);
        memcpy(r.payload + 16 + i * 48 + 32, t->ids[i], KS_KEYID_SIZE);
    }
    if ((err = ks__meta_append(st, &r)) != 0)
        return err;
    st->trust = *t;
    return KS_OK;
}

static ks_counter *find(const ks_store *st, uint8_t kind, const uint8_t id[KS_KEYID_SIZE])
{
    for (uint32_t i = 0; i < st->counter_count; i++) {
        ks_counter *e = &st->cfg.counters[i];
        if (e->kind == kind && memcmp(e->id, id, KS_KEYID_SIZE) == 0)
            return e;
    }
    return NULL;
}

int ks_store_counter_get(const ks_store *st, uint8_t kind, const uint8_t id[KS_KEYID_SIZE],
                         ks_counter *out)
{
    const ks_counter *e = find(st, kind, id);
    if (!e)
        return KS_E_NOTFOUND;
    *out = *e;
    return KS_OK;
}

static int put_row(ks_store *st, const ks_counter *c, int removed)
{
    ks_rec r;
    memset(r.payload, 0, 8);
    r.type = KS_MT_COUNTER;
    r.len = KS_COUNTER_REC_SIZE(1);
    r.payload[0] = 1;
    ks__counter_encode(c, removed, r.payload + 8);
    return ks__meta_append(st, &r);
}

int ks_store_counter_put(ks_store *st, const ks_counter *c)
{
    ks_counter *e;
    int err;

    if (!st->mounted || c->kind > KS_COUNTER_KIND_MAX)
        return KS_E_INVAL;
    e = find(st, c->kind, c->id);
    if (!e && st->counter_count >= st->cfg.counter_cap)
        return KS_E_NOSPC;
    if ((err = put_row(st, c, 0)) != 0)
        return err;
    /* A compaction inside the append may not have moved rows; find again. */
    e = find(st, c->kind, c->id);
    if (!e)
        e = &st->cfg.counters[st->counter_count++];
    *e = *c;
    return KS_OK;
}

int ks_store_counter_del(ks_store *st, uint8_t kind, const uint8_t id[KS_KEYID_SIZE])
{
    ks_counter *e = find(st, kind, id), c;
    int err;

    if (!st->mounted)
        return KS_E_INVAL;
    if (!e)
        return KS_E_NOTFOUND;
    c = *e;
    if ((err = put_row(st, &c, 1)) != 0)
        return err;
    e = find(st, kind, id);
    *e = st->cfg.counters[--st->counter_count];
    return KS_OK;
}

uint32_t ks_store_counter_count(const ks_store *st)
{
    return st->counter_count;
}

const ks_counter *ks_store_counter_at(const ks_store *st, uint32_t i)
{
    return i < st->counter_count ? &st->cfg.counters[i] : NULL;
}

int ks_store_settings_set(ks_store *st, const void *blob, uint32_t len)
{
    ks_rec r;
    int err;

    if (!st->mounted || len > KS_SETTINGS_MAX)
        return KS_E_INVAL;
    r.type = KS_MT_SETTINGS;
    r.len = (uint16_t)len;
    if (len)
        memcpy(r.payload, blob, len);
    if ((err = ks__meta_append(st, &r)) != 0)
        return err;
    if (len)
        memcpy(st->settings, blob, len);
    st->settings_len = len;
    return KS_OK;
}

uint32_t ks_store_settings_get(const ks_store *st, void *blob, uint32_t cap)
{
    if (blob && cap)
        memcpy(blob, st->settings, cap < st->settings_len ? cap : st->settings_len);
    return st->settings_len;
}
