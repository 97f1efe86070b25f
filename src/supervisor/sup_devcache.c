/*
 * sup_devcache.c - the device-request cache (sup_devcache.h): a
 * direct-mapped table of controllers, split into shards each with its own
 * mutex and forget generation, so workers authenticating different
 * controllers do not wait on each other or on the database lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_devcache.h"

#define SHARDS 64u

typedef struct slot {
    int64_t id;           /* 0: empty */
    uint64_t filled;      /* monotonic seconds */
    sup_devinfo info;
} slot;

typedef struct shard {
    pthread_mutex_t mu;
    uint64_t gen;         /* bumped by every forget that touches this shard */
} shard;

struct sup_devcache {
    shard shards[SHARDS];
    slot *slots;          /* SUP_DEVCACHE_SLOTS */
    atomic_ullong hits, misses;
};

static uint64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

/* An entry's life: between TTL/2 and TTL, spread by id, so a fleet that
 * enrolled together does not expire together (a burst of database reads,
 * each waiting on s->lock behind the soft-state flush's fsync). */
static uint64_t ttl_of(int64_t id)
{
    return SUP_DEVCACHE_TTL / 2u + (uint64_t)id % (SUP_DEVCACHE_TTL / 2u + 1u);
}

static size_t slot_of(int64_t id) { return (size_t)((uint64_t)id % SUP_DEVCACHE_SLOTS); }
static shard *shard_of(struct sup_devcache *c, size_t i) { return &c->shards[i % SHARDS]; }

int sup_devcache_new(sup_ctx *s)
{
    struct sup_devcache *c = calloc(1, sizeof *c);
    if (!c)
        return KS_E_NOSPC;
    /* calloc: untouched pages of a small fleet's table cost no memory */
    c->slots = calloc(SUP_DEVCACHE_SLOTS, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return KS_E_NOSPC;
    }
    for (unsigned i = 0; i < SHARDS; i++)
        pthread_mutex_init(&c->shards[i].mu, NULL);
    s->devcache = c;
    return KS_OK;
}

void sup_devcache_free(sup_ctx *s)
{
    struct sup_devcache *c = s->devcache;
    if (!c)
        return;
    for (unsigned i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&c->shards[i].mu);
    free(c->slots);
    free(c);
    s->devcache = NULL;
}

typedef struct fill {
    sup_devinfo *info;
    int found;
} fill;

static int fill_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    fill *f = ctx;
    (void)names;
    if (ncol >= 3 && c[0].type == KS_DBV_BLOB && c[0].n == KS_PUBKEY_SIZE) {
        memcpy(f->info->pk, c[0].p, KS_PUBKEY_SIZE);
        f->info->scope = (uint32_t)c[1].i;
        f->info->has_proto = c[2].type == KS_DBV_INT;
        f->info->proto = f->info->has_proto ? c[2].i : 0;
        f->info->no_commands = 0; /* unknown until a heartbeat reads them */
        f->found = 1;
    }
    return 1;
}

/* The row as stored now. Takes s->lock. */
static int read_db(sup_ctx *s, int64_t id, sup_devinfo *out)
{
    sup_dbv p = sup_dbv_int(id);
    fill f = {out, 0};
    int rc;
    pthread_mutex_lock(&s->lock);
    rc = sup_db_exec(s->db, "SELECT device_pk, scope, protocol_version FROM controllers"
                            " WHERE id = ? AND device_pk IS NOT NULL", &p, 1, fill_cb, &f);
    pthread_mutex_unlock(&s->lock);
    if (rc != KS_DB_OK)
        return -1;
    return f.found;
}

int sup_devcache_get(sup_ctx *s, int64_t id, sup_devinfo *out)
{
    struct sup_devcache *c = s->devcache;
    size_t i = slot_of(id);
    shard *sh;
    uint64_t gen, now = mono_s();
    int r;

    memset(out, 0, sizeof *out);
    /* A cluster peer can revoke without telling us: read the database. */
    if (!c || s->cluster || id <= 0)
        return read_db(s, id, out);
    sh = shard_of(c, i);
    pthread_mutex_lock(&sh->mu);
    if (c->slots[i].id == id && now - c->slots[i].filled < ttl_of(id)) {
        *out = c->slots[i].info;
        pthread_mutex_unlock(&sh->mu);
        atomic_fetch_add(&c->hits, 1);
        return 1;
    }
    gen = sh->gen;
    pthread_mutex_unlock(&sh->mu);
    atomic_fetch_add(&c->misses, 1);

    r = read_db(s, id, out);
    if (r != 1)
        return r; /* unknown or unenrolled ids are not cached: nothing to forget later */
    pthread_mutex_lock(&sh->mu);
    /* Only when no forget ran in between: that forget may be the revocation
     * of the very row just read. */
    if (sh->gen == gen) {
        c->slots[i].id = id;
        c->slots[i].filled = now;
        c->slots[i].info = *out;
    }
    pthread_mutex_unlock(&sh->mu);
    return 1;
}

void sup_devcache_forget(sup_ctx *s, int64_t id)
{
    struct sup_devcache *c = s->devcache;
    if (!c)
        return;
    if (id <= 0) {
        for (unsigned k = 0; k < SHARDS; k++)
            pthread_mutex_lock(&c->shards[k].mu);
        memset(c->slots, 0, SUP_DEVCACHE_SLOTS * sizeof *c->slots);
        for (unsigned k = 0; k < SHARDS; k++) {
            c->shards[k].gen++;
            pthread_mutex_unlock(&c->shards[k].mu);
        }
        return;
    }
    size_t i = slot_of(id);
    shard *sh = shard_of(c, i);
    pthread_mutex_lock(&sh->mu);
    sh->gen++;
    if (c->slots[i].id == id)
        memset(&c->slots[i], 0, sizeof c->slots[i]);
    pthread_mutex_unlock(&sh->mu);
}

uint64_t sup_devcache_gen(sup_ctx *s, int64_t id)
{
    struct sup_devcache *c = s->devcache;
    uint64_t g;
    if (!c || id <= 0)
        return 0;
    shard *sh = shard_of(c, slot_of(id));
    pthread_mutex_lock(&sh->mu);
    g = sh->gen;
    pthread_mutex_unlock(&sh->mu);
    return g;
}

void sup_devcache_no_commands(sup_ctx *s, int64_t id, uint64_t gen)
{
    struct sup_devcache *c = s->devcache;
    if (!c || id <= 0)
        return;
    size_t i = slot_of(id);
    shard *sh = shard_of(c, i);
    pthread_mutex_lock(&sh->mu);
    if (sh->gen == gen && c->slots[i].id == id)
        c->slots[i].info.no_commands = 1;
    pthread_mutex_unlock(&sh->mu);
}

void sup_devcache_stats(sup_ctx *s, uint64_t *hits, uint64_t *misses)
{
    struct sup_devcache *c = s->devcache;
    *hits = c ? atomic_load(&c->hits) : 0;
    *misses = c ? atomic_load(&c->misses) : 0;
}
