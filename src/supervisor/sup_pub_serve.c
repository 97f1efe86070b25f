/*
 * sup_pub_serve.c - what controllers fetch from the publisher: a scope's
 * current version and image, a copy of it, and deltas from the last
 * `snapshot_retain` versions (from the stored steps, or by rebuilding the
 * old image), the newest kept for every controller that asks next.
 */
#include <stdlib.h>
#include <string.h>

#include "sup_pub_int.h"

uint64_t sup_pub_version(sup_ctx *s, uint32_t scope, uint8_t root[KS_HASH_SIZE])
{
    sup_publisher *p = s->pub;
    uint64_t v = 0;
    pthread_mutex_lock(&p->m);
    pub_scope *ps = sup_pub_scope_get(p, scope, 0);
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
    pub_scope *ps = sup_pub_scope_get(p, scope, 0);
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
        pub_scope *ps = sup_pub_scope_get(p, scope, 0);
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
        pub_scope *ps = sup_pub_scope_get(p, scope, 0);
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
            pub_scope *ps = sup_pub_scope_get(p, scope, 0);
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
