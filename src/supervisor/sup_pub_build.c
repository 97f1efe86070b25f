/*
 * sup_pub_build.c - one scope's publish (the contract is in sup_publish.c):
 * read the changed keys (or every record), merge them into a copy of the
 * current image and rehash only what they touch (or sort and build the tree
 * in full), sign, store the version in one transaction, then serve it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "sup_pub_int.h"
#include "sup_restore.h"
#include "sup_watch.h"

/* Store a full image (a checkpoint) after this many steps, or once the
 * steps since the last one changed this share of the keys, so a restart
 * or an old delta replays a bounded chain. */
#define CHECKPOINT_STEPS 64
#define CHECKPOINT_KEY_SHARE 8
/* More changed keys than count / this: a full rebuild is as cheap. */
#define INCREMENTAL_MAX_SHARE 8
#define INCREMENTAL_MIN 4096

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
    if ((rc = sup_pub_cache_tree(s, pc, recs, b->n_raw, bits)) != 0)
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
        rc = sup_pub_cache_tree(s, pc, recs, (uint32_t)got, bits); /* the bucket split moved */
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

int sup_pub_scope_publish(sup_ctx *s, uint32_t scope, uint64_t prev, int64_t dirty)
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
        pub_scope *ps = sup_pub_scope_get(p, scope, 1);
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
        pub_scope *ps = sup_pub_scope_get(p, scope, 0);
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
        sup_pub_cache_drop(pc); /* any doubt: the next publish rebuilds in full */
    sodium_memzero(sk, sizeof sk);
    sup_pimg_unref(dimg);
    build_free(&b);
    return rc;
}
