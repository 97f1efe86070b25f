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
 * Size: over 500 lines because the publish contract below (one version, one
 * image, the cache in step with key_changes) is held by the incremental and
 * the full path together and reads best beside them; the next split is the
 * incremental builder into a file of its own.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "sup_watch.h"
#include "sup_cluster.h"
#include "sup_keyfollow.h"
#include "sup_pubstore.h"
#include "sup_restore.h"

/* Store a full image (a checkpoint) after this many steps, or once the
 * steps since the last one changed this share of the keys, so a restart
 * or an old delta replays a bounded chain. */
#define CHECKPOINT_STEPS 64
#define CHECKPOINT_KEY_SHARE 8
/* More changed keys than count / this: a full rebuild is as cheap. */
#define INCREMENTAL_MAX_SHARE 8
#define INCREMENTAL_MIN 4096

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
static pub_scope *scope_get(sup_publisher *p, uint32_t scope, int create)
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

static void cache_drop(pubcache *pc)
{
    free(pc->nodes);
    memset(pc, 0, sizeof *pc);
}

/* Builds pc's tree over the records with `bits` bucket bits. */
static int cache_tree(sup_ctx *s, pubcache *pc, const uint8_t *recs, uint32_t n, unsigned bits)
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

/* ----- building ----- */

/* What one publish produces before it is stored. */
typedef struct build {
    uint32_t scope;
    uint64_t prev;
    int incremental;
    sup_pimg *base;           /* current image (incremental) */
    uint8_t *raw;            /* unsorted records (full) */
    uint32_t n_raw;
    sup_pchanges ch;          /* changed keys (incremental) */
    int64_t seq;             /* key_changes seq read up to */
    ks_snap_header h;
    sup_pimg *im;             /* the new image */
    uint8_t *step;
    size_t step_len;
} build;

static void build_free(build *b)
{
    sup_pimg_unref(b->base);
    free(b->raw);
    sup_pch_free(&b->ch);
    sup_pimg_unref(b->im);
    free(b->step);
}

/* Header fields every publish sets the same way. */
static void header_init(sup_ctx *s, build *b)
{
    memset(&b->h, 0, sizeof b->h);
    b->h.version = b->prev + 1;
    /* After a restore, never a number a controller may already hold. */
    if (b->h.version <= sup_restore_floor(s))
        b->h.version = sup_restore_floor(s) + 1;
    b->h.history = sup_restore_history(s);
    b->h.created_at = sup_now();
    b->h.expires_at = b->h.created_at + s->cfg.snapshot_ttl;
    b->h.scope = b->scope;
}

/* Records well-formed, as ks_snapshot_write would insist. */
static int check_record(const uint8_t rec[KS_RECORD_SIZE])
{
    ks_record r;
    return ks_record_decode(&r, rec, NULL);
}

static int build_full(sup_ctx *s, pubcache *pc, build *b, const uint8_t *sk)
{
    uint8_t *recs;
    unsigned bits = ks_bucket_bits_for(b->n_raw);
    int rc;

    if (!(b->im = sup_pimg_new(KS_SNAP_HEADER_SIZE + (size_t)b->n_raw * KS_RECORD_SIZE)))
        return KS_E_NOSPC;
    recs = b->im->data + KS_SNAP_HEADER_SIZE;
    if ((rc = sup_pch_sort_into(b->raw, b->n_raw, recs)) != 0)
        return rc;
    for (uint32_t i = 0; i < b->n_raw; i++)
        if ((rc = check_record(recs + (size_t)i * KS_RECORD_SIZE)) != 0)
            return rc;
    if ((rc = cache_tree(s, pc, recs, b->n_raw, bits)) != 0)
        return rc;
    header_init(s, b);
    return sup_pch_sign_header(&s->crypto, &b->h, &pc->t, b->n_raw, sk, b->im->data);
}

/*
 * Merges the changes into a copy of the current image and rehashes only what
 * they touch. Modifies pc's tree in place: the caller drops the cache if
 * anything after this fails.
 */
static int build_incremental(sup_ctx *s, pubcache *pc, build *b, const uint8_t *sk)
{
    uint32_t n = sup_pimg_count(b->base);
    uint8_t *recs;
    int64_t got;
    unsigned bits;
    int rc;

    for (size_t i = 0; i < b->ch.n; i++)
        if (b->ch.v[i].has_after && (rc = check_record(b->ch.v[i].after)) != 0)
            return rc;
    if (!(b->im = sup_pimg_new(KS_SNAP_HEADER_SIZE + ((size_t)n + b->ch.n) * KS_RECORD_SIZE)))
        return KS_E_NOSPC;
    recs = b->im->data + KS_SNAP_HEADER_SIZE;
    got = sup_pch_apply(b->base->data + KS_SNAP_HEADER_SIZE, n, &b->ch, recs,
                       (uint32_t)(n + b->ch.n));
    if (got < 0)
        return (int)got;
    b->im->len = KS_SNAP_HEADER_SIZE + (size_t)got * KS_RECORD_SIZE;
    /* Rows written without changing the record (updated_at only) drop out. */
    if ((rc = sup_pch_collapse(&b->ch)) != 0)
        return rc;
    bits = ks_bucket_bits_for((uint32_t)got);
    if (bits == pc->t.bits)
        rc = sup_pch_tree_update(&pc->t, &s->crypto, recs, (uint32_t)got, &b->ch);
    else
        rc = cache_tree(s, pc, recs, (uint32_t)got, bits); /* the bucket split moved */
    if (rc)
        return rc;
    header_init(s, b);
    if ((rc = sup_pch_sign_header(&s->crypto, &b->h, &pc->t, (uint32_t)got, sk, b->im->data)) != 0)
        return rc;
    b->step_len = sup_pch_step_size(&b->ch);
    if (!(b->step = malloc(b->step_len ? b->step_len : 1)))
        return KS_E_NOSPC;
    sup_pch_step_encode(&b->ch, b->step);
    return KS_OK;
}

/* Reads what the publish needs, lock held. Decides incremental or full. */
static int read_inputs(sup_ctx *s, pubcache *pc, build *b)
{
    int rc = sup_ps_max_seq(s, &b->seq);
    if (rc)
        return rc;
    /* An emptied (pruned) log reads 0: nothing is pending past the mark. */
    if (b->incremental && b->seq < pc->seq)
        b->seq = pc->seq;
    if (b->incremental) {
        uint32_t n = sup_pimg_count(b->base);
        size_t limit = n / INCREMENTAL_MAX_SHARE;
        rc = sup_ps_read_changes(s, b->scope, pc->seq, b->seq,
                                limit > INCREMENTAL_MIN ? limit : INCREMENTAL_MIN, &b->ch);
        if (rc == KS_E_NOSPC) {
            sup_pch_free(&b->ch);
            b->incremental = 0;
        } else if (rc) {
            return rc;
        }
    }
    if (!b->incremental)
        rc = sup_ps_read_all(s, b->scope, &b->raw, &b->n_raw);
    return rc;
}

/* Stores a checkpoint when the chain since the last full image is long. */
static void maybe_checkpoint(sup_ctx *s, pubcache *pc, uint32_t scope, const sup_pimg *im)
{
    uint32_t n = sup_pimg_count(im);
    int rc;
    if (pc->steps < CHECKPOINT_STEPS && pc->keys * CHECKPOINT_KEY_SHARE < (uint64_t)n + 1)
        return;
    pthread_mutex_lock(&s->lock);
    rc = sup_ps_checkpoint(s, scope, im);
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        sup_log(KS_LOG_WARN, "publish.checkpoint", "scope=%u error=\"%s\"", scope,
               ks_strerror(rc));
        return; /* the chain stays valid, only longer */
    }
    pc->steps = pc->keys = 0;
}

static int publish_scope(sup_ctx *s, uint32_t scope, uint64_t prev, int64_t dirty)
{
    sup_publisher *p = s->pub;
    pubcache *pc = NULL;
    uint8_t sk[KS_SECKEY_SIZE];
    build b;
    sup_pimg *dimg = NULL;
    uint64_t t0 = sup_now_usec(), t_read = 0, t_build = 0, t1;
    int rc;

    memset(&b, 0, sizeof b);
    b.scope = scope;
    b.prev = prev;
    pthread_mutex_lock(&p->m);
    {
        pub_scope *ps = scope_get(p, scope, 1);
        if (ps) {
            pc = ps->pc;
            b.base = sup_pimg_ref(ps->cur);
        }
    }
    pthread_mutex_unlock(&p->m);
    if (!pc) {
        rc = KS_E_NOSPC;
        goto cleanup;
    }
    b.incremental = pc->valid && b.base && b.base->version == prev;
    /* A version jump (restore floor, sup_restore.c) stores a whole image: the
     * step chain a restart replays assumes consecutive versions. */
    if (prev + 1 <= sup_restore_floor(s))
        b.incremental = 0;

    pthread_mutex_lock(&s->lock);
    rc = read_inputs(s, pc, &b);
    memcpy(sk, s->sk, sizeof sk);
    pthread_mutex_unlock(&s->lock);
    t_read = sup_now_usec();
    if (rc) {
        sup_log(KS_LOG_ERROR, "publish.read", "scope=%u error=\"%s\"", scope, ks_strerror(rc));
        rc = KS_E_IO;
        goto cleanup;
    }

    /* From here the cache describes nothing published until the commit. */
    pc->valid = 0;
    rc = b.incremental ? build_incremental(s, pc, &b, sk) : build_full(s, pc, &b, sk);
    if (rc) {
        sup_log(KS_LOG_ERROR, "publish.sign", "scope=%u error=\"%s\"", scope, ks_strerror(rc));
        goto cleanup;
    }
    b.im->version = b.h.version;
    t_build = sup_now_usec();

    pthread_mutex_lock(&s->lock);
    {
        sup_ps_version v;
        static const uint8_t empty = 0;
        memset(&v, 0, sizeof v);
        v.scope = scope;
        v.h = &b.h;
        v.hdr_raw = b.im->data;
        v.change_seq = b.seq;
        v.image = b.incremental ? NULL : b.im;
        v.step = b.step_len ? b.step : &empty; /* a zero-length BLOB, not NULL */
        v.step_len = b.step_len;
        v.dirty_seen = dirty;
        v.retain = s->cfg.snapshot_retain;
        rc = sup_ps_commit(s, &v);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc)
        goto cleanup;

    pc->valid = 1;
    pc->seq = b.seq;
    if (b.incremental) {
        pc->steps++;
        pc->keys += b.ch.n;
        /* Every controller of the scope asks for this delta next: make it now,
         * from the step, while it costs microseconds. */
        ks_snap_header bh;
        uint8_t *dbuf = NULL;
        size_t dlen = 0;
        if (ks_snap_header_decode(&bh, b.base->data, NULL) == KS_OK &&
            sup_pch_delta(&b.ch, &bh, b.im->data, &dbuf, &dlen) == KS_OK &&
            (dimg = sup_pimg_new(dlen)) != NULL) {
            memcpy(dimg->data, dbuf, dlen);
            dimg->version = b.h.version;
        }
        free(dbuf);
        atomic_fetch_add(&p->n_incremental, 1);
    } else {
        pc->steps = pc->keys = 0;
        atomic_fetch_add(&p->n_full, 1);
    }

    pthread_mutex_lock(&p->m);
    {
        pub_scope *ps = scope_get(p, scope, 0);
        if (ps) {
            sup_pimg_unref(ps->cur);
            ps->cur = sup_pimg_ref(b.im);
            ps->version = b.h.version;
            ps->created_at = b.h.created_at;
            memcpy(ps->root, b.h.root, KS_HASH_SIZE);
            sup_pimg_unref(ps->d_img);
            ps->d_img = dimg;
            ps->d_since = prev;
            dimg = NULL;
        }
    }
    pthread_mutex_unlock(&p->m);
    sup_watch_published(s, scope, b.h.version); /* the push path (sup_watch.h) */
    t1 = sup_now_usec();
    atomic_fetch_add(&s->metrics.publishes, 1);
    atomic_fetch_add(&s->metrics.publish_usec_total, t1 - t0);
    atomic_store(&s->metrics.publish_usec_last, t1 - t0);
    sup_hist_observe(&s->metrics.publish_seconds, t1 - t0);
    {
        char root[2 * KS_HASH_SIZE + 1];
        ks_hex(root, b.h.root, KS_HASH_SIZE);
        sup_log(KS_LOG_INFO, "snapshot.publish",
               "scope=%u version=%llu records=%u mode=%s changed=%zu root=%s ms=%.1f"
               " read_ms=%.1f build_ms=%.1f store_ms=%.1f", scope,
               (unsigned long long)b.h.version, b.h.record_count,
               b.incremental ? "incremental" : "full", b.incremental ? b.ch.n : (size_t)b.n_raw,
               root, (double)(t1 - t0) / 1000.0, (double)(t_read - t0) / 1000.0,
               (double)(t_build - t_read) / 1000.0, (double)(t1 - t_build) / 1000.0);
    }
    if (b.incremental)
        maybe_checkpoint(s, pc, scope, b.im);
    rc = KS_OK;
cleanup:
    if (rc && pc)
        cache_drop(pc); /* any doubt: the next publish rebuilds in full */
    sodium_memzero(sk, sizeof sk);
    sup_pimg_unref(dimg);
    build_free(&b);
    return rc;
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
        rc = publish_scope(s, d.scope[i], d.version[i], d.dirty[i]);
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

/* ----- loading at start ----- */

typedef struct load_row {
    uint32_t scope[256];
    uint64_t version[256];
    size_t n;
} load_row;

static int load_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    load_row *l = ctx;
    (void)ncol;
    (void)names;
    if (l->n >= 256)
        return 1;
    l->scope[l->n] = (uint32_t)c[0].i;
    l->version[l->n] = (uint64_t)c[1].i;
    l->n++;
    return 0;
}

/*
 * Rebuilds a scope's current image from the stored chain and its cache, and
 * checks the records hash to the signed root before serving them. Lock held.
 * KS_E_NOTFOUND / KS_E_ROOT: the caller marks the scope for a full rebuild.
 */
static int load_scope(sup_ctx *s, uint32_t scope, uint64_t version)
{
    sup_publisher *p = s->pub;
    sup_pimg *im = NULL;
    ks_snap_header h;
    pub_scope *ps;
    int64_t seq = -1;
    uint64_t full = 0, steps = 0, keys = 0;
    int rc = sup_ps_materialize(s, scope, version, &im, &seq);

    if (rc)
        return rc;
    if (ks_snap_header_decode(&h, im->data, NULL) != KS_OK || h.version != version ||
        h.record_count != sup_pimg_count(im)) {
        sup_pimg_unref(im);
        return KS_E_FORMAT;
    }
    pthread_mutex_lock(&p->m);
    ps = scope_get(p, scope, 1);
    pthread_mutex_unlock(&p->m);
    if (!ps) {
        sup_pimg_unref(im);
        return KS_E_NOSPC;
    }
    /* The publisher thread is not running yet: the cache is ours. */
    rc = cache_tree(s, ps->pc, im->data + KS_SNAP_HEADER_SIZE, sup_pimg_count(im), h.bucket_bits);
    if (!rc && memcmp(ks_tree_root(&ps->pc->t), h.root, KS_HASH_SIZE) != 0)
        rc = KS_E_ROOT;
    if (rc) {
        cache_drop(ps->pc);
        sup_pimg_unref(im);
        return rc;
    }
    sup_ps_chain(s, scope, version, &full, &steps, &keys);
    ps->pc->valid = seq >= 0; /* written before migration 4: no watermark */
    ps->pc->seq = seq;
    ps->pc->steps = steps;
    ps->pc->keys = keys;
    pthread_mutex_lock(&p->m);
    sup_pimg_unref(ps->cur); /* a reload (sup_pub_refresh): drop what was served */
    sup_pimg_unref(ps->d_img);
    ps->d_img = NULL;
    ps->cur = im;
    ps->version = h.version;
    ps->created_at = h.created_at;
    memcpy(ps->root, h.root, KS_HASH_SIZE);
    pthread_mutex_unlock(&p->m);
    sup_watch_published(s, scope, h.version); /* another instance's publish: the push path */
    return KS_OK;
}

/* Another instance published (sup_cluster.h): load the stored versions this
 * one does not serve yet. Publisher thread, p->run held (the caches are ours). */
int sup_pub_refresh(sup_ctx *s)
{
    load_row l;
    int rc = KS_OK;
    l.n = 0;
    pthread_mutex_lock(&s->lock);
    /* A restore another instance detected moved the history and the floor
     * (sup_restore.c): this one must publish above them too. */
    if (sup_restore_load(s) != KS_OK)
        rc = KS_E_IO;
    if (!rc && sup_db_exec(s->db, "SELECT scope, version FROM scopes WHERE version > 0", NULL, 0,
                           load_cb, &l))
        rc = KS_E_IO;
    for (size_t i = 0; !rc && i < l.n; i++) {
        int r;
        if (sup_pub_version(s, l.scope[i], NULL) == l.version[i])
            continue;
        r = load_scope(s, l.scope[i], l.version[i]);
        if (r)
            sup_log(KS_LOG_WARN, "publish.reload", "scope=%u version=%llu error=\"%s\"",
                    l.scope[i], (unsigned long long)l.version[i], ks_strerror(r));
        else
            sup_log(KS_LOG_DEBUG, "publish.reload", "scope=%u version=%llu", l.scope[i],
                    (unsigned long long)l.version[i]);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
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
    sup_db_exec(s->db, "SELECT scope, version FROM scopes WHERE version > 0", NULL, 0, load_cb, &l);
    for (size_t i = 0; i < l.n; i++) {
        int rc = load_scope(s, l.scope[i], l.version[i]);
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
            cache_drop(p->sc[i].pc);
        free(p->sc[i].pc);
    }
    free(p->sc);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->run);
    pthread_mutex_destroy(&p->m);
    free(p);
    s->pub = NULL;
}

/* ----- serving ----- */

uint64_t sup_pub_version(sup_ctx *s, uint32_t scope, uint8_t root[KS_HASH_SIZE])
{
    sup_publisher *p = s->pub;
    uint64_t v = 0;
    pthread_mutex_lock(&p->m);
    pub_scope *ps = scope_get(p, scope, 0);
    if (ps && ps->cur) {
        v = ps->version;
        if (root)
            memcpy(root, ps->root, KS_HASH_SIZE);
    } else if (root) {
        memset(root, 0, KS_HASH_SIZE);
    }
    pthread_mutex_unlock(&p->m);
    return v;
}

static sup_pimg *current(sup_ctx *s, uint32_t scope)
{
    sup_publisher *p = s->pub;
    sup_pimg *im = NULL;
    pthread_mutex_lock(&p->m);
    pub_scope *ps = scope_get(p, scope, 0);
    if (ps)
        im = sup_pimg_ref(ps->cur);
    pthread_mutex_unlock(&p->m);
    return im;
}

sup_pimg *sup_pub_image(sup_ctx *s, uint32_t scope)
{
    return current(s, scope);
}

int sup_pub_snapshot(sup_ctx *s, uint32_t scope, uint8_t **buf, size_t *len, uint64_t *version)
{
    sup_pimg *im = current(s, scope);
    if (!im)
        return KS_E_NOTFOUND;
    *buf = malloc(im->len);
    if (!*buf) {
        sup_pimg_unref(im);
        return KS_E_NOSPC;
    }
    memcpy(*buf, im->data, im->len);
    *len = im->len;
    *version = im->version;
    sup_pimg_unref(im);
    return KS_OK;
}

/* The slow way: rebuild the old image and compare it with the current one
 * whole (a full rebuild lies between them, so there are no steps). */
static int delta_by_images(sup_ctx *s, uint32_t scope, uint64_t since, const sup_pimg *cur,
                           sup_pimg **out)
{
    sup_pimg *old = NULL, *d = NULL;
    ks_snap_header oh;
    ks_recsrc os, ns;
    int64_t seq;
    size_t need = 0;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = sup_ps_materialize(s, scope, since, &old, &seq);
    pthread_mutex_unlock(&s->lock);
    if (rc || ks_snap_header_decode(&oh, old->data, NULL) != KS_OK) {
        rc = KS_E_NOTFOUND;
        goto cleanup;
    }
    ks_recsrc_mem(&os, old->data + KS_SNAP_HEADER_SIZE, sup_pimg_count(old));
    ks_recsrc_mem(&ns, cur->data + KS_SNAP_HEADER_SIZE, sup_pimg_count(cur));
    if ((rc = ks_delta_write(&os, &oh, &ns, cur->data, NULL, 0, &need)) != 0)
        goto cleanup;
    rc = KS_E_NOSPC;
    if (!(d = sup_pimg_new(need)))
        goto cleanup;
    rc = ks_delta_write(&os, &oh, &ns, cur->data, d->data, d->len, &need);
cleanup:
    sup_pimg_unref(old);
    if (rc) {
        sup_pimg_unref(d);
        d = NULL;
    }
    *out = d;
    return rc;
}

/* A delta from the stored steps since+1..cur: O(changed keys). */
static int delta_by_steps(sup_ctx *s, uint32_t scope, uint64_t since, const sup_pimg *cur,
                          sup_pimg **out)
{
    sup_pchanges c = {NULL, 0, 0};
    ks_snap_header sh;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&s->lock);
    rc = sup_ps_changes_between(s, scope, since, cur->version, &c, &sh);
    pthread_mutex_unlock(&s->lock);
    if (!rc)
        rc = sup_pch_delta(&c, &sh, cur->data, &buf, &len);
    if (!rc && !(*out = sup_pimg_new(len)))
        rc = KS_E_NOSPC;
    if (!rc)
        memcpy((*out)->data, buf, len);
    free(buf);
    sup_pch_free(&c);
    return rc;
}

int sup_pub_delta_cached(sup_ctx *s, uint32_t scope, uint64_t since, size_t max, uint8_t **buf,
                         size_t *len, uint64_t *version)
{
    sup_publisher *p = s->pub;
    sup_pimg *d = NULL;
    *buf = NULL;
    *len = 0;
    pthread_mutex_lock(&p->m);
    {
        pub_scope *ps = scope_get(p, scope, 0);
        if (ps && ps->cur && ps->d_img && ps->d_since == since && since &&
            ps->d_img->version == ps->cur->version && ps->d_img->len <= max)
            d = sup_pimg_ref(ps->d_img);
    }
    pthread_mutex_unlock(&p->m);
    if (!d)
        return KS_E_NOTFOUND;
    *buf = malloc(d->len);
    if (*buf) {
        memcpy(*buf, d->data, d->len);
        *len = d->len;
        *version = d->version;
    }
    sup_pimg_unref(d);
    return *buf ? KS_OK : KS_E_NOSPC;
}

int sup_pub_delta(sup_ctx *s, uint32_t scope, uint64_t since, uint8_t **buf, size_t *len,
                 uint64_t *version)
{
    sup_publisher *p = s->pub;
    sup_pimg *cur = NULL, *d = NULL;
    uint32_t keep = s->cfg.snapshot_retain ? s->cfg.snapshot_retain : 1;
    int rc;

    cur = current(s, scope);
    if (!cur)
        return KS_E_NOTFOUND;
    *version = cur->version;
    if (since >= cur->version) {
        rc = since == cur->version ? KS_OK : KS_E_ROLLBACK;
        *buf = NULL;
        *len = 0;
        goto cleanup;
    }
    /* Only the last `snapshot_retain` versions are promised as bases. */
    if (since == 0 || cur->version - since >= keep) {
        rc = KS_E_NOTFOUND;
        goto cleanup;
    }
    /* The same delta is asked for by every controller of the scope. */
    pthread_mutex_lock(&p->m);
    {
        pub_scope *ps = scope_get(p, scope, 0);
        if (ps && ps->d_img && ps->d_since == since && ps->d_img->version == cur->version)
            d = sup_pimg_ref(ps->d_img);
    }
    pthread_mutex_unlock(&p->m);
    if (!d) {
        rc = delta_by_steps(s, scope, since, cur, &d);
        if (rc == KS_E_NOTFOUND)
            rc = delta_by_images(s, scope, since, cur, &d);
        if (rc)
            goto cleanup;
        d->version = cur->version;
        pthread_mutex_lock(&p->m);
        {
            pub_scope *ps = scope_get(p, scope, 0);
            if (ps && ps->cur == cur) {
                sup_pimg_unref(ps->d_img);
                ps->d_img = sup_pimg_ref(d);
                ps->d_since = since;
            }
        }
        pthread_mutex_unlock(&p->m);
    }
    *buf = malloc(d->len);
    if (!*buf) {
        rc = KS_E_NOSPC;
        goto cleanup;
    }
    memcpy(*buf, d->data, d->len);
    *len = d->len;
    rc = KS_OK;
cleanup:
    sup_pimg_unref(cur);
    sup_pimg_unref(d);
    return rc;
}
