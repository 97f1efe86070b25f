/*
 * ctl_watch.c - the push path on the controller (issue 13; docs/controller.md,
 * "The push path"). Between heartbeats the controller holds one signed
 * `GET /v1/device/watch/{version}/{wait}`; keysupd answers it when the
 * controller's scope publishes a newer version, and the controller then
 * syncs at once the way a heartbeat's answer makes it sync (ctl_sync_to: the
 * delta, or a full download). A revocation thus reaches the door in about a
 * round trip instead of up to a heartbeat interval.
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

int ctl_watch(ctl_agent *a, uint32_t wait_s)
{
    const ks_snap_header *h = ks_store_header(&a->store);
    uint64_t from = h ? h->version : 0, published;
    uint8_t root[KS_HASH_SIZE];
    char path[80];
    int status = 0, aerr = 0, have_root;
    json_t *ans;

    /* With nothing applied it names version 0: keysupd answers at once and
     * the first database arrives now, not at the first heartbeat. */
    if (!a->set.controller_id)
        return KS_E_INVAL;
    snprintf(path, sizeof path, "/v1/device/watch/%llu/%u", (unsigned long long)from,
             wait_s ? wait_s : 1u);
    a->hold_s = wait_s;
    ans = ctl_answer_json(a, "GET", path, NULL, &status, &aerr);
    a->hold_s = 0;
    if (aerr)
        return aerr; /* not authentic: nothing acted on */
    if (status == 503 || status == 429) {
        json_decref(ans);
        return KS_E_SUPERVISOR_BUSY;
    }
    if (!ans || status != 200) {
        json_decref(ans);
        return KS_E_COMM_LOST;
    }
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
    return h && h->version >= published ? 1 : KS_E_BASE;
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
