/*
 * sup_cluster.c - see sup_cluster.h.
 *
 * The thread owns a libpq connection of its own: the publish lease is a
 * session advisory lock on it (pg_try_advisory_lock), and it LISTENs on
 * keysup_dirty and keysup_published. A follower tries the lock every
 * CLUSTER_TRY_MS; the holder keeps it until its connection ends. If the
 * connection breaks, leadership is given up at once (the server has dropped
 * the lock too) and the thread reconnects. A leader that lost its lease while
 * a publish was already committing cannot store a second database under the
 * same version: (scope, version) is the primary key of snapshot_versions.
 *
 * Nonces: 8 random bytes, the issuing instance's tag (4 bytes), the expiry
 * (u32 LE seconds, wall clock) and a 16-byte keyed BLAKE2b of those 16 bytes
 * under the cluster secret (created once, in the database). Any instance
 * checks one it did not issue; spending it inserts it into cluster_nonces,
 * whose primary key refuses the second use everywhere.
 *
 * Clocks (field5). The expiry must be on a wall clock to cross instances,
 * but no one clock is trusted alone with it:
 *  - the issuing instance also keeps each of its nonces in its local table
 *    on the monotonic clock, and takes one of its own only while it is live
 *    there, whatever its wall clock says;
 *  - another instance's nonce must be unexpired on this instance's wall
 *    clock, may not claim more than nonce_ttl + NONCE_SKEW_S of life left
 *    (a clock far ahead, or a nonce from before a step back), and is spent
 *    only if PostgreSQL's clock also has it unexpired (the same INSERT);
 *  - a step of this instance's wall clock is seen against the monotonic
 *    clock (sup_clockstep.h); after a step back, another instance's nonce
 *    that may be from before the step is refused.
 * So a step of one clock (this instance's, the issuer's or the database
 * server's) does not let a nonce live longer than nonce_ttl + NONCE_SKEW_S.
 * Used nonces are pruned on PostgreSQL's clock, NONCE_KEEP_S after they
 * expired: a leader whose wall clock jumped ahead cannot prune a spent
 * nonce that other instances still take.
 */
#define _POSIX_C_SOURCE 200809L
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "sup_cluster.h"
#include "sup_clockstep.h"
#include "sup_db_pg.h"
#include "sup_diag.h"
#include "sup_keyfollow.h"

#define CLUSTER_LEASE_KEY 0x6b737570 /* "ksup": the publish lease */
#define CLUSTER_TRY_MS 250
#define CLUSTER_PRUNE_S 10
#define NONCE_SKEW_S 10  /* the most the instances' wall clocks may differ */
#define NONCE_KEEP_S 600 /* a spent nonce's row outlives its expiry by this */

typedef void (*wake_fn)(sup_ctx *s);

struct sup_cluster {
    sup_ctx *s;
    pthread_t th;
    atomic_int stop, leader;
    _Atomic(wake_fn) wake; /* the publisher's wake-up, registered by it */
    uint8_t secret[32];
    uint8_t inst[4]; /* bytes 8..11 of every nonce this instance issues */
    atomic_uint_fast64_t clock_warned; /* monotonic s of the last cluster.nonce_clock line */
    PGconn *c;
};

static int leader_of(sup_ctx *s)
{
    return !s->cluster || atomic_load(&s->cluster->leader);
}

int sup_cluster_leader(sup_ctx *s) { return leader_of(s); }

void sup_cluster_on_wake(sup_ctx *s, void (*wake)(sup_ctx *s))
{
    if (s->cluster)
        atomic_store(&s->cluster->wake, wake);
}

void sup_cluster_notify(sup_ctx *s, const char *what)
{
    if (!s->cluster)
        return;
    if (strcmp(what, "dirty") == 0)
        sup_db_exec(s->db, "SELECT pg_notify('keysup_dirty', '')", NULL, 0, NULL, NULL);
    else
        sup_db_exec(s->db, "SELECT pg_notify('keysup_published', '')", NULL, 0, NULL, NULL);
}

static int simple(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

static int try_lease(PGconn *c)
{
    char sql[80];
    PGresult *r;
    int got;
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d)", CLUSTER_LEASE_KEY);
    r = PQexec(c, sql);
    got = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
          PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return got;
}

static void lose(struct sup_cluster *k, const char *why)
{
    if (atomic_exchange(&k->leader, 0))
        sup_log(KS_LOG_WARN, "cluster.lease_lost", "code=KSE-%03d reason=\"%s\"",
                SUP_KSE(DATABASE_UNREACHABLE), why);
}

static void *cluster_main(void *arg)
{
    struct sup_cluster *k = arg;
    sup_ctx *s = k->s;
    uint64_t last_prune = 0;

    while (!atomic_load(&k->stop)) {
        struct pollfd pfd;
        PGnotify *n;
        int kick = 0;

        if (PQstatus(k->c) != CONNECTION_OK) {
            lose(k, "database connection lost");
            PQreset(k->c);
            if (PQstatus(k->c) != CONNECTION_OK ||
                simple(k->c, "LISTEN keysup_dirty; LISTEN keysup_published")) {
                struct timespec ts = {0, CLUSTER_TRY_MS * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        if (!atomic_load(&k->leader) && try_lease(k->c)) {
            atomic_store(&k->leader, 1);
            sup_log(KS_LOG_INFO, "cluster.lease", "publisher=this instance pid=%ld",
                    (long)getpid());
            kick = 1; /* publish whatever the previous holder left pending */
        }
        pfd.fd = PQsocket(k->c);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (pfd.fd >= 0 && poll(&pfd, 1, CLUSTER_TRY_MS) > 0 && !PQconsumeInput(k->c)) {
            lose(k, "database connection lost");
            continue;
        }
        while ((n = PQnotifies(k->c)) != NULL) {
            kick = 1; /* dirty: the leader publishes; published: followers reload */
            PQfreemem(n);
        }
        if (kick) {
            wake_fn wake = atomic_load(&k->wake);
            if (wake)
                wake(s);
        }
        if (atomic_load(&k->leader) && sup_now() >= last_prune + CLUSTER_PRUNE_S) {
            char sql[96];
            last_prune = sup_now();
            snprintf(sql, sizeof sql, "DELETE FROM cluster_nonces WHERE expires <"
                     " EXTRACT(EPOCH FROM clock_timestamp()) - %d", NONCE_KEEP_S);
            (void)simple(k->c, sql);
        }
    }
    return NULL;
}

static int secret_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    (void)names;
    if (ncol >= 1 && c[0].type == KS_DBV_BLOB && c[0].n == 32)
        memcpy(ctx, c[0].p, 32);
    return 1;
}

/* The shared tables and the nonce secret; several instances may race here,
 * begin() serialises them. Lock held. */
static int setup_db(sup_ctx *s, uint8_t secret[32])
{
    uint8_t fresh[32], zero[32] = {0};
    sup_dbv p = sup_dbv_blob(fresh, sizeof fresh);
    int rc;

    randombytes_buf(fresh, sizeof fresh);
    memset(secret, 0, 32);
    rc = sup_db_begin(s->db);
    if (!rc)
        rc = sup_db_exec(s->db, "CREATE TABLE IF NOT EXISTS cluster_nonces(nonce BYTEA PRIMARY KEY,"
                                " expires BIGINT NOT NULL)", NULL, 0, NULL, NULL);
    if (!rc)
        rc = sup_db_exec(s->db, "CREATE TABLE IF NOT EXISTS cluster_secret(id INTEGER PRIMARY KEY,"
                                " secret BYTEA NOT NULL)", NULL, 0, NULL, NULL);
    if (!rc)
        rc = sup_db_exec(s->db, SUP_KEYWRAP_TABLE_SQL, NULL, 0, NULL, NULL);
    if (!rc)
        rc = sup_db_exec(s->db, "INSERT INTO cluster_secret(id, secret) SELECT 1, ? WHERE NOT"
                                " EXISTS (SELECT 1 FROM cluster_secret)", &p, 1, NULL, NULL);
    if (!rc)
        rc = sup_db_exec(s->db, "SELECT secret FROM cluster_secret WHERE id = 1", NULL, 0,
                         secret_cb, secret);
    if (!rc)
        rc = sup_db_commit(s->db);
    if (rc)
        sup_db_rollback(s->db);
    sodium_memzero(fresh, sizeof fresh);
    if (!rc && sodium_memcmp(secret, zero, 32) == 0)
        rc = KS_DB_ERR;
    return rc;
}

int sup_cluster_start(sup_ctx *s, char *err, size_t errlen)
{
    struct sup_cluster *k;
    int rc;

    if (!sup_db_is_pg(s->db))
        return KS_OK;
    k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return KS_E_NOSPC;
    }
    k->s = s;
    randombytes_buf(k->inst, sizeof k->inst);
    pthread_mutex_lock(&s->lock);
    rc = setup_db(s, k->secret);
    if (rc)
        snprintf(err, errlen, "PostgreSQL: cannot set up the cluster tables: %s",
                 sup_db_errmsg(s->db));
    pthread_mutex_unlock(&s->lock);
    if (rc)
        goto fail;
    k->c = sup_db_pg_connect(s->cfg.database);
    if (PQstatus(k->c) != CONNECTION_OK ||
        simple(k->c, "LISTEN keysup_dirty; LISTEN keysup_published")) {
        snprintf(err, errlen, "PostgreSQL: cannot open the lease connection: %s",
                 PQerrorMessage(k->c));
        err[strcspn(err, "\n")] = '\0';
        goto fail;
    }
    /* Take the lease now if it is free, so a lone instance publishes from
     * its first round; otherwise the thread keeps trying. */
    atomic_init(&k->leader, try_lease(k->c));
    atomic_init(&k->stop, 0);
    atomic_init(&k->wake, NULL);
    atomic_init(&k->clock_warned, 0);
    s->cluster = k;
    if (pthread_create(&k->th, NULL, cluster_main, k) != 0) {
        s->cluster = NULL;
        snprintf(err, errlen, "cannot start the cluster thread");
        goto fail;
    }
    sup_log(KS_LOG_INFO, "cluster.start", "publisher=%s",
            atomic_load(&k->leader) ? "this instance" : "another instance");
    return KS_OK;
fail:
    PQfinish(k->c);
    sodium_memzero(k->secret, sizeof k->secret);
    free(k);
    return KS_E_IO;
}

void sup_cluster_stop(sup_ctx *s)
{
    struct sup_cluster *k = s->cluster;
    if (!k || !k->c)
        return;
    atomic_store(&k->stop, 1);
    pthread_join(k->th, NULL);
    atomic_store(&k->leader, 0);
    PQfinish(k->c); /* ends the session: the lease is free for the next one */
    k->c = NULL;
}

void sup_cluster_free(sup_ctx *s)
{
    struct sup_cluster *k = s->cluster;
    if (!k)
        return;
    sup_cluster_stop(s);
    s->cluster = NULL;
    sodium_memzero(k->secret, sizeof k->secret);
    free(k);
}

/* ----- nonces ----- */

/* dev > 0: the nonce is bound to that controller (a heartbeat answer's
 * next nonce): its id is under the MAC, so no other controller's request
 * verifies it on any instance. */
static void nonce_mac(const struct sup_cluster *k, const uint8_t n[16], int64_t dev, uint8_t mac[16])
{
    uint8_t in[24];
    memcpy(in, n, 16);
    for (int i = 0; i < 8; i++)
        in[16 + i] = (uint8_t)((uint64_t)dev >> (8 * i));
    crypto_generichash(mac, 16, in, dev > 0 ? 24 : 16, k->secret, sizeof k->secret);
}

/* 1 when the nonce is ours (any instance's), unexpired, and dev (the
 * requesting controller; 0: unknown) may spend it. */
static int nonce_valid(const struct sup_cluster *k, const uint8_t n[32], uint64_t now, int64_t dev)
{
    uint8_t mac[16];
    uint32_t exp = (uint32_t)n[12] | (uint32_t)n[13] << 8 | (uint32_t)n[14] << 16 |
                   (uint32_t)n[15] << 24;
    if (exp <= now)
        return 0;
    nonce_mac(k, n, 0, mac);
    if (sodium_memcmp(mac, n + 16, 16) == 0)
        return 1;
    if (dev <= 0)
        return 0;
    nonce_mac(k, n, dev, mac);
    return sodium_memcmp(mac, n + 16, 16) == 0;
}

/* The local table's time: the monotonic clock, in seconds. */
static uint64_t mono_s(void)
{
    return sup_now_usec() / 1000000u;
}

/* The wall clock, sampled with the monotonic one: a step is seen here. */
static uint64_t wall_s(sup_ctx *s, uint64_t mono)
{
    uint64_t wall = sup_now();
    (void)sup_clockstep_sample(sup_nonces_clockstep(s->nonces), wall, mono,
                               s->cfg.nonce_ttl + NONCE_SKEW_S);
    return wall;
}

static uint32_t nonce_exp(const uint8_t n[32])
{
    return (uint32_t)n[12] | (uint32_t)n[13] << 8 | (uint32_t)n[14] << 16 |
           (uint32_t)n[15] << 24;
}

/* A refusal on the clocks is said in the log, once a minute at most: the
 * request's own line says only "expired or already used". */
static void clock_refusal(sup_ctx *s, const char *why, int64_t ahead)
{
    uint64_t now = mono_s(), last = atomic_load(&s->cluster->clock_warned);
    if (last && now < last + 60)
        return;
    if (!atomic_compare_exchange_strong(&s->cluster->clock_warned, &last, now ? now : 1))
        return;
    sup_log(KS_LOG_WARN, "cluster.nonce_clock", "code=KSE-%03d reason=\"%s\" seconds=%lld",
            SUP_KSE(CLOCK_SKEW), why, (long long)ahead);
}

/* Another instance's nonce, on this instance's clocks: not claiming more
 * life than any instance gives, and not possibly from before a step back. */
static int foreign_in_time(sup_ctx *s, const uint8_t n[32], uint64_t wall)
{
    uint64_t exp = nonce_exp(n);
    if (exp > wall + s->cfg.nonce_ttl + NONCE_SKEW_S) {
        clock_refusal(s, "another instance's nonce claims more life than nonce_ttl: its clock"
                      " is ahead of this one, or this one stepped back",
                      (int64_t)(exp - wall - s->cfg.nonce_ttl));
        return 0;
    }
    if (exp <= sup_clockstep_poison(sup_nonces_clockstep(s->nonces))) {
        clock_refusal(s, "another instance's nonce may be from before this instance's clock"
                      " stepped back", 0);
        return 0;
    }
    return 1;
}

int sup_nonce_issue(sup_ctx *s, uint32_t owner, uint8_t out[32])
{
    return sup_nonce_issue_dev(s, owner, 0, out);
}

int sup_nonce_issue_dev(sup_ctx *s, uint32_t owner, int64_t dev, uint8_t out[32])
{
    struct sup_cluster *k = s->cluster;
    uint64_t mono = mono_s(), now = wall_s(s, mono);
    uint32_t exp;
    if (!k)
        return sup_nonces_issue_dev(s->nonces, owner, dev, out, mono);
    exp = (uint32_t)(now + s->cfg.nonce_ttl);
    randombytes_buf(out, 8);
    memcpy(out + 8, k->inst, sizeof k->inst);
    out[12] = (uint8_t)exp;
    out[13] = (uint8_t)(exp >> 8);
    out[14] = (uint8_t)(exp >> 16);
    out[15] = (uint8_t)(exp >> 24);
    nonce_mac(k, out, dev, out + 16);
    /* The local table bounds what one client may hold, and the nonce's
     * life on this instance's monotonic clock. */
    return sup_nonces_put_dev(s->nonces, owner, dev, out, mono);
}

/* 1 when the nonce is ours or another instance's, unexpired on this
 * instance's clocks, and dev may spend it (not yet checked: spent). */
static int cluster_live(sup_ctx *s, const uint8_t n[32], int64_t dev, uint64_t mono,
                        uint64_t wall)
{
    struct sup_cluster *k = s->cluster;
    if (!nonce_valid(k, n, wall, dev))
        return 0;
    if (memcmp(n + 8, k->inst, sizeof k->inst) == 0)
        return sup_nonces_live_dev(s->nonces, n, mono, dev);
    return foreign_in_time(s, n, wall);
}

int sup_nonce_live(sup_ctx *s, const uint8_t nonce[32], int64_t dev)
{
    uint64_t mono = mono_s(), wall = wall_s(s, mono);
    if (!s->cluster)
        return sup_nonces_live_dev(s->nonces, nonce, mono, dev);
    return cluster_live(s, nonce, dev, mono, wall);
}

int sup_nonce_foreign(sup_ctx *s, const uint8_t nonce[32])
{
    /* A cluster's nonces outlive a restart (the MAC key is shared): an
     * unknown one there is a replay or a forgery, as before. */
    return !s->cluster && sup_nonces_foreign(s->nonces, nonce);
}

static int spent_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    (void)ncol;
    (void)c;
    (void)names;
    *(int *)ctx = 1;
    return 0;
}

int sup_nonce_consume(sup_ctx *s, const uint8_t nonce[32], int64_t dev)
{
    struct sup_cluster *k = s->cluster;
    uint64_t mono = mono_s(), wall = wall_s(s, mono);
    int rc, spent = 0;
    if (!k)
        return sup_nonces_consume_dev(s->nonces, nonce, mono, dev);
    if (!cluster_live(s, nonce, dev, mono, wall))
        return 0; /* checked first: another controller does not free A's slot */
    (void)sup_nonces_consume_dev(s->nonces, nonce, mono, dev); /* frees the local slot */
    {
        /* Spent once everywhere (the primary key). Another instance's only
         * while the database server's clock has it unexpired too; our own
         * is bounded by our monotonic clock, which no wall clock can move
         * (an instance whose wall clock is wrong keeps serving its own). */
        int own = memcmp(nonce + 8, k->inst, sizeof k->inst) == 0;
        sup_dbv p[3] = {sup_dbv_blob(nonce, 32), sup_dbv_int(nonce_exp(nonce)),
                        sup_dbv_int(own ? INT64_MAX : (int64_t)nonce_exp(nonce))};
        pthread_mutex_lock(&s->lock);
        rc = sup_db_exec(s->db, "INSERT INTO cluster_nonces(nonce, expires) SELECT ?, ? WHERE ? >"
                                " EXTRACT(EPOCH FROM clock_timestamp()) RETURNING 1",
                         p, 3, spent_cb, &spent);
        if (rc && rc != KS_DB_CONSTRAINT)
            sup_log(KS_LOG_ERROR, "cluster.nonce", "error=\"%s\"", sup_db_errmsg(s->db));
        pthread_mutex_unlock(&s->lock);
    }
    /* a constraint: spent before, here or elsewhere; no row: expired on
     * the database server's clock */
    return rc == KS_DB_OK && spent;
}
