/*
 * sup_nonce.c - single-use server nonces for device request signatures.
 *
 * An open-addressing table of issued nonces with their expiry. consume()
 * removes the entry, so a replayed request (same nonce) finds nothing and
 * is refused. Without an owner, a full probe window loses its oldest slot;
 * with one (GET /v1/device/nonce tags each nonce with the client address),
 * only the same client's nonces are displaced (sup_nonces_issue_for). A flood
 * can at worst make honest devices retry, and can never make a used nonce
 * valid again. Nonces are memory-only: a restart
 * simply makes outstanding ones unusable.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "sup.h"

typedef struct slot {
    uint8_t nonce[32];
    uint64_t expires; /* 0 = empty */
    uint32_t owner;   /* who asked (a client address tag); 0 = anyone */
} slot;

struct sup_nonces {
    pthread_mutex_t m;
    uint32_t ttl, cap; /* cap is a power of two */
    slot *t;
};

#define PROBE 16

sup_nonces *sup_nonces_new(uint32_t ttl, uint32_t cap)
{
    sup_nonces *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->t = calloc(cap, sizeof *n->t);
    if (!n->t) {
        free(n);
        return NULL;
    }
    n->ttl = ttl;
    n->cap = cap;
    pthread_mutex_init(&n->m, NULL);
    return n;
}

void sup_nonces_free(sup_nonces *n)
{
    if (!n)
        return;
    pthread_mutex_destroy(&n->m);
    free(n->t);
    free(n);
}

static uint32_t home(const sup_nonces *n, const uint8_t nonce[32])
{
    return ks_ld32(nonce) & (n->cap - 1);
}

void sup_nonces_issue(sup_nonces *n, const ks_crypto *c, uint8_t out[32], uint64_t now)
{
    (void)c;
    sup_nonces_issue_for(n, 0, out, now);
}

/*
 * With an owner, a full probe window is never resolved by evicting another
 * client's live nonce: the oldest of the owner's own nonces goes, or the
 * request is refused. A flood from one address therefore only displaces its
 * own nonces, and (with the per-client rate limit, nonce_rate x nonce_ttl
 * live nonces at most) the table keeps room for honest controllers.
 */
int sup_nonces_issue_for(sup_nonces *n, uint32_t owner, uint8_t out[32], uint64_t now)
{
    randombytes_buf(out, 32);
    return sup_nonces_put_for(n, owner, out, now);
}

int sup_nonces_put_for(sup_nonces *n, uint32_t owner, const uint8_t out[32], uint64_t now)
{
    uint32_t h, best = UINT32_MAX;
    pthread_mutex_lock(&n->m);
    h = home(n, out);
    for (uint32_t i = 0; i < PROBE; i++) {
        uint32_t j = (h + i) & (n->cap - 1);
        if (n->t[j].expires <= now) { /* empty or expired */
            best = j;
            break;
        }
        if (owner && n->t[j].owner != owner)
            continue;
        if (best == UINT32_MAX || n->t[j].expires < n->t[best].expires)
            best = j;
    }
    if (best == UINT32_MAX) {
        pthread_mutex_unlock(&n->m);
        return -1;
    }
    memcpy(n->t[best].nonce, out, 32);
    n->t[best].expires = now + n->ttl;
    n->t[best].owner = owner;
    pthread_mutex_unlock(&n->m);
    return 0;
}

/* 1 when nonce is in the table and unexpired at now; consume: it is also
 * spent (a used nonce is gone, whatever the answer). */
static int lookup(sup_nonces *n, const uint8_t nonce[32], uint64_t now, int consume)
{
    uint32_t h = home(n, nonce);
    int ok = 0;
    pthread_mutex_lock(&n->m);
    for (uint32_t i = 0; i < PROBE; i++) {
        slot *s = &n->t[(h + i) & (n->cap - 1)];
        if (s->expires && sodium_memcmp(s->nonce, nonce, 32) == 0) {
            ok = s->expires > now;
            if (consume)
                s->expires = 0;
            break;
        }
    }
    pthread_mutex_unlock(&n->m);
    return ok;
}

int sup_nonces_live(sup_nonces *n, const uint8_t nonce[32], uint64_t now)
{
    return lookup(n, nonce, now, 0);
}

int sup_nonces_consume(sup_nonces *n, const uint8_t nonce[32], uint64_t now)
{
    return lookup(n, nonce, now, 1);
}
