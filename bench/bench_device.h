/*
 * bench_device.h - what the in-process keysupd benchmarks (bench_supervisor,
 * bench_tls, bench_pg) share: a data directory opened with the per-address
 * limits lifted, one registered bench controller, signed device requests
 * and heartbeats over a caller's libcurl handle, and the opening of a
 * client thread's rate loop.
 *
 * tests/sup_devreq.c signs on its own on purpose: the API test must not
 * trust the signer it checks the daemon against. The benchmarks only need
 * requests keysupd accepts, so they share this one.
 */
#ifndef KEYSUP_BENCH_DEVICE_H
#define KEYSUP_BENCH_DEVICE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <pthread.h>
#include <keysup/keysup.h>
#include <sodium.h>

#include "bench_util.h"
#include "ks_hex.h"
#include "sup.h"

/*
 * Fetches a nonce with c (its WRITEFUNCTION must append to resp, a buffer
 * of 256 bytes) and returns the headers of the signed request METHOD PATH
 * with body (docs/api.md: "keysup-device-v1" 0x00 nonce METHOD 0x00 PATH
 * 0x00 H(body), signed with the device key), "Expect:" included; NULL on
 * failure. The caller frees them with curl_slist_free_all.
 */
static inline struct curl_slist *bench_device_headers(CURL *c, const char *base_url,
                                                      const ks_crypto *cr,
                                                      const uint8_t dev_sk[64], int64_t ctrl_id,
                                                      const char *method, const char *path,
                                                      const char *body, char *resp)
{
    char url[128], h[3][200], sigh[129], nh[65];
    uint8_t nonce[32], bh[32], sig[64], msg[512];
    struct curl_slist *hl = NULL;
    ks_iov iov = {body, strlen(body)};
    size_t ml = strlen(method) + 1, pl = strlen(path) + 1, o = 0;
    const char *at;

    if (17 + 32 + ml + pl + 32 > sizeof msg)
        return NULL;
    snprintf(url, sizeof url, "%s/v1/device/nonce", base_url);
    resp[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    if (curl_easy_perform(c) != CURLE_OK || !(at = strstr(resp, "\"nonce\":\"")))
        return NULL;
    memcpy(nh, at + 9, 64);
    nh[64] = 0;
    if (ks_unhex(nonce, 32, nh))
        return NULL;
    cr->hash(cr->ctx, bh, &iov, 1);
    memcpy(msg, "keysup-device-v1", 17); o = 17;
    memcpy(msg + o, nonce, 32); o += 32;
    memcpy(msg + o, method, ml); o += ml;
    memcpy(msg + o, path, pl); o += pl;
    memcpy(msg + o, bh, 32); o += 32;
    crypto_sign_detached(sig, NULL, msg, o, dev_sk);
    ks_hex(sigh, sig, 64);
    snprintf(h[0], sizeof h[0], "X-Keysup-Controller: %lld", (long long)ctrl_id);
    snprintf(h[1], sizeof h[1], "X-Keysup-Nonce: %s", nh);
    snprintf(h[2], sizeof h[2], "X-Keysup-Signature: %s", sigh);
    for (int i = 0; i < 3; i++)
        hl = curl_slist_append(hl, h[i]);
    return curl_slist_append(hl, "Expect:");
}

/* libcurl write callback: appends to ud (a buffer of 256 bytes), or drops
 * the data when ud is NULL. */
static inline size_t bench_sink(char *p, size_t s, size_t n, void *ud)
{
    size_t add = s * n;
    char *b = ud;
    if (b) {
        size_t have = strlen(b), take = add < 255 - have ? add : 255 - have;
        memcpy(b + have, p, take);
        b[have + take] = 0;
    }
    return add;
}

/* Sets *ud when the answer carries the supervisor's signature
 * (docs/formats.md). */
static inline size_t bench_on_sig_header(char *p, size_t s, size_t n, void *ud)
{
    int *signed_answer = ud;
    if (s * n > 26 && strncasecmp(p, "X-Keysup-Answer-Signature:", 26) == 0)
        *signed_answer = 1;
    return s * n;
}

/* The device the benchmarks speak as: its key and its controller row. */
typedef struct bench_dev {
    const char *base_url;
    const ks_crypto *cr;
    uint8_t sk[64];
    int64_t ctrl_id;
} bench_dev;

/*
 * One heartbeat as a controller sends it (nonce GET + signed POST), on c
 * (WRITEFUNCTION bench_sink). 0 on 200, and, when need_signed, only if the
 * answer was signed too; -1 otherwise.
 */
static inline int bench_heartbeat(CURL *c, const bench_dev *d, const char *body,
                                  int need_signed)
{
    int signed_answer = 0;
    char resp[256] = "", url[128];
    const char *path = "/v1/device/heartbeat";
    long code = 0;
    struct curl_slist *hl =
        bench_device_headers(c, d->base_url, d->cr, d->sk, d->ctrl_id, "POST", path, body, resp);

    if (!hl)
        return -1;
    snprintf(url, sizeof url, "%s%s", d->base_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    if (need_signed) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, bench_on_sig_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &signed_answer);
    }
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (need_signed) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, NULL);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    }
    curl_slist_free_all(hl);
    return code == 200 && (!need_signed || signed_answer) ? 0 : -1;
}

/*
 * The opening of a client thread's rate loop: a handle that drops answers,
 * the heartbeat body of now into body (256 bytes), and the loop's end time
 * (seconds from now) in *end. NULL when libcurl cannot make a handle.
 */
static inline CURL *bench_loop_open(char body[256], double seconds, double *end)
{
    double now = bench_now();
    CURL *c = curl_easy_init();
    snprintf(body, 256, "{\"time\":%lld,\"applied_version\":1,\"lockout\":false}",
             (long long)time(NULL));
    *end = now + seconds;
    if (c)
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_sink);
    return c;
}

/* One load-generating thread: what it sends (mode, the benchmark's own
 * meaning) and what came of it. */
typedef struct bench_worker {
    pthread_t th;
    int mode;
    long ok, errors;
} bench_worker;

/*
 * Runs fn on `threads` workers, each handed its bench_worker with mode set,
 * and waits for them all: the requests that succeeded per second over the
 * whole run, with the failures added to *errors. -1 when a thread cannot
 * be started (the ones that were are joined first).
 */
static inline double bench_load(void *(*fn)(void *), int mode, int threads, long *errors)
{
    bench_worker *w = calloc(threads > 0 ? (size_t)threads : 1, sizeof *w);
    long n = 0;
    int started = 0;
    double t0 = bench_now(), rate;
    if (!w)
        return -1;
    for (; started < threads; started++) {
        w[started].mode = mode;
        if (pthread_create(&w[started].th, NULL, fn, &w[started]) != 0)
            break;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].th, NULL);
        n += w[i].ok;
        *errors += w[i].errors;
    }
    rate = started == threads ? (double)n / (bench_now() - t0) : -1;
    free(w);
    return rate;
}

/*
 * A fresh data directory (dir: a mkdtemp template, rewritten) on SQLite or,
 * with db_url, PostgreSQL, opened into S, listening on 127.0.0.1:0 with
 * `threads` HTTP threads. Every benchmark client is 127.0.0.1, so the
 * per-address nonce and enrolment limits (docs/supervisor.md, "Limits")
 * are lifted: they would otherwise be what is measured. tok gets the admin
 * token. 0, or -1 with err set.
 */
static inline int bench_sup_open(sup_ctx *S, char *dir, const char *db_url, int threads,
                                 char tok[80], char *err, size_t errlen)
{
    uint8_t pk[32];
    memset(S, 0, sizeof *S);
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "mkdtemp %s failed", dir);
        return -1;
    }
    if (sup_init_db(dir, db_url, NULL, 0, 1, tok, pk, err, errlen) ||
        sup_open(S, dir, NULL, NULL, 0, err, errlen))
        return -1;
    snprintf(S->cfg.listen, sizeof S->cfg.listen, "127.0.0.1:0");
    S->cfg.threads = (uint32_t)threads;
    S->cfg.nonce_rate = S->cfg.nonce_burst = 1000000;
    S->cfg.enroll_per_minute = 1000000;
    return 0;
}

/* Registers controller 'bench' in scope 1 with a new device key: fills
 * d->sk and d->ctrl_id. */
static inline void bench_sup_controller(sup_ctx *S, bench_dev *d)
{
    uint8_t dpk[32];
    sup_dbv p = sup_dbv_blob(dpk, 32);
    crypto_sign_keypair(dpk, d->sk);
    d->cr = &S->crypto;
    pthread_mutex_lock(&S->lock);
    sup_db_exec(S->db, "INSERT INTO controllers(name, scope, min_key_format, device_pk,"
                       " created_at) VALUES ('bench', 1, 1, ?, 0)", &p, 1, NULL, NULL);
    d->ctrl_id = sup_db_last_id(S->db);
    pthread_mutex_unlock(&S->lock);
}

/* Removes the benchmark's data directory; reports, does not fail. */
static inline void bench_sup_remove(const char *who, const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: cannot remove %s\n", who, dir);
}

#endif
