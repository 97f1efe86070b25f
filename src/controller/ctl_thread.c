/*
 * ctl_thread.c - the sync thread: heartbeat, sync and audit upload run
 * beside the decision path (issue 17 row 6). A supervisor that hangs
 * instead of dying (SIGSTOP, a dead NAT, a full disk) used to freeze the
 * door for curl's 30 s because both shared one poll() loop.
 *
 * Locking: a->mu guards the store, the engine and the agent struct. The
 * sync thread takes it for each heartbeat; ctl_http.c drops it around every
 * network wait, so decisions wait at most for flash work, never for the
 * network. Every request has deadlines derived from the heartbeat.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ctl_agent.h"
#include "ctl_licence.h"

uint64_t ctl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ctl_lock(ctl_agent *a)
{
    if (a->threaded)
        pthread_mutex_lock(&a->mu);
}

void ctl_unlock(ctl_agent *a)
{
    if (a->threaded)
        pthread_mutex_unlock(&a->mu);
}

unsigned ctl_request_deadline(const ctl_agent *a)
{
    /* Twice the heartbeat, at least 2 s (a loaded supervisor answers within
     * that), at most 30 s. A request slower than this is a lost heartbeat. */
    unsigned d = 2u * (a->o.heartbeat ? a->o.heartbeat : 5u);
    return d < 2u ? 2u : d > 30u ? 30u : d;
}

static int stopping(ctl_agent *a)
{
    return __atomic_load_n(&a->stop, __ATOMIC_RELAXED) != 0;
}

void ctl_link_watch(ctl_agent *a)
{
    uint64_t hb = a->o.heartbeat ? a->o.heartbeat : 5u;
    uint64_t since = a->last_contact_ms ? a->last_contact_ms : a->started_ms;
    uint64_t limit = (3u * hb + ctl_request_deadline(a)) * 1000u;
    if (!a->o.supervisor || !a->set.controller_id || a->comm_lost || !since)
        return;
    if (ctl_mono_ms() - since <= limit)
        return;
    a->comm_lost = 1;
    ctl_note_refusal(a, KS_E_COMM_LOST, (uint64_t)time(NULL));
    fprintf(stderr, "keysup-controller: KSE-100 COMM_LOST: no answer from %s for %llu s; "
                    "deciding offline on the cached database\n", a->o.supervisor,
            (unsigned long long)((ctl_mono_ms() - since) / 1000u));
}

static void *sync_main(void *p)
{
    ctl_agent *a = p;
    uint64_t next = ctl_mono_ms();
    while (!stopping(a)) {
        uint64_t now = ctl_mono_ms();
        if (now >= next) {
            uint64_t hb = (uint64_t)a->o.heartbeat * 1000u, end;
            ctl_lock(a);
            (void)ctl_heartbeat(a);
            ctl_licence_tick(a); /* docs/licences.md */
            ctl_unlock(a);
            /* A steady rhythm from the start of each heartbeat (what the
             * supervisor counts missed heartbeats against), but at least a
             * quarter interval of rest after a slow one. */
            end = ctl_mono_ms();
            next = now + hb;
            if (next < end + hb / 4)
                next = end + hb / 4;
            continue;
        }
        ctl_watch_until(a, next); /* the push path, or a sleep (ctl_watch.c) */
    }
    return NULL;
}

int ctl_sync_start(ctl_agent *a)
{
    int err = pthread_mutex_init(&a->mu, NULL);
    if (err)
        return err;
    a->started_ms = ctl_mono_ms();
    /* Two agents under one id show as two instances (KSE-730). */
    randombytes_buf(&a->instance, sizeof a->instance);
    a->threaded = 1;
    if (!a->o.supervisor)
        return 0;
    err = pthread_create(&a->sync_thread, NULL, sync_main, a);
    if (err) {
        a->threaded = 0;
        pthread_mutex_destroy(&a->mu);
    }
    return err;
}

void ctl_sync_stop(ctl_agent *a)
{
    if (!a->threaded)
        return;
    __atomic_store_n(&a->stop, 1, __ATOMIC_RELAXED);
    if (a->o.supervisor)
        pthread_join(a->sync_thread, NULL);
    a->threaded = 0;
    pthread_mutex_destroy(&a->mu);
}
