/*
 * sup_reqbuf.h - a request's body buffer, and the HTTP worker thread's
 * cache of request states with their buffers (issue 13, sixth session).
 *
 * Why: every request allocated its state (about 1.5 KiB, calloc) and grew
 * its body from 1 KiB by doubling (a 2.2 KB heartbeat report: three
 * allocations of 1 KiB or more). Allocations of that size are what make
 * glibc run malloc_consolidate (5.9 % of keysupd at 1,000 heartbeats/s),
 * besides malloc/free themselves (10 %). A worker thread now keeps up to
 * SUP_REQCACHE_SLOTS finished states and their buffers and hands them to
 * its next requests: a steady heartbeat allocates neither.
 *
 * The cache is per thread (libmicrohttpd runs a connection's callbacks on
 * the one pool thread that owns it), so it takes no lock; it is freed when
 * the thread ends. At shutdown too a request completes on its pool thread,
 * never on the thread calling MHD_stop_daemon: with an internal polling
 * thread (keysupd always asks for one) each thread closes its own
 * connections before it exits, and its cache is freed after that (checked
 * on libmicrohttpd 0.9.75 with a request cut mid-upload by SIGTERM, with
 * threads = 1 and 16). A buffer's used bytes are wiped before reuse (bodies
 * can hold tokens or passphrases), and buffers over SUP_REQBUF_KEEP are
 * freed rather than kept, so an import's megabytes do not stay with a
 * thread.
 */
#ifndef KEYSUP_SUP_REQBUF_H
#define KEYSUP_SUP_REQBUF_H

#include <stddef.h>

typedef struct sup_reqbuf {
    char *p;        /* NUL-terminated after every append; NULL before the first */
    size_t len, cap;
} sup_reqbuf;

#define SUP_REQBUF_FIRST 4096u           /* the first size: a heartbeat report fits */
#define SUP_REQBUF_KEEP (64u * 1024u)    /* larger buffers are not kept for reuse */
#define SUP_REQCACHE_SLOTS 8             /* states kept per thread */

enum { SUP_REQBUF_OK = 0, SUP_REQBUF_TOO_BIG = -1, SUP_REQBUF_NOMEM = -2 };

/*
 * Appends n bytes of d. SUP_REQBUF_TOO_BIG when len + n would pass max (b
 * unchanged: the caller answers 413), SUP_REQBUF_NOMEM when it cannot grow
 * (b unchanged).
 */
int sup_reqbuf_add(sup_reqbuf *b, const void *d, size_t n, size_t max);
/* Empties b for reuse: the used bytes wiped, a buffer over SUP_REQBUF_KEEP freed. */
void sup_reqbuf_reset(sup_reqbuf *b);
/* Wipes and frees b's memory. */
void sup_reqbuf_free(sup_reqbuf *b);

/*
 * A zeroed request state of size bytes and, in *body, an empty buffer
 * (with memory kept from an earlier request when the cache had one): from
 * this thread's cache, else calloc. NULL out of memory (*body empty).
 */
void *sup_reqcache_take(size_t size, sup_reqbuf *body);
/* Gives a state from sup_reqcache_take (of the same size) and its body back
 * to this thread's cache, or frees both when the cache is full. */
void sup_reqcache_give(void *st, size_t size, sup_reqbuf *body);

#endif
