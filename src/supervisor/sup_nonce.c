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
 *
 * A nonce handed out in a heartbeat's answer (issue 13: one request per
 * heartbeat) is also bound to the controller it was issued to: only that
 * controller may spend it (sup_nonces_consume_dev). Every nonce ends in this
 * process's boot tag, so a nonce from before a restart is told apart from a
 * replay (sup_nonces_foreign): a fleet whose answers carried nonces is not
 * audited as 10,000 replays when keysupd restarts.
 *
 * The table does not read a clock: its callers (sup_cluster.c) give it the
 * monotonic clock's seconds, so a step of the wall clock neither stretches
 * nor cuts a nonce's life (field5).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "sup.h"
#include "sup_clockstep.h"

#define NONCE_TAG 8

typedef struct slot {
    uint8_t nonce[32];
    uint64_t expires; /* 0 = empty */
    uint32_t owner;   /* who asked (a client address tag); 0 = anyone */
    int64_t dev;      /* the only controller that may spend it; 0 = any */
} slot;

struct sup_nonces {
    pthread_mutex_t m;
    uint32_t ttl, cap; /* cap is a power of two */
    slot *t;
    uint8_t boot[NONCE_TAG]; /* the last bytes of every nonce this process issues */
    sup_clockstep clock;     /* wall-clock steps, sampled with every nonce (sup_cluster.c) */
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
    randombytes_buf(n->boot, sizeof n->boot);
    pthread_mutex_init(&n->m, NULL);
    sup_clockstep_init(&n->clock);
    return n;
}

void sup_nonces_free(sup_nonces *n)
{
    if (!n)
        return;
    pthread_mutex_destroy(&n->m);
    sup_clockstep_destroy(&n->clock);
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
    return sup_nonces_issue_dev(n, owner, 0, out, now);
}

int sup_nonces_issue_dev(sup_nonces *n, uint32_t owner, int64_t dev, uint8_t out[32],
                         uint64_t now)
{
    /* The home slot comes from the first bytes (home()): those stay random. */
    randombytes_buf(out, 32 - NONCE_TAG);
    memcpy(out + 32 - NONCE_TAG, n->boot, NONCE_TAG);
    return sup_nonces_put_dev(n, owner, dev, out, now);
}

int sup_nonces_foreign(const sup_nonces *n, const uint8_t nonce[32])
{
    return sodium_memcmp(nonce + 32 - NONCE_TAG, n->boot, NONCE_TAG) != 0;
}

int sup_nonces_put_for(sup_nonces *n, uint32_t owner, const uint8_t out[32], uint64_t now)
{
    return sup_nonces_put_dev(n, owner, 0, out, now);
}

int sup_nonces_put_dev(sup_nonces *n, uint32_t owner, int64_t dev, const uint8_t out[32],
                       uint64_t now)
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
    n->t[best].dev = dev;
    pthread_mutex_unlock(&n->m);
    return 0;
}

/* 1 when nonce is in the table, unexpired at now and dev may spend it;
 * consume: it is also spent (a used nonce is gone, whatever the answer).
 * A nonce bound to another controller is neither accepted nor spent: a
 * controller that learnt it (it is in A's answer) cannot take it from A. */
static int lookup(sup_nonces *n, const uint8_t nonce[32], uint64_t now, int64_t dev, int consume)
{
    uint32_t h = home(n, nonce);
    int ok = 0;
    pthread_mutex_lock(&n->m);
    for (uint32_t i = 0; i < PROBE; i++) {
        slot *s = &n->t[(h + i) & (n->cap - 1)];
        if (s->expires && sodium_memcmp(s->nonce, nonce, 32) == 0) {
            if (s->dev && s->dev != dev)
                break;
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
    return lookup(n, nonce, now, 0, 0);
}

int sup_nonces_consume(sup_nonces *n, const uint8_t nonce[32], uint64_t now)
{
    return lookup(n, nonce, now, 0, 1);
}

int sup_nonces_live_dev(sup_nonces *n, const uint8_t nonce[32], uint64_t now, int64_t dev)
{
    return lookup(n, nonce, now, dev, 0);
}

int sup_nonces_consume_dev(sup_nonces *n, const uint8_t nonce[32], uint64_t now, int64_t dev)
{
    return lookup(n, nonce, now, dev, 1);
}

sup_clockstep *sup_nonces_clockstep(sup_nonces *n)
{
    return &n->clock;
}
