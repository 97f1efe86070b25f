/*
 * ks_auth_state.c - the engine's own persisted state, and the one place
 * that knows how it maps onto the store's counter rows.
 *
 * The store keeps rows of ks_counter keyed by (kind, id); what the fields
 * mean is the engine's business. Key and reader rows (ks_auth_lockout.c)
 * use them for what their names say. The engine's two state rows, both
 * keyed by the controller id, put other values in the same fields; this
 * file is the only reader and writer of those two rows, so the mapping is
 * stated once, here (docs/auth.md, "Persisted state"):
 *
 *   STATE (KS_COUNTER_AUTH_STATE)
 *     use_counter   challenges reserved (the counter restarts above it)
 *     window_start  highest trusted time persisted (ks_auth_time_persist)
 *     flags bit 0   a transaction is pending (KS_AUTH_STATE_PENDING)
 *     lock_level    its action
 *     locked_until  when it started
 *   CLOCK (KS_COUNTER_AUTH_CLOCK)
 *     use_counter   the RTC reading at the last time token (anchor_rtc)
 *     window_start  the supervisor's time in that token (anchor_time)
 *     fails         drift in ppm, two's complement
 *     flags bit 0   the drift is measured
 *
 * The on-flash bytes are those of any counter row (docs/store.md).
 */
#include <string.h>

#include "ks_auth_int.h"

#define CLOCK_DRIFT_MEASURED 1u

static void row_init(const ks_auth *a, ks_counter *c, uint8_t kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    memcpy(c->id, a->cfg.controller_id, KS_KEYID_SIZE);
}

static int32_t from_u32(uint32_t v)
{
    return v & 0x80000000u ? -(int32_t)(~v) - 1 : (int32_t)v;
}

int ks__auth_state_save(ks_auth *a)
{
    ks_counter c;
    row_init(a, &c, KS_COUNTER_AUTH_STATE);
    c.use_counter = a->chal_reserved;
    c.window_start = a->last_good;
    if (a->pending_action) {
        c.flags = KS_AUTH_STATE_PENDING;
        c.lock_level = a->pending_action;
        c.locked_until = a->pending_since;
    }
    int err = ks__auth_put_evict(a, &c, a->last_good);
    if (err == KS_OK)
        a->last_good_saved = a->last_good;
    return err;
}

int ks__auth_state_load(ks_auth *a)
{
    ks_counter c;
    int err = ks_store_counter_get(a->cfg.store, KS_COUNTER_AUTH_STATE, a->cfg.controller_id, &c);
    if (err == KS_E_NOTFOUND)
        return KS_OK;
    if (err)
        return err;
    /* Challenges already reserved may have been issued: skip past them. */
    a->chal_ctr = a->chal_reserved = c.use_counter;
    a->last_good = a->last_good_saved = c.window_start;
    if (c.flags & KS_AUTH_STATE_PENDING) {
        a->pending_action = c.lock_level ? c.lock_level : KS_ACT_Z_REPORT;
        a->pending_since = c.locked_until;
    }
    return KS_OK;
}

int ks__auth_clock_save(ks_auth *a)
{
    ks_counter c;
    row_init(a, &c, KS_COUNTER_AUTH_CLOCK);
    c.use_counter = a->anchor_rtc;
    c.window_start = a->anchor_time;
    c.fails = (uint32_t)a->drift_ppm;
    c.flags = (a->clock & KS_CLOCK_DRIFT) ? CLOCK_DRIFT_MEASURED : 0;
    return ks_store_counter_put(a->cfg.store, &c);
}

int ks__auth_time_load(ks_auth *a)
{
    ks_counter c;
    int err = ks_store_counter_get(a->cfg.store, KS_COUNTER_AUTH_CLOCK, a->cfg.controller_id, &c);
    if (err == KS_E_NOTFOUND)
        return KS_OK;
    if (err)
        return err;
    a->anchor_rtc = c.use_counter;
    a->anchor_time = c.window_start;
    a->clock |= KS_CLOCK_ANCHORED;
    if (c.flags & CLOCK_DRIFT_MEASURED) {
        a->drift_ppm = from_u32(c.fails);
        a->clock |= KS_CLOCK_DRIFT;
    }
    return KS_OK;
}
