/*
 * sim_watch.c - the push path in keysup-sim (--push): between heartbeats a
 * simulated controller holds the agent's own watch (ctl_watch,
 * src/controller/ctl_watch.c) on its fiber instead of sleeping, so a
 * revocation reaches it in about a round trip. Like the agent
 * (ctl_watch_until): a refused watch (503 KSE-121 over keysupd's watch_max)
 * or one out of step waits for the next heartbeat; an unreachable keysupd
 * is tried again after 1 to 3 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <sodium.h>

#include "sim.h"

void sim_watch_until(sim_ctl *c, uint64_t until, void (*after)(sim_ctl *c))
{
    sim *s = c->w->sim;
    while (!sim_stopping(s)) {
        uint64_t now = sim_mono_ms();
        if (now >= until)
            return;
        if (!s->o.push || now < c->a.watch_after_ms || until - now < 2000u) {
            sim_sleep_until(c, c->a.watch_after_ms > now && c->a.watch_after_ms < until
                                   ? c->a.watch_after_ms : until);
            continue;
        }
        int r = ctl_watch(&c->a, (uint32_t)((until - now) / 1000u));
        if (r == 1 && after)
            after(c); /* what a heartbeat notes after a sync */
        if (r == KS_E_COMM_LOST)
            c->a.watch_after_ms = sim_mono_ms() + 1000u + randombytes_uniform(2000);
        else if (r == KS_E_SUPERVISOR_BUSY)
            c->push_refused++, c->a.watch_after_ms = until;
        else if (r < 0)
            c->a.watch_after_ms = until;
    }
}
