/*
 * sup_pub_load.c - the publisher's stored versions brought into memory: at
 * start (sup_pub_start) and when another instance published
 * (sup_pub_refresh). Each image is rebuilt from the stored chain and checked
 * against its signed root before it is served.
 */
#include <string.h>

#include "sup_pub_int.h"
#include "sup_restore.h"
#include "sup_watch.h"

int sup_pub_load_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
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

/* A scope's image rebuilt from the stored chain (sup_pub_int.h). */
int sup_pub_load_scope(sup_ctx *s, uint32_t scope, uint64_t version)
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
    ps = sup_pub_scope_get(p, scope, 1);
    pthread_mutex_unlock(&p->m);
    if (!ps) {
        sup_pimg_unref(im);
        return KS_E_NOSPC;
    }
    /* The publisher thread is not running yet: the cache is ours. */
    rc = sup_pub_cache_tree(s, ps->pc, im->data + KS_SNAP_HEADER_SIZE, sup_pimg_count(im),
                            h.bucket_bits);
    if (!rc && memcmp(ks_tree_root(&ps->pc->t), h.root, KS_HASH_SIZE) != 0)
        rc = KS_E_ROOT;
    if (rc) {
        sup_pub_cache_drop(ps->pc);
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
                           sup_pub_load_cb, &l))
        rc = KS_E_IO;
    for (size_t i = 0; !rc && i < l.n; i++) {
        int r;
        if (sup_pub_version(s, l.scope[i], NULL) == l.version[i])
            continue;
        r = sup_pub_load_scope(s, l.scope[i], l.version[i]);
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
