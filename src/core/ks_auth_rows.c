/*
 * ks_auth_rows.c - the engine's rows in the store's counter table, when the
 * table is full: which row may make room (the least recently used quiet
 * one, quiet readers first, then keys), and a put that makes it. Shared by
 * the lockout rows (ks_auth_lockout.c) and the engine's own STATE and CLOCK
 * rows (ks_auth_state.c), which are never evicted themselves; apart from
 * both so that neither depends on the other (docs/auth.md, "Persisted
 * state").
 */
#include <keysup/ks_assert.h>

#include "ks_auth_int.h"

int ks__auth_row_locked(const ks_counter *c, uint64_t now)
{
    return c->locked_until == UINT64_MAX || (c->locked_until && now < c->locked_until);
}

static int row_quiet(const ks_auth *a, const ks_counter *c, uint64_t now)
{
    if (c->kind != KS_COUNTER_KEY && c->kind != KS_COUNTER_READER)
        return 0;
    if (ks__auth_row_locked(c, now))
        return 0;
    if (c->fails && now >= c->window_start && now - c->window_start < a->cfg.fail_interval)
        return 0;
    return 1;
}

int ks__auth_pick_victim(ks_auth *a, uint64_t now, ks_counter *out)
{
    ks_store *st = a->cfg.store;
    uint32_t n = ks_store_counter_count(st), best_rank = 0;
    int found = 0;

    for (uint32_t i = 0; i < n; i++) {
        const ks_counter *c = ks_store_counter_at(st, i);
        uint32_t rank;
        if (!row_quiet(a, c, now))
            continue;
        /* Quiet readers carry nothing; keys carry a use counter; rows with
         * a back-off history carry the next lock's length. */
        rank = (c->kind == KS_COUNTER_KEY ? 2u : 0u) + (c->lock_level ? 1u : 0u);
        if (!found || rank < best_rank ||
            (rank == best_rank && c->window_start < out->window_start)) {
            *out = *c;
            best_rank = rank;
            found = 1;
        }
    }
    return found;
}

int ks__auth_put_evict(ks_auth *a, const ks_counter *c, uint64_t now)
{
    ks_store *st = a->cfg.store;
    ks_counter victim;
    int err = ks_store_counter_put(st, c);

    if (err != KS_E_NOSPC)
        return err;
    if (!ks__auth_pick_victim(a, now, &victim))
        return KS_E_NOSPC;
    /* docs/auth.md: the engine's own rows are never evicted (row_quiet). */
    if (KS_NEVER(victim.kind != KS_COUNTER_KEY && victim.kind != KS_COUNTER_READER))
        return KS_E_NOSPC;
    if ((err = ks_store_counter_del(st, victim.kind, victim.id)) != 0)
        return err;
    return ks_store_counter_put(st, c);
}
