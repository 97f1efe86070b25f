/*
 * ks_auth.c - the engine's entry points: start-up, the challenge, the
 * decision on a key's response, the pending transaction. The gates every
 * grant passes (licence, seal switch, pending transaction) are
 * ks_auth_gates.c; the licence is ks_auth_licence.c.
 *
 * The decision order is a contract (docs/auth.md, and the KSE diagnosis
 * relies on it): cheap refusals that need no key first (malformed answer,
 * lockout), then what the credential record says, then the clock, then the
 * expensive signature, then the counter, then privileges and gates. A
 * refusal names the first check that failed, nothing later.
 */
#include <string.h>

#include "ks_auth_int.h"

void ks_auth_cfg_default(ks_auth_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->scope = KS_SCOPE_ALL;
    cfg->min_key_format = 1;
    cfg->deny = 3;
    cfg->fail_interval = 900;
    cfg->unlock_time = 600;
    cfg->max_backoff = 86400;
    cfg->clock_tolerance = 300;
    cfg->validity_skew = 60;
    cfg->challenge_ttl = 30;
    cfg->session_max = 900;
    cfg->two_man_window = 120;
}

int ks_auth_init(ks_auth *a, const ks_auth_cfg *cfg)
{
    int err;

    if (!cfg->crypto || !cfg->crypto->hash || !cfg->crypto->verify || !cfg->store ||
        !cfg->store->mounted || !cfg->hal.rtc || !cfg->hal.rng || !cfg->sessions ||
        !cfg->session_cap || !cfg->pending || !cfg->pending_cap || cfg->deny == 0 ||
        cfg->fail_interval == 0 || cfg->challenge_ttl == 0 || cfg->session_max == 0 ||
        cfg->validity_skew > cfg->clock_tolerance ||
        (cfg->unlock_time && cfg->max_backoff < cfg->unlock_time))
        return KS_E_INVAL;
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    memset(cfg->sessions, 0, sizeof *cfg->sessions * cfg->session_cap);
    memset(cfg->pending, 0, sizeof *cfg->pending * cfg->pending_cap);
    if ((err = ks__auth_state_load(a)) != 0)
        return err;
    if ((err = ks__auth_time_load(a)) != 0)
        return err;
    if ((err = ks__auth_audit_load(a)) != 0)
        return err;
    a->ready = 1;
    return KS_OK;
}

int ks_auth_txn_pending(const ks_auth *a)
{
    return a->pending_action != 0;
}

int ks_auth_txn_done(ks_auth *a)
{
    ks_auth_ev ev;
    uint64_t now;
    uint16_t act = a->pending_action;
    int err;

    if (!act)
        return KS_OK;
    a->pending_action = 0;
    a->pending_since = 0;
    if ((err = ks__auth_state_save(a)) != 0) {
        a->pending_action = act;
        return err;
    }
    (void)ks_auth_now(a, &now);
    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_TXN_DONE;
    ev.action = act;
    ev.time = now;
    return ks__auth_audit(a, &ev, NULL);
}

/* ----- challenge ----- */

static ks_auth_pending *pending_find(ks_auth *a, const uint8_t reader[KS_READER_ID_SIZE])
{
    for (uint32_t i = 0; i < a->cfg.pending_cap; i++)
        if (a->cfg.pending[i].used &&
            memcmp(a->cfg.pending[i].reader, reader, KS_READER_ID_SIZE) == 0)
            return &a->cfg.pending[i];
    return NULL;
}

static ks_auth_pending *pending_slot(ks_auth *a, const uint8_t reader[KS_READER_ID_SIZE])
{
    ks_auth_pending *p = pending_find(a, reader), *old = NULL;
    if (p)
        return p;
    for (uint32_t i = 0; i < a->cfg.pending_cap; i++) {
        p = &a->cfg.pending[i];
        if (!p->used)
            return p;
        if (!old || p->issued_at < old->issued_at)
            old = p;
    }
    /* Full: the oldest reader's challenge gives way (it fails KSE-205). */
    memset(old, 0, sizeof *old);
    return old;
}

int ks_auth_challenge(ks_auth *a, const uint8_t reader[KS_READER_ID_SIZE], uint16_t action,
                      uint8_t challenge[KS_CHALLENGE_SIZE])
{
    const ks_action_def *def = ks_action_find(action);
    uint8_t nonce[KS_NONCE_SIZE];
    ks_auth_pending *p;
    uint64_t now;
    int err;

    if (!a->ready || !def)
        return KS_E_INVAL;
    (void)ks_auth_now(a, &now); /* a bad clock refuses at the decision */
    if ((err = ks__auth_locked(a, KS_COUNTER_READER, reader, now)) != 0) {
        ks_auth_ev ev;
        memset(&ev, 0, sizeof ev);
        ev.event = KS_EV_DECISION;
        ev.action = action;
        ev.err = err;
        ev.time = now;
        ev.reader = reader;
        (void)ks__auth_audit(a, &ev, NULL);
        return err;
    }
    if (a->chal_ctr >= a->chal_reserved) {
        a->chal_reserved = a->chal_ctr + KS_AUTH_CHAL_BLOCK;
        if ((err = ks__auth_state_save(a)) != 0) {
            a->chal_reserved = a->chal_ctr;
            return err;
        }
    }
    if (a->cfg.hal.rng(a->cfg.hal.ctx, nonce, sizeof nonce) != 0)
        return KS_E_CRYPTO;
    a->chal_ctr++;
    p = pending_slot(a, reader);
    if (p->used && p->has_first &&
        (p->action != action || now < p->first_at || now - p->first_at > a->cfg.two_man_window))
        p->has_first = 0;
    p->used = 1;
    memcpy(p->reader, reader, KS_READER_ID_SIZE);
    p->action = action;
    p->issued_at = now;
    ks__challenge_derive(a->cfg.crypto, p->challenge, a->cfg.controller_id, reader, action, now,
                         a->chal_ctr, nonce);
    p->has_challenge = 1;
    memcpy(challenge, p->challenge, KS_CHALLENGE_SIZE);
    ks_wipe(nonce, sizeof nonce);
    return KS_OK;
}

/* ----- the decision ----- */

/* Refusals that look like an attempt on the reader count towards lockout;
 * administrative states (expired, old format, other scope) and device
 * states (clock, seal, pending, licence, store) do not. */
static const char what_scope[] = "auth.scope";

static int counts_as_failure(int err, const char *what)
{
    switch (err) {
    case KS_E_KEY_UNKNOWN:
        return what != what_scope;
    case KS_E_KEY_REVOKED:
    case KS_E_SIGNATURE_INVALID:
    case KS_E_CLONE_SUSPECTED:
    case KS_E_NOT_SUPERVISOR:
        return 1;
    default:
        return 0;
    }
}

typedef struct decision {
    ks_auth *a;
    const uint8_t *reader;
    const uint8_t *key_id;    /* NULL until the response decodes */
    int key_known;
    uint16_t action;
    uint64_t now;
    uint64_t counter;
    ks_auth_result *res;
} decision;

static int refuse(decision *dc, int err, const char *what)
{
    ks_auth *a = dc->a;
    ks_auth_ev ev;
    int lerr = KS_OK;

    if (counts_as_failure(err, what)) {
        lerr = ks__auth_fail(a, KS_COUNTER_READER, dc->reader, dc->now, dc->action);
        if (dc->key_known && lerr == KS_OK)
            lerr = ks__auth_fail(a, KS_COUNTER_KEY, dc->key_id, dc->now, dc->action);
    }
    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_DECISION;
    ev.action = dc->action;
    ev.err = err;
    ev.time = dc->now;
    ev.key_id = dc->key_id;
    ev.reader = dc->reader;
    ev.detail = dc->counter;
    (void)ks__auth_audit(a, &ev, &dc->res->audit_seq);
    (void)lerr; /* the refusal stands; a full table fails closed at the next lock check */
    dc->res->err = err;
    dc->res->what = what;
    return err;
}

int ks_auth_respond(ks_auth *a, const uint8_t reader[KS_READER_ID_SIZE], const uint8_t *resp,
                    size_t len, unsigned flags, ks_auth_result *res)
{
    uint8_t chal[KS_CHALLENGE_SIZE], recbuf[KS_RECORD_SIZE];
    const ks_action_def *def = NULL;
    ks_auth_result tmp;
    ks_auth_pending *p;
    ks_response r;
    ks_record *rec;
    ks_auth_ev ev;
    decision dc;
    uint64_t issued = 0, seen;
    int clock_err, err, had = 0;

    if (!res)
        res = &tmp;
    memset(res, 0, sizeof *res);
    if (!a->ready)
        return res->err = KS_E_INVAL;
    rec = &res->record;
    memset(&dc, 0, sizeof dc);
    dc.a = a;
    dc.reader = reader;
    dc.res = res;
    clock_err = ks_auth_now(a, &dc.now);
    res->time = dc.now;

    /* The challenge is consumed whatever happens next: one answer each. */
    p = pending_find(a, reader);
    if (p) {
        dc.action = p->action;
        def = ks_action_find(p->action);
        had = p->has_challenge;
        issued = p->issued_at;
        memcpy(chal, p->challenge, KS_CHALLENGE_SIZE);
        p->has_challenge = 0;
        memset(p->challenge, 0, KS_CHALLENGE_SIZE);
        if (!p->has_first)
            p->used = 0;
    }
    res->action = dc.action;

    if (ks_response_decode(&r, resp, len, NULL) != 0)
        return refuse(&dc, KS_E_KEY_UNREADABLE, "auth.response");
    dc.key_id = r.key_id;
    dc.counter = r.use_counter;
    if ((err = ks__auth_locked(a, KS_COUNTER_READER, reader, dc.now)) != 0)
        return refuse(&dc, err, "auth.lockout_reader");
    if ((err = ks__auth_locked(a, KS_COUNTER_KEY, r.key_id, dc.now)) != 0)
        return refuse(&dc, err, "auth.lockout_key");

    /* On an older database than the newest committed (damage, fallback),
     * a key changed since is refused before its stale record is read. */
    if ((err = ks_store_fallback_check(a->cfg.store, r.key_id)) != 0)
        return refuse(&dc, err, "auth.fallback");
    err = ks_store_lookup(a->cfg.store, r.key_id, recbuf);
    if (err == KS_E_NOTFOUND)
        return refuse(&dc, KS_E_KEY_UNKNOWN, "auth.key");
    if (err)
        return refuse(&dc, err, "auth.store");
    if (ks_record_decode(rec, recbuf, NULL) != 0 ||
        memcmp(rec->key_id, r.key_id, KS_KEYID_SIZE) != 0)
        return refuse(&dc, KS_E_STORE_CORRUPT, "auth.record");
    dc.key_known = res->key_known = 1;

    if (rec->state != KS_STATE_ACTIVE)
        return refuse(&dc, KS_E_KEY_REVOKED, "auth.state");
    if (clock_err)
        return refuse(&dc, clock_err, "auth.clock");
    if (dc.now + a->cfg.validity_skew < rec->valid_from ||
        (rec->valid_until != KS_NO_EXPIRY && dc.now >= rec->valid_until + a->cfg.validity_skew))
        return refuse(&dc, KS_E_KEY_EXPIRED, "auth.validity");
    if (rec->key_format < a->cfg.min_key_format)
        return refuse(&dc, KS_E_PROTOCOL_MISMATCH, "auth.key_format");
    if (rec->scope != KS_SCOPE_ALL && rec->scope != a->cfg.scope)
        return refuse(&dc, KS_E_KEY_UNKNOWN, what_scope);

    /* Bound to this reader's outstanding challenge (which names the
     * controller, the action and the time), fresh, then signed. */
    if (!def || !had || ks__ct_cmp(r.challenge, chal, KS_CHALLENGE_SIZE) != 0)
        return refuse(&dc, KS_E_SIGNATURE_INVALID, "auth.challenge");
    if (dc.now < issued || dc.now - issued > a->cfg.challenge_ttl)
        return refuse(&dc, KS_E_SIGNATURE_INVALID, "auth.challenge_ttl");
    if (ks_response_verify(a->cfg.crypto, resp, rec->public_key) != 0)
        return refuse(&dc, KS_E_SIGNATURE_INVALID, "auth.signature");

    seen = ks__auth_counter_seen(a, r.key_id);
    if (rec->counter_floor > seen)
        seen = rec->counter_floor;
    if (r.use_counter <= seen)
        return refuse(&dc, KS_E_CLONE_SUSPECTED, "auth.use_counter");
    /* Authentic and fresh: a dongle a licence is bound to is present,
     * whatever this key may or may not do. */
    ks_auth_licence_seen(a, r.key_id);

    if ((rec->privileges & def->privileges) != def->privileges)
        return refuse(&dc, KS_E_NOT_SUPERVISOR, "auth.privileges");

    /* Authentic from here on: the counter is spent and the failure counts
     * clear, whatever the gates below decide. */
    if ((err = ks__auth_success(a, r.key_id, reader, r.use_counter, dc.now)) != 0)
        return refuse(&dc, err, "auth.counter_table");

    if (def->flags & KS_ACT_F_TWO_SUPERVISORS) {
        if (!p->has_first || dc.now < p->first_at ||
            dc.now - p->first_at > a->cfg.two_man_window) {
            p->used = 1;
            p->has_first = 1;
            memcpy(p->first, r.key_id, KS_KEYID_SIZE);
            p->first_at = dc.now;
            memset(&ev, 0, sizeof ev);
            ev.event = KS_EV_FIRST_OF_TWO;
            ev.action = dc.action;
            ev.time = dc.now;
            ev.key_id = r.key_id;
            ev.reader = reader;
            ev.detail = r.use_counter;
            if ((err = ks__auth_audit(a, &ev, &res->audit_seq)) != 0)
                return res->err = err;
            return res->err = KS_AUTH_SECOND;
        }
        if (memcmp(p->first, r.key_id, KS_KEYID_SIZE) == 0)
            return refuse(&dc, KS_E_PRIVILEGE_REQUIRED, "auth.same_supervisor");
    }
    {
        const char *what = NULL;
        if ((err = ks__auth_gates(a, def, &what)) != 0) {
            /* A complete pair refused by a gate starts over. */
            if (p && p->has_first)
                memset(p, 0, sizeof *p);
            return refuse(&dc, err, what);
        }
    }
    if ((err = ks__auth_grant_effects(a, def, dc.now)) != 0)
        return refuse(&dc, err, "auth.state_save");
    if (p && p->has_first) {
        memset(p, 0, sizeof *p);
    }
    if ((flags & KS_AUTH_F_SESSION) && (rec->privileges & KS_PRIV_SUPERVISOR) &&
        !(def->flags & KS_ACT_F_TWO_SUPERVISORS)) {
        if ((err = ks__auth_session_open(a, rec, reader, dc.now, &res->session)) != 0)
            return refuse(&dc, err, "auth.session_open");
    }

    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_DECISION;
    ev.action = dc.action;
    ev.time = dc.now;
    ev.key_id = r.key_id;
    ev.reader = reader;
    ev.detail = r.use_counter;
    ev.session = res->session;
    if ((err = ks__auth_audit(a, &ev, &res->audit_seq)) != 0) {
        /* A grant that cannot be audited is not given. */
        if (res->session) {
            ks_auth_session *s = ks__auth_session_find(a, res->session);
            if (s)
                memset(s, 0, sizeof *s);
            res->session = 0;
        }
        return res->err = err;
    }
    return res->err = KS_OK;
}
