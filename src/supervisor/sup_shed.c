/*
 * sup_shed.c - see sup_shed.h. Process-wide counters: one keysupd serves one
 * data directory, and tests that run two daemons in one process do not
 * exercise shedding.
 */
#include "sup_shed.h"

static atomic_ullong inflight, downloads, shed;
static atomic_ullong win_sec, win_count; /* refusals in the current second */
static atomic_ullong last_shed;          /* unix seconds of the last refusal */

/* The pause grows with the demand refused in the last second, so a storm of
 * N clients spreads over about N/limit pauses rather than all returning
 * together (the controllers add their own jitter on top). */
static uint32_t pause_for(const sup_ctx *s, uint64_t limit)
{
    uint64_t base = s->cfg.retry_after ? s->cfg.retry_after : 1, now = sup_now(), recent, r;
    unsigned long long w = atomic_load(&win_sec);
    if (w != now && atomic_compare_exchange_strong(&win_sec, &w, now))
        atomic_store(&win_count, 0);
    recent = atomic_fetch_add(&win_count, 1) + 1;
    atomic_fetch_add(&shed, 1);
    atomic_store(&last_shed, now);
    r = base * (1 + (limit ? recent / limit : 0));
    return (uint32_t)(r > 60 ? 60 : r);
}

uint32_t sup_shed_enter(sup_ctx *s)
{
    uint64_t n = atomic_fetch_add(&inflight, 1) + 1;
    if (!s->cfg.max_inflight || n <= s->cfg.max_inflight)
        return 0;
    atomic_fetch_sub(&inflight, 1);
    return pause_for(s, s->cfg.max_inflight);
}

void sup_shed_leave(sup_ctx *s)
{
    (void)s;
    atomic_fetch_sub(&inflight, 1);
}

uint32_t sup_shed_download(sup_ctx *s)
{
    uint64_t n = atomic_fetch_add(&downloads, 1) + 1;
    if (!s->cfg.max_downloads || n <= s->cfg.max_downloads)
        return 0;
    atomic_fetch_sub(&downloads, 1);
    return pause_for(s, s->cfg.max_downloads);
}

void sup_shed_download_done(sup_ctx *s)
{
    (void)s;
    atomic_fetch_sub(&downloads, 1);
}

void sup_shed_stats(uint64_t *in, uint64_t *dl, uint64_t *sh)
{
    *in = atomic_load(&inflight);
    *dl = atomic_load(&downloads);
    *sh = atomic_load(&shed);
}

uint64_t sup_shed_last(void)
{
    return atomic_load(&last_shed);
}
