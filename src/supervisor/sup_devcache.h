/*
 * sup_devcache.h - what a device request needs to know about its controller
 * (device key, scope, protocol, whether commands may be pending), kept in
 * memory so a heartbeat does not queue on the database lock (issue 13).
 *
 * Measured before: keysupd's HTTP workers spent the heartbeat waiting on
 * s->lock, taken twice per request for the device-key lookup alone, while
 * the soft-state flusher or a publish held it. With this cache a heartbeat
 * of a quiet controller touches no lock but the cache's shard.
 *
 * Correctness, the one rule: every change to a controller's device_pk,
 * scope, protocol_version or pending commands calls sup_devcache_forget(s,
 * id) while it holds s->lock, inside the change's transaction (before its
 * commit). A fill reads the database under s->lock too, and is stored only
 * when no forget of that shard ran since the fill began (a generation
 * count), so a fill that read the row before a revocation can never store
 * it after the revocation's forget. A stale entry therefore never outlives
 * the commit that made it stale: a re-provisioned (revoked) device key is
 * refused by the next request.
 *
 * Entries also expire after at most SUP_DEVCACHE_TTL seconds (spread by
 * id): a backstop for a writer added later that forgets to call forget,
 * not the mechanism.
 * With several keysupd on one PostgreSQL (sup_cluster.h) another instance
 * can revoke a device behind this one's back: the cache is not used there.
 *
 * Memory is bounded: a direct-mapped table of SUP_DEVCACHE_SLOTS entries
 * indexed by controller id (ids are dense, so a fleet of that size never
 * collides; a collision only costs a database read).
 */
#ifndef KEYSUP_SUP_DEVCACHE_H
#define KEYSUP_SUP_DEVCACHE_H

#include <stdint.h>

#include "sup.h"

#define SUP_DEVCACHE_SLOTS 65536u
#define SUP_DEVCACHE_TTL 30u

typedef struct sup_devinfo {
    uint8_t pk[KS_PUBKEY_SIZE];
    uint32_t scope;
    int has_proto;
    int64_t proto;        /* stored protocol_version (has_proto) */
    int no_commands;      /* 1: the database had no pending command for it */
} sup_devinfo;

/* Made by sup_open (after the database); freed by sup_close. */
int sup_devcache_new(sup_ctx *s);
void sup_devcache_free(sup_ctx *s);

/* The enrolled controller id: 1 and *out filled (from the cache, else read
 * under s->lock and cached), 0 when unknown or not enrolled, -1 on a
 * database error. Call WITHOUT s->lock held. */
int sup_devcache_get(sup_ctx *s, int64_t id, sup_devinfo *out);

/* Drops what is cached for id (s->lock held, inside the change's
 * transaction). id <= 0: every entry (a restore, a bulk change). */
void sup_devcache_forget(sup_ctx *s, int64_t id);

/* A heartbeat found no pending command for id (read under s->lock, after
 * gen was returned by sup_devcache_gen): later heartbeats skip the query
 * until a command for id calls forget. */
uint64_t sup_devcache_gen(sup_ctx *s, int64_t id);
void sup_devcache_no_commands(sup_ctx *s, int64_t id, uint64_t gen);

/* Hits and misses since start (metrics, tests). */
void sup_devcache_stats(sup_ctx *s, uint64_t *hits, uint64_t *misses);

#endif
