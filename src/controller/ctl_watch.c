/*
 * ctl_watch.c - the push path on the controller (issue 13; docs/controller.md,
 * "The push path"). Between heartbeats the controller holds one signed
 * `GET /v1/device/watch/{version}/{wait}`; keysupd answers it when the
 * controller's scope publishes a newer version, and the controller then
 * syncs at once the way a heartbeat's answer makes it sync (ctl_sync_to: the
 * delta, or a full download). A revocation thus reaches the door in about a
 * round trip instead of up to a heartbeat interval. The controller asks for
 * the delta itself in the answer (X-Keysup-Watch: delta): when keysupd has
 * the publisher's delta from the controller's version cached, the answer is
 * that delta (unsigned per request, checked like a fetched delta), else the
 * signed "changed" answer and the usual fetch.
 *
 * The heartbeat is unchanged and stays the liveness signal: a watch that
 * fails, is refused (503 KSE-121 over keysupd's watch_max) or is not
 * authentic only pauses the watching, never counts as link loss.
 * keysup-sim runs the same ctl_watch on its fibers (sim/sim_watch.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ctl_agent.h"
#include "ctl_answer.h"
#include "ks_hex.h"
#include "ctl_http.h"

uint64_t ctl_thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0; /* no CPU clock: the figures read 0, nothing else depends on them */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* After a wake the next watch waits 0.25-2 s. A publish wakes a whole
 * scope at once, and each woken controller's next watch is a nonce and a
 * signed request for keysupd to verify: at once, 10,000 of them compete with
 * the answers keysupd is still writing to the rest of the fleet. Nothing is
 * missed meanwhile: the next watch names the version now held, and keysupd
 * answers it at once when a newer one was published in between. */
static int rearm_later(ctl_agent *a, int r)
{
    if (r == 1)
        a->watch_after_ms = ctl_mono_ms() + 250u + randombytes_uniform(1750);
    return r;
}

/* The answer is the publisher's delta itself (sup_watch_delta.c): applied
 * with exactly a fetched delta's checks. Refused (tampered, not from our
 * version, a key we do not trust): noted like a refused fetched delta, then
 * the usual fetch, which brings whatever keysupd really publishes. */
static int carried_delta(ctl_agent *a, const ctl_http_resp *r, uint64_t from)
{
    const ks_snap_header *h;
    a->watch_wakes++;
    if (ctl_sync_delta_bytes(a, r->body, r->len) == KS_OK) {
        a->watch_carried++;
        return 1;
    }
    ctl_sync_to(a, from + 1, NULL);
    h = ks_store_header(&a->store);
    return h && h->version > from ? 1 : KS_E_BASE;
}

int ctl_watch(ctl_agent *a, uint32_t wait_s)
{
    /* Asks for the delta in the answer; a keysupd without it ignores this. */
    static const char *const want[] = {"X-Keysup-Watch: delta", NULL};
    const ks_snap_header *h = ks_store_header(&a->store);
    uint64_t from = h ? h->version : 0, published;
    uint8_t root[KS_HASH_SIZE];
    char path[80];
    int rc, aerr, have_root;
    ctl_http_resp r;
    json_t *ans;

    /* With nothing applied it names version 0: keysupd answers at once and
     * the first database arrives now, not at the first heartbeat. */
    if (!a->set.controller_id)
        return KS_E_INVAL;
    snprintf(path, sizeof path, "/v1/device/watch/%llu/%u", (unsigned long long)from,
             wait_s ? wait_s : 1u);
    a->hold_s = wait_s;
    rc = ctl_http_ex(a, "GET", path, NULL, 1, a->watch_fetch ? NULL : want, 0, &r);
    a->hold_s = 0;
    if (rc != 0)
        return KS_E_COMM_LOST;
    if (r.status == 503 || r.status == 429) {
        ctl_http_free(&r);
        return KS_E_SUPERVISOR_BUSY;
    }
    if (r.status != 200) {
        ctl_http_free(&r);
        return KS_E_COMM_LOST;
    }
    /* Unsigned and a delta: the publisher's signature decides. A signed JSON
     * answer with its signature stripped is no delta and fails the check below. */
    if (from && !r.answer_sig[0] && r.len >= 4 && memcmp(r.body, KS_DELTA_MAGIC, 4) == 0) {
        rc = carried_delta(a, &r, from);
        ctl_http_free(&r);
        return rearm_later(a, rc);
    }
    {
        uint64_t t0 = ctl_thread_cpu_ns();
        aerr = ctl_answer_check(a, "GET", path, &r, NULL);
        a->cpu_answer_ns += ctl_thread_cpu_ns() - t0;
        a->n_answer++;
    }
    ans = aerr ? NULL : json_loadb((const char *)r.body, r.len, 0, NULL);
    ctl_http_free(&r);
    if (aerr)
        return aerr; /* not authentic: nothing acted on */
    if (!ans)
        return KS_E_COMM_LOST;
    published = (uint64_t)json_integer_value(json_object_get(ans, "version"));
    have_root = ks_unhex(root, sizeof root, json_string_value(json_object_get(ans, "root"))) == 0;
    int changed = json_is_true(json_object_get(ans, "changed")) && published > from;
    const char *why = json_string_value(json_object_get(ans, "reason"));
    int stopping = !changed && why && strcmp(why, "shutdown") == 0;
    json_decref(ans);
    if (stopping) /* keysupd is stopping: watching again at once would spin */
        return KS_E_COMM_LOST;
    if (!changed)
        return 0;
    a->watch_wakes++;
    ctl_sync_to(a, published, have_root ? root : NULL);
    h = ks_store_header(&a->store);
    /* Not in step after all (a refused delta, a restore, a busy keysupd):
     * the heartbeat deals with it; watching again at once would spin. */
    return rearm_later(a, h && h->version >= published ? 1 : KS_E_BASE);
}

void ctl_watch_until(ctl_agent *a, uint64_t until)
{
    while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) {
        uint64_t now = ctl_mono_ms();
        if (now >= until)
            return;
        if (a->o.watch && now >= a->watch_after_ms && until - now >= 2000u) {
            int r;
            ctl_lock(a);
            r = ctl_watch(a, (uint32_t)((until - now) / 1000u));
            ctl_unlock(a);
            if (r == KS_E_COMM_LOST) /* keysupd restarting: look again soon */
                a->watch_after_ms = ctl_mono_ms() + 1000u + randombytes_uniform(2000);
            else if (r < 0 || r > 1)
                a->watch_after_ms = until; /* refused or out of step: the heartbeat's turn */
            continue;
        }
        uint64_t wait = until - now > 100u ? 100u : until - now;
        struct timespec ts = {0, (long)wait * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}
