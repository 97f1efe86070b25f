/*
 * bench_import.c - bulk key import (issue 13 item 3), in process:
 *   1. the limit: the same N rows inserted raw into a fresh registry's keys
 *      table (same schema, indexes and change triggers, same sync setting
 *      and page cache as the import), one prepared INSERT in one
 *      transaction, values pre-encoded: no text to parse, nothing validated;
 *   2. the real path: the same rows as a CSV file POSTed to a running
 *      keysupd (POST /v1/keys:batch: parse, validate, hash, check the
 *      registry, insert, one transaction), then the time until every scope
 *      it touched is published;
 *   3. the same file again (idempotent: every row unchanged), and the
 *      export of all of them.
 * The figure is import rate / raw insert rate (goal >= 0.5).
 * usage: bench_import [keys=1000000] [scopes=10]
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <curl/curl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include <time.h>

#include "bench_util.h"
#include "ks_hex.h"
#include "sup_import.h"

typedef struct row {
    uint8_t pk[32], id[16];
    char label[16];
    uint32_t scope;
} row;

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

/* The registries are hundreds of MB at a million keys: not left in /tmp. */
static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int cmp_row(const void *a, const void *b)
{
    return memcmp(((const row *)a)->id, ((const row *)b)->id, 16);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    char *b = ud;
    size_t add = s * n, have = strlen(b), take = add < 511 - have ? add : 511 - have;
    memcpy(b + have, p, take);
    b[have + take] = 0;
    return add;
}

static long post(const char *url, const char *tok, const char *body, size_t len, char *ans)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char auth[128];
    long code = 0;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: text/csv");
    h = curl_slist_append(h, "Expect:");
    ans[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ans);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return code;
}

static int open_registry(sup_ctx *s, char *dir, char *tok)
{
    char err[256];
    uint8_t pk[32];
    if (!mkdtemp(dir) || sup_init(dir, NULL, 0, 1, tok, pk, err, sizeof err) ||
        sup_open(s, dir, NULL, NULL, 0, err, sizeof err)) {
        fprintf(stderr, "bench_import: %s\n", err);
        return -1;
    }
    return 0;
}

/* The limit: raw prepared inserts of the pre-encoded rows. */
static double raw_insert(sup_ctx *s, const row *r, uint32_t n)
{
    sqlite3 *h = sup_db_sqlite_handle(s->db);
    sqlite3_stmt *st = NULL;
    double t0 = bench_now();
    sup_import_cache(h, -262144); /* the page cache the import uses */
    sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    sqlite3_prepare_v2(h, "INSERT INTO keys(key_id, public_key, holder_id, label, privileges,"
                          " valid_from, valid_until, state, scope, form_factor, key_format,"
                          " created_at, updated_at) VALUES (?,?,NULL,?,3,0,0,0,?,1,1,1,1)",
                       -1, &st, NULL);
    for (uint32_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, r[i].id, 16, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, r[i].pk, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r[i].label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r[i].scope);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "bench_import: raw insert: %s\n", sqlite3_errmsg(h));
            break;
        }
    }
    sqlite3_finalize(st);
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    return bench_now() - t0;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000000;
    uint32_t scopes = argc > 2 ? (uint32_t)atoi(argv[2]) : 10;
    char dir_raw[] = "/tmp/ks_bench_imp_raw_XXXXXX", dir[] = "/tmp/ks_bench_imp_XXXXXX";
    char dir_raw2[] = "/tmp/ks_bench_imp_raws_XXXXXX";
    char tok[80], tok2[80], tok3[80], err[256], url[128], ans[512];
    static sup_ctx R, R2, S;
    row *r = calloc(n, sizeof *r);
    char *csv = malloc((size_t)n * 128 + 128), *p;
    double t_raw, t_raw2, t0, t_imp, t_pub, t_again, t_exp;
    uint64_t before[64] = {0};
    long code;

    if (!r || !csv || sodium_init() < 0 || scopes == 0 || scopes > 64)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (open_registry(&R, dir_raw, tok2) || open_registry(&R2, dir_raw2, tok3) ||
        open_registry(&S, dir, tok))
        return 1;
    sup_log_set_level(KS_LOG_WARN);
    p = csv + sprintf(csv, "public_key,label,privileges,scope\n");
    for (uint32_t i = 0; i < n; i++) {
        char hex[65];
        randombytes_buf(r[i].pk, 32);
        ks_key_id(&S.crypto, r[i].id, r[i].pk);
        snprintf(r[i].label, sizeof r[i].label, "k%u", i);
        r[i].scope = 1 + i % scopes;
        ks_hex(hex, r[i].pk, 32);
        p += sprintf(p, "%s,%s,OPERATOR|SUPERVISOR,%u\n", hex, r[i].label, r[i].scope);
    }
    printf("bulk import of %u keys in %u scopes (%.1f MB CSV), sync=%s\n", n, scopes,
           (double)(p - csv) / 1e6, S.cfg.sync_full ? "full" : "normal");

    t_raw = raw_insert(&R, r, n);
    printf("raw SQLite insert (prepared, 1 txn):    %7.2f s  %9.0f keys/s  (file order)\n", t_raw,
           n / t_raw);
    {
        /* The import inserts in key id order (its index then grows at the
         * end instead of at random): the raw insert in that order too is
         * the fairer limit. */
        row *sorted = malloc((size_t)n * sizeof *sorted);
        if (!sorted)
            return 1;
        memcpy(sorted, r, (size_t)n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_row);
        t_raw2 = raw_insert(&R2, sorted, n);
        free(sorted);
    }
    printf("raw SQLite insert, key id order:        %7.2f s  %9.0f keys/s  (the limit)\n", t_raw2,
           n / t_raw2);
    if (t_raw2 < t_raw)
        t_raw = t_raw2;

    snprintf(S.cfg.listen, sizeof S.cfg.listen, "127.0.0.1:0");
    if (sup_pub_start(&S) || sup_http_start(&S, err, sizeof err)) {
        fprintf(stderr, "bench_import: %s\n", err);
        return 1;
    }
    while (!sup_pub_version(&S, 1, NULL)) /* the empty registry's first publish */
        nap_ms(1);
    for (uint32_t sc = 1; sc <= scopes; sc++)
        before[sc] = sup_pub_version(&S, sc, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/keys:batch", S.port);
    t0 = bench_now();
    code = post(url, tok, csv, (size_t)(p - csv), ans);
    t_imp = bench_now() - t0;
    if (code != 200) {
        fprintf(stderr, "bench_import: import answered %ld: %s\n", code, ans);
        return 1;
    }
    for (uint32_t sc = 1; sc <= scopes; sc++)
        while (sup_pub_version(&S, sc, NULL) <= before[sc])
            nap_ms(1);
    t_pub = bench_now() - t0 - t_imp;
    printf("POST /v1/keys:batch (parse, validate,   %7.2f s  %9.0f keys/s  ratio to the limit %.2f\n"
           "  check, insert, 1 txn)\n", t_imp, n / t_imp, t_raw / t_imp);
    printf("then all %u scopes published:            %7.2f s  (import + publish %.2f s)\n",
           scopes, t_pub, t_imp + t_pub);
    t0 = bench_now();
    code = post(url, tok, csv, (size_t)(p - csv), ans);
    t_again = bench_now() - t0;
    printf("the same file again (all unchanged):    %7.2f s  %9.0f keys/s  (%ld %.80s)\n", t_again,
           n / t_again, code, ans);
    {
        char *out = NULL;
        size_t len = 0;
        t0 = bench_now();
        pthread_mutex_lock(&S.lock);
        int rc = sup_export_keys(&S, 0, &out, &len);
        pthread_mutex_unlock(&S.lock);
        t_exp = bench_now() - t0;
        printf("export (CSV, in process):               %7.2f s  %9.0f keys/s  %.1f MB%s\n", t_exp,
               n / t_exp, (double)len / 1e6, rc ? " FAILED" : "");
        free(out);
    }
    sup_http_stop(&S);
    sup_pub_stop(&S);
    sup_close(&S);
    sup_close(&R);
    sup_close(&R2);
    rm_tree(dir);
    rm_tree(dir_raw);
    rm_tree(dir_raw2);
    free(csv);
    free(r);
    return 0;
}
