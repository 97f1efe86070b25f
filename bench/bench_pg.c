/*
 * bench_pg.c - keysupd on SQLite beside keysupd on PostgreSQL, same run:
 *   - raw single-row durable inserts per second of the engine (one
 *     connection, each INSERT its own committed transaction, through the
 *     same sup_db layer keysupd uses): the physical limit of a write;
 *   - enrolments per second (POST /v1/keys, generate, admin token, client
 *     threads on loopback) and signed device heartbeats per second (nonce +
 *     signed POST), each beside that engine's raw insert rate.
 * usage: bench_pg [postgresql://URL|-] [seconds=2] [threads=4]
 * Without a URL (or "-") only SQLite runs. bench/pg.sh starts a private
 * PostgreSQL server (fsync on) and passes its URL.
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
#include "sup_cluster.h"

static sup_ctx S;
static char base_url[64], auth_hdr[128];
static bench_dev dev = {base_url, NULL, {0}, 0};
static double run_seconds = 2;

static int one_enrol(CURL *c)
{
    char url[128];
    long code = 0;
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, auth_hdr);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    snprintf(url, sizeof url, "%s/v1/keys", base_url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"generate\":true,\"scope\":1}");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hl);
    return code == 201 ? 0 : -1;
}

static void *work(void *arg)
{
    bench_worker *w = arg; /* mode 1: signed heartbeats; 0: enrolments */
    char body[256];
    double end;
    CURL *c = bench_loop_open(body, run_seconds, &end);
    while (c && bench_now() < end) {
        if ((w->mode ? bench_heartbeat(c, &dev, body, 0) : one_enrol(c)) == 0)
            w->ok++;
        else
            w->errors++;
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* One connection, one durable transaction per row, for run_seconds. */
static double raw_inserts(void)
{
    uint8_t v[64];
    long n = 0;
    double t0, el;
    sup_dbv p = sup_dbv_blob(v, sizeof v);
    randombytes_buf(v, sizeof v);
    if (sup_db_exec(S.db, "CREATE TABLE bench_raw(id INTEGER PRIMARY KEY, v BLOB NOT NULL)",
                    NULL, 0, NULL, NULL))
        return 0;
    t0 = bench_now();
    do {
        v[0] = (uint8_t)n;
        if (sup_db_exec(S.db, "INSERT INTO bench_raw(v) VALUES (?)", &p, 1, NULL, NULL) == 0)
            n++;
        el = bench_now() - t0;
    } while (el < run_seconds);
    sup_db_exec(S.db, "DROP TABLE bench_raw", NULL, 0, NULL, NULL);
    return (double)n / el;
}

static int run_one(const char *url, int threads)
{
    char dir[] = "/tmp/ks_bench_pg_XXXXXX", tok[80], err[512];
    double raw, en, hb;
    long e1, e2;

    if (bench_sup_open(&S, dir, url, threads, tok, err, sizeof err)) {
        fprintf(stderr, "bench_pg: %s\n", err);
        return 1;
    }
    sup_log_set_level(KS_LOG_WARN);
    raw = raw_inserts();
    if (sup_cluster_start(&S, err, sizeof err) || sup_pub_start(&S) ||
        sup_http_start(&S, err, sizeof err)) {
        fprintf(stderr, "bench_pg: %s\n", err);
        return 1;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", S.port);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: Bearer %s", tok);
    bench_sup_controller(&S, &dev);
    e1 = e2 = 0;
    en = bench_load(work, 0, threads, &e1);
    hb = bench_load(work, 1, threads, &e2);
    if (en < 0 || hb < 0) {
        fprintf(stderr, "bench_pg: cannot start the client threads\n");
        return 1;
    }
    printf("%-10s raw inserts %7.0f /s | enrolments %7.0f /s (%.2f of raw, errors %ld) |"
           " heartbeats %7.0f /s (%.2f of raw, errors %ld)\n",
           url ? "postgresql" : "sqlite", raw, en, en / raw, e1, hb, hb / raw, e2);
    sup_http_stop(&S);
    sup_cluster_stop(&S);
    sup_pub_stop(&S);
    sup_cluster_free(&S);
    sup_close(&S);
    sodium_memzero(tok, sizeof tok);
    bench_sup_remove("bench_pg", dir);
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
    int threads = argc > 3 ? atoi(argv[3]) : 4;
    if (argc > 2)
        run_seconds = atof(argv[2]);
    if (threads < 1 || threads > 64 || sodium_init() < 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("keysupd on loopback, %d client threads, %.0f s per figure; raw = one connection,"
           " one committed INSERT per row\n", threads, run_seconds);
    if (run_one(NULL, threads))
        return 1;
    if (url && run_one(url, threads))
        return 1;
    if (!url)
        printf("(no PostgreSQL URL: bench/pg.sh starts a private server and passes one)\n");
    return 0;
}
