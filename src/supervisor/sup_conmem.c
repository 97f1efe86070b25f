/*
 * sup_conmem.c - what the console keeps in memory beside its tables:
 *
 *   - sessions on the monotonic clock. A session's idle and absolute limits
 *     were judged on the wall clock, so a clock stepped back (a bad NTP
 *     answer, an operator's `date -s`) kept every session alive for as long
 *     as the step. Now each session this process has seen carries its own
 *     monotonic start and last use, and only those decide. The wall-clock
 *     columns stay for display and for a session first seen here (made
 *     before a restart or by another keysupd): its age is taken from them
 *     once, clamped to [0, limit], and the monotonic clock rules from then.
 *
 *   - failed sign-ins of names that are no operator. Real operators are
 *     locked after console_deny_global failures (sup_operator.c); if unknown names
 *     never were, the lock answer told which names exist. They are now
 *     counted here by the same rule, so both give the same answers: the
 *     same KSE-743 until the lock, then the same KSE-740 and Retry-After.
 *
 * Both tables are small and fixed; s->lock is held for every call.
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_conmem.h"

#define SESSIONS 512
#define GHOSTS 1024

typedef struct mono_sess {
    uint8_t h[KS_HASH_SIZE]; /* the session cookie's hash, as in the table */
    int64_t created, last;   /* monotonic seconds (before this process began: below 0) */
    int used;
} mono_sess;

typedef struct ghost {
    uint8_t h[16]; /* keyed hash of the name: no name is kept */
    uint64_t first, locked_until, seen;
    uint32_t failures;
} ghost;

struct sup_conmem {
    mono_sess s[SESSIONS];
    ghost g[GHOSTS];
    uint8_t key[crypto_shorthash_KEYBYTES];
};

uint64_t sup_conmem_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

static sup_conmem *get(sup_ctx *s)
{
    if (!s->conmem && (s->conmem = calloc(1, sizeof *s->conmem)) != NULL)
        randombytes_buf(s->conmem->key, sizeof s->conmem->key);
    return s->conmem;
}

void sup_conmem_free(sup_ctx *s)
{
    if (s->conmem)
        sodium_memzero(s->conmem, sizeof *s->conmem);
    free(s->conmem);
    s->conmem = NULL;
}

static uint64_t clamp_age(int64_t wall_now, int64_t at, uint64_t limit)
{
    if (at >= wall_now)
        return 0;
    return (uint64_t)(wall_now - at) > limit ? limit : (uint64_t)(wall_now - at);
}

int sup_conmem_session(sup_ctx *s, const uint8_t h[KS_HASH_SIZE], int64_t created_at,
                       int64_t last_used, int64_t wall_now, uint64_t mono_now)
{
    sup_conmem *cm = get(s);
    uint64_t idle = s->cfg.console.idle, max = s->cfg.console.session_max;
    mono_sess *e = NULL, *free_e = NULL, *oldest = NULL;

    if (!cm) /* no memory: judge on the wall clock, as before */
        return wall_now - last_used > (int64_t)idle || wall_now - created_at >= (int64_t)max;
    for (int i = 0; i < SESSIONS; i++) {
        mono_sess *m = &cm->s[i];
        if (m->used && sodium_memcmp(m->h, h, KS_HASH_SIZE) == 0) {
            e = m;
            break;
        }
        if (!m->used && !free_e)
            free_e = m;
        if (m->used && (!oldest || m->last < oldest->last))
            oldest = m;
    }
    if (!e) {
        /* First seen here: the age the table says, once, clamped (a wall
         * clock ahead makes it older, never younger than 0). */
        uint64_t ac = clamp_age(wall_now, created_at, max), al = clamp_age(wall_now, last_used, idle + 1);
        e = free_e ? free_e : oldest;
        memcpy(e->h, h, KS_HASH_SIZE);
        e->used = 1;
        e->created = (int64_t)mono_now - (int64_t)ac;
        e->last = (int64_t)mono_now - (int64_t)al;
        if (ac >= max || al > idle) {
            e->used = 0;
            return 1;
        }
    }
    if ((int64_t)mono_now - e->last > (int64_t)idle || (int64_t)mono_now - e->created >= (int64_t)max) {
        e->used = 0;
        return 1;
    }
    e->last = (int64_t)mono_now;
    return 0;
}

void sup_conmem_session_end(sup_ctx *s, const uint8_t h[KS_HASH_SIZE])
{
    sup_conmem *cm = s->conmem;
    for (int i = 0; cm && i < SESSIONS; i++)
        if (cm->s[i].used && sodium_memcmp(cm->s[i].h, h, KS_HASH_SIZE) == 0)
            cm->s[i].used = 0;
}

uint64_t sup_conmem_session_expires(sup_ctx *s, const uint8_t h[KS_HASH_SIZE], uint64_t wall_now,
                                    uint64_t mono_now)
{
    sup_conmem *cm = s->conmem;
    for (int i = 0; cm && i < SESSIONS; i++)
        if (cm->s[i].used && sodium_memcmp(cm->s[i].h, h, KS_HASH_SIZE) == 0)
            return (uint64_t)((int64_t)wall_now + cm->s[i].created +
                              (int64_t)s->cfg.console.session_max - (int64_t)mono_now);
    return 0;
}

static int rank(const ghost *g, uint64_t now)
{
    return !g->seen ? 0 : g->locked_until <= now ? 1 : 2;
}

static ghost *ghost_find(sup_ctx *s, const char *name, int make, uint64_t now)
{
    sup_conmem *cm = get(s);
    uint8_t h[16];
    ghost *victim = NULL;
    if (!cm)
        return NULL;
    crypto_generichash(h, sizeof h, (const uint8_t *)name, strlen(name), cm->key, sizeof cm->key);
    for (int i = 0; i < GHOSTS; i++) {
        ghost *g = &cm->g[i];
        if (g->seen && memcmp(g->h, h, sizeof h) == 0)
            return g;
        /* the entry to reuse: an empty one, else one not locked now, else
         * the one locked longest ago; oldest first within each */
        if (!victim || rank(g, now) < rank(victim, now) ||
            (rank(g, now) == rank(victim, now) && g->seen < victim->seen))
            victim = g;
    }
    if (!make)
        return NULL;
    memset(victim, 0, sizeof *victim);
    memcpy(victim->h, h, sizeof h);
    victim->seen = now ? now : 1;
    return victim;
}

int sup_conmem_ghost_locked(sup_ctx *s, const char *name, uint64_t now, sup_signin *out)
{
    ghost *g = ghost_find(s, name, 0, now);
    if (!g || g->locked_until <= now)
        return 0;
    out->locked = 1;
    out->retry_after = g->locked_until - now;
    out->failures = g->failures;
    return 1;
}

void sup_conmem_ghost_fail(sup_ctx *s, const char *name, uint64_t now, sup_signin *out)
{
    ghost *g = ghost_find(s, name, 1, now);
    if (!g)
        return;
    /* count_failure's rule (sup_operator.c): a series within fail_interval
     * of its first failure, locked at console_deny_global (the per-source
     * lock of sup_srclock.c counts unknown names as known ones too). */
    if (!g->first || now - g->first > s->cfg.console.fail_interval) {
        g->first = now;
        g->failures = 1;
    } else {
        g->failures++;
    }
    g->seen = now ? now : 1;
    if (g->failures >= s->cfg.console.deny_global)
        g->locked_until = now + s->cfg.console.unlock_time;
    out->failures = g->failures;
    if (g->locked_until > now) {
        out->locked = 1;
        out->retry_after = g->locked_until - now;
    }
}
