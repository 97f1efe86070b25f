/*
 * sup_webhook.c - incident webhook (see sup_webhook.h).
 *
 * DATA/webhook.conf, `key = value` lines, `#` comments:
 *   url = https://hooks.example/keysup     (http:// or https://; required)
 *   secret_file = /etc/keysup/webhook.secret  (first line: the HMAC key; required)
 *   retries = 5          (attempts after the first, 0..20)
 *   timeout = 10         (seconds per attempt, 1..120)
 *   backoff_max = 60     (longest wait between attempts, seconds, 1..3600)
 * Each attempt is signed afresh: X-Keysup-Timestamp: T and
 * X-Keysup-Signature: sha256=HEX(HMAC-SHA256(secret, "T." + body)), so a
 * receiver can refuse replays by the timestamp.
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_webhook.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "ks_hex.h"
#include "ks_kse.h"
#include "sup.h"

#define WH_QUEUE_MAX 1000u

typedef struct wh_item {
    char *body;
    char event[32];
    struct wh_item *next;
} wh_item;

struct sup_webhook {
    int enabled, running, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    wh_item *head, *tail;
    unsigned queued;
    char url[1024];
    uint8_t secret[256];
    size_t secret_len;
    unsigned retries, timeout, backoff_max;
};

static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;

/* A number in [lo, hi] for a webhook.conf key (the keysupd.conf rules). */
static int num(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
    uint64_t x;
    if (sup_config_uint(v, lo, hi, &x))
        return -1;
    *out = (unsigned)x;
    return 0;
}

static int read_secret(struct sup_webhook *w, const char *path)
{
    char line[sizeof w->secret + 2];
    FILE *f = fopen(path, "r");
    int rc = -1;
    if (!f)
        return -1;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        w->secret_len = strlen(line);
        if (w->secret_len >= 16 && w->secret_len <= sizeof w->secret) {
            memcpy(w->secret, line, w->secret_len);
            rc = 0;
        }
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    return rc;
}

/* Reads DATA/webhook.conf. 0: configured; 1: no file (webhook off); -1:
 * a bad file (logged, webhook off). */
static int load_conf(struct sup_webhook *w, const char *dir)
{
    char path[PATH_MAX + 16], line[1200], secret_file[PATH_MAX] = "";
    unsigned lineno = 0;
    FILE *f;

    w->retries = 5;
    w->timeout = 10;
    w->backoff_max = 60;
    snprintf(path, sizeof path, "%s/webhook.conf", dir);
    f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 1 : -1;
    while (fgets(line, sizeof line, f)) {
        char *k = sup_config_trim(line), *eq, *v;
        lineno++;
        if (!*k || *k == '#')
            continue;
        eq = strchr(k, '=');
        if (!eq)
            goto bad;
        *eq = '\0';
        v = sup_config_trim(eq + 1);
        k = sup_config_trim(k);
        if (strcmp(k, "url") == 0) {
            if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
                strlen(v) >= sizeof w->url)
                goto bad;
            snprintf(w->url, sizeof w->url, "%s", v);
        } else if (strcmp(k, "secret_file") == 0) {
            if (!*v || strlen(v) >= sizeof secret_file)
                goto bad;
            snprintf(secret_file, sizeof secret_file, "%s", v);
        } else if (strcmp(k, "retries") == 0) {
            if (num(v, 0, 20, &w->retries))
                goto bad;
        } else if (strcmp(k, "timeout") == 0) {
            if (num(v, 1, 120, &w->timeout))
                goto bad;
        } else if (strcmp(k, "backoff_max") == 0) {
            if (num(v, 1, 3600, &w->backoff_max))
                goto bad;
        } else {
            goto bad;
        }
    }
    fclose(f);
    if (!w->url[0] || !secret_file[0]) {
        sup_log(KS_LOG_ERROR, "webhook.config", "file=%s error=\"url and secret_file are required\"",
               path);
        return -1;
    }
    if (read_secret(w, secret_file) != 0) {
        sup_log(KS_LOG_ERROR, "webhook.config",
               "file=%s error=\"cannot read a secret of 16 to 256 bytes from %s\"", path,
               secret_file);
        return -1;
    }
    return 0;
bad:
    fclose(f);
    sup_log(KS_LOG_ERROR, "webhook.config", "file=%s line=%u error=\"bad or unknown setting\"",
           path, lineno);
    return -1;
}

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return sz * n;
}

/* One signed POST; the HTTP status (0 when no answer came). */
static long post_once(struct sup_webhook *w, const wh_item *it, char *err, size_t errlen)
{
    char ts[24], hdr_ts[64], hdr_sig[128], hdr_ev[64], hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    struct curl_slist *h = NULL;
    long status = 0;
    CURL *c;
    CURLcode cc;

    snprintf(ts, sizeof ts, "%llu", (unsigned long long)sup_now());
    crypto_auth_hmacsha256_init(&st, w->secret, w->secret_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)it->body, strlen(it->body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    ks_hex(hex, mac, sizeof mac);
    snprintf(hdr_ts, sizeof hdr_ts, "X-Keysup-Timestamp: %s", ts);
    snprintf(hdr_sig, sizeof hdr_sig, "X-Keysup-Signature: sha256=%s", hex);
    snprintf(hdr_ev, sizeof hdr_ev, "X-Keysup-Event: %s", it->event);
    c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "libcurl failed to initialise");
        return 0;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, hdr_ts);
    h = curl_slist_append(h, hdr_sig);
    h = curl_slist_append(h, hdr_ev);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)w->timeout);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "keysupd/" KS_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", curl_easy_strerror(cc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* Waits `secs` unless asked to stop; 1 when stopping. Called with mu held. */
static int wait_or_stop(struct sup_webhook *w, unsigned secs)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += secs;
    while (!w->stop)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
            break;
    return w->stop;
}

static void *sender(void *arg)
{
    struct sup_webhook *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        wh_item *it;
        while (!w->stop && !w->head)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        it = w->head;
        w->head = it->next;
        if (!w->head)
            w->tail = NULL;
        w->queued--;
        unsigned delay = 1, attempt;
        int delivered = 0;
        for (attempt = 0; attempt <= w->retries; attempt++) {
            char err[256] = "";
            long status;
            pthread_mutex_unlock(&w->mu); /* never hold the lock on the network */
            status = post_once(w, it, err, sizeof err);
            pthread_mutex_lock(&w->mu);
            if (status >= 200 && status < 300) {
                delivered = 1;
                sup_log(KS_LOG_INFO, "webhook.sent", "kind=%s attempt=%u status=%ld", it->event,
                       attempt + 1, status);
                break;
            }
            sup_log(KS_LOG_WARN, "webhook.retry", "kind=%s attempt=%u status=%ld error=\"%s\""
                   " next_in=%u", it->event, attempt + 1, status, err[0] ? err : "HTTP status",
                   attempt < w->retries ? delay : 0);
            if (attempt == w->retries || wait_or_stop(w, delay))
                break;
            delay = delay * 2 > w->backoff_max ? w->backoff_max : delay * 2;
        }
        if (!delivered)
            sup_log(KS_LOG_ERROR, "webhook.drop", "kind=%s attempts=%u", it->event,
                   attempt > w->retries ? w->retries + 1 : attempt + 1);
        free(it->body);
        free(it);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The webhook of s, started on first use; NULL when not configured. */
static struct sup_webhook *get(sup_ctx *s)
{
    struct sup_webhook *w;
    pthread_mutex_lock(&start_mu);
    w = s->webhook;
    if (!w && (w = calloc(1, sizeof *w)) != NULL) {
        s->webhook = w;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (load_conf(w, s->data_dir) == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
            w->enabled = 1;
            if (pthread_create(&w->th, NULL, sender, w) == 0) {
                w->running = 1;
                sup_log(KS_LOG_INFO, "webhook.start", "url=%s retries=%u", w->url, w->retries);
            } else {
                w->enabled = 0;
                sup_log(KS_LOG_ERROR, "webhook.start", "error=\"cannot start the sender thread\"");
            }
        }
    }
    pthread_mutex_unlock(&start_mu);
    return w && w->enabled ? w : NULL;
}

void sup_webhook_incident(sup_ctx *s, const char *event, int64_t incident, int64_t controller,
                         int code)
{
    struct sup_webhook *w = get(s);
    const ks_kse *k;
    char kse[16], iso[32];
    time_t now;
    struct tm tm;
    json_t *o;
    wh_item *it;

    if (!w)
        return;
    k = ks_kse_find(code);
    now = (time_t)sup_now();
    gmtime_r(&now, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(kse, sizeof kse, "KSE-%03d", code);
    o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:I,s:s}", "event", event, "incident",
                  (json_int_t)incident, "controller", (json_int_t)controller, "code", kse,
                  "symbol", k ? k->symbol : "?", "title", k ? k->title : "?", "at",
                  (json_int_t)now, "at_utc", iso);
    it = calloc(1, sizeof *it);
    if (!o || !it || !(it->body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
        json_decref(o);
        free(it);
        sup_log(KS_LOG_ERROR, "webhook.drop", "kind=%s error=\"out of memory\"", event);
        return;
    }
    json_decref(o);
    snprintf(it->event, sizeof it->event, "%s", event);
    pthread_mutex_lock(&w->mu);
    if (w->queued >= WH_QUEUE_MAX) {
        pthread_mutex_unlock(&w->mu);
        sup_log(KS_LOG_ERROR, "webhook.drop", "kind=%s error=\"queue full (%u)\"", event,
               WH_QUEUE_MAX);
        free(it->body);
        free(it);
        return;
    }
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void sup_webhook_stop(sup_ctx *s)
{
    struct sup_webhook *w = s->webhook;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->running)
        pthread_join(w->th, NULL);
    if (w->queued)
        sup_log(KS_LOG_WARN, "webhook.drop", "events=%u reason=stopping", w->queued);
    while (w->head) {
        wh_item *n = w->head->next;
        free(w->head->body);
        free(w->head);
        w->head = n;
    }
    if (w->enabled)
        curl_global_cleanup();
    sodium_memzero(w->secret, sizeof w->secret);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    s->webhook = NULL;
}
