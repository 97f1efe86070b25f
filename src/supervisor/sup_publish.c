/*
 * sup_publish.c - the snapshot publisher.
 *
 * Contract:
 *   - A change to keys or policies calls sup_pub_mark() inside its own
 *     transaction, which bumps the scope's `dirty` counter; so the mark is
 *     durable exactly when the change is. Triggers log every keys row written
 *     in key_changes in that same transaction (sup_pubstore.c).
 *   - The publisher thread wakes at once (sup_pub_kick) and publishes each
 *     dirty scope. Incrementally when it holds the scope's cache (the current
 *     image plus its bucket tree and the key_changes seq the image includes):
 *     it reads only the changed keys, merges them into a copy of the image,
 *     rehashes the touched buckets and their paths, and signs. In full
 *     otherwise (startup without a usable chain, bucket_bits change is
 *     handled by rebuilding just the tree, too many changes, any failure):
 *     it reads every record, sorts, builds the tree, signs.
 *   - Either way it stores the version in one transaction: the signed header,
 *     the step (the changed keys before and after) or, for a full rebuild,
 *     the whole image, the scope's new version, and `dirty` decremented by
 *     what was seen, so a change arriving mid-publish triggers another round.
 *     A crash anywhere leaves the old version or the new one, the mark
 *     pending, and the change log rows in place.
 *   - The scope's snapshot holds the keys of that scope plus the keys valid
 *     everywhere (scope 0), sorted by key id (memcmp order).
 *   - Deltas from the last `snapshot_retain` versions are made on demand from
 *     the stored steps (cost grows with the change, not the database), or by
 *     rebuilding the old image when a full rebuild lies in between.
 *   - Images are refcounted in memory so serving never copies under a lock
 *     and a publish never waits for slow readers.
 *
 * This file: the publisher's thread, its rounds, start and stop, and the
 * scope table. One scope's publish is in sup_pub_build.c, loading stored
 * versions in sup_pub_load.c, serving images and deltas in sup_pub_serve.c
 * (their shared state: sup_pub_int.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_cluster.h"
#include "sup_keyfollow.h"
#include "sup_pub_int.h"

pub_scope *sup_pub_scope_get(sup_publisher *p, uint32_t scope, int create)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->sc[i].scope == scope)
            return &p->sc[i];
    if (!create)
        return NULL;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 8;
        pub_scope *ns = realloc(p->sc, nc * sizeof *ns);
        if (!ns)
            return NULL;
        p->sc = ns;
        p->cap = nc;
    }
    memset(&p->sc[p->n], 0, sizeof p->sc[p->n]);
    p->sc[p->n].scope = scope;
    if (!(p->sc[p->n].pc = calloc(1, sizeof(pubcache))))
        return NULL;
    return &p->sc[p->n++];
}

void sup_pub_cache_drop(pubcache *pc)
{
    free(pc->nodes);
    memset(pc, 0, sizeof *pc);
}

int sup_pub_cache_tree(sup_ctx *s, pubcache *pc, const uint8_t *recs, uint32_t n, unsigned bits)
{
    ks_recsrc src;
    size_t need = ks_tree_nodes(bits);
    if (pc->nodes_len != need) {
        uint8_t(*nn)[32] = realloc(pc->nodes, need * sizeof *nn);
        if (!nn)
            return KS_E_NOSPC;
        pc->nodes = nn;
        pc->nodes_len = need;
    }
    ks_recsrc_mem(&src, recs, n);
    return ks_tree_build(&pc->t, &s->crypto, &src, bits, pc->nodes, pc->nodes_len);
}

void sup_pub_stats(sup_ctx *s, uint64_t *incremental, uint64_t *full)
{
    *incremental = atomic_load(&s->pub->n_incremental);
    *full = atomic_load(&s->pub->n_full);
}

/* ----- waking (sup_pub_mark, which every change calls, is in sup_pubmark.c) ----- */

void sup_pub_kick(sup_ctx *s)
{
    sup_publisher *p = s->pub;
    if (!p)
        return;
    pthread_mutex_lock(&p->m);
    p->kicked = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->m);
}

typedef struct dirty_row {
    uint32_t scope[256];
    uint64_t version[256];
    int64_t dirty[256];
    size_t n;
} dirty_row;

static int dirty_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    dirty_row *d = ctx;
    (void)names;
    (void)ncol;
    if (d->n >= 256)
        return 1; /* the rest on the next round */
    d->scope[d->n] = (uint32_t)c[0].i;
    d->version[d->n] = (uint64_t)c[1].i;
    d->dirty[d->n] = c[2].i;
    d->n++;
    return 0;
}

int sup_pub_run_once(sup_ctx *s)
{
    sup_publisher *p = s->pub;
    dirty_row d;
    int rc = KS_OK, done = 0;

    /* The thread and a direct caller (tests, benchmark) take turns. */
    pthread_mutex_lock(&p->run);
    if (s->cluster) {
        /* Serve what another instance published; publish only with the lease. */
        sup_pub_refresh(s);
        /* A key rotated on another instance: answer and sign with it, or,
         * when it cannot be taken (KSE-761, logged), do not publish. */
        if (sup_keyfollow(s) != KS_OK || !sup_cluster_leader(s)) {
            pthread_mutex_unlock(&p->run);
            return 0;
        }
    }
    d.n = 0;
    pthread_mutex_lock(&s->lock);
    if (sup_db_exec(s->db, "SELECT scope, version, dirty FROM scopes WHERE dirty > 0"
                          " ORDER BY scope", NULL, 0, dirty_cb, &d))
        rc = KS_E_IO;
    pthread_mutex_unlock(&s->lock);
    /* A rotation commits its key and its dirty marks together: marks read
     * here come with a key the follow now sees, never signed with the old. */
    if (s->cluster && d.n && sup_keyfollow(s) != KS_OK)
        rc = KS_E_SIGNING_KEY_NOT_FOLLOWED;
    for (size_t i = 0; !rc && i < d.n; i++) {
        rc = sup_pub_scope_publish(s, d.scope[i], d.version[i], d.dirty[i]);
        if (!rc)
            done++;
    }
    if (done) {
        pthread_mutex_lock(&s->lock);
        sup_cluster_notify(s, "published");
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&p->run);
    return rc ? rc : done;
}

/* Marks scopes whose snapshot passed half its lifetime, so controllers
 * always hold one well before expires_at. */
static void refresh_aging(sup_ctx *s)
{
    sup_publisher *p = s->pub;
    uint32_t due[64];
    size_t n = 0;
    uint64_t now = sup_now();

    pthread_mutex_lock(&p->m);
    for (size_t i = 0; i < p->n && n < 64; i++)
        if (p->sc[i].cur && now >= p->sc[i].created_at + s->cfg.snapshot_ttl / 2)
            due[n++] = p->sc[i].scope;
    pthread_mutex_unlock(&p->m);
    if (!n)
        return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++)
        sup_pub_mark(s, due[i]);
    pthread_mutex_unlock(&s->lock);
}

static void *pub_main(void *arg)
{
    sup_ctx *s = arg;
    sup_publisher *p = s->pub;

    for (;;) {
        struct timespec ts;
        int rc;
        pthread_mutex_lock(&p->m);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        while (!p->kicked && !p->stop)
            if (pthread_cond_timedwait(&p->cv, &p->m, &ts) == ETIMEDOUT)
                break;
        if (p->stop) {
            pthread_mutex_unlock(&p->m);
            break;
        }
        p->kicked = 0;
        pthread_mutex_unlock(&p->m);
        refresh_aging(s);
        rc = sup_pub_run_once(s);
        if (rc < 0) {
            /* Try again in a moment; the marks are still pending. */
            struct timespec sl = {0, 200 * 1000 * 1000};
            nanosleep(&sl, NULL);
        }
    }
    return NULL;
}

int sup_pub_start(sup_ctx *s)
{
    sup_publisher *p = calloc(1, sizeof *p);
    load_row l;

    if (!p)
        return KS_E_NOSPC;
    pthread_mutex_init(&p->m, NULL);
    pthread_mutex_init(&p->run, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->n_incremental, 0);
    atomic_init(&p->n_full, 0);
    s->pub = p;
    l.n = 0;
    pthread_mutex_lock(&s->lock);
    sup_db_exec(s->db, "SELECT scope, version FROM scopes WHERE version > 0", NULL, 0,
                sup_pub_load_cb, &l);
    for (size_t i = 0; i < l.n; i++) {
        int rc = sup_pub_load_scope(s, l.scope[i], l.version[i]);
        if (rc == KS_E_NOSPC) {
            pthread_mutex_unlock(&s->lock);
            return rc;
        }
        if (rc) {
            sup_log(KS_LOG_WARN, "publish.load", "scope=%u version=%llu error=\"%s\"",
                   l.scope[i], (unsigned long long)l.version[i], ks_strerror(rc));
            sup_pub_mark(s, l.scope[i]); /* rebuild it */
        }
    }
    pthread_mutex_unlock(&s->lock);
    p->kicked = 1; /* publish whatever is pending from before a restart */
    if (pthread_create(&p->th, NULL, pub_main, s) != 0)
        return KS_E_IO;
    p->started = 1;
    sup_cluster_on_wake(s, sup_pub_kick); /* another instance's change or publish */
    return KS_OK;
}

void sup_pub_stop(sup_ctx *s)
{
    sup_publisher *p = s->pub;
    if (!p)
        return;
    sup_cluster_on_wake(s, NULL);
    if (p->started) {
        pthread_mutex_lock(&p->m);
        p->stop = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->m);
        pthread_join(p->th, NULL);
    }
    for (size_t i = 0; i < p->n; i++) {
        sup_pimg_unref(p->sc[i].cur);
        sup_pimg_unref(p->sc[i].d_img);
        if (p->sc[i].pc)
            sup_pub_cache_drop(p->sc[i].pc);
        free(p->sc[i].pc);
    }
    free(p->sc);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->run);
    pthread_mutex_destroy(&p->m);
    free(p);
    s->pub = NULL;
}
