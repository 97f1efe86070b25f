/*
 * ctl_hbsess.c - the agent's side of the heartbeat session (ctl_hbsess.h).
 *
 * Why the agent cares: a MAC'd heartbeat is one request with no nonce to
 * fetch and no Ed25519 signature to make or verify; on a small controller
 * the signature and the answer's verify are most of a heartbeat's CPU.
 * Everything but the steady heartbeat stays signed (ctl_http.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "ctl_hbsess.h"
#include "ctl_http.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ks_hbmac.h"
#include "ks_hex.h"

/* Heartbeats without an offer after keysupd took none (an older keysupd,
 * or its table full): an offer costs the controller a key pair. */
#define SKIP_AFTER_DECLINE 16u

void ctl_hbsess_drop(ctl_agent *a)
{
    struct ctl_hbsess *s = &a->hbs;
    uint64_t opened = s->opened, used = s->used, fb = s->fallbacks;
    uint32_t skip = s->skip;
    sodium_memzero(s, sizeof *s);
    s->opened = opened;
    s->used = used;
    s->fallbacks = fb;
    s->skip = skip;
}

int ctl_hbsess_usable(const ctl_agent *a)
{
    return a->hbs.live && !a->fetch_nonce && a->hbs.sup == a->sup_index &&
           ctl_mono_ms() < a->hbs.until_ms && a->hbs.counter < UINT64_MAX - 1;
}

void ctl_hbsess_offer(ctl_agent *a, json_t *report)
{
    struct ctl_hbsess *s = &a->hbs;
    char h[2 * KS_HBS_PK + 1];
    if (!report || a->fetch_nonce || ctl_hbsess_usable(a))
        return;
    if (s->skip) {
        s->skip--;
        return;
    }
    if (s->live)
        ctl_hbsess_drop(a); /* expired or another supervisor's: a new one */
    crypto_kx_keypair(s->epk, s->esk);
    s->pending = 1;
    ks_hex(h, s->epk, sizeof s->epk);
    json_object_set_new(report, "hb_session_pk", json_string(h));
}

void ctl_hbsess_accept(ctl_agent *a, json_t *ans)
{
    struct ctl_hbsess *s = &a->hbs;
    json_t *o = json_object_get(ans, "hb_session"), *ttl = json_object_get(o, "ttl");
    uint8_t spk[KS_HBS_PK], sid[KS_HBS_SID];
    if (!s->pending)
        return;
    s->pending = 0;
    if (!ans)
        goto wipe; /* no verified answer: the next heartbeat offers again */
    if (!o) {
        s->skip = SKIP_AFTER_DECLINE; /* keysupd took no session */
        goto wipe;
    }
    if (ks_unhex(spk, sizeof spk, json_string_value(json_object_get(o, "pk"))) != 0 ||
        ks_unhex(sid, sizeof sid, json_string_value(json_object_get(o, "id"))) != 0 ||
        !json_is_integer(ttl) || json_integer_value(ttl) <= 0 ||
        ks_hbs_client_keys(s->c2s, s->s2c, s->sid, s->epk, s->esk, spk) != 0 ||
        sodium_memcmp(sid, s->sid, sizeof sid) != 0) {
        fprintf(stderr, "keysup-controller: the heartbeat answer's session is malformed; "
                        "heartbeats stay signed\n");
        ctl_hbsess_drop(a);
        s->skip = SKIP_AFTER_DECLINE;
        return;
    }
    s->live = 1;
    s->counter = 0;
    s->sup = a->sup_index;
    /* Three quarters of its life, like a carried nonce: a heartbeat sent
     * near the end would be refused and cost a second round trip. */
    s->until_ms = ctl_mono_ms() + (uint64_t)json_integer_value(ttl) * 750u;
    s->answer_ms = ctl_mono_ms();
    s->opened++;
wipe:
    sodium_memzero(s->esk, sizeof s->esk);
    sodium_memzero(s->epk, sizeof s->epk);
}

int ctl_hbsess_headers(ctl_agent *a, const char *method, const char *path, const char *body,
                       struct curl_slist **h, uint8_t chal[32], uint64_t *counter)
{
    struct ctl_hbsess *s = &a->hbs;
    uint8_t mac[KS_HBS_MAC];
    char sid[2 * sizeof s->sid + 1], mhex[2 * KS_HBS_MAC + 1], chex[65];
    uint64_t now = ctl_mono_ms(), elapsed = now > s->answer_ms ? now - s->answer_ms : 0;
    *counter = ++s->counter; /* never reused, whatever comes back */
    ks_hbs_req_mac(mac, s->c2s, s->sid, a->set.controller_id, *counter, elapsed, method, path,
                   (const uint8_t *)(body ? body : ""), body ? strlen(body) : 0);
    randombytes_buf(chal, 32);
    ks_hex(sid, s->sid, sizeof s->sid);
    ks_hex(mhex, mac, sizeof mac);
    ks_hex(chex, chal, 32);
    if (ctl_http_header(h, "X-Keysup-Controller: %llu",
                        (unsigned long long)a->set.controller_id) != 0 ||
        ctl_http_header(h, "X-Keysup-Session: %s", sid) != 0 ||
        ctl_http_header(h, "X-Keysup-Counter: %llu", (unsigned long long)*counter) != 0 ||
        ctl_http_header(h, "X-Keysup-Elapsed: %llu", (unsigned long long)elapsed) != 0 ||
        ctl_http_header(h, "X-Keysup-Mac: %s", mhex) != 0 ||
        ctl_http_header(h, "X-Keysup-Challenge: %s", chex) != 0)
        return -1;
    s->used++;
    return 0;
}

int ctl_hbsess_check(ctl_agent *a, const char *method, const char *path, const ctl_http_resp *r)
{
    struct ctl_hbsess *s = &a->hbs;
    uint8_t want[KS_HBS_MAC], got[KS_HBS_MAC];
    int ok;
    if (!s->live || ks_unhex(got, sizeof got, r->answer_mac) != 0) {
        ctl_hbsess_drop(a);
        return -1;
    }
    ks_hbs_ans_mac(want, s->s2c, s->sid, a->set.controller_id, r->hbs_counter, r->nonce,
                   (uint16_t)r->status, method, path, r->body, r->len);
    ok = ks_hbs_mac_eq(want, got);
    if (!ok)
        ctl_hbsess_drop(a);
    else
        s->answer_ms = ctl_mono_ms();
    return ok ? 0 : -1;
}
