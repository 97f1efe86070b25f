/*
 * ks_auth_lockout.c - failure counting and lockout per key and per reader,
 * the use-counter high-water marks, and the engine's own state row, all in
 * the store's persisted counter table (durable when a call returns, so a
 * power cut neither resets a lockout nor lets a use counter go back). The
 * engine's own rows (STATE, CLOCK) belong to ks_auth_state.c; which row
 * makes room when the table is full is ks_auth_rows.c.
 *
 * Policy, after pam_faillock: `deny` failures within `fail_interval`
 * seconds lock the key or reader; a success clears the count. Each lock
 * lasts unlock_time * 2^(locks since the last success), capped at
 * max_backoff; unlock_time 0 means only an administrator unlock clears it.
 *
 * Row use (ks_counter):
 *   KEY/READER  fails, window_start (first failure of the window; for a
 *               quiet row the time of the last success, used for LRU),
 *               locked_until, lock_level (locks since the last success),
 *               use_counter (KEY: highest use counter accepted)
 *
 * When the table is full: a new row evicts the least recently used quiet
 * one (no live lock, no failure inside the window), quiet readers first,
 * then keys (their use counter falls back to the record's counter_floor).
 * When every row is live (an attack on many readers at once), failures
 * that cannot be recorded fail closed: a reader without a row is refused
 * with KSE-500 until rows age out or an administrator unlocks one.
 */
#include <string.h>

#include "ks_auth_int.h"

static void row_new(ks_counter *c, uint8_t kind, const uint8_t id[KS_KEYID_SIZE])
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    memcpy(c->id, id, KS_KEYID_SIZE);
}

/* ----- lockout ----- */

int ks__auth_locked(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE], uint64_t now)
{
    ks_store *st = a->cfg.store;
    ks_store_info info;
    ks_counter c, victim;
    int err = ks_store_counter_get(st, kind, id, &c);

    if (err == KS_OK)
        return ks__auth_row_locked(&c, now) ? KS_E_LOCKOUT : KS_OK;
    if (err != KS_E_NOTFOUND)
        return err;
    if (kind != KS_COUNTER_READER)
        return KS_OK;
    /* Fail closed: a reader whose failures could not be recorded. */
    ks_store_get_info(st, &info);
    if (info.counter_count >= info.counter_cap && !ks__auth_pick_victim(a, now, &victim))
        return KS_E_LOCKOUT;
    return KS_OK;
}

int ks__auth_fail(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE], uint64_t now,
                  uint16_t action)
{
    ks_counter c;
    ks_auth_ev ev;
    int locked = 0, err = ks_store_counter_get(a->cfg.store, kind, id, &c);

    if (err == KS_E_NOTFOUND)
        row_new(&c, kind, id);
    else if (err)
        return err;
    if (c.locked_until && c.locked_until != UINT64_MAX && now >= c.locked_until) {
        c.locked_until = 0;
        c.fails = 0;
    }
    if (c.fails == 0 || now < c.window_start || now - c.window_start >= a->cfg.fail_interval) {
        c.fails = 0;
        c.window_start = now;
    }
    c.fails++;
    if (c.fails >= a->cfg.deny) {
        if (a->cfg.unlock_time == 0) {
            c.locked_until = UINT64_MAX;
        } else {
            uint64_t len = a->cfg.unlock_time;
            for (uint16_t i = 0; i < c.lock_level && len < a->cfg.max_backoff; i++)
                len *= 2;
            if (len > a->cfg.max_backoff)
                len = a->cfg.max_backoff;
            c.locked_until = now + len;
        }
        if (c.lock_level < UINT16_MAX)
            c.lock_level++;
        c.fails = 0;
        c.window_start = now;
        locked = 1;
    }
    err = ks__auth_put_evict(a, &c, now);
    if (err == KS_E_NOSPC)
        return KS_E_LOCKOUT;
    if (err || !locked)
        return err;
    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_LOCKED;
    ev.action = action;
    ev.err = KS_E_LOCKOUT;
    ev.time = now;
    ev.key_id = kind == KS_COUNTER_KEY ? id : NULL;
    ev.reader = kind == KS_COUNTER_READER ? id : NULL;
    ev.detail = c.locked_until;
    return ks__auth_audit(a, &ev, NULL);
}

uint64_t ks__auth_counter_seen(ks_auth *a, const uint8_t key_id[KS_KEYID_SIZE])
{
    ks_counter c;
    if (ks_store_counter_get(a->cfg.store, KS_COUNTER_KEY, key_id, &c) != KS_OK)
        return 0;
    return c.use_counter;
}

int ks__auth_success(ks_auth *a, const uint8_t key_id[KS_KEYID_SIZE],
                     const uint8_t reader[KS_READER_ID_SIZE], uint64_t use_counter, uint64_t now)
{
    ks_store *st = a->cfg.store;
    ks_counter c;
    int err = ks_store_counter_get(st, KS_COUNTER_KEY, key_id, &c);

    if (err == KS_E_NOTFOUND)
        row_new(&c, KS_COUNTER_KEY, key_id);
    else if (err)
        return err;
    c.use_counter = use_counter;
    c.fails = 0;
    c.lock_level = 0;
    c.locked_until = 0;
    c.window_start = now;
    err = ks__auth_put_evict(a, &c, now);
    if (err == KS_E_NOSPC)
        return KS_E_LOCKOUT;
    if (err)
        return err;
    err = ks_store_counter_del(st, KS_COUNTER_READER, reader);
    return err == KS_E_NOTFOUND ? KS_OK : err;
}

int ks_auth_lock_status(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE],
                        uint64_t *locked_until, uint32_t *fails)
{
    ks_counter c;
    int err = ks_store_counter_get(a->cfg.store, kind, id, &c);
    if (err)
        return err;
    if (locked_until)
        *locked_until = c.locked_until;
    if (fails)
        *fails = c.fails;
    return KS_OK;
}

int ks_auth_admin_unlock(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE],
                         const uint8_t by[KS_KEYID_SIZE])
{
    ks_store *st = a->cfg.store;
    ks_counter c;
    ks_auth_ev ev;
    uint64_t now, was;
    int err;

    if (!a->ready || (kind != KS_COUNTER_KEY && kind != KS_COUNTER_READER))
        return KS_E_INVAL;
    if ((err = ks_store_counter_get(st, kind, id, &c)) != 0)
        return err;
    (void)ks_auth_now(a, &now); /* a bad clock does not block an unlock */
    was = c.locked_until;
    if (kind == KS_COUNTER_READER) {
        err = ks_store_counter_del(st, kind, id);
    } else {
        c.fails = 0;
        c.lock_level = 0;
        c.locked_until = 0;
        c.window_start = now;
        err = ks_store_counter_put(st, &c);
    }
    if (err)
        return err;
    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_UNLOCK;
    ev.action = KS_ACT_UNLOCK;
    ev.time = now;
    ev.key_id = by;
    ev.reader = id;
    ev.detail = was;
    ev.session = kind;
    return ks__auth_audit(a, &ev, NULL);
}
