/*
 * ks_auth_session.c - supervisor sessions: after a granted supervisor
 * decision with KS_AUTH_F_SESSION, further privileged actions at the same
 * reader are authorised without a new key until the session times out.
 *
 * Two clocks bound a session: session_max (absolute, from sign-on) and the
 * action's own session_timeout (an action may be done under a session only
 * that long after sign-on; 0 means it always wants a fresh key). Sessions
 * live in RAM only: a power cut ends them all (the next use is KSE-501).
 * Handles are random so that one reader cannot guess another's session.
 */
#include <string.h>

#include "ks_auth_int.h"

ks_auth_session *ks__auth_session_find(ks_auth *a, uint32_t handle)
{
    if (handle == 0)
        return NULL;
    for (uint32_t i = 0; i < a->cfg.session_cap; i++)
        if (a->cfg.sessions[i].handle == handle)
            return &a->cfg.sessions[i];
    return NULL;
}

static int expired(const ks_auth *a, const ks_auth_session *s, uint64_t now)
{
    return now < s->opened_at || now - s->opened_at > a->cfg.session_max;
}

void ks__auth_session_sweep(ks_auth *a, uint64_t now)
{
    for (uint32_t i = 0; i < a->cfg.session_cap; i++) {
        ks_auth_session *s = &a->cfg.sessions[i];
        if (s->handle && expired(a, s, now))
            memset(s, 0, sizeof *s);
    }
}

int ks__auth_session_open(ks_auth *a, const ks_record *r, const uint8_t reader[KS_READER_ID_SIZE],
                          uint64_t now, uint32_t *handle)
{
    ks_auth_session *slot = NULL;
    uint32_t h = 0;
    uint8_t rb[4];

    ks__auth_session_sweep(a, now);
    for (uint32_t i = 0; i < a->cfg.session_cap; i++) {
        ks_auth_session *s = &a->cfg.sessions[i];
        /* One session per reader: signing on again replaces it. */
        if (s->handle && memcmp(s->reader, reader, KS_READER_ID_SIZE) == 0) {
            slot = s;
            break;
        }
        if (!s->handle && !slot)
            slot = s;
    }
    if (!slot) {
        /* Full: the oldest session gives way. */
        slot = &a->cfg.sessions[0];
        for (uint32_t i = 1; i < a->cfg.session_cap; i++)
            if (a->cfg.sessions[i].opened_at < slot->opened_at)
                slot = &a->cfg.sessions[i];
    }
    while (h == 0 || ks__auth_session_find(a, h)) {
        if (a->cfg.hal.rng(a->cfg.hal.ctx, rb, sizeof rb) != 0)
            return KS_E_CRYPTO;
        h = ks_ld32(rb);
    }
    memset(slot, 0, sizeof *slot);
    slot->handle = h;
    memcpy(slot->key_id, r->key_id, KS_KEYID_SIZE);
    memcpy(slot->reader, reader, KS_READER_ID_SIZE);
    slot->privileges = r->privileges;
    slot->opened_at = now;
    *handle = h;
    return KS_OK;
}

int ks_auth_session_action(ks_auth *a, uint32_t session, const uint8_t reader[KS_READER_ID_SIZE],
                           uint16_t action, ks_auth_result *res)
{
    const ks_action_def *def = ks_action_find(action);
    ks_auth_session *s;
    ks_auth_result tmp;
    ks_auth_ev ev;
    const char *what = NULL;
    uint64_t now = 0;
    int err, clock_err, aerr, end = 0;

    if (!res)
        res = &tmp;
    memset(res, 0, sizeof *res);
    if (!a->ready || !def)
        return res->err = KS_E_INVAL;
    res->action = action;
    res->session = session;
    clock_err = ks_auth_now(a, &now);
    res->time = now;
    s = ks__auth_session_find(a, session);

    if (session == 0) {
        err = KS_E_PRIVILEGE_REQUIRED;
        what = "auth.no_supervisor";
    } else if (!s) {
        err = KS_E_SESSION_EXPIRED;
        what = "auth.session";
    } else if (clock_err) {
        err = clock_err;
        what = "auth.clock";
    } else if (expired(a, s, now)) {
        err = KS_E_SESSION_EXPIRED;
        what = "auth.session_max";
        end = 1;
    } else if (memcmp(s->reader, reader, KS_READER_ID_SIZE) != 0) {
        err = KS_E_PRIVILEGE_REQUIRED;
        what = "auth.session_reader";
    } else if ((def->flags & KS_ACT_F_TWO_SUPERVISORS) || def->session_timeout == 0) {
        err = KS_E_PRIVILEGE_REQUIRED;
        what = "auth.fresh_key";
    } else if (now - s->opened_at > def->session_timeout) {
        err = KS_E_SESSION_EXPIRED;
        what = "auth.session_timeout";
    } else if ((s->privileges & def->privileges) != def->privileges) {
        err = KS_E_NOT_SUPERVISOR;
        what = "auth.privileges";
    } else {
        err = ks__auth_gates(a, def, &what);
        if (!err)
            err = ks__auth_grant_effects(a, def, now);
    }

    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_DECISION;
    ev.action = action;
    ev.err = err;
    ev.time = now;
    ev.key_id = s ? s->key_id : NULL;
    ev.reader = reader;
    ev.session = session;
    aerr = ks__auth_audit(a, &ev, &res->audit_seq);
    /* Past session_max the session is over; past one action's timeout it
     * may still cover actions with longer ones. */
    if (end)
        memset(s, 0, sizeof *s);
    if (!err && aerr)
        err = aerr; /* a grant that cannot be audited is not given */
    res->err = err;
    res->what = what;
    return err;
}

int ks_auth_session_close(ks_auth *a, uint32_t session)
{
    ks_auth_session *s = ks__auth_session_find(a, session), copy;
    ks_auth_ev ev;
    uint64_t now;

    if (!s)
        return KS_E_NOTFOUND;
    copy = *s;
    memset(s, 0, sizeof *s);
    (void)ks_auth_now(a, &now);
    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_SESSION_END;
    ev.time = now;
    ev.key_id = copy.key_id;
    ev.reader = copy.reader;
    ev.detail = session;
    ev.session = session;
    return ks__auth_audit(a, &ev, NULL);
}
