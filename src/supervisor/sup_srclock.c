/*
 * sup_srclock.c - the console sign-in lock per source address, and the
 * addresses an operator has signed in from.
 *
 * Why: the lock was per name only, so anyone on the site LAN could keep
 * `admin` locked for good by sending console_deny wrong passwords every
 * console_unlock_time seconds (docs/security.md). Real products split it
 * (Microsoft's "smart lockout", Okta's "familiar locations"):
 *
 *   - console_deny failures from one source lock the name *for that
 *     source* (this table, in memory). The attacker locks only itself out;
 *     the operator at another desk signs in as before;
 *   - console_deny_global failures from all sources together lock the name
 *     for everyone (the database row, sup_operator.c), which bounds
 *     guessing spread over many addresses;
 *   - except from an address this operator signed in from with its right
 *     password in this keysupd's life (the familiar table), so even a
 *     distributed attacker cannot keep the operator at their usual desk
 *     out. Such an address is still bound by its own per-source lock.
 *
 * A source is an IPv4 address, or an IPv6 /64 (one host can take any
 * address of its /64, so a per-address count would be no bound there).
 * Names are kept only as keyed hashes. Both tables are small and fixed;
 * when full, an unlocked entry (else the oldest) is reused: a flood of
 * pairs can end some per-source locks early, which the global count still
 * bounds. s->lock is held for every call.
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sup_srclock.h"

#define SOURCES 1024
#define FAMILIAR 256

typedef struct src_ent {
    uint8_t nh[16], ip[16]; /* keyed hash of the name; the source (a /64 for IPv6) */
    uint64_t first, locked_until, seen;
    uint32_t failures;
} src_ent;

typedef struct fam_ent {
    uint8_t nh[16], ip[16];
    uint64_t seen;
} fam_ent;

struct sup_srclock {
    src_ent s[SOURCES];
    fam_ent f[FAMILIAR];
    uint8_t key[crypto_generichash_KEYBYTES];
};

static sup_srclock *get(sup_ctx *s)
{
    if (!s->srclock && (s->srclock = calloc(1, sizeof *s->srclock)) != NULL)
        randombytes_buf(s->srclock->key, sizeof s->srclock->key);
    return s->srclock;
}

void sup_srclock_free(sup_ctx *s)
{
    if (s->srclock)
        sodium_memzero(s->srclock, sizeof *s->srclock);
    free(s->srclock);
    s->srclock = NULL;
}

void sup_srclock_source(const sup_client *c, uint8_t out[16])
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out, 0, 16);
    if (!c)
        return;
    memcpy(out, c->ip, 16);
    if (memcmp(c->ip, v4, sizeof v4) != 0)
        memset(out + 8, 0, 8); /* IPv6: the /64 */
}

static void name_hash(sup_srclock *t, const char *name, uint8_t nh[16])
{
    crypto_generichash(nh, 16, (const uint8_t *)name, strlen(name), t->key, sizeof t->key);
}

static int rank(const src_ent *e, uint64_t now)
{
    return !e->seen ? 0 : e->locked_until <= now ? 1 : 2;
}

static src_ent *src_find(sup_srclock *t, const uint8_t nh[16], const uint8_t ip[16], int make,
                         uint64_t now)
{
    src_ent *victim = NULL;
    for (int i = 0; i < SOURCES; i++) {
        src_ent *e = &t->s[i];
        if (e->seen && memcmp(e->nh, nh, 16) == 0 && memcmp(e->ip, ip, 16) == 0)
            return e;
        /* an empty entry, else one not locked now, else the one locked
         * longest ago; oldest first within each (as sup_conmem's ghosts) */
        if (!victim || rank(e, now) < rank(victim, now) ||
            (rank(e, now) == rank(victim, now) && e->seen < victim->seen))
            victim = e;
    }
    if (!make)
        return NULL;
    memset(victim, 0, sizeof *victim);
    memcpy(victim->nh, nh, 16);
    memcpy(victim->ip, ip, 16);
    victim->seen = now ? now : 1;
    return victim;
}

int sup_srclock_locked(sup_ctx *s, const char *name, const sup_client *c, uint64_t now,
                       sup_signin *out)
{
    sup_srclock *t = get(s);
    uint8_t nh[16], ip[16];
    src_ent *e;
    if (!t)
        return 0;
    name_hash(t, name, nh);
    sup_srclock_source(c, ip);
    e = src_find(t, nh, ip, 0, now);
    if (!e || e->locked_until <= now)
        return 0;
    out->locked = 1;
    out->retry_after = e->locked_until - now;
    out->failures = e->failures;
    return 1;
}

void sup_srclock_fail(sup_ctx *s, const char *name, const sup_client *c, uint64_t now,
                      sup_signin *out)
{
    sup_srclock *t = get(s);
    uint8_t nh[16], ip[16];
    src_ent *e;
    if (!t)
        return;
    name_hash(t, name, nh);
    sup_srclock_source(c, ip);
    if (!(e = src_find(t, nh, ip, 1, now)))
        return;
    /* the pam_faillock rule of count_failure (sup_operator.c) */
    if (!e->first || now - e->first > s->cfg.console.fail_interval) {
        e->first = now;
        e->failures = 1;
    } else {
        e->failures++;
    }
    e->seen = now ? now : 1;
    if (e->failures >= s->cfg.console.deny)
        e->locked_until = now + s->cfg.console.unlock_time;
    out->failures = e->failures;
    if (e->locked_until > now) {
        out->locked = 1;
        out->retry_after = e->locked_until - now;
    }
}

void sup_srclock_good(sup_ctx *s, const char *name, const sup_client *c, uint64_t now)
{
    sup_srclock *t = get(s);
    uint8_t nh[16], ip[16];
    src_ent *e;
    fam_ent *f = NULL;
    if (!t)
        return;
    name_hash(t, name, nh);
    sup_srclock_source(c, ip);
    if ((e = src_find(t, nh, ip, 0, now)) != NULL)
        memset(e, 0, sizeof *e);
    for (int i = 0; i < FAMILIAR; i++) {
        fam_ent *g = &t->f[i];
        if (g->seen && memcmp(g->nh, nh, 16) == 0 && memcmp(g->ip, ip, 16) == 0) {
            f = g;
            break;
        }
        if (!f || g->seen < f->seen) /* else the oldest (or an empty) entry */
            f = g;
    }
    memcpy(f->nh, nh, 16);
    memcpy(f->ip, ip, 16);
    f->seen = now ? now : 1;
}

int sup_srclock_familiar(sup_ctx *s, const char *name, const sup_client *c)
{
    sup_srclock *t = get(s);
    uint8_t nh[16], ip[16];
    if (!t || !c)
        return 0;
    name_hash(t, name, nh);
    sup_srclock_source(c, ip);
    for (int i = 0; i < FAMILIAR; i++)
        if (t->f[i].seen && memcmp(t->f[i].nh, nh, 16) == 0 && memcmp(t->f[i].ip, ip, 16) == 0)
            return 1;
    return 0;
}

void sup_srclock_forget(sup_ctx *s, const char *name)
{
    sup_srclock *t = s->srclock;
    uint8_t nh[16];
    if (!t || !name)
        return;
    name_hash(t, name, nh);
    for (int i = 0; i < SOURCES; i++)
        if (t->s[i].seen && memcmp(t->s[i].nh, nh, 16) == 0)
            memset(&t->s[i], 0, sizeof t->s[i]);
}
