/*
 * sup_reqbuf.c - request body buffers and the worker thread's cache of
 * request states (sup_reqbuf.h says why).
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_reqbuf.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sup_reqbuf_add(sup_reqbuf *b, const void *d, size_t n, size_t max)
{
    size_t need, nc;
    char *p;

    if (n > max || b->len > max - n)
        return SUP_REQBUF_TOO_BIG;
    if (b->len + n >= SIZE_MAX / 4) /* the doubling below must not wrap */
        return SUP_REQBUF_TOO_BIG;
    need = b->len + n + 1;
    if (need > b->cap) {
        nc = b->cap ? b->cap : SUP_REQBUF_FIRST;
        while (nc < need)
            nc *= 2;
        /* Not realloc: the old block may hold a secret, wiped before it goes. */
        if (!(p = malloc(nc)))
            return SUP_REQBUF_NOMEM;
        if (b->p) {
            memcpy(p, b->p, b->len);
            sodium_memzero(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return SUP_REQBUF_OK;
}

void sup_reqbuf_reset(sup_reqbuf *b)
{
    if (!b->p)
        return;
    if (b->cap > SUP_REQBUF_KEEP) {
        sup_reqbuf_free(b);
        return;
    }
    sodium_memzero(b->p, b->len + 1 <= b->cap ? b->len + 1 : b->cap);
    b->len = 0;
}

void sup_reqbuf_free(sup_reqbuf *b)
{
    if (b->p) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/* ----- the thread's cache ----- */

typedef struct tcache {
    size_t size; /* of the states held */
    size_t n;
    void *st[SUP_REQCACHE_SLOTS];
    sup_reqbuf body[SUP_REQCACHE_SLOTS];
} tcache;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static int key_ok;
static __thread tcache *tc;

/* At the thread's end (libmicrohttpd stops its pool threads). */
static void tc_free(void *p)
{
    tcache *c = p;
    for (size_t i = 0; i < c->n; i++) {
        free(c->st[i]);
        sup_reqbuf_free(&c->body[i]);
    }
    free(c);
    tc = NULL;
}

static void make_key(void)
{
    key_ok = pthread_key_create(&key, tc_free) == 0;
}

/* This thread's cache; NULL when there is none (the callers allocate). */
static tcache *mine(void)
{
    if (tc)
        return tc;
    if (pthread_once(&once, make_key) != 0 || !key_ok)
        return NULL;
    tc = calloc(1, sizeof *tc);
    if (tc && pthread_setspecific(key, tc) != 0) {
        free(tc);
        tc = NULL;
    }
    return tc;
}

void *sup_reqcache_take(size_t size, sup_reqbuf *body)
{
    tcache *c = mine();
    memset(body, 0, sizeof *body);
    if (c && c->n && c->size == size) {
        void *st = c->st[--c->n];
        *body = c->body[c->n];
        memset(st, 0, size);
        return st;
    }
    return calloc(1, size);
}

void sup_reqcache_give(void *st, size_t size, sup_reqbuf *body)
{
    sup_reqbuf b = *body; /* body may live inside st */
    tcache *c;
    memset(body, 0, sizeof *body);
    if (!st) {
        sup_reqbuf_free(&b);
        return;
    }
    sup_reqbuf_reset(&b);
    c = mine();
    if (c && c->n < SUP_REQCACHE_SLOTS && (c->n == 0 || c->size == size)) {
        c->size = size;
        c->st[c->n] = st;
        c->body[c->n] = b;
        c->n++;
    } else {
        free(st);
        sup_reqbuf_free(&b);
    }
}
