/*
 * sup_watch.c - the registry of held watches (sup_watch.h).
 *
 * Why this shape: a held watch costs keysupd a socket, libmicrohttpd's
 * per-connection state and one small sup_watcher (about 120 bytes): no
 * thread, no buffer. The waiters sit on one list in arrival order and in a
 * hash by controller (one watch per controller: a new one replaces the
 * old). A publish walks the list once per batch: publishes are rare next to
 * heartbeats, and a walk of 10,000 small nodes costs well under a
 * millisecond, so no per-scope index is kept.
 *
 * Connections are resumed outside the mutex: MHD_resume_connection takes
 * libmicrohttpd's own lock, and libmicrohttpd calls back into keysupd
 * (sup_watch_drop) with its locks held, so resuming under ours could
 * deadlock. A waiter is unlinked under the mutex first; from then on only
 * the thread that unlinked it touches its connection until it is resumed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_guard.h"
#include "sup_watch.h"

enum { W_HELD = 1, W_WOKEN = 2 };
enum { R_PUBLISHED = 0, R_TIMEOUT, R_REPLACED, R_SHUTDOWN };
static const char *const reason_names[] = {"published", "timeout", "replaced", "shutdown"};

#define W_BATCH 256
#define W_TICK_MS 200

struct sup_watcher {
    sup_watcher *prev, *next;   /* the arrival-order list (held only) */
    sup_watcher *hnext;         /* the controller hash (held only) */
    struct MHD_Connection *conn;
    int64_t ctrl_id;
    uint32_t scope;
    int state, reason;
    int want_delta;             /* X-Keysup-Watch: delta (sup_watch_delta.c) */
    uint64_t from, deadline_ms;
    uint8_t nonce[32];
    uint8_t kid[KS_KEYID_SIZE];
};

typedef struct sup_watch {
    pthread_mutex_t m;
    pthread_cond_t cv;
    pthread_t th;
    int running, stopping;
    sup_watcher head;           /* list sentinel */
    sup_watcher **hash;
    size_t nhash;               /* a power of two */
    uint64_t pending;           /* woken, not yet answered or dropped */
    sup_watch_stats st;
} sup_watch;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t slot(const sup_watch *w, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (w->nhash - 1);
}

static sup_watcher *find(sup_watch *w, int64_t id)
{
    sup_watcher *x = w->hash[slot(w, id)];
    while (x && x->ctrl_id != id)
        x = x->hnext;
    return x;
}

static void unlink_held(sup_watch *w, sup_watcher *x)
{
    sup_watcher **pp = &w->hash[slot(w, x->ctrl_id)];
    while (*pp && *pp != x)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = x->hnext;
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->prev = x->next = x->hnext = NULL;
    w->st.held--;
}

/* Unlinks held x as woken for `reason`; mutex held. Its connection is the
 * caller's to resume once the mutex is released. */
static struct MHD_Connection *take(sup_watch *w, sup_watcher *x, int reason)
{
    unlink_held(w, x);
    x->state = W_WOKEN;
    x->reason = reason;
    w->pending++;
    w->st.woken++;
    if (reason == R_TIMEOUT)
        w->st.timeouts++;
    else if (reason == R_REPLACED)
        w->st.replaced++;
    return x->conn;
}

static void resume_all(struct MHD_Connection **c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(c[i]);
}

/* Wakes, batch by batch, every held waiter that `pick` selects. */
typedef int (*pick_fn)(const sup_watcher *x, const void *arg, int *reason);

static size_t wake(sup_watch *w, pick_fn pick, const void *arg)
{
    struct MHD_Connection *c[W_BATCH];
    size_t n, total = 0;
    do {
        n = 0;
        pthread_mutex_lock(&w->m);
        for (sup_watcher *x = w->head.next, *nx; x != &w->head && n < W_BATCH; x = nx) {
            int reason;
            nx = x->next;
            if (pick(x, arg, &reason))
                c[n++] = take(w, x, reason);
        }
        pthread_mutex_unlock(&w->m);
        resume_all(c, n);
        total += n;
    } while (n == W_BATCH);
    return total;
}

typedef struct pub_arg {
    uint32_t scope;
    uint64_t version;
} pub_arg;

static int pick_published(const sup_watcher *x, const void *arg, int *reason)
{
    const pub_arg *p = arg;
    *reason = R_PUBLISHED;
    return x->scope == p->scope && x->from < p->version;
}

static int pick_expired(const sup_watcher *x, const void *arg, int *reason)
{
    *reason = R_TIMEOUT;
    return x->deadline_ms <= *(const uint64_t *)arg;
}

static int pick_all(const sup_watcher *x, const void *arg, int *reason)
{
    (void)x;
    (void)arg;
    *reason = R_SHUTDOWN;
    return 1;
}

/* The hold timer: a watch with nothing new is answered at its deadline. */
static void *timer_main(void *p)
{
    sup_watch *w = p;
    pthread_mutex_lock(&w->m);
    while (!w->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += W_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&w->cv, &w->m, &ts);
        if (w->stopping)
            break;
        if (rc != 0 && rc != ETIMEDOUT)
            continue;
        pthread_mutex_unlock(&w->m);
        uint64_t now = mono_ms();
        wake(w, pick_expired, &now);
        pthread_mutex_lock(&w->m);
    }
    pthread_mutex_unlock(&w->m);
    return NULL;
}

int sup_watch_start(sup_ctx *s)
{
    sup_watch *w;
    size_t n = 1024;
    /* Each held watch is an open socket: say so when the descriptors (raised
     * to the hard limit already, sup_raise_nofile) cannot hold watch_max. */
    uint64_t nofile = sup_raise_nofile();
    if (s->cfg.watch_max && nofile < (uint64_t)s->cfg.watch_max + 256u)
        sup_log(KS_LOG_WARN, "watch.limit", "watch_max=%u but the open-file limit is %llu: "
                "fewer watches fit (raise LimitNOFILE, or lower watch_max)",
                s->cfg.watch_max, (unsigned long long)nofile);
    w = calloc(1, sizeof *w);
    if (!w)
        return KS_E_NOSPC;
    while (n < s->cfg.watch_max && n < ((size_t)1 << 20))
        n <<= 1;
    w->nhash = n;
    w->hash = calloc(n, sizeof *w->hash);
    w->head.next = w->head.prev = &w->head;
    if (!w->hash) {
        free(w);
        return KS_E_NOSPC;
    }
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, timer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->m);
        free(w->hash);
        free(w);
        return KS_E_IO;
    }
    w->running = 1;
    s->watch = w;
    return KS_OK;
}

void sup_watch_shutdown(sup_ctx *s)
{
    sup_watch *w = s->watch;
    if (!w)
        return;
    pthread_mutex_lock(&w->m);
    w->stopping = 1; /* new watches are answered at once from now on */
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->m);
    if (w->running) {
        pthread_join(w->th, NULL);
        w->running = 0;
    }
    wake(w, pick_all, NULL);
    /* Let the workers hand the answers over; a stuck one is cut by the
     * daemon's stop, which closes every connection anyway. */
    for (int i = 0; i < 100; i++) {
        uint64_t left;
        pthread_mutex_lock(&w->m);
        left = w->pending;
        pthread_mutex_unlock(&w->m);
        if (!left)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void sup_watch_free(sup_ctx *s)
{
    sup_watch *w = s->watch;
    if (!w)
        return;
    /* The daemon is stopped: every connection's waiter went through
     * sup_watch_answer or sup_watch_drop. Anything left is unreachable. */
    while (w->head.next != &w->head) {
        sup_watcher *x = w->head.next;
        unlink_held(w, x);
        free(x);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->m);
    free(w->hash);
    free(w);
    s->watch = NULL;
}

int sup_watch_hold(sup_req *rq, uint64_t from, uint32_t wait_s, sup_watcher **out)
{
    sup_ctx *s = rq->s;
    sup_watch *w = s->watch;
    struct MHD_Connection *old_conn = NULL;
    sup_watcher *x, *old;
    uint32_t hold = s->cfg.watch_hold;

    *out = NULL;
    if (!w)
        return 1;
    if (wait_s && wait_s < hold)
        hold = wait_s;
    pthread_mutex_lock(&w->m);
    /* Read under the mutex: a publish stores its version before it takes
     * the mutex to wake (sup_watch_published), so either this read sees it
     * or the wake-up finds this waiter. */
    if (w->stopping || sup_pub_version(s, rq->ctrl_scope, NULL) > from) {
        pthread_mutex_unlock(&w->m);
        return 1;
    }
    old = find(w, rq->ctrl_id);
    if (!old && w->st.held >= s->cfg.watch_max) {
        w->st.refused++;
        pthread_mutex_unlock(&w->m);
        return -1;
    }
    x = calloc(1, sizeof *x);
    if (!x) {
        pthread_mutex_unlock(&w->m);
        return -2;
    }
    if (old) /* one watch per controller: the old one's client moved on */
        old_conn = take(w, old, R_REPLACED);
    x->conn = rq->conn;
    x->ctrl_id = rq->ctrl_id;
    x->scope = rq->ctrl_scope;
    x->from = from;
    x->want_delta = sup_watch_wants_delta(rq);
    x->deadline_ms = mono_ms() + (uint64_t)hold * 1000u;
    x->state = W_HELD;
    memcpy(x->nonce, rq->nonce, sizeof x->nonce);
    memcpy(x->kid, rq->device_key_id, sizeof x->kid);
    x->prev = w->head.prev;
    x->next = &w->head;
    w->head.prev->next = x;
    w->head.prev = x;
    {
        size_t h = slot(w, x->ctrl_id);
        x->hnext = w->hash[h];
        w->hash[h] = x;
    }
    if (++w->st.held > w->st.peak)
        w->st.peak = w->st.held;
    /* Suspended before the mutex is released: no wake-up can resume it first. */
    MHD_suspend_connection(rq->conn);
    pthread_mutex_unlock(&w->m);
    if (old_conn)
        MHD_resume_connection(old_conn);
    *out = x;
    return 0;
}

void sup_watch_published(sup_ctx *s, uint32_t scope, uint64_t version)
{
    pub_arg a = {scope, version};
    uint64_t t0 = sup_now_usec();
    size_t n;
    if (!s->watch)
        return;
    n = wake(s->watch, pick_published, &a);
    /* How long the wake-up itself took, beside the publish's own line:
     * the fan-out's share on keysupd (docs/BENCHMARKS.md, "Push path"). */
    if (n)
        sup_log(KS_LOG_INFO, "watch.wake", "scope=%u version=%llu woken=%zu ms=%.1f", scope,
                (unsigned long long)version, n, (double)(sup_now_usec() - t0) / 1000.0);
}

void sup_watch_answer(sup_ctx *s, sup_watcher *x, sup_req *rq, sup_resp *rs)
{
    sup_watch *w = s->watch;
    uint8_t root[KS_HASH_SIZE];
    char rh[2 * KS_HASH_SIZE + 1];
    uint64_t pv = sup_pub_version(s, x->scope, root);
    json_t *o;

    int carried = pv > x->from && x->want_delta &&
                  sup_watch_delta_answer(s, x->ctrl_id, x->scope, x->from, rs);

    pthread_mutex_lock(&w->m);
    if (x->state == W_HELD) /* not woken: cannot happen, kept safe */
        unlink_held(w, x);
    else
        w->pending--;
    if (carried)
        w->st.carried++;
    if (x->reason == R_PUBLISHED) { /* wall clock: the bench compares it with the revoke's */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        w->st.last_pub_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    }
    pthread_mutex_unlock(&w->m);
    /* The answer is signed like any device answer: bound to this request's
     * nonce and device key (api_answer.c); a carried delta is not
     * (rs->self_signed: the publisher signed it). */
    rq->sign_answer = 1;
    rq->ctrl_id = x->ctrl_id;
    rq->ctrl_scope = x->scope;
    memcpy(rq->nonce, x->nonce, sizeof rq->nonce);
    memcpy(rq->device_key_id, x->kid, sizeof rq->device_key_id);
    snprintf(rq->actor, sizeof rq->actor, "controller:%lld", (long long)x->ctrl_id);
    if (carried) {
        free(x);
        return;
    }
    ks_hex(rh, root, KS_HASH_SIZE);
    o = json_pack("{s:I,s:s,s:b,s:s}", "version", (json_int_t)pv, "root", rh, "changed",
                  pv > x->from, "reason", reason_names[x->reason & 3]);
    if (o)
        api_json(rs, 200, o);
    else
        api_error(rs, 500, "INTERNAL", "out of memory");
    rs->version = pv;
    free(x);
}

void sup_watch_drop(sup_ctx *s, sup_watcher *x)
{
    sup_watch *w = s->watch;
    if (w) {
        pthread_mutex_lock(&w->m);
        if (x->state == W_HELD)
            unlink_held(w, x);
        else
            w->pending--;
        pthread_mutex_unlock(&w->m);
    }
    free(x);
}

void sup_watch_stats_get(sup_ctx *s, sup_watch_stats *st)
{
    sup_watch *w = s->watch;
    memset(st, 0, sizeof *st);
    if (!w)
        return;
    pthread_mutex_lock(&w->m);
    *st = w->st;
    pthread_mutex_unlock(&w->m);
}
