/*
 * sup_hbsess.c - keysupd's heartbeat session table (sup_hbsess.h).
 *
 * One mutex for the table: what it guards is a probe of at most PROBE
 * slots and a few copies; the MAC itself (a keyed BLAKE2b pass over the
 * ~2 KB report) runs outside it on a stack copy of the key, wiped after.
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_hbsess.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define PROBE 8u

typedef struct ent {
    int64_t id; /* 0: free */
    uint8_t key_id[16];
    uint8_t sid[KS_HBS_SID];
    uint8_t c2s[KS_HBS_KEY], s2c[KS_HBS_KEY];
    uint64_t counter; /* the last one taken */
    uint64_t expires;
    uint64_t last_ok; /* when the last request was taken (or the session opened) */
} ent;

struct sup_hbsess {
    pthread_mutex_t mu;
    ent *e;
    uint32_t mask, ttl;
    sup_hbsess_stats st; /* under mu */
};

sup_hbsess *sup_hbsess_new(uint32_t slots, uint32_t ttl)
{
    sup_hbsess *t;
    if (slots == 0 || (slots & (slots - 1)) != 0)
        return NULL;
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->e = calloc(slots, sizeof *t->e);
    if (!t->e || pthread_mutex_init(&t->mu, NULL) != 0) {
        free(t->e);
        free(t);
        return NULL;
    }
    t->mask = slots - 1;
    t->ttl = ttl;
    return t;
}

void sup_hbsess_free(sup_hbsess *t)
{
    if (!t)
        return;
    sodium_memzero(t->e, (size_t)(t->mask + 1) * sizeof *t->e);
    free(t->e);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static uint32_t slot_of(const sup_hbsess *t, int64_t id, uint32_t i)
{
    /* ids are dense: consecutive controllers land in consecutive slots */
    return ((uint32_t)(uint64_t)id + i) & t->mask;
}

static void clear(sup_hbsess *t, ent *e)
{
    if (e->id)
        t->st.live--;
    sodium_memzero(e, sizeof *e);
}

/* The live session of id, mu held; an expired one is wiped on the way. */
static ent *find(sup_hbsess *t, int64_t id, uint64_t now)
{
    for (uint32_t i = 0; i < PROBE; i++) {
        ent *e = &t->e[slot_of(t, id, i)];
        if (e->id != id)
            continue;
        if (now >= e->expires) {
            clear(t, e);
            return NULL;
        }
        return e;
    }
    return NULL;
}

int sup_hbsess_open(sup_hbsess *t, int64_t id, const uint8_t key_id[16],
                    const uint8_t cpk[KS_HBS_PK], uint64_t now, uint8_t spk[KS_HBS_PK],
                    uint8_t sid[KS_HBS_SID])
{
    uint8_t ssk[KS_HBS_PK], c2s[KS_HBS_KEY], s2c[KS_HBS_KEY];
    ent *slot = NULL;
    int rc = -1;

    if (id <= 0)
        return -1;
    crypto_kx_keypair(spk, ssk);
    if (ks_hbs_server_keys(c2s, s2c, sid, spk, ssk, cpk) != 0)
        goto cleanup;
    pthread_mutex_lock(&t->mu);
    for (uint32_t i = 0; i < PROBE; i++) {
        ent *e = &t->e[slot_of(t, id, i)];
        if (e->id == id) { /* replaces its own: first choice */
            slot = e;
            break;
        }
        if (!slot && (e->id == 0 || now >= e->expires))
            slot = e;
    }
    if (!slot) {
        t->st.full++;
        pthread_mutex_unlock(&t->mu);
        goto cleanup;
    }
    clear(t, slot);
    slot->id = id;
    memcpy(slot->key_id, key_id, sizeof slot->key_id);
    memcpy(slot->sid, sid, KS_HBS_SID);
    memcpy(slot->c2s, c2s, KS_HBS_KEY);
    memcpy(slot->s2c, s2c, KS_HBS_KEY);
    slot->counter = 0;
    slot->expires = now + t->ttl;
    slot->last_ok = now;
    t->st.live++;
    t->st.opened++;
    pthread_mutex_unlock(&t->mu);
    rc = 0;
cleanup:
    sodium_memzero(ssk, sizeof ssk);
    sodium_memzero(c2s, sizeof c2s);
    sodium_memzero(s2c, sizeof s2c);
    return rc;
}

/* id's live session when sid (and key_id, unless NULL) match it, mu held. */
static ent *match(sup_hbsess *t, int64_t id, const uint8_t key_id[16],
                  const uint8_t sid[KS_HBS_SID], uint64_t now)
{
    ent *e = find(t, id, now);
    if (!e || sodium_memcmp(e->sid, sid, KS_HBS_SID) != 0 ||
        (key_id && memcmp(e->key_id, key_id, sizeof e->key_id) != 0))
        return NULL;
    return e;
}

int sup_hbsess_peek(sup_hbsess *t, int64_t id, const uint8_t key_id[16],
                    const uint8_t sid[KS_HBS_SID], uint64_t counter, uint64_t now)
{
    int rc;
    pthread_mutex_lock(&t->mu);
    ent *e = match(t, id, key_id, sid, now);
    rc = !e ? SUP_HBS_UNKNOWN : counter <= e->counter ? SUP_HBS_REPLAY : SUP_HBS_OK;
    if (rc == SUP_HBS_UNKNOWN)
        t->st.unknown++; /* answered now: check() never sees it */
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int sup_hbsess_check(sup_hbsess *t, int64_t id, const uint8_t key_id[16],
                     const uint8_t sid[KS_HBS_SID], uint64_t counter, uint64_t elapsed_ms,
                     uint64_t now,
                     const char *method, const char *path, const uint8_t *body, size_t len,
                     const uint8_t mac[KS_HBS_MAC])
{
    uint8_t key[KS_HBS_KEY], want[KS_HBS_MAC];
    int rc;
    ent *e;

    pthread_mutex_lock(&t->mu);
    e = match(t, id, key_id, sid, now);
    if (!e) {
        t->st.unknown++;
        pthread_mutex_unlock(&t->mu);
        return SUP_HBS_UNKNOWN;
    }
    memcpy(key, e->c2s, sizeof key);
    pthread_mutex_unlock(&t->mu);
    ks_hbs_req_mac(want, key, sid, (uint64_t)id, counter, elapsed_ms, method, path, body, len);
    sodium_memzero(key, sizeof key);
    rc = ks_hbs_mac_eq(want, mac) ? SUP_HBS_OK : SUP_HBS_BADMAC;
    pthread_mutex_lock(&t->mu);
    if (rc == SUP_HBS_OK) {
        /* again: the session may have been replaced meanwhile, and two
         * copies of one request may have raced each other here */
        e = match(t, id, key_id, sid, now);
        if (!e)
            rc = SUP_HBS_UNKNOWN;
        else if (counter <= e->counter)
            rc = SUP_HBS_REPLAY;
        else {
            e->counter = counter;
            /* No nonce bounds its age: the controller's own elapsed time
             * since the last answer does. Held longer than that plus the
             * lag: someone kept it back (its report is old news). */
            if (now > e->last_ok + elapsed_ms / 1000u + SUP_HBSESS_LAG)
                rc = SUP_HBS_STALE;
            else
                e->last_ok = now;
        }
    }
    if (rc == SUP_HBS_OK)
        t->st.mac_ok++;
    else if (rc == SUP_HBS_BADMAC)
        t->st.bad_mac++;
    else if (rc == SUP_HBS_REPLAY)
        t->st.replays++;
    else if (rc == SUP_HBS_STALE)
        t->st.stale++;
    else
        t->st.unknown++;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int sup_hbsess_answer(sup_hbsess *t, int64_t id, const uint8_t sid[KS_HBS_SID], uint64_t counter,
                      const uint8_t challenge[KS_HBS_CHAL], uint16_t status, const char *method,
                      const char *path, const uint8_t *body, size_t len, uint8_t mac[KS_HBS_MAC])
{
    uint8_t key[KS_HBS_KEY];
    ent *e;
    pthread_mutex_lock(&t->mu);
    /* not find(): an answer to a request taken just before expiry is still owed */
    e = NULL;
    for (uint32_t i = 0; i < PROBE && !e; i++) {
        ent *x = &t->e[slot_of(t, id, i)];
        if (x->id == id && sodium_memcmp(x->sid, sid, KS_HBS_SID) == 0)
            e = x;
    }
    if (!e) {
        pthread_mutex_unlock(&t->mu);
        return -1;
    }
    memcpy(key, e->s2c, sizeof key);
    pthread_mutex_unlock(&t->mu);
    ks_hbs_ans_mac(mac, key, sid, (uint64_t)id, counter, challenge, status, method, path, body, len);
    sodium_memzero(key, sizeof key);
    return 0;
}

void sup_hbsess_stats_get(sup_hbsess *t, sup_hbsess_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    *out = t->st;
    pthread_mutex_unlock(&t->mu);
}
