/*
 * ctl_http.c - requests to keysupd's device API with libcurl, signed with
 * the device key over a fresh server nonce (docs/api.md):
 *   "keysup-device-v1" 0x00 nonce(32) METHOD 0x00 PATH 0x00 BLAKE2b-256(body)
 */
#define _POSIX_C_SOURCE 200809L
#include "ctl_http.h"
#include "ctl_hbsess.h"
#include "ctl_tls.h"
#include "ks_hex.h"
#include "ks_httpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include <keysup/ks_answer.h>

/* Keeps the X-Keysup-Answer-* headers of the answer (ctl_answer.c). */
static void take_header(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0)
        return;
    line += nl;
    n -= nl;
    while (n && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    if (n < cap) {
        memcpy(out, line, n);
        out[n] = '\0';
    }
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    ctl_http_resp *out = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* a new response (after a 1xx or a redirect): only its own headers count */
        out->answer_key[0] = '\0';
        out->answer_sig[0] = '\0';
        out->answer_mac[0] = '\0';
    }
    take_header(ptr, n, "X-Keysup-Answer-Mac:", out->answer_mac, sizeof out->answer_mac);
    take_header(ptr, n, "X-Keysup-Answer-Key:", out->answer_key, sizeof out->answer_key);
    take_header(ptr, n, "X-Keysup-Answer-Signature:", out->answer_sig, sizeof out->answer_sig);
    take_header(ptr, n, "ETag:", out->etag, sizeof out->etag);
    {
        char v[64] = "";
        take_header(ptr, n, "Retry-After:", v, sizeof v);
        if (v[0])
            out->retry_after = (uint32_t)strtoul(v, NULL, 10);
        v[0] = '\0';
        take_header(ptr, n, "Content-Range:", v, sizeof v);
        if (strncmp(v, "bytes ", 6) == 0)
            out->range_start = strtoull(v + 6, NULL, 10);
    }
    return n;
}

/* A stop (SIGTERM) ends a hanging request within about a second instead of
 * its deadline, so the agent stops within systemd's TimeoutStopSec. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return __atomic_load_n(&((ctl_agent *)ud)->stop, __ATOMIC_RELAXED) ? 1 : 0;
}

void ctl_http_free(ctl_http_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/*
 * --supervisor may list several keysupd sharing one PostgreSQL database,
 * separated by commas (docs/operations.md): requests go to the one that
 * answered last; one that cannot be reached moves them on to the next.
 */
static size_t sup_count(const ctl_agent *a)
{
    size_t n = 1;
    for (const char *p = a->o.supervisor; *p; p++)
        n += *p == ',';
    return n;
}

static void sup_url(const ctl_agent *a, char *url, size_t n, const char *path)
{
    const char *p = a->o.supervisor, *e;
    for (size_t i = a->sup_index % sup_count(a); i > 0; i--)
        p = strchr(p, ',') + 1;
    e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    /* The API's URL (".../v1", or a trailing "/") names the same keysupd as
     * its base: taken as the base, not sent as /v1/v1/... (a 404). */
    for (;;) {
        if (len > 0 && p[len - 1] == '/')
            len--;
        else if (len >= 3 && strncmp(p + len - 3, "/v1", 3) == 0)
            len -= 3;
        else
            break;
    }
    snprintf(url, n, "%.*s%s", (int)len, p, path);
}

static int perform(ctl_agent *a, const char *method, const char *path, const char *body,
                   struct curl_slist *hdrs, int keep_partial, ctl_http_resp *out)
{
    char url[1024];
    ks_httpc_buf b;
    int rc = -1;
    /* One handle for the agent's life: curl keeps its connection open
     * between requests (HTTP keep-alive, one TLS handshake per connection
     * instead of per request: a fleet is otherwise bounded by handshakes).
     * reset drops the options of the last request, not the connection. */
    CURL *c = a->curl;
    if (c)
        curl_easy_reset(c);
    else if (!(c = a->curl = curl_easy_init())) {
        curl_slist_free_all(hdrs);
        return -1;
    }
    sup_url(a, url, sizeof url, path);
    /* Answers above CTL_HTTP_MAX abort the transfer. */
    ks_httpc_setup(c, method, url, &b, CTL_HTTP_MAX, NULL);
    /* Deadlines from the heartbeat (ctl_request_deadline): a hung
     * supervisor costs one missed heartbeat, not 30 s. A snapshot may be
     * large: it gets ten deadlines, and "no byte for a deadline". Not
     * unbounded: the download runs inside the heartbeat, and a link
     * throttled to a byte a second (tests/e2e/attack_drip_e2e.sh) held the
     * agent without heartbeats for as long as the throttling lasted. What
     * came is kept and resumed with Range on the next heartbeat. */
    long dl = (long)ctl_request_deadline(a);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, dl * 500L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, dl);
    if (a->hold_s && strncmp(path, "/v1/device/watch/", 17) == 0) { /* held (ctl_watch.c) */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, dl + (long)a->hold_s);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (dl + (long)a->hold_s) * 1000L);
    } else if (strncmp(path, "/v1/device/snapshot", 19) != 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, dl * 1000L);
    else
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, dl * CTL_SNAPSHOT_DEADLINES * 1000L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    if (body)
        ks_httpc_json_body(c, body, &hdrs);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    /* The only place the sync thread waits on the network: decisions run
     * meanwhile (ctl_thread.c). Everything used below is local; the pin
     * check reads and writes the agent, so it stays under the lock. */
    ctl_tls_prepare(a, c);
    ctl_unlock(a);
    CURLcode cc = a->io ? (CURLcode)a->io(a->io_ctx, c) : curl_easy_perform(c);
    ctl_lock(a);
    ctl_tls_done(a, c, cc);
    if (cc == CURLE_OK) {
        out->status = (int)ks_httpc_status(c);
        out->body = b.p;
        out->len = b.n;
        b.p = NULL;
        rc = 0;
    } else if (keep_partial && b.n) {
        /* cut mid-transfer: the bytes that came are worth a Range resume */
        out->status = (int)ks_httpc_status(c);
        out->body = b.p;
        out->len = b.n;
        out->cut = 1;
        b.p = NULL;
    }
    ks_httpc_buf_free(&b);
    /* the handle still points at these until the next reset: clear them */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        /* a failed transfer may leave a half-open connection: start afresh */
        curl_easy_cleanup(c);
        a->curl = NULL;
    }
    return rc;
}

static int http_one(ctl_agent *a, const char *method, const char *path, const char *body,
                    int sign, ctl_http_resp *out)
{
    return ctl_http_ex(a, method, path, body, sign, NULL, 0, out);
}

#define HB_PATH "/v1/device/heartbeat"

/* The nonce of a signed request. A heartbeat takes the one the last
 * heartbeat's answer carried when it is from this supervisor and not near
 * its expiry (*carried = 1; spent here whatever comes back); else one is
 * fetched. 0: nonce set; 1: keysupd shed the fetch (out has the status and
 * Retry-After); -1: unreachable or a bad answer. */
static int take_nonce(ctl_agent *a, const char *path, int may_carry, uint8_t nonce[32],
                      int *carried, ctl_http_resp *out)
{
    ctl_http_resp nr;
    const char *nh;
    int hb = strcmp(path, HB_PATH) == 0, have = hb && a->has_next_nonce;
    *carried = 0;
    if (hb)
        a->has_next_nonce = 0; /* single use: tried once at most */
    if (have && may_carry && !a->fetch_nonce && a->next_nonce_sup == a->sup_index &&
        ctl_mono_ms() < a->next_nonce_ms) {
        memcpy(nonce, a->next_nonce, 32);
        sodium_memzero(a->next_nonce, sizeof a->next_nonce);
        *carried = 1;
        return 0;
    }
    if (perform(a, "GET", "/v1/device/nonce", NULL, NULL, 0, &nr) != 0)
        return -1;
    if (nr.status == 503 || nr.status == 429) {
        /* shed (KSE-121): the caller sees the status and Retry-After */
        out->status = nr.status;
        out->retry_after = nr.retry_after ? nr.retry_after : 1;
        a->shed_retry_after = nr.retry_after; /* 0 without the header: not keysupd's */
        ctl_http_free(&nr);
        return 1;
    }
    json_t *nj = nr.status == 200 ? json_loadb((const char *)nr.body, nr.len, 0, NULL) : NULL;
    nh = nj ? json_string_value(json_object_get(nj, "nonce")) : NULL;
    int bad = ks_unhex(nonce, 32, nh) != 0;
    json_decref(nj);
    ctl_http_free(&nr);
    return bad ? -1 : 0;
}

/* The three device-authentication headers over nonce (docs/api.md). */
static int sign_headers(ctl_agent *a, const char *method, const char *path, const char *body,
                        const uint8_t nonce[32], struct curl_slist **h)
{
    uint8_t bh[KS_HASH_SIZE], sig[KS_SIG_SIZE];
    char nhex[65], shex[129];
    ks_iov iov = {body ? body : "", body ? strlen(body) : 0};
    a->crypto.hash(a->crypto.ctx, bh, &iov, 1);
    size_t ml = 17 + 32 + strlen(method) + 1 + strlen(path) + 1 + KS_HASH_SIZE;
    uint8_t *msg = malloc(ml), *p = msg;
    if (!msg)
        return -1;
    memcpy(p, "keysup-device-v1", 17);
    p += 17;
    memcpy(p, nonce, 32);
    p += 32;
    memcpy(p, method, strlen(method) + 1);
    p += strlen(method) + 1;
    memcpy(p, path, strlen(path) + 1);
    p += strlen(path) + 1;
    memcpy(p, bh, KS_HASH_SIZE);
    crypto_sign_detached(sig, NULL, msg, ml, a->device_sk);
    free(msg);
    ks_hex(nhex, nonce, 32);
    ks_hex(shex, sig, sizeof sig);
    if (ctl_http_header(h, "X-Keysup-Controller: %llu",
                        (unsigned long long)a->set.controller_id) != 0 ||
        ctl_http_header(h, "X-Keysup-Nonce: %s", nhex) != 0 ||
        ctl_http_header(h, "X-Keysup-Signature: %s", shex) != 0)
        return -1;
    return 0;
}

int ctl_http_header(struct curl_slist **h, const char *fmt, ...)
{
    char line[512];
    struct curl_slist *n;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof line)
        return -1;
    /* curl_slist_append leaves the list as it was when it fails. */
    if (!(n = curl_slist_append(*h, line)))
        return -1;
    *h = n;
    return 0;
}

void ctl_http_keep_nonce(ctl_agent *a, json_t *ans)
{
    json_t *ttl = json_object_get(ans, "nonce_ttl");
    a->has_next_nonce = 0;
    if (a->fetch_nonce || !json_is_integer(ttl) || json_integer_value(ttl) <= 0 ||
        ks_unhex(a->next_nonce, 32, json_string_value(json_object_get(ans, "next_nonce"))) != 0)
        return; /* an older keysupd: the next heartbeat fetches its nonce */
    /* Three quarters of its life: a heartbeat sent near the end would be
     * refused on arrival and cost a second round trip. */
    a->next_nonce_ms = ctl_mono_ms() + (uint64_t)json_integer_value(ttl) * 750u;
    a->next_nonce_sup = a->sup_index;
    a->has_next_nonce = 1;
}

int ctl_http_ex(ctl_agent *a, const char *method, const char *path, const char *body, int sign,
                const char *const *extra, int keep_partial, ctl_http_resp *out)
{
    uint8_t nonce[32], nonce_used[32] = {0};
    int carried = 0, may_carry = 1, mac = 0, may_mac = 1;
    uint64_t counter = 0;
    memset(out, 0, sizeof *out);
    a->shed_retry_after = 0;
    if (a->link_down)
        return -1; /* fault hook: the link is cut */
again:
    {
        struct curl_slist *h = NULL;
        /* The steady heartbeat: MAC'd in its session, no nonce at all. */
        mac = sign && may_mac && strcmp(path, HB_PATH) == 0 && ctl_hbsess_usable(a);
        if (mac) {
            if (ctl_hbsess_headers(a, method, path, body, &h, nonce_used, &counter) != 0) {
                curl_slist_free_all(h);
                return -1;
            }
        } else if (sign) {
            int r = take_nonce(a, path, may_carry, nonce, &carried, out);
            if (r != 0)
                return r > 0 ? 0 : -1;
            if (sign_headers(a, method, path, body, nonce, &h) != 0) {
                curl_slist_free_all(h);
                return -1;
            }
            /* The answer must bind a challenge of our own too: a fetched
             * nonce comes unsigned, and a nonce of an old request would let
             * someone on the path replay that request's answer
             * (ks_answer_challenge). The answer is checked against
             * nonce_used, not the nonce. */
            uint8_t chal[KS_ANSWER_CHALLENGE_SIZE];
            char chex[2 * KS_ANSWER_CHALLENGE_SIZE + 1];
            randombytes_buf(chal, sizeof chal);
            ks_answer_challenge(&a->crypto, nonce_used, nonce, chal);
            ks_hex(chex, chal, sizeof chal);
            if (ctl_http_header(&h, "X-Keysup-Challenge: %s", chex) != 0) {
                curl_slist_free_all(h);
                return -1;
            }
        }
        for (const char *const *x = extra; x && *x; x++)
            if (ctl_http_header(&h, "%s", *x) != 0) {
                curl_slist_free_all(h);
                return -1;
            }
        if (perform(a, method, path, body, h, keep_partial, out) != 0)
            return -1;
    }
    if (mac && out->status == 401) {
        /* keysupd does not hold the session (restarted, expired, another
         * instance: KSE-122), or refused it: signed once more, as before.
         * The next heartbeat's report offers a new session. */
        ctl_http_free(out);
        memset(out, 0, sizeof *out);
        ctl_hbsess_drop(a);
        a->hbs.fallbacks++;
        may_mac = 0;
        goto again;
    }
    if (carried && out->status == 401) {
        /* The carried nonce was refused: keysupd restarted (its nonces are
         * in memory), it expired on the way, or another instance answers.
         * Once more with a fetched one, as a heartbeat always did before. */
        ctl_http_free(out);
        memset(out, 0, sizeof *out);
        a->nonce_fallbacks++;
        may_carry = 0;
        goto again;
    }
    if (out->status == 503 || out->status == 429)
        a->shed_retry_after = out->retry_after; /* keysupd always sends Retry-After */
    if (sign) {
        out->signed_req = 1;
        memcpy(out->nonce, nonce_used, sizeof out->nonce);
        out->mac_req = mac;
        out->hbs_counter = counter;
    }
    return 0;
}

int ctl_http(ctl_agent *a, const char *method, const char *path, const char *body, int sign,
             ctl_http_resp *out)
{
    size_t n = sup_count(a);
    for (size_t i = 0; i < n; i++) {
        if (http_one(a, method, path, body, sign, out) == 0)
            return 0;
        if (a->link_down || __atomic_load_n(&a->stop, __ATOMIC_RELAXED))
            break;
        if (n > 1) {
            a->sup_index = (a->sup_index + 1) % n;
            fprintf(stderr, "keysup-controller: supervisor unreachable, trying the next of %zu\n",
                    n);
        }
    }
    return -1;
}

json_t *ctl_http_json(ctl_agent *a, const char *method, const char *path, json_t *body, int sign,
                      int *status)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    ctl_http_resp r;
    json_t *o = NULL;
    *status = 0;
    if (ctl_http(a, method, path, text, sign, &r) == 0) {
        *status = r.status;
        o = json_loadb((const char *)r.body, r.len, 0, NULL);
    }
    ctl_http_free(&r);
    free(text);
    return o;
}
