/*
 * bench_supervisor.c - keysupd figures, in process, on loopback:
 *   1. signed device heartbeats per second (nonce + signed POST, answer
 *      signed by the supervisor key, keep-alive libcurl clients on several
 *      threads) with p50/p99, against the same server answering a static
 *      route (/v1/ping) and bare libsodium sign/verify in the same run;
 *   2. time to publish a snapshot of 1,000,000 keys in full (mark ->
 *      published), then single revocations (commit -> new version served,
 *      median of 21) beside their floor measured in the same run (image
 *      copy + one bucket path rehash + one sign + one small commit), and
 *      the deltas for them.
 * usage: bench_supervisor [keys=1000000] [seconds=3] [threads=4]
 * KS_BENCH_LOG=1 in the environment logs each publish with its phase times.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "bench_device.h"
#include "bench_util.h"
#include "sup_pubstore.h"

static sup_ctx S;
static char base_url[64];
static bench_dev dev = {base_url, NULL, {0}, 0};
static double run_seconds = 3;

typedef struct worker {
    pthread_t th;
    int heartbeat;   /* 1: signed heartbeats (answer signed); 0: GET /v1/ping */
    double *lat;
    size_t n, cap;
    long errors;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char url[128], body[256];
    double end;
    CURL *c = bench_loop_open(body, run_seconds, &end);
    snprintf(url, sizeof url, "%s/v1/ping", base_url);
    while (c && bench_now() < end) {
        double t0 = bench_now();
        int ok;
        if (w->heartbeat) {
            ok = bench_heartbeat(c, &dev, body, 1) == 0;
        } else {
            long code = 0;
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
            ok = curl_easy_perform(c) == CURLE_OK &&
                 curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
        }
        if (!ok) {
            w->errors++;
            continue;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
        }
        w->lat[w->n++] = bench_now() - t0;
    }
    curl_easy_cleanup(c);
    return NULL;
}

static double load(int heartbeat, int threads, double *p50, double *p99, long *errors)
{
    worker *w = calloc((size_t)threads, sizeof *w);
    double *all = NULL;
    size_t n = 0;
    double t0 = bench_now(), el;
    for (int i = 0; i < threads; i++) {
        w[i].heartbeat = heartbeat;
        pthread_create(&w[i].th, NULL, work, &w[i]);
    }
    *errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].th, NULL);
        all = realloc(all, (n + w[i].n + 1) * sizeof *all);
        memcpy(all + n, w[i].lat, w[i].n * sizeof *all);
        n += w[i].n;
        *errors += w[i].errors;
        free(w[i].lat);
    }
    el = bench_now() - t0;
    qsort(all, n, sizeof *all, bench_cmp_double);
    *p50 = n ? all[n / 2] * 1e3 : 0;
    *p99 = n ? all[(size_t)((double)n * 0.99)] * 1e3 : 0;
    free(all);
    free(w);
    return (double)n / el;
}

/* Bare libsodium Ed25519 on a message of the answer envelope's size (16-byte
 * label + 122 bytes), one thread, for `seconds`: operations per second. */
static double bare_rate(int verify, double seconds)
{
    uint8_t pk[32], sk[64], msg[138] = {0}, sig[64];
    long n = 0;
    double t0 = bench_now(), el;
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    do {
        for (int i = 0; i < 64; i++, n++) {
            msg[0] = (uint8_t)n;
            if (verify)
                (void)crypto_sign_verify_detached(sig, msg, sizeof msg, pk);
            else
                crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
        }
        el = bench_now() - t0;
    } while (el < seconds);
    return (double)n / el;
}

#define REPEAT 21

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v)
{
    double c[REPEAT];
    memcpy(c, v, sizeof c);
    qsort(c, REPEAT, sizeof c[0], cmp_d);
    return c[REPEAT / 2];
}

typedef struct blob16 {
    uint8_t *out;
    int found;
} blob16;

static int blob16_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    blob16 *b = ctx;
    (void)ncol;
    (void)names;
    if (c[0].n == 16) {
        memcpy(b->out, c[0].p, 16);
        b->found = 1;
    }
    return 1;
}

/*
 * The floor of publishing one change, measured beside it: what any design
 * that serves a new contiguous signed image must do. Copy the image into
 * fresh memory (as the new version needs its own), hash the changed
 * record's bucket (16 leaves) and its path of bucket_bits nodes, sign the
 * header, and commit one small row durably.
 */
static void floor_once(const uint8_t kid[16], double *copy, double *hash, double *sign,
                       double *commit)
{
    uint8_t *img = NULL, *fresh, h[32], sib[32] = {0}, hdr[KS_SNAP_HEADER_SIZE];
    size_t len = 0;
    uint64_t v;
    double t0;
    unsigned bits;
    ks_mth m;

    sup_pub_snapshot(&S, 1, &img, &len, &v);
    bits = img[6];
    t0 = bench_now();
    fresh = malloc(len);
    memcpy(fresh, img, len);
    *copy = bench_now() - t0;
    t0 = bench_now();
    ks_mth_init(&m);
    for (int i = 0; i < KS_BUCKET_TARGET; i++) {
        ks_merkle_leaf(&S.crypto, h, fresh + KS_SNAP_HEADER_SIZE + (size_t)i * KS_RECORD_SIZE);
        ks_mth_push(&m, &S.crypto, h);
    }
    ks_mth_final(&m, &S.crypto, h);
    /* The path's siblings: any 32 bytes cost the same to hash; the key id
     * padded, not the 16-byte id itself read as 32 bytes. */
    memcpy(sib, kid, 16);
    for (unsigned i = 0; i < bits; i++)
        ks_merkle_node(&S.crypto, h, h, sib);
    *hash = bench_now() - t0;
    memcpy(hdr, img, sizeof hdr);
    t0 = bench_now();
    ks_snap_header_sign(&S.crypto, hdr, S.sk);
    *sign = bench_now() - t0;
    t0 = bench_now();
    pthread_mutex_lock(&S.lock);
    sup_db_begin(S.db);
    sup_db_exec(S.db, "UPDATE scopes SET published_at = published_at WHERE scope = 1", NULL, 0,
               NULL, NULL);
    sup_db_commit(S.db);
    pthread_mutex_unlock(&S.lock);
    *commit = bench_now() - t0;
    free(fresh);
    free(img);
}

static uint64_t wait_version(uint32_t scope, uint64_t above)
{
    uint64_t v;
    while ((v = sup_pub_version(&S, scope, NULL)) <= above) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return v;
}

int main(int argc, char **argv)
{
    uint32_t nkeys = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000000;
    int threads = argc > 3 ? atoi(argv[3]) : 4;
    char dir[] = "/tmp/ks_bench_sup_XXXXXX", tok[80], err[256];
    double hb, hb50, hb99, st, st50, st99, t0, t1;
    long e1, e2;
    uint64_t v0, v1;
    double full_pub;

    if (argc > 2)
        run_seconds = atof(argv[2]);
    if (sodium_init() < 0 || threads < 1)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (bench_sup_open(&S, dir, NULL, threads, tok, err, sizeof err)) {
        fprintf(stderr, "bench_supervisor: %s\n", err);
        return 1;
    }
    sup_log_set_level(getenv("KS_BENCH_LOG") ? KS_LOG_INFO : KS_LOG_WARN);
    if (sup_pub_start(&S) || sup_http_start(&S, err, sizeof err)) {
        fprintf(stderr, "bench_supervisor: %s\n", err);
        return 1;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", S.port);
    bench_sup_controller(&S, &dev);
    pthread_mutex_lock(&S.lock);
    sup_pub_mark(&S, 1);
    pthread_mutex_unlock(&S.lock);
    sup_pub_kick(&S);
    wait_version(1, 0);

    printf("keysupd on loopback, %d client threads, %d server threads, %.0f s each, sync=%s\n",
           threads, threads, run_seconds, S.cfg.sync_full ? "full" : "normal");
    st = load(0, threads, &st50, &st99, &e2);
    hb = load(1, threads, &hb50, &hb99, &e1);
    printf("static route GET /v1/ping:       %9.0f req/s  p50 %.3f ms  p99 %.3f ms  (errors %ld)\n",
           st, st50, st99, e2);
    printf("signed heartbeats (nonce+POST):  %9.0f hb/s   p50 %.3f ms  p99 %.3f ms  (errors %ld)\n",
           hb, hb50, hb99, e1);
    printf("heartbeat / static ratio:        %.2f (a heartbeat is 2 requests, a signature check,"
           " a committed write and a signed answer)\n", hb / st);
    {
        double sg = bare_rate(0, 1.0), vf = bare_rate(1, 1.0);
        printf("bare libsodium Ed25519, 1 thread: sign %9.0f /s  verify %9.0f /s (same run)\n", sg,
               vf);
        printf("signed heartbeats / bare signs:  %.3f (per heartbeat the server verifies the"
               " request and signs the answer: bound %.0f hb/s per core)\n", hb / sg,
               1.0 / (1.0 / sg + 1.0 / vf));
        /* issue 13's target: >= 0.5 of the verify bound (verify rate x cores) */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        printf("signed heartbeats / verify bound: %.3f (bound: %.0f verify/s x %ld cores = %.0f/s)\n",
               hb / (vf * (double)cores), vf, cores, vf * (double)cores);
    }
    S.cfg.sync_full = 0;

    /* 2. a million keys */
    {
        uint8_t kpk[32], kid[16];
        t0 = bench_now();
        pthread_mutex_lock(&S.lock);
        sup_db_exec(S.db, "PRAGMA synchronous=NORMAL", NULL, 0, NULL, NULL);
        sup_db_begin(S.db);
        for (uint32_t i = 0; i < nkeys; i++) {
            randombytes_buf(kpk, sizeof kpk);
            ks_key_id(&S.crypto, kid, kpk);
            sup_dbv p[4] = {sup_dbv_blob(kid, 16), sup_dbv_blob(kpk, 32),
                           sup_dbv_int(KS_PRIV_OPERATOR), sup_dbv_int(i)};
            sup_db_exec(S.db, "INSERT INTO keys(key_id, public_key, privileges, holder_id,"
                             " valid_from, valid_until, state, scope, form_factor, key_format,"
                             " created_at, updated_at) VALUES (?,?,?,NULL,?,0,0,0,1,1,0,0)",
                       p, 4, NULL, NULL);
        }
        v0 = sup_pub_version(&S, 1, NULL);
        sup_pub_mark(&S, 0);
        sup_pub_mark(&S, 1);
        sup_db_commit(S.db);
        pthread_mutex_unlock(&S.lock);
        t1 = bench_now();
        printf("\ninserted %u keys in %.2f s (one transaction)\n", nkeys, t1 - t0);
        t0 = bench_now();
        sup_pub_kick(&S);
        v1 = wait_version(1, v0);
        t1 = bench_now();
        full_pub = (double)atomic_load(&S.metrics.publish_usec_last) / 1e6;
        printf("publish snapshot in full, %u keys (read, sort, hash, sign, store): %.2f s"
               "  (both scopes %.2f s)\n", nkeys, full_pub, t1 - t0);

        /* One change at a time: revoke a key, wait until the new version is
         * served. Repeated so the median is not one lucky round. */
        {
            double rep[REPEAT], pub[REPEAT], fl_copy[REPEAT], fl_hash[REPEAT],
                fl_sign[REPEAT], fl_commit[REPEAT], fl[REPEAT];
            uint64_t inc0, full0, inc1, full1, vprev = v1;
            sup_pub_stats(&S, &inc0, &full0);
            for (int r = 0; r < REPEAT; r++) {
                sup_dbv off = sup_dbv_int(r * 7919 % (int64_t)nkeys);
                pthread_mutex_lock(&S.lock);
                {
                    blob16 b = {kid, 0};
                    sup_db_exec(S.db, "SELECT key_id FROM keys ORDER BY id LIMIT 1 OFFSET ?",
                               &off, 1, blob16_cb, &b);
                }
                t0 = bench_now();
                {
                    sup_dbv p = sup_dbv_blob(kid, 16);
                    sup_db_begin(S.db);
                    sup_db_exec(S.db, "UPDATE keys SET state = 2 WHERE key_id = ?", &p, 1, NULL,
                               NULL);
                    sup_pub_mark(&S, 1);
                    sup_db_commit(S.db);
                }
                pthread_mutex_unlock(&S.lock);
                sup_pub_kick(&S);
                vprev = wait_version(1, vprev);
                t1 = bench_now();
                rep[r] = t1 - t0;
                pub[r] = (double)atomic_load(&S.metrics.publish_usec_last) / 1e6;
                floor_once(kid, &fl_copy[r], &fl_hash[r], &fl_sign[r], &fl_commit[r]);
                fl[r] = fl_copy[r] + fl_hash[r] + fl_sign[r] + fl_commit[r];
            }
            sup_pub_stats(&S, &inc1, &full1);
            printf("republish after one revocation, commit -> served (median of %d): %.1f ms"
                   "  (publish itself %.1f ms; %llu incremental, %llu full)\n", REPEAT,
                   median(rep) * 1e3, median(pub) * 1e3, (unsigned long long)(inc1 - inc0),
                   (unsigned long long)(full1 - full0));
            printf("  floor in this run: copy the %.0f MB image %.1f ms + rehash one bucket"
                   " path %.3f ms + one Ed25519 sign %.3f ms + one small commit %.2f ms"
                   " = %.1f ms\n", (double)(KS_SNAP_HEADER_SIZE + (size_t)nkeys * 128) / 1e6,
                   median(fl_copy) * 1e3, median(fl_hash) * 1e3, median(fl_sign) * 1e3,
                   median(fl_commit) * 1e3, median(fl) * 1e3);
            printf("  ratio to floor: %.2fx; speed-up over a full rebuild: %.0fx\n",
                   median(rep) / median(fl), full_pub / median(rep));
            {
                uint8_t *buf = NULL;
                size_t len = 0;
                uint64_t v, since = vprev - 1;
                t0 = bench_now();
                sup_pub_delta(&S, 1, since, &buf, &len, &v);
                t1 = bench_now();
                printf("delta %llu -> %llu (made at publish from the step):           %.3f ms,"
                       " %zu bytes\n", (unsigned long long)since, (unsigned long long)v,
                       (t1 - t0) * 1e3, len);
                free(buf);
                since = vprev - 4;
                t0 = bench_now();
                sup_pub_delta(&S, 1, since, &buf, &len, &v);
                t1 = bench_now();
                printf("delta %llu -> %llu (4 changes, made on demand from steps): %.3f ms,"
                       " %zu bytes\n", (unsigned long long)since, (unsigned long long)v,
                       (t1 - t0) * 1e3, len);
                free(buf);
            }
        }
    }
    sup_http_stop(&S);
    sup_pub_stop(&S);
    sup_close(&S);
    sodium_memzero(tok, sizeof tok);
    bench_sup_remove("bench_supervisor", dir);
    curl_global_cleanup();
    return 0;
}
