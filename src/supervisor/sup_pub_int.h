/*
 * sup_pub_int.h - the publisher's own state, shared by its files:
 *   sup_publish.c    the contract, the thread and its rounds, start and stop;
 *   sup_pub_build.c  one scope's publish: read, build (incremental or full),
 *                    sign, store;
 *   sup_pub_load.c   stored versions loaded at start and after another
 *                    instance published;
 *   sup_pub_serve.c  the current image, snapshots and deltas for controllers.
 * Not for use outside the publisher.
 */
#ifndef KEYSUP_SUP_PUB_INT_H
#define KEYSUP_SUP_PUB_INT_H

#include "sup_pubstore.h"

/* Publisher-thread state of one scope: what an incremental publish needs. */
typedef struct pubcache {
    int valid;
    int64_t seq;             /* key_changes seq the current image includes */
    ks_tree t;               /* bucket tree of the current image */
    uint8_t (*nodes)[32];
    size_t nodes_len;
    uint64_t steps, keys;    /* since the newest full image */
} pubcache;

typedef struct pub_scope {
    uint32_t scope;
    uint64_t version;
    uint64_t created_at;
    uint8_t root[KS_HASH_SIZE];
    sup_pimg *cur;
    /* last delta made for this scope, reused while the version is current */
    uint64_t d_since;
    sup_pimg *d_img;
    pubcache *pc;            /* own allocation: stable while the array grows */
} pub_scope;

struct sup_publisher {
    pthread_t th;
    pthread_mutex_t m;       /* the scope table and its images */
    pthread_mutex_t run;     /* one publish round at a time */
    pthread_cond_t cv;
    int stop, kicked, started;
    pub_scope *sc;
    size_t n, cap;
    atomic_ullong n_incremental, n_full;
};

/* Scope entry (creating it); pub mutex held. NULL only when out of memory. */
pub_scope *sup_pub_scope_get(sup_publisher *p, uint32_t scope, int create);
void sup_pub_cache_drop(pubcache *pc);
/* Builds pc's tree over the records with `bits` bucket bits. */
int sup_pub_cache_tree(sup_ctx *s, pubcache *pc, const uint8_t *recs, uint32_t n, unsigned bits);

/* Publishes scope from version prev, having seen `dirty` marks
 * (sup_pub_build.c); the caller holds p->run. */
int sup_pub_scope_publish(sup_ctx *s, uint32_t scope, uint64_t prev, int64_t dirty);

/* The scopes table's (scope, version) rows, for sup_db_exec (sup_pub_load.c). */
typedef struct load_row {
    uint32_t scope[256];
    uint64_t version[256];
    size_t n;
} load_row;
int sup_pub_load_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names);
/* Rebuilds a scope's current image from the stored chain and its cache, and
 * checks the records hash to the signed root before serving them. Lock held.
 * KS_E_NOTFOUND / KS_E_ROOT: the caller marks the scope for a full rebuild. */
int sup_pub_load_scope(sup_ctx *s, uint32_t scope, uint64_t version);

#endif
