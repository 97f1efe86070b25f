/*
 * sup_guard.c - the guard: a registry of open connections with absolute
 * deadlines, token buckets per client address, sampling of anonymous
 * refusals into the audit, and the thread that enforces all three (plus
 * audit retention, sup_retention.c).
 *
 * Why absolute deadlines: libmicrohttpd's connection timeout is an idle
 * timeout, reset by every byte, so a client sending one header byte every
 * few seconds (slowloris) keeps its connection forever. Here every socket
 * has a phase start time; a connection still sending headers header_timeout
 * seconds after it opened (or after its previous answer), or still in its
 * body body_timeout seconds after the headers, is shut down. shutdown()
 * runs under the registry mutex, and the registry entry is removed (under
 * the same mutex) by libmicrohttpd's close notification, which comes before
 * the library closes the descriptor: the guard never touches a reused fd.
 *
 * Why sampling: every anonymous 401 used to be an audit row, so anyone
 * could grow the audit without bound. Now each is counted (metrics), the
 * first audit_sample per client per minute are written, and the rest become
 * one summary row per client and minute.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "sup_guard.h"

typedef struct gconn {
    struct gconn *prev, *next;
    int fd;
    int in_body; /* 0 header, 1 body and handler, 2 answering */
    int killed;
    uint64_t t; /* usec, start of the current phase */
} gconn;

typedef struct rl_entry {
    uint8_t ip[16];
    int used;
    uint64_t last;               /* usec of the last use (eviction order) */
    double tok[2];               /* bucket levels */
    uint64_t tok_t[2];           /* usec of the last refill */
    uint64_t win;                /* minute of the refusal window */
    uint32_t win_count, win_suppressed;
    char text[64];
} rl_entry;

#define RL_CAP 8192u /* power of two */
#define RL_PROBE 8u
#define SUMMARY_MAX 64

struct sup_guard {
    sup_ctx *s;
    pthread_mutex_t m; /* connection registry */
    gconn *head;
    uint64_t nconns;
    pthread_mutex_t rlm; /* rate-limit table */
    rl_entry *rl;
    pthread_t th;
    int started;
    pthread_mutex_t stopm;
    pthread_cond_t stopc;
    int stop;
    atomic_ullong deadline_closes, limited[2], anon_refusals, suppressed, pruned;
};

/* ----- clients ----- */

void sup_client_from(sup_client *c, const struct sockaddr *sa)
{
    memset(c, 0, sizeof *c);
    snprintf(c->text, sizeof c->text, "unknown");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        c->ip[10] = c->ip[11] = 0xff;
        memcpy(c->ip + 12, &a->sin_addr, 4);
        inet_ntop(AF_INET, &a->sin_addr, c->text, sizeof c->text);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        memcpy(c->ip, &a->sin6_addr, 16);
        inet_ntop(AF_INET6, &a->sin6_addr, c->text, sizeof c->text);
    }
    c->tag = 2166136261u;
    for (int i = 0; i < 16; i++)
        c->tag = (c->tag ^ c->ip[i]) * 16777619u;
    if (c->tag == 0)
        c->tag = 1;
}

/* ----- the table of clients (rlm held) ----- */

static rl_entry *rl_find(sup_guard *g, const sup_client *c, uint64_t now)
{
    uint32_t h = c->tag;
    rl_entry *victim = NULL;
    for (uint32_t i = 0; i < RL_PROBE; i++) {
        rl_entry *e = &g->rl[(h + i) & (RL_CAP - 1)];
        if (e->used && memcmp(e->ip, c->ip, 16) == 0) {
            e->last = now;
            return e;
        }
        if (!e->used) {
            if (!victim || victim->used)
                victim = e;
        } else if (!victim || (victim->used && e->last < victim->last)) {
            victim = e;
        }
    }
    /* A new client takes a free slot or the least recently seen one; its
     * buckets start full. */
    memset(victim, 0, sizeof *victim);
    victim->used = 1;
    memcpy(victim->ip, c->ip, 16);
    snprintf(victim->text, sizeof victim->text, "%s", c->text);
    victim->last = now;
    victim->tok_t[0] = victim->tok_t[1] = now;
    victim->tok[KS_BUCKET_NONCE] = g->s->cfg.nonce_burst;
    victim->tok[KS_BUCKET_ENROLL] = g->s->cfg.enroll_per_minute;
    return victim;
}

int sup_guard_allow(sup_guard *g, const sup_client *c, int bucket, int take, uint32_t *retry)
{
    const sup_config *cfg = &g->s->cfg;
    double rate = bucket == KS_BUCKET_NONCE ? cfg->nonce_rate : cfg->enroll_per_minute / 60.0;
    double burst = bucket == KS_BUCKET_NONCE ? cfg->nonce_burst : cfg->enroll_per_minute;
    uint64_t now;
    rl_entry *e;
    int ok;

    pthread_mutex_lock(&g->rlm);
    /* Read under the mutex, as in reap(): read before it, another thread's
     * later refill stamp made `now - tok_t` wrap and the bucket refill to its
     * burst, so concurrent requests could outrun the rate. */
    now = sup_now_usec();
    e = rl_find(g, c, now);
    if (now > e->tok_t[bucket])
        e->tok[bucket] += rate * (double)(now - e->tok_t[bucket]) / 1e6;
    if (e->tok[bucket] > burst)
        e->tok[bucket] = burst;
    e->tok_t[bucket] = now;
    ok = e->tok[bucket] >= 1.0;
    if (ok && take)
        e->tok[bucket] -= 1.0;
    if (!ok && retry)
        *retry = (uint32_t)((1.0 - e->tok[bucket]) / rate) + 1;
    pthread_mutex_unlock(&g->rlm);
    if (!ok)
        atomic_fetch_add(&g->limited[bucket], 1);
    return ok;
}

/* ----- sampled refusals ----- */

typedef struct summary {
    char client[64];
    uint32_t n;
    uint64_t win;
} summary;

static void write_summaries(sup_guard *g, int locked, const summary *sm, int n)
{
    for (int i = 0; i < n; i++) {
        char detail[160], target[80];
        snprintf(target, sizeof target, "client:%s", sm[i].client);
        snprintf(detail, sizeof detail, "%u more anonymous refusals in the minute from %llu"
                 " not recorded one by one (audit_sample)", sm[i].n,
                 (unsigned long long)(sm[i].win * 60));
        sup_audit(g->s, locked, "anonymous", "auth.denied.summary", target, "denied",
                 "UNAUTHORIZED", detail);
    }
}

void sup_guard_refusal(sup_guard *g, int locked, const sup_client *c, const char *action,
                      const char *target, const char *code, const char *detail)
{
    uint64_t win = sup_now() / 60;
    summary sm;
    int nsm = 0, write = 0;
    rl_entry *e;

    atomic_fetch_add(&g->anon_refusals, 1);
    pthread_mutex_lock(&g->rlm);
    e = rl_find(g, c, sup_now_usec());
    if (e->win != win) {
        if (e->win_suppressed) {
            snprintf(sm.client, sizeof sm.client, "%s", e->text);
            sm.n = e->win_suppressed;
            sm.win = e->win;
            nsm = 1;
        }
        e->win = win;
        e->win_count = 0;
        e->win_suppressed = 0;
    }
    if (e->win_count < g->s->cfg.audit_sample) {
        e->win_count++;
        write = 1;
    } else {
        e->win_suppressed++;
    }
    pthread_mutex_unlock(&g->rlm);
    write_summaries(g, locked, &sm, nsm);
    if (write) {
        char d[512];
        snprintf(d, sizeof d, "%s (client %s)", detail ? detail : "", c->text);
        sup_audit(g->s, locked, "anonymous", action, target, "denied", code, d);
    } else {
        atomic_fetch_add(&g->suppressed, 1);
    }
}

/* Summaries of windows that ended (guard thread), or of all (at stop). */
static void flush_summaries(sup_guard *g, int all)
{
    summary sm[SUMMARY_MAX];
    uint64_t win = sup_now() / 60;
    int n = 0;
    pthread_mutex_lock(&g->rlm);
    for (uint32_t i = 0; i < RL_CAP && n < SUMMARY_MAX; i++) {
        rl_entry *e = &g->rl[i];
        if (e->used && e->win_suppressed && (all || e->win != win)) {
            snprintf(sm[n].client, sizeof sm[n].client, "%s", e->text);
            sm[n].n = e->win_suppressed;
            sm[n].win = e->win;
            n++;
            e->win_suppressed = 0;
            e->win_count = 0;
            e->win = win;
        }
    }
    pthread_mutex_unlock(&g->rlm);
    write_summaries(g, 0, sm, n);
}

/* ----- connections ----- */

void *sup_guard_conn_open(sup_guard *g, int fd)
{
    gconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL; /* the connection simply has no absolute deadline */
    c->fd = fd;
    c->t = sup_now_usec();
    pthread_mutex_lock(&g->m);
    c->next = g->head;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    g->nconns++;
    pthread_mutex_unlock(&g->m);
    return c;
}

void sup_guard_conn_phase(sup_guard *g, void *conn, int in_body)
{
    gconn *c = conn;
    if (!c)
        return;
    pthread_mutex_lock(&g->m);
    c->in_body = in_body;
    c->t = sup_now_usec();
    pthread_mutex_unlock(&g->m);
}

void sup_guard_conn_close(sup_guard *g, void *conn)
{
    gconn *c = conn;
    if (!c)
        return;
    pthread_mutex_lock(&g->m);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->nconns--;
    pthread_mutex_unlock(&g->m);
    free(c);
}

int sup_guard_overdue(uint64_t now, uint64_t start, int phase, uint64_t hdr_us, uint64_t body_us)
{
    /* Phase 2 (answering) has no absolute limit: a large snapshot to a slow
     * controller may take long; the idle timeout still applies. */
    if (phase == 2 || start >= now)
        return 0;
    return now - start > (phase ? body_us : hdr_us);
}

static void reap(sup_guard *g)
{
    uint64_t hdr = (uint64_t)g->s->cfg.header_timeout * 1000000u;
    uint64_t body = (uint64_t)g->s->cfg.body_timeout * 1000000u;
    unsigned closed = 0;
    uint64_t now;
    pthread_mutex_lock(&g->m);
    /* The time is read under the mutex: read before it, a connection that
     * opened (or changed phase) while this thread waited for the lock has a
     * start after `now`, and `now - c->t` wrapped to a huge age; a fresh
     * connection was then shut down before its first byte (a CI run saw
     * keysup-sim's controller add answered with nothing). A start after
     * `now` is still refused the subtraction (sup_guard_overdue). */
    now = sup_now_usec();
    for (gconn *c = g->head; c; c = c->next) {
        if (c->killed || !sup_guard_overdue(now, c->t, c->in_body, hdr, body))
            continue;
        /* The library sees end-of-stream, closes the connection and then
         * notifies us (which removes c) before closing the descriptor. */
        if (shutdown(c->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
            sup_log(KS_LOG_WARN, "http.deadline", "fd=%d shutdown failed: %s", c->fd,
                   strerror(errno));
        c->killed = 1;
        closed++;
    }
    pthread_mutex_unlock(&g->m);
    if (closed) {
        atomic_fetch_add(&g->deadline_closes, closed);
        sup_log(KS_LOG_INFO, "http.deadline", "closed=%u reason=\"request not complete within"
               " header_timeout/body_timeout\"", closed);
    }
}

/* ----- the thread ----- */

static void *guard_main(void *arg)
{
    sup_guard *g = arg;
    uint64_t last_flush = sup_now(), last_prune = 0;
    pthread_mutex_lock(&g->stopm);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->stopc, &g->stopm, &ts);
        if (g->stop)
            break;
        pthread_mutex_unlock(&g->stopm);
        reap(g);
        if (sup_now() - last_flush >= 10) {
            flush_summaries(g, 0);
            last_flush = sup_now();
        }
        if (last_prune == 0 || sup_now() - last_prune >= 60) {
            int64_t n = sup_audit_prune(g->s);
            if (n > 0)
                atomic_fetch_add(&g->pruned, (unsigned long long)n);
            last_prune = sup_now();
        }
        pthread_mutex_lock(&g->stopm);
    }
    pthread_mutex_unlock(&g->stopm);
    return NULL;
}

sup_guard *sup_guard_new(sup_ctx *s)
{
    sup_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->rl = calloc(RL_CAP, sizeof *g->rl);
    if (!g->rl) {
        free(g);
        return NULL;
    }
    g->s = s;
    pthread_mutex_init(&g->m, NULL);
    pthread_mutex_init(&g->rlm, NULL);
    pthread_mutex_init(&g->stopm, NULL);
    pthread_cond_init(&g->stopc, NULL);
    return g;
}

int sup_guard_start(sup_guard *g)
{
    if (pthread_create(&g->th, NULL, guard_main, g) != 0)
        return KS_E_IO;
    g->started = 1;
    return KS_OK;
}

void sup_guard_free(sup_guard *g)
{
    if (!g)
        return;
    if (g->started) {
        pthread_mutex_lock(&g->stopm);
        g->stop = 1;
        pthread_cond_signal(&g->stopc);
        pthread_mutex_unlock(&g->stopm);
        pthread_join(g->th, NULL);
    }
    flush_summaries(g, 1);
    /* Connections are gone: the HTTP daemon stopped before this. */
    while (g->head)
        sup_guard_conn_close(g, g->head);
    pthread_cond_destroy(&g->stopc);
    pthread_mutex_destroy(&g->stopm);
    pthread_mutex_destroy(&g->rlm);
    pthread_mutex_destroy(&g->m);
    free(g->rl);
    free(g);
}

char *sup_guard_metrics(sup_guard *g)
{
    char *b = malloc(2048);
    uint64_t open;
    if (!b)
        return NULL;
    pthread_mutex_lock(&g->m);
    open = g->nconns;
    pthread_mutex_unlock(&g->m);
    snprintf(b, 2048,
             "# HELP keysup_http_connections_open Client connections open now.\n"
             "# TYPE keysup_http_connections_open gauge\nkeysup_http_connections_open %llu\n"
             "# HELP keysup_http_deadline_closes_total Connections shut down for overrunning"
             " header_timeout or body_timeout.\n"
             "# TYPE keysup_http_deadline_closes_total counter\n"
             "keysup_http_deadline_closes_total %llu\n"
             "# HELP keysup_rate_limited_total Requests refused with 429, by bucket.\n"
             "# TYPE keysup_rate_limited_total counter\n"
             "keysup_rate_limited_total{bucket=\"nonce\"} %llu\n"
             "keysup_rate_limited_total{bucket=\"enroll\"} %llu\n"
             "# HELP keysup_auth_anonymous_refusals_total Anonymous requests refused (401, 429,"
             " bad request target).\n"
             "# TYPE keysup_auth_anonymous_refusals_total counter\n"
             "keysup_auth_anonymous_refusals_total %llu\n"
             "# HELP keysup_audit_refusals_suppressed_total Anonymous refusals summarised"
             " instead of written one by one.\n"
             "# TYPE keysup_audit_refusals_suppressed_total counter\n"
             "keysup_audit_refusals_suppressed_total %llu\n"
             "# HELP keysup_audit_pruned_total Audit rows deleted by the retention setting.\n"
             "# TYPE keysup_audit_pruned_total counter\nkeysup_audit_pruned_total %llu\n",
             (unsigned long long)open, (unsigned long long)atomic_load(&g->deadline_closes),
             (unsigned long long)atomic_load(&g->limited[0]),
             (unsigned long long)atomic_load(&g->limited[1]),
             (unsigned long long)atomic_load(&g->anon_refusals),
             (unsigned long long)atomic_load(&g->suppressed),
             (unsigned long long)atomic_load(&g->pruned));
    return b;
}

uint64_t sup_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            sup_log(KS_LOG_WARN, "daemon.nofile", "cannot raise the open-file limit: %s",
                   strerror(errno));
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (uint64_t)rl.rlim_cur;
}
