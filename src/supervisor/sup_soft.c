/*
 * sup_soft.c - the soft state of heartbeats: a table in memory keyed by
 * controller id, and a flusher thread that writes the changed rows in one
 * transaction every SUP_SOFT_FLUSH_MS (sup_soft.h says what is soft and
 * why).
 *
 * Several heartbeats of one controller within a batch fold into one row:
 * the newest values win, except last_sync, firmware and protocol, which
 * (as the single UPDATE did) only move when a report carries them, and the
 * whole health report, which a short heartbeat does not carry: a short one
 * after a whole one keeps the whole one and adds its live members
 * (fold_health).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include "sup_db.h"
#include "sup_soft.h"

typedef struct sup_soft {
    pthread_mutex_t mu;          /* rows, n, cap, stop */
    pthread_cond_t cv;
    pthread_t th;
    sup_soft_row *rows;          /* pending rows, one per controller */
    size_t n, cap;
    uint32_t *idx;               /* open addressing over rows by id: row + 1, 0 empty */
    size_t icap;                 /* 2 * cap, a power of two */
    int stop;
    uint64_t batches, written;   /* counters for the log at stop */
} sup_soft;

static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;

static void row_free(sup_soft_row *r)
{
    free(r->firmware);
    free(r->health);
    free(r->live);
    r->firmware = r->health = r->live = NULL;
}

/* The report of newer n over older o (sup_health.h): a whole report
 * replaces everything before it (its live members are NULL'd with it, so
 * the columns never disagree); a short one keeps the older whole report
 * and replaces only the live members. The strings move; o's left are freed
 * by the caller. */
static void fold_health(sup_soft_row *n, sup_soft_row *o)
{
    if (n->health)
        return;
    n->health = o->health;
    o->health = NULL;
    if (!n->live) {
        n->live = o->live;
        o->live = NULL;
    }
}

int sup_soft_write(sup_ctx *s, const sup_soft_row *r)
{
    sup_dbv p[11] = {
        sup_dbv_int(r->last_seen),
        r->last_sync ? sup_dbv_int(r->last_sync) : sup_dbv_null(),
        r->has_av ? sup_dbv_int(r->applied_version) : sup_dbv_null(),
        r->has_root ? sup_dbv_blob(r->applied_root, KS_HASH_SIZE) : sup_dbv_null(),
        r->has_offset ? sup_dbv_int(r->clock_offset) : sup_dbv_null(),
        r->firmware ? sup_dbv_text(r->firmware) : sup_dbv_null(),
        r->has_protocol ? sup_dbv_int(r->protocol) : sup_dbv_null(),
        sup_dbv_int(r->lockout),
        r->health ? sup_dbv_text(r->health) : sup_dbv_null(),
        r->live ? sup_dbv_text(r->live) : sup_dbv_null(),
        sup_dbv_int(r->id)};
    /* The whole report only when one came (NULL keeps the stored one); the
     * live members always, NULL after a whole report (sup_health.h). */
    return sup_db_exec(s->db, "UPDATE controllers SET last_seen = ?,"
                              " last_sync = COALESCE(?, last_sync), applied_version = ?,"
                              " applied_root = ?, clock_offset = ?,"
                              " firmware_version = COALESCE(?, firmware_version),"
                              " protocol_version = COALESCE(?, protocol_version), lockout = ?,"
                              " last_health = COALESCE(?, last_health), last_health_live = ?"
                              " WHERE id = ?", p, 11, NULL, NULL);
}

static int slot_of(sup_soft *t, int64_t id, sup_soft_row **out);

/* A batch whose write failed (field5: keysupd's disk full, read-only, an
 * I/O error) goes back into the table, under any newer heartbeat of the
 * same controller: before, it was dropped, and until the controller's next
 * heartbeat the diagnosis read the database's older last_seen (sup_soft_peek
 * found nothing), so a disk full for longer than the missed-heartbeat limit
 * made controllers that were heartbeating look lost. */
static void keep(sup_soft *t, sup_soft_row *rows, size_t n)
{
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < n; i++) {
        sup_soft_row *w, *old = &rows[i];
        int fresh = slot_of(t, old->id, &w);
        if (fresh < 0) {
            row_free(old); /* out of memory: the next heartbeat reports it again */
            continue;
        }
        if (fresh) {
            *w = *old; /* the strings move with it */
            continue;
        }
        /* A newer heartbeat came: it wins, but what only moves when a
         * report carries it is taken from the older one if it had it. */
        if (!w->last_sync)
            w->last_sync = old->last_sync;
        if (!w->firmware) {
            w->firmware = old->firmware;
            old->firmware = NULL;
        }
        if (!w->has_protocol && old->has_protocol) {
            w->has_protocol = 1;
            w->protocol = old->protocol;
        }
        fold_health(w, old);
        row_free(old);
    }
    pthread_mutex_unlock(&t->mu);
    free(rows);
}

/* Takes the pending rows out under mu and writes them in one transaction. */
static void flush(sup_ctx *s, sup_soft *t)
{
    sup_soft_row *rows;
    size_t n;
    int rc;
    pthread_mutex_lock(&t->mu);
    rows = t->rows;
    n = t->n;
    t->rows = NULL;
    t->n = t->cap = 0;
    free(t->idx);
    t->idx = NULL;
    t->icap = 0;
    pthread_mutex_unlock(&t->mu);
    if (!n) {
        free(rows);
        return;
    }
    pthread_mutex_lock(&s->lock);
    rc = sup_db_begin(s->db);
    for (size_t i = 0; rc == KS_DB_OK && i < n; i++)
        rc = sup_soft_write(s, &rows[i]);
    rc = rc == KS_DB_OK ? sup_db_commit(s->db) : rc;
    if (rc != KS_DB_OK) {
        sup_log(KS_LOG_ERROR, "heartbeat.flush", "rows=%zu error=\"%s\" note=\"kept, written"
                " again at the next flush\"", n, sup_db_errmsg(s->db));
        sup_db_rollback(s->db);
    }
    pthread_mutex_unlock(&s->lock);
    t->batches++;
    if (rc != KS_DB_OK) {
        keep(t, rows, n);
        return;
    }
    t->written += n;
    for (size_t i = 0; i < n; i++)
        row_free(&rows[i]);
    free(rows);
}

static void *flusher(void *p)
{
    sup_ctx *s = p;
    sup_soft *t = s->soft;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)SUP_SOFT_FLUSH_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &ts) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&t->mu);
        flush(s, t);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static sup_soft *get(sup_ctx *s)
{
    sup_soft *t = __atomic_load_n(&s->soft, __ATOMIC_ACQUIRE);
    if (t)
        return t;
    pthread_mutex_lock(&start_mu);
    if (!(t = s->soft) && (t = calloc(1, sizeof *t)) != NULL) {
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->cv, NULL);
        s->soft = t; /* the flusher reads it */
        if (pthread_create(&t->th, NULL, flusher, s) != 0) {
            s->soft = NULL;
            pthread_cond_destroy(&t->cv);
            pthread_mutex_destroy(&t->mu);
            free(t);
            t = NULL;
        } else {
            __atomic_store_n(&s->soft, t, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&start_mu);
    return t;
}

static size_t hash(int64_t id, size_t icap)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 20) & (icap - 1);
}

/* Grows rows and rebuilds the index at twice the rows' capacity. */
static int grow(sup_soft *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    sup_soft_row *q = realloc(t->rows, cap * sizeof *q);
    uint32_t *ix;
    if (!q)
        return -1;
    t->rows = q;
    if (!(ix = calloc(2 * cap, sizeof *ix)))
        return -1;
    free(t->idx);
    t->idx = ix;
    t->icap = 2 * cap;
    t->cap = cap;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = hash(t->rows[i].id, t->icap);
        while (t->idx[h])
            h = (h + 1) & (t->icap - 1);
        t->idx[h] = (uint32_t)(i + 1);
    }
    return 0;
}

/* The pending row of controller id in *out: 0 when it had one, 1 when it
 * is new (zeroed), -1 out of memory. */
static int slot_of(sup_soft *t, int64_t id, sup_soft_row **out)
{
    size_t h;
    if (t->n == t->cap && grow(t) != 0)
        return -1;
    for (h = hash(id, t->icap); t->idx[h]; h = (h + 1) & (t->icap - 1))
        if (t->rows[t->idx[h] - 1].id == id) {
            *out = &t->rows[t->idx[h] - 1];
            return 0;
        }
    t->idx[h] = (uint32_t)(t->n + 1);
    memset(&t->rows[t->n], 0, sizeof t->rows[0]);
    t->rows[t->n].id = id;
    *out = &t->rows[t->n++];
    return 1;
}

/* The pending row of controller id, new (zeroed) when it has none. */
static sup_soft_row *slot(sup_soft *t, int64_t id)
{
    sup_soft_row *w;
    return slot_of(t, id, &w) < 0 ? NULL : w;
}

int sup_soft_put(sup_ctx *s, const sup_soft_row *r)
{
    sup_soft *t = get(s);
    sup_soft_row *w;
    char *fw = r->firmware ? strdup(r->firmware) : NULL;
    char *h = r->health ? strdup(r->health) : NULL;
    char *lv = r->live ? strdup(r->live) : NULL;
    sup_soft_row older;
    if (!t || (r->firmware && !fw) || (r->health && !h) || (r->live && !lv))
        goto fail;
    pthread_mutex_lock(&t->mu);
    if (!(w = slot(t, r->id))) {
        pthread_mutex_unlock(&t->mu);
        goto fail;
    }
    int64_t sync = r->last_sync ? r->last_sync : w->last_sync;
    char *keep_fw = fw ? NULL : w->firmware;
    int keep_proto = !r->has_protocol && w->has_protocol;
    int64_t proto = w->protocol;
    w->firmware = NULL;
    older = *w; /* its report strings, for fold_health */
    w->health = w->live = NULL;
    row_free(w);
    *w = *r;
    w->last_sync = sync;
    w->firmware = fw ? fw : keep_fw;
    if (keep_proto) {
        w->has_protocol = 1;
        w->protocol = proto;
    }
    w->health = h;
    w->live = lv;
    fold_health(w, &older);
    pthread_mutex_unlock(&t->mu);
    free(older.health); /* outside the lock: what the newer report replaced */
    free(older.live);
    return 0;
fail:
    free(fw);
    free(h);
    free(lv);
    return -1;
}

int sup_soft_peek(sup_ctx *s, int64_t id, int64_t *last_seen, char **health, char **live)
{
    sup_soft *t = __atomic_load_n(&s->soft, __ATOMIC_ACQUIRE);
    int found = 0;
    *health = *live = NULL;
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mu);
    if (t->icap) {
        for (size_t h = hash(id, t->icap); t->idx[h]; h = (h + 1) & (t->icap - 1)) {
            sup_soft_row *r = &t->rows[t->idx[h] - 1];
            if (r->id != id)
                continue;
            *last_seen = r->last_seen;
            *health = r->health ? strdup(r->health) : NULL;
            *live = r->live ? strdup(r->live) : NULL;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

void sup_soft_flush(sup_ctx *s)
{
    sup_soft *t = __atomic_load_n(&s->soft, __ATOMIC_ACQUIRE);
    if (t)
        flush(s, t);
}

void sup_soft_stop(sup_ctx *s)
{
    sup_soft *t = s->soft;
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    flush(s, t); /* what arrived since the last batch */
    sup_log(KS_LOG_INFO, "heartbeat.soft_state", "batches=%llu rows=%llu",
            (unsigned long long)t->batches, (unsigned long long)t->written);
    if (t->n) /* the last write failed and kept them: lost with the process */
        sup_log(KS_LOG_ERROR, "heartbeat.soft_state", "unwritten=%zu note=\"the last heartbeat"
                " state of these controllers was not stored; their next heartbeat stores it\"",
                t->n);
    for (size_t i = 0; i < t->n; i++)
        row_free(&t->rows[i]);
    free(t->rows);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t->idx);
    free(t);
    s->soft = NULL;
}
