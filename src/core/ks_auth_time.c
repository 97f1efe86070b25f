/*
 * ks_auth_time.c - trusted time: the RTC corrected by the last time token
 * the supervisor signed for this controller, with a drift estimate from
 * successive tokens and the checks that refuse to trust a wrong clock.
 *
 * Model: at the last token the raw RTC read anchor_rtc while the supervisor
 * said anchor_time; trusted time is anchor_time + (rtc - anchor_rtc). The
 * RTC's rate error (drift_ppm) is measured between tokens at least
 * KS_AUTH_DRIFT_MIN_INTERVAL apart; the error it accumulates since the last
 * token is the clock's uncertainty, and once that exceeds the tolerance the
 * clock is off (KSE-600) until the next token.
 *
 * KSE-601 (the RTC cannot be believed at all): unreadable; before
 * KS_AUTH_EPOCH_MIN with no token (reset to its epoch); below the anchor
 * (reset or set back since the token); trusted time more than the tolerance
 * before the highest trusted time seen (persisted at least hourly); or not
 * advancing while the monotonic tick does (stopped). KSE-600 also when the
 * RTC moved more than the tolerance away from the tick since the last
 * reference, from the first reading after boot (a jump needs no window). Failures latch until a
 * token re-anchors the clock: a clock known to be wrong is never trusted
 * again on its own say-so.
 *
 * No 64-bit division anywhere: a Cortex-M4 has none and the core may not
 * call the compiler's helpers.
 */
#include <string.h>

#include "ks_auth_int.h"

/* x * ppm / 1e6 (x clamped to 2^32 s, ppm to 1e6), in 32-bit divisions only. */
static uint64_t ppm_of(uint64_t x, uint32_t ppm)
{
    uint32_t k = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
    uint32_t q = k / 1000u, r = k % 1000u;
    if (ppm > 1000000u)
        ppm = 1000000u;
    /* k = 1000q + r, q = 1000(q/1000) + q%1000; every product below fits. */
    return (uint64_t)(q / 1000u) * ppm + ((q % 1000u) * ppm) / 1000u + (r * ppm) / 1000000u;
}

static uint32_t abs32(int32_t v)
{
    return v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
}

/* Trusted time for a raw reading, without judging it. */
static uint64_t project(const ks_auth *a, uint64_t raw)
{
    if (!(a->clock & KS_CLOCK_ANCHORED))
        return raw;
    if (raw < a->anchor_rtc)
        return a->anchor_time; /* the RTC went back: no better guess */
    return a->anchor_time + (raw - a->anchor_rtc);
}

static uint64_t uncertainty(const ks_auth *a, uint64_t raw)
{
    if (!(a->clock & KS_CLOCK_ANCHORED) || !(a->clock & KS_CLOCK_DRIFT) || raw < a->anchor_rtc)
        return 0;
    return ppm_of(raw - a->anchor_rtc, abs32(a->drift_ppm));
}

int ks_auth_time_read(ks_auth *a, uint64_t *now)
{
    uint64_t raw = 0, t, m;
    const ks_auth_hal *h = &a->cfg.hal;

    if (h->rtc(h->ctx, &raw) != 0) {
        a->clock |= KS_CLOCK_RTC_FAIL;
        *now = a->last_good;
        return KS_E_RTC_FAILURE;
    }
    if (a->clock & KS_CLOCK_ANCHORED) {
        if (raw < a->anchor_rtc)
            a->clock |= KS_CLOCK_RTC_FAIL;
    } else if (raw < KS_AUTH_EPOCH_MIN) {
        a->clock |= KS_CLOCK_RTC_FAIL;
    }
    t = project(a, raw);
    if (a->last_good && t + a->cfg.clock_tolerance < a->last_good)
        a->clock |= KS_CLOCK_RTC_FAIL;

    if (h->mono && h->mono(h->ctx, &m) == 0) {
        if (!a->mono_ref_set || m < a->mono_ref || raw < a->rtc_ref) {
            a->mono_ref = a->mono_changed = m;
            a->rtc_ref = a->rtc_last = raw;
            a->mono_ref_set = 1;
        } else {
            uint64_t dm = m - a->mono_ref, dr = raw - a->rtc_ref;
            /* Stopped: the same reading while the tick moved on. */
            if (raw != a->rtc_last) {
                a->rtc_last = raw;
                a->mono_changed = m;
            } else if (m - a->mono_changed >= KS_AUTH_STOP_WINDOW) {
                a->clock |= KS_CLOCK_RTC_FAIL;
            }
            /* A jump, or running at the wrong rate, against the tick: judged
             * from the first reading after boot (issue 17 row 8). Waiting for
             * a window of ticks first trusted a forward jump right after
             * start for seconds; a jump beyond the tolerance needs no rate. */
            uint64_t diff = dr > dm ? dr - dm : dm - dr;
            if (diff > a->cfg.clock_tolerance)
                a->clock |= KS_CLOCK_SKEW;
            if (dm >= KS_AUTH_STOP_WINDOW) {
                if (dm >= 60 && !(a->clock & (KS_CLOCK_RTC_FAIL | KS_CLOCK_SKEW))) {
                    a->mono_ref = m;
                    a->rtc_ref = raw;
                }
            }
        }
    }
    if (uncertainty(a, raw) > a->cfg.clock_tolerance)
        a->clock |= KS_CLOCK_SKEW;

    if (a->clock & KS_CLOCK_RTC_FAIL) {
        *now = t > a->last_good ? t : a->last_good;
        return KS_E_RTC_FAILURE;
    }
    *now = t;
    if (a->clock & KS_CLOCK_SKEW)
        return KS_E_CLOCK_SKEW;
    if (t > a->last_good)
        a->last_good = t; /* persisted by ks_auth_time_persist, not here */
    return KS_OK;
}

int ks_auth_time_persist(ks_auth *a)
{
    /* At most once per period: losing up to an hour of it only weakens the
     * went-back check, never trusts a wrong clock. */
    if (a->last_good < a->last_good_saved + KS_AUTH_GOOD_PERIOD)
        return KS_OK;
    return ks__auth_state_save(a);
}

int ks_auth_now(ks_auth *a, uint64_t *now)
{
    int err = ks_auth_time_read(a, now);
    if (err == KS_OK)
        (void)ks_auth_time_persist(a); /* best effort, see above */
    return err;
}

void ks_auth_time_status(ks_auth *a, ks_time_status *out)
{
    uint64_t raw = 0, now = 0;
    memset(out, 0, sizeof *out);
    (void)ks_auth_time_read(a, &now); /* a status query writes nothing */
    if (a->cfg.hal.rtc(a->cfg.hal.ctx, &raw) != 0)
        raw = 0;
    out->flags = a->clock;
    out->now = now;
    out->rtc = raw;
    if (a->clock & KS_CLOCK_ANCHORED)
        out->offset = a->anchor_time >= a->anchor_rtc ? (int64_t)(a->anchor_time - a->anchor_rtc)
                                                      : -(int64_t)(a->anchor_rtc - a->anchor_time);
    out->drift_ppm = a->drift_ppm;
    out->last_error = a->last_error;
    out->uncertainty = uncertainty(a, raw);
}

int ks_auth_time_request(ks_auth *a, uint8_t nonce[KS_NONCE_SIZE])
{
    if (a->cfg.hal.rng(a->cfg.hal.ctx, a->time_nonce, KS_NONCE_SIZE) != 0)
        return KS_E_CRYPTO;
    a->time_nonce_set = 1;
    memcpy(nonce, a->time_nonce, KS_NONCE_SIZE);
    return KS_OK;
}

int ks_auth_time_apply(ks_auth *a, const uint8_t *tok, size_t len, ks_diag *d)
{
    const uint8_t *pk;
    ks_time_token t;
    ks_auth_ev ev;
    uint64_t raw, est;
    int err;

    if ((err = ks_time_token_decode(&t, tok, len, d)) != 0)
        return err;
    if (memcmp(t.controller_id, a->cfg.controller_id, KS_CTRL_ID_SIZE) != 0)
        return ks_fail(d, KS_E_INVAL, 8, "time_token.controller");
    pk = ks_trust_find(ks_store_trust(a->cfg.store), t.signer_id);
    if (!pk)
        return ks_fail(d, KS_E_SUPERVISOR_UNTRUSTED, 48, "time_token.signer");
    if (ks_verify_labelled(a->cfg.crypto, tok + 64, KS_LABEL_TIMETOKEN, tok,
                           KS_AUTH_SIGNED_SIZE, pk) != 0)
        return ks_fail(d, KS_E_SIGNATURE, 64, "time_token.signature");
    if (!ks__is_zero(t.nonce, KS_NONCE_SIZE) &&
        (!a->time_nonce_set || ks__ct_cmp(t.nonce, a->time_nonce, KS_NONCE_SIZE) != 0))
        return ks_fail(d, KS_E_ROLLBACK, 32, "time_token.nonce");
    if ((a->clock & KS_CLOCK_ANCHORED) && t.time <= a->anchor_time)
        return ks_fail(d, KS_E_ROLLBACK, 24, "time_token.time");
    if (a->cfg.hal.rtc(a->cfg.hal.ctx, &raw) != 0) {
        a->clock |= KS_CLOCK_RTC_FAIL;
        return ks_fail(d, KS_E_RTC_FAILURE, 0, "rtc");
    }

    est = project(a, raw);
    a->last_error = t.time >= est ? (int64_t)(t.time - est) : -(int64_t)(est - t.time);
    /* Drift: only between two anchors on an RTC that kept running. */
    if ((a->clock & KS_CLOCK_ANCHORED) && !(a->clock & KS_CLOCK_RTC_FAIL) &&
        raw >= a->anchor_rtc && t.time - a->anchor_time >= KS_AUTH_DRIFT_MIN_INTERVAL) {
        uint64_t interval = t.time - a->anchor_time, el = raw - a->anchor_rtc;
        uint64_t e = el > interval ? el - interval : interval - el;
        uint32_t iv = interval > UINT32_MAX ? UINT32_MAX : (uint32_t)interval;
        uint32_t ppm;
        if (e > 4000)
            e = 4000; /* keeps e * 1e6 in 32 bits; a worse RTC is simply "bad" */
        ppm = (uint32_t)e * 1000000u / iv;
        a->drift_ppm = el > interval ? (int32_t)ppm : -(int32_t)ppm;
        a->clock |= KS_CLOCK_DRIFT;
    }
    a->anchor_rtc = raw;
    a->anchor_time = t.time;
    a->clock = (a->clock | KS_CLOCK_ANCHORED) & ~(unsigned)(KS_CLOCK_SKEW | KS_CLOCK_RTC_FAIL);
    a->last_good = t.time; /* authoritative, even below a fast clock's past */
    a->time_nonce_set = 0;
    a->mono_ref_set = 0;
    if ((err = ks__auth_clock_save(a)) != 0)
        return err;
    if ((err = ks__auth_state_save(a)) != 0)
        return err;

    memset(&ev, 0, sizeof ev);
    ev.event = KS_EV_TIME;
    ev.time = t.time;
    ev.key_id = t.signer_id;
    ev.detail = (uint64_t)a->last_error;
    ev.err = (a->last_error > (int64_t)a->cfg.clock_tolerance ||
              a->last_error < -(int64_t)a->cfg.clock_tolerance)
                 ? KS_E_CLOCK_SKEW
                 : KS_OK;
    return ks__auth_audit(a, &ev, NULL);
}

int ks_auth_time_hint(ks_auth *a, uint64_t ref)
{
    uint64_t now, diff;
    int err = ks_auth_now(a, &now);
    if (err == KS_E_RTC_FAILURE)
        return err;
    diff = ref > now ? ref - now : now - ref;
    if (diff > a->cfg.clock_tolerance) {
        a->clock |= KS_CLOCK_SKEW;
        return KS_E_CLOCK_SKEW;
    }
    return err;
}
