/*
 * ks_publish.c - the snapshot publisher.
 *
 * Contract:
 *   - A change to keys or policies calls ks_pub_mark() inside its own
 *     transaction, which bumps the scope's `dirty` counter; so the mark is
 *     durable exactly when the change is.
 *   - The publisher thread wakes at once (ks_pub_kick), reads the records of
 *     each dirty scope under the lock, builds and signs the snapshot without
 *     it, then stores image + new version in one transaction and clears
 *     `dirty` only if no new mark arrived meanwhile. A crash anywhere leaves
 *     either the old version or the new one, and the mark still pending.
 *   - The scope's snapshot holds the keys of that scope plus the keys valid
 *     everywhere (scope 0), sorted by key id (memcmp order, as SQLite sorts
 *     BLOBs).
 *   - The last `snapshot_retain` images per scope stay in the database so a
 *     delta from any of those versions is made on demand (ks_delta_write);
 *     an older base gets KS_E_NOTFOUND and the controller downloads in full.
 *   - Images are refcounted in memory so serving never copies under a lock
 *     and a publish never waits for slow readers.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "ks_sup.h"

typedef struct img {
    atomic_int ref;
    uint64_t version;
    size_t len;
    uint8_t data[];
} img;

typedef struct pub_scope {
    uint32_t scope;
    uint64_t version;
    uint64_t created_at;
    uint8_t root[KS_HASH_SIZE];
    img *cur;
    /* last delta made for this scope, reused while the version is current */
    uint64_t d_since;
    img *d_img;
} pub_scope;

struct ks_publisher {
    pthread_t th;
    pthread_mutex_t m;
    pthread_cond_t cv;
    int stop, kicked, started;
    pub_scope *sc;
    size_t n, cap;
};

static img *img_new(size_t len)
{
    img *i = malloc(sizeof *i + len);
    if (!i)
        return NULL;
    atomic_init(&i->ref, 1);
    i->len = len;
    i->version = 0;
    return i;
}

static img *img_ref(img *i)
{
    if (i)
        atomic_fetch_add(&i->ref, 1);
    return i;
}

static void img_unref(img *i)
{
    if (i && atomic_fetch_sub(&i->ref, 1) == 1)
        free(i);
}

/* Scope entry (creating it); pub mutex held. NULL only when out of memory. */
static pub_scope *scope_get(ks_publisher *p, uint32_t scope, int create)
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
    return &p->sc[p->n++];
}

/* ----- marking ----- */

int ks_pub_mark(ks_sup *s, uint32_t scope)
{
    ks_dbv p[2] = {ks_dbv_int(scope), ks_dbv_int(scope)};
    int rc;
    if (scope == KS_SCOPE_ALL)
        return ks_db_exec(s->db, "UPDATE scopes SET dirty = dirty + 1", NULL, 0, NULL, NULL);
    rc = ks_db_exec(s->db, "INSERT INTO scopes(scope, dirty) SELECT ?, 0 WHERE NOT EXISTS"
                           " (SELECT 1 FROM scopes WHERE scope = ?)", p, 2, NULL, NULL);
    if (rc)
        return rc;
    return ks_db_exec(s->db, "UPDATE scopes SET dirty = dirty + 1 WHERE scope = ?", p, 1, NULL,
                      NULL);
}

void ks_pub_kick(ks_sup *s)
{
    ks_publisher *p = s->pub;
    if (!p)
        return;
    pthread_mutex_lock(&p->m);
    p->kicked = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->m);
}

/* ----- building ----- */

typedef struct recbuf {
    uint8_t *b;
    size_t n, cap; /* in records */
    int oom;
} recbuf;

static int rec_row(void *ctx, int ncol, const ks_dbv *c, const char *const *names)
{
    recbuf *rb = ctx;
    ks_record r;
    (void)names;
    if (ncol < 11 || c[0].n != KS_KEYID_SIZE || c[1].n != KS_PUBKEY_SIZE)
        return 0; /* cannot happen: the schema constrains both */
    if (rb->n == rb->cap) {
        size_t nc = rb->cap ? rb->cap * 2 : 1024;
        uint8_t *nb = realloc(rb->b, nc * KS_RECORD_SIZE);
        if (!nb) {
            rb->oom = 1;
            return 1;
        }
        rb->b = nb;
        rb->cap = nc;
    }
    memset(&r, 0, sizeof r);
    memcpy(r.key_id, c[0].p, KS_KEYID_SIZE);
    memcpy(r.public_key, c[1].p, KS_PUBKEY_SIZE);
    r.privileges = (uint64_t)c[2].i;
    r.valid_from = (uint64_t)c[3].i;
    r.valid_until = (uint64_t)c[4].i;
    r.counter_floor = (uint64_t)c[5].i;
    r.holder_id = c[6].type == KS_DBV_INT ? (uint64_t)c[6].i : 0;
    r.scope = (uint32_t)c[7].i;
    r.key_format = (uint8_t)c[8].i;
    r.state = (uint8_t)c[9].i;
    r.form_factor = (uint8_t)c[10].i;
    r.record_version = KS_RECORD_VERSION;
    r.algorithm = KS_ALG_ED25519;
    ks_record_encode(&r, rb->b + rb->n * KS_RECORD_SIZE);
    rb->n++;
    return 0;
}

typedef struct dirty_row {
    uint32_t scope[256];
    uint64_t version[256];
    int64_t dirty[256];
    size_t n;
} dirty_row;

static int dirty_cb(void *ctx, int ncol, const ks_dbv *c, const char *const *names)
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

static int publish_scope(ks_sup *s, uint32_t scope, uint64_t prev, int64_t dirty)
{
    ks_publisher *p = s->pub;
    recbuf rb = {NULL, 0, 0, 0};
    uint8_t sk[KS_SECKEY_SIZE];
    ks_snap_header h;
    img *im = NULL;
    uint64_t t0 = ks_now_usec(), t1;
    int rc, in_tx = 0;
    ks_dbv q = ks_dbv_int(scope);

    pthread_mutex_lock(&s->lock);
    rc = ks_db_exec(s->db, "SELECT key_id, public_key, privileges, valid_from, valid_until,"
                           " counter_floor, holder_id, scope, key_format, state, form_factor"
                           " FROM keys WHERE scope = 0 OR scope = ? ORDER BY key_id",
                    &q, 1, rec_row, &rb);
    memcpy(sk, s->sk, sizeof sk);
    pthread_mutex_unlock(&s->lock);
    if (rc || rb.oom) {
        ks_log(KS_LOG_ERROR, "publish.read", "scope=%u error=\"%s\"", scope,
               rb.oom ? "out of memory" : "database");
        rc = KS_E_IO;
        goto cleanup;
    }

    memset(&h, 0, sizeof h);
    h.version = prev + 1;
    h.created_at = ks_now();
    h.expires_at = h.created_at + s->cfg.snapshot_ttl;
    h.scope = scope;
    im = img_new(KS_SNAP_HEADER_SIZE + rb.n * KS_RECORD_SIZE);
    if (!im) {
        rc = KS_E_NOSPC;
        goto cleanup;
    }
    im->version = h.version;
    rc = ks_snapshot_write(&s->crypto, &h, rb.b, (uint32_t)rb.n, sk, im->data, im->len);
    if (rc) {
        ks_log(KS_LOG_ERROR, "publish.sign", "scope=%u error=\"%s\"", scope, ks_strerror(rc));
        goto cleanup;
    }

    pthread_mutex_lock(&s->lock);
    {
        int64_t keep_from = (int64_t)h.version - (int64_t)s->cfg.snapshot_retain;
        ks_dbv ins[4] = {ks_dbv_int(scope), ks_dbv_int((int64_t)h.version),
                         ks_dbv_int((int64_t)h.created_at), ks_dbv_blob(im->data, im->len)};
        ks_dbv up[5] = {ks_dbv_int((int64_t)h.version), ks_dbv_blob(h.root, KS_HASH_SIZE),
                        ks_dbv_int((int64_t)h.created_at), ks_dbv_int(dirty), ks_dbv_int(scope)};
        ks_dbv del[2] = {ks_dbv_int(scope), ks_dbv_int(keep_from)};
        rc = ks_db_begin(s->db);
        in_tx = rc == 0;
        if (!rc)
            rc = ks_db_exec(s->db, "INSERT INTO snapshots(scope, version, created_at, data)"
                                   " VALUES (?,?,?,?)", ins, 4, NULL, NULL);
        if (!rc)
            rc = ks_db_exec(s->db, "UPDATE scopes SET version = ?, root = ?, published_at = ?,"
                                   " dirty = dirty - ? WHERE scope = ?", up, 5, NULL, NULL);
        if (!rc)
            rc = ks_db_exec(s->db, "DELETE FROM snapshots WHERE scope = ? AND version <= ?",
                            del, 2, NULL, NULL);
        if (!rc)
            rc = ks_db_commit(s->db);
        if (!rc)
            in_tx = 0;
        else
            ks_log(KS_LOG_ERROR, "publish.store", "scope=%u error=\"%s\"", scope,
                   ks_db_errmsg(s->db));
        if (in_tx)
            ks_db_rollback(s->db);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        rc = KS_E_IO;
        goto cleanup;
    }

    pthread_mutex_lock(&p->m);
    {
        pub_scope *ps = scope_get(p, scope, 1);
        if (ps) {
            img_unref(ps->cur);
            ps->cur = im;
            im = NULL;
            ps->version = h.version;
            ps->created_at = h.created_at;
            memcpy(ps->root, h.root, KS_HASH_SIZE);
            img_unref(ps->d_img);
            ps->d_img = NULL;
        }
    }
    pthread_mutex_unlock(&p->m);
    t1 = ks_now_usec();
    atomic_fetch_add(&s->metrics.publishes, 1);
    atomic_fetch_add(&s->metrics.publish_usec_total, t1 - t0);
    atomic_store(&s->metrics.publish_usec_last, t1 - t0);
    {
        char root[2 * KS_HASH_SIZE + 1];
        ks_hex(root, h.root, KS_HASH_SIZE);
        ks_log(KS_LOG_INFO, "snapshot.publish", "scope=%u version=%llu records=%zu root=%s ms=%.1f",
               scope, (unsigned long long)h.version, rb.n, root, (double)(t1 - t0) / 1000.0);
    }
    rc = KS_OK;
cleanup:
    sodium_memzero(sk, sizeof sk);
    free(rb.b);
    img_unref(im);
    return rc;
}

int ks_pub_run_once(ks_sup *s)
{
    dirty_row d;
    int rc, done = 0;

    d.n = 0;
    pthread_mutex_lock(&s->lock);
    rc = ks_db_exec(s->db, "SELECT scope, version, dirty FROM scopes WHERE dirty > 0"
                           " ORDER BY scope", NULL, 0, dirty_cb, &d);
    pthread_mutex_unlock(&s->lock);
    if (rc)
        return KS_E_IO;
    for (size_t i = 0; i < d.n; i++) {
        rc = publish_scope(s, d.scope[i], d.version[i], d.dirty[i]);
        if (rc)
            return rc;
        done++;
    }
    return done;
}

/* Marks scopes whose snapshot passed half its lifetime, so controllers
 * always hold one well before expires_at. */
static void refresh_aging(ks_sup *s)
{
    ks_publisher *p = s->pub;
    uint32_t due[64];
    size_t n = 0;
    uint64_t now = ks_now();

    pthread_mutex_lock(&p->m);
    for (size_t i = 0; i < p->n && n < 64; i++)
        if (p->sc[i].cur && now >= p->sc[i].created_at + s->cfg.snapshot_ttl / 2)
            due[n++] = p->sc[i].scope;
    pthread_mutex_unlock(&p->m);
    if (!n)
        return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++)
        ks_pub_mark(s, due[i]);
    pthread_mutex_unlock(&s->lock);
}

static void *pub_main(void *arg)
{
    ks_sup *s = arg;
    ks_publisher *p = s->pub;

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
        rc = ks_pub_run_once(s);
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

static int load_cb(void *ctx, int ncol, const ks_dbv *c, const char *const *names)
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

typedef struct blob_out {
    img *im;
    uint64_t version;
} blob_out;

static int blob_cb(void *ctx, int ncol, const ks_dbv *c, const char *const *names)
{
    blob_out *b = ctx;
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_BLOB || c[0].n < KS_SNAP_HEADER_SIZE)
        return 1;
    b->im = img_new(c[0].n);
    if (b->im) {
        memcpy(b->im->data, c[0].p, c[0].n);
        b->im->version = b->version;
    }
    return 1;
}

/* Image of (scope, version) from the database; lock held. */
static img *load_image(ks_sup *s, uint32_t scope, uint64_t version)
{
    blob_out b = {NULL, version};
    ks_dbv p[2] = {ks_dbv_int(scope), ks_dbv_int((int64_t)version)};
    ks_db_exec(s->db, "SELECT data FROM snapshots WHERE scope = ? AND version = ?", p, 2,
               blob_cb, &b);
    return b.im;
}

int ks_pub_start(ks_sup *s)
{
    ks_publisher *p = calloc(1, sizeof *p);
    load_row l;
    int rc = KS_OK;

    if (!p)
        return KS_E_NOSPC;
    pthread_mutex_init(&p->m, NULL);
    pthread_cond_init(&p->cv, NULL);
    s->pub = p;
    l.n = 0;
    pthread_mutex_lock(&s->lock);
    ks_db_exec(s->db, "SELECT scope, version FROM scopes WHERE version > 0", NULL, 0, load_cb, &l);
    for (size_t i = 0; i < l.n; i++) {
        img *im = load_image(s, l.scope[i], l.version[i]);
        ks_snap_header h;
        pub_scope *ps;
        if (!im || ks_snap_header_decode(&h, im->data, NULL) != KS_OK) {
            img_unref(im);
            ks_pub_mark(s, l.scope[i]); /* rebuild it */
            continue;
        }
        ps = scope_get(p, l.scope[i], 1);
        if (!ps) {
            img_unref(im);
            rc = KS_E_NOSPC;
            break;
        }
        ps->cur = im;
        ps->version = h.version;
        ps->created_at = h.created_at;
        memcpy(ps->root, h.root, KS_HASH_SIZE);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc)
        return rc;
    p->kicked = 1; /* publish whatever is pending from before a restart */
    if (pthread_create(&p->th, NULL, pub_main, s) != 0)
        return KS_E_IO;
    p->started = 1;
    return KS_OK;
}

void ks_pub_stop(ks_sup *s)
{
    ks_publisher *p = s->pub;
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->m);
        p->stop = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->m);
        pthread_join(p->th, NULL);
    }
    for (size_t i = 0; i < p->n; i++) {
        img_unref(p->sc[i].cur);
        img_unref(p->sc[i].d_img);
    }
    free(p->sc);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->m);
    free(p);
    s->pub = NULL;
}

/* ----- serving ----- */

uint64_t ks_pub_version(ks_sup *s, uint32_t scope, uint8_t root[KS_HASH_SIZE])
{
    ks_publisher *p = s->pub;
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

static img *current(ks_sup *s, uint32_t scope)
{
    ks_publisher *p = s->pub;
    img *im = NULL;
    pthread_mutex_lock(&p->m);
    pub_scope *ps = scope_get(p, scope, 0);
    if (ps)
        im = img_ref(ps->cur);
    pthread_mutex_unlock(&p->m);
    return im;
}

int ks_pub_snapshot(ks_sup *s, uint32_t scope, uint8_t **buf, size_t *len, uint64_t *version)
{
    img *im = current(s, scope);
    if (!im)
        return KS_E_NOTFOUND;
    *buf = malloc(im->len);
    if (!*buf) {
        img_unref(im);
        return KS_E_NOSPC;
    }
    memcpy(*buf, im->data, im->len);
    *len = im->len;
    *version = im->version;
    img_unref(im);
    return KS_OK;
}

int ks_pub_delta(ks_sup *s, uint32_t scope, uint64_t since, uint8_t **buf, size_t *len,
                 uint64_t *version)
{
    ks_publisher *p = s->pub;
    img *cur = NULL, *old = NULL, *d = NULL;
    ks_snap_header oh;
    ks_recsrc os, ns;
    size_t need = 0;
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
    /* The same delta is asked for by every controller of the scope. */
    pthread_mutex_lock(&p->m);
    {
        pub_scope *ps = scope_get(p, scope, 0);
        if (ps && ps->d_img && ps->d_since == since && ps->d_img->version == cur->version)
            d = img_ref(ps->d_img);
    }
    pthread_mutex_unlock(&p->m);
    if (!d) {
        pthread_mutex_lock(&s->lock);
        old = load_image(s, scope, since);
        pthread_mutex_unlock(&s->lock);
        if (!old || ks_snap_header_decode(&oh, old->data, NULL) != KS_OK) {
            rc = KS_E_NOTFOUND;
            goto cleanup;
        }
        ks_recsrc_mem(&os, old->data + KS_SNAP_HEADER_SIZE,
                      (uint32_t)((old->len - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE));
        ks_recsrc_mem(&ns, cur->data + KS_SNAP_HEADER_SIZE,
                      (uint32_t)((cur->len - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE));
        rc = ks_delta_write(&os, &oh, &ns, cur->data, NULL, 0, &need);
        if (rc && need == 0)
            goto cleanup;
        d = img_new(need);
        if (!d) {
            rc = KS_E_NOSPC;
            goto cleanup;
        }
        d->version = cur->version;
        rc = ks_delta_write(&os, &oh, &ns, cur->data, d->data, d->len, &need);
        if (rc)
            goto cleanup;
        pthread_mutex_lock(&p->m);
        {
            pub_scope *ps = scope_get(p, scope, 0);
            if (ps && ps->cur == cur) {
                img_unref(ps->d_img);
                ps->d_img = img_ref(d);
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
    img_unref(cur);
    img_unref(old);
    img_unref(d);
    return rc;
}
