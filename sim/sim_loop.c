/*
 * sim_loop.c - one worker thread: a curl multi handle, a timer heap of
 * sleeping controllers and a ready list of controllers whose request
 * completed. Nothing blocks but curl_multi_poll.
 *
 * curl is driven by its socket interface (curl_multi_socket_action) on an
 * epoll set: with --push every controller holds a watch, thousands of
 * transfers per worker, and curl_multi_perform and curl_multi_poll walk
 * every one of them on each turn of the loop, so a turn cost milliseconds
 * and 10,000 controllers fell seconds behind. Now a turn costs what is
 * ready.
 *
 * Connections: every controller keeps its own easy handle (as the agent
 * does, ctl_http.c), and the multi handle keeps the open connections in
 * its cache; a request takes an idle one to the supervisor or opens one.
 * So the sim holds about as many connections as requests in flight, with
 * keep-alive, where 10,000 real units would hold 10,000 (docs/sim.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

uint64_t sim_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sim_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sim_stopping(const sim *s)
{
    return __atomic_load_n(&s->stop, __ATOMIC_RELAXED) != 0;
}

/* ----- the timer heap (min by wake_ms) ----- */

static void heap_swap(sim_worker *w, unsigned i, unsigned j)
{
    sim_ctl *t = w->heap[i];
    w->heap[i] = w->heap[j];
    w->heap[j] = t;
    w->heap[i]->heap_pos = (int)i;
    w->heap[j]->heap_pos = (int)j;
}

static void heap_push(sim_worker *w, sim_ctl *c)
{
    unsigned i = w->heap_n++;
    w->heap[i] = c;
    c->heap_pos = (int)i;
    while (i > 0 && w->heap[(i - 1) / 2]->wake_ms > w->heap[i]->wake_ms) {
        heap_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static sim_ctl *heap_pop(sim_worker *w)
{
    sim_ctl *top = w->heap[0];
    unsigned i = 0;
    w->heap[0] = w->heap[--w->heap_n];
    w->heap[0]->heap_pos = 0;
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_n && w->heap[l]->wake_ms < w->heap[m]->wake_ms)
            m = l;
        if (r < w->heap_n && w->heap[r]->wake_ms < w->heap[m]->wake_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(w, i, m);
        i = m;
    }
    top->heap_pos = -1;
    return top;
}

void sim_sleep_until(sim_ctl *c, uint64_t when)
{
    sim_worker *w = c->w;
    if (sim_stopping(w->sim))
        return;
    c->wake_ms = when;
    heap_push(w, c);
    sim_fiber_yield(w);
}

/* ----- the transport ----- */

int sim_io(void *ctx, void *easy)
{
    sim_ctl *c = ctx;
    sim_worker *w = c->w;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, c);
    if (curl_multi_add_handle(w->multi, easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    c->in_io = 1;
    sim_fiber_yield(w); /* resumed by the loop when the transfer is done */
    return (int)c->io_rc;
}

static void reap(sim_worker *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        sim_ctl *c = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        curl_multi_remove_handle(w->multi, m->easy_handle);
        if (!c)
            continue;
        c->io_rc = m->data.result;
        c->in_io = 0;
        w->ready[w->ready_n++] = c;
    }
}

/* ----- curl's sockets and timer on epoll ----- */

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    sim_worker *w = userp;
    struct epoll_event ev;
    (void)e;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL); /* ENOENT/EBADF: already gone */
        return 0;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT &&
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -1; /* curl fails the transfer */
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    sim_worker *w = userp;
    (void)m;
    w->curl_timer = timeout_ms >= 0;
    w->curl_due = sim_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    return 0;
}

/* Runs curl for what epoll reported (or its timer) and collects results. */
static void drive(sim_worker *w, long wait)
{
    struct epoll_event ev[256];
    int running = 0, n;
    if (w->curl_timer && sim_mono_ms() >= w->curl_due) {
        w->curl_timer = 0;
        curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        reap(w);
        if (w->ready_n > 0)
            wait = 0;
    }
    if (w->curl_timer) {
        uint64_t now = sim_mono_ms();
        long t = w->curl_due <= now ? 0 : (long)(w->curl_due - now);
        if (t < wait)
            wait = t;
    }
    n = epoll_wait(w->epfd, ev, 256, (int)wait);
    for (int i = 0; i < n; i++) {
        int f = 0;
        if (ev[i].events & EPOLLIN)
            f |= CURL_CSELECT_IN;
        if (ev[i].events & EPOLLOUT)
            f |= CURL_CSELECT_OUT;
        if (ev[i].events & (EPOLLERR | EPOLLHUP))
            f |= CURL_CSELECT_ERR;
        curl_multi_socket_action(w->multi, ev[i].data.fd, f, &running);
    }
    reap(w);
}

static void fiber_entry(void);

/* The worker's current fiber (each thread runs its own). */
static __thread sim_worker *tl_worker;

static void fiber_entry(void)
{
    sim_worker *w = tl_worker;
    sim_fiber_started(w);
    sim_ctl_body(w->cur);
    w->live--;
    sim_fiber_exiting(w);
}

void *sim_worker_main(void *p)
{
    sim_worker *w = p;
    sim *s = w->sim;
    tl_worker = w;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        for (unsigned i = 0; i < w->n; i++)
            w->ctl[i]->failed = 1;
        __atomic_add_fetch(&s->failed, w->n, __ATOMIC_RELAXED);
        return NULL;
    }
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    for (unsigned i = 0; i < w->n; i++) {
        sim_ctl *c = w->ctl[i];
        if (sim_fiber_init(c, 256u << 10, fiber_entry) != 0) {
            c->failed = 1;
            __atomic_add_fetch(&s->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        w->live++;
        w->ready[w->ready_n++] = c;
    }
    while (w->live > 0) {
        uint64_t now = sim_mono_ms();
        /* resume what is due: completed requests first, then timers */
        while (w->ready_n > 0) {
            sim_ctl *c = w->ready[--w->ready_n];
            sim_fiber_resume(w, c);
        }
        while (w->heap_n > 0 && (w->heap[0]->wake_ms <= now || sim_stopping(s))) {
            sim_ctl *c = heap_pop(w);
            sim_fiber_resume(w, c);
        }
        long wait = 100;
        if (w->heap_n > 0) {
            uint64_t due = w->heap[0]->wake_ms;
            now = sim_mono_ms();
            wait = due <= now ? 0 : due - now > 100 ? 100 : (long)(due - now);
        }
        if (sim_stopping(s) && w->heap_n > 0)
            wait = 0;
        if (w->ready_n > 0)
            wait = 0;
        drive(w, wait);
    }
    close(w->epfd);
    w->epfd = -1;
    return NULL;
}
