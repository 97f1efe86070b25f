/*
 * api_hbsess.c - the heartbeat session on keysupd's HTTP path
 * (api_hbsess.h; docs/protocol.md, "Heartbeat session").
 *
 * Why: a signed heartbeat costs keysupd an Ed25519 verify (about 36 us on
 * this machine), an Ed25519 signature on the answer and its hashes: 1.6
 * verifies' worth of crypto per heartbeat, where the target of issue 13
 * (0.5 of the verify bound) allows 2 for everything. A session keeps the
 * Ed25519 work to the one exchange that opens it; the steady heartbeat is
 * two keyed BLAKE2b passes.
 */
#define _POSIX_C_SOURCE 200809L
#include "api_hbsess.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_hex.h"
#include "sup_devcache.h"

#define HB_URL "/v1/device/heartbeat"

static const char *hdr(sup_req *rq, const char *name)
{
    return rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name) : NULL;
}

int api_hbsess_is(sup_req *rq)
{
    return hdr(rq, "X-Keysup-Session") && !hdr(rq, "X-Keysup-Nonce");
}

/* As sup_http.c's dev_fail: a replay carried a valid MAC, so it is audited;
 * anything else is anonymous and sampled. */
static int fail(sup_req *rq, sup_resp *rs, const char *who, const char *why, int replay)
{
    atomic_fetch_add(&rq->s->metrics.auth_failures, 1);
    if (replay) {
        atomic_fetch_add(&rq->s->metrics.device_replays, 1);
        sup_audit(rq->s, 0, who, "device.replay", rq->url, "denied", "UNAUTHORIZED", why);
    } else {
        api_refusal(rq, 0, "device.auth_denied", rq->url, "UNAUTHORIZED", why);
    }
    api_error(rs, 401, "UNAUTHORIZED", "device authentication failed: %s", why);
    return -1;
}

/* A session keysupd does not hold (restart, expiry, another instance,
 * replaced, re-provisioned key): the agent opens a new one. Expected after
 * every restart, for the whole fleet at once, so no audit row and no
 * failure count: keysup_hbsess_unknown_total counts it. */
static int unknown(sup_resp *rs)
{
    api_error(rs, 401, "KSE-122", "no such heartbeat session here (expired, or keysupd restarted"
              " or is another instance): open one with a signed heartbeat");
    return -1;
}

/* The session table's clock: monotonic seconds. Its expiry and the delay
 * bound (docs/protocol.md, "Delay") compare times this keysupd took
 * itself, so the wall clock has no business there: stepped back (a bad NTP
 * answer, a hand-set date) it let a held heartbeat through that much later
 * and kept sessions alive that much longer; stepped forward more than
 * SUP_HBSESS_LAG, it made every session heartbeat of the fleet stale at
 * once, and every controller fell back to signing in the same second
 * (attack_hbclock_e2e). */
static uint64_t hbs_now(void)
{
    return sup_now_usec() / 1000000u;
}

static int parse_counter(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9' || strlen(s) > 20)
        return -1;
    *out = strtoull(s, &end, 10);
    return *end || *out == 0 ? -1 : 0;
}

int api_hbsess_auth(sup_req *rq, sup_resp *rs, int final)
{
    sup_ctx *s = rq->s;
    const char *cid = hdr(rq, "X-Keysup-Controller"), *hx = hdr(rq, "X-Keysup-Session");
    const char *hc = hdr(rq, "X-Keysup-Counter"), *hm = hdr(rq, "X-Keysup-Mac");
    const char *hch = hdr(rq, "X-Keysup-Challenge"), *hel = hdr(rq, "X-Keysup-Elapsed");
    uint8_t sid[KS_HBS_SID], mac[KS_HBS_MAC], chal[KS_HBS_CHAL], key_id[KS_KEYID_SIZE];
    uint64_t counter, elapsed = 0, now = hbs_now();
    sup_devinfo di;
    char who[48], *end;
    long long id;
    int r;

    if (!cid || !hx || !hc || !hm || !hch || !hel)
        return fail(rq, rs, "controller:?", "X-Keysup-Controller, X-Keysup-Session, "
                    "X-Keysup-Counter, X-Keysup-Elapsed, X-Keysup-Mac and X-Keysup-Challenge are "
                    "required with a session", 0);
    id = strtoll(cid, &end, 10);
    snprintf(who, sizeof who, "controller:%.20s", cid);
    if (*end || id <= 0 || ks_unhex(sid, sizeof sid, hx) || parse_counter(hc, &counter) ||
        ks_unhex(mac, sizeof mac, hm) || ks_unhex(chal, sizeof chal, hch) ||
        (strcmp(hel, "0") != 0 && parse_counter(hel, &elapsed)))
        return fail(rq, rs, who, "malformed session headers", 0);
    if (strcmp(rq->method, "POST") != 0 || strcmp(rq->url, HB_URL) != 0)
        return fail(rq, rs, who, "a heartbeat session authenticates heartbeats only; sign this "
                    "request", 0);
    /* Every time, so a revoked or disabled controller's session dies with
     * it: the cache forgets a controller before its revocation commits,
     * and in a cluster it reads the database (sup_devcache.h). */
    if (sup_devcache_get(s, id, &di) != 1)
        return fail(rq, rs, who, "unknown or not enrolled controller", 0);
    ks_key_id(&s->crypto, key_id, di.pk); /* a re-provisioned key never inherits a session */
    if (!final) {
        r = sup_hbsess_peek(s->hbsess, id, key_id, sid, counter, now);
        return r == SUP_HBS_UNKNOWN ? unknown(rs) : r == SUP_HBS_REPLAY ? 1 : 0;
    }
    r = sup_hbsess_check(s->hbsess, id, key_id, sid, counter, elapsed, now, rq->method, rq->url,
                         (const uint8_t *)(rq->body ? rq->body : ""), rq->body_len, mac);
    if (r == SUP_HBS_UNKNOWN)
        return unknown(rs);
    if (r == SUP_HBS_STALE) {
        /* genuine but old news: the controller sends it again, signed */
        api_error(rs, 401, "KSE-122", "the heartbeat was held on the way longer than %u s: send "
                  "it signed", SUP_HBSESS_LAG);
        return -1;
    }
    if (r == SUP_HBS_BADMAC)
        return fail(rq, rs, who, "the session MAC does not verify", 0);
    if (r == SUP_HBS_REPLAY)
        return fail(rq, rs, who, "session counter not above the last one taken (replay)", 1);
    rq->ctrl_id = id;
    rq->ctrl_scope = di.scope;
    rq->mac_answer = 1;
    memcpy(rq->hbs_sid, sid, sizeof rq->hbs_sid);
    rq->hbs_counter = counter;
    memcpy(rq->device_key_id, key_id, sizeof rq->device_key_id);
    snprintf(rq->actor, sizeof rq->actor, "%s", who);
    return 0;
}

void api_hbsess_answer_header(sup_ctx *s, const sup_req *rq, void *mhd_response, int status,
                              const uint8_t *body, size_t len)
{
    uint8_t chal[KS_HBS_CHAL], mac[KS_HBS_MAC];
    char mh[2 * KS_HBS_MAC + 1];
    const char *hch = rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                             "X-Keysup-Challenge") : NULL;
    if (!hch || ks_unhex(chal, sizeof chal, hch) != 0) /* checked at auth: cannot happen */
        return;
    if (sup_hbsess_answer(s->hbsess, rq->ctrl_id, rq->hbs_sid, rq->hbs_counter, chal,
                          (uint16_t)status, rq->method, rq->url, body, len, mac) != 0)
        return; /* replaced meanwhile: the controller refuses the answer and re-opens */
    ks_hex(mh, mac, sizeof mac);
    MHD_add_response_header(mhd_response, "X-Keysup-Answer-Mac", mh);
}

void api_hbsess_take_offer(sup_req *rq, json_t *report, api_hbsess_offer *o)
{
    uint8_t cpk[KS_HBS_PK], spk[KS_HBS_PK], sid[KS_HBS_SID];
    const char *h = json_string_value(json_object_get(report, "hb_session_pk"));
    memset(o, 0, sizeof *o);
    /* Only from a signed heartbeat: the device key's signature over the
     * body is what makes cpk the controller's own. */
    if (!h || !rq->sign_answer || rq->mac_answer || ks_unhex(cpk, sizeof cpk, h) != 0)
        return;
    if (sup_hbsess_open(rq->s->hbsess, rq->ctrl_id, rq->device_key_id, cpk, hbs_now(), spk,
                        sid) != 0)
        return; /* table full, or an unusable key: the controller keeps signing */
    ks_hex(o->id, sid, sizeof sid);
    ks_hex(o->pk, spk, sizeof spk);
    o->ttl = SUP_HBSESS_TTL;
    o->ok = 1;
}
