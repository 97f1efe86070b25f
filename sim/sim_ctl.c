/*
 * sim_ctl.c - the life of one simulated controller: enrol with its
 * provisioning token, start the engine, then heartbeat with the agent's own
 * ctl_heartbeat (report, commands, delta or snapshot, audit upload), present
 * keys between heartbeats, and take its fault when the time comes.
 *
 * Faults go through the agent's own control-socket handler (ctl_handle
 * "fault"), the same hooks the e2e tests use on a real agent.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "sim.h"

static const char *names[SIM_F_KINDS] = {"none", "corrupt", "drift", "offline", "oldproto",
                                         "lockout"};

const char *sim_fault_name(int f)
{
    return f >= 0 && f < SIM_F_KINDS ? names[f] : "?";
}

/* One control-socket request to the agent, answered in-process. */
static json_t *handle(sim_ctl *c, json_t *req)
{
    json_t *ans = ctl_handle(&c->a, req);
    json_decref(req);
    return ans;
}

static void fault_op(sim_ctl *c, const char *kind, json_t *value)
{
    json_decref(handle(c, json_pack("{s:s,s:s,s:o}", "op", "fault", "kind", kind, "value",
                                    value ? value : json_null())));
}

/* The next use counter: like a key file's (cli_present.c), the time in
 * microseconds, but kept strictly above the last one this process signed,
 * over all worker threads. A real key never signs one counter twice; two
 * simulated controllers presenting in the same millisecond must not either,
 * or the supervisor rightly reports a clone (KSE-214, one counter at two
 * controllers). */
static uint64_t next_counter(void)
{
    static _Atomic uint64_t last;
    uint64_t now = sim_wall_ms() * 1000u, prev = atomic_load(&last), next;
    do
        next = now > prev ? now : prev + 1;
    while (!atomic_compare_exchange_weak(&last, &prev, next));
    return next;
}

/* Presents key k at reader `reader`; bad: the answer is spoiled (a wrong
 * signature by a known key, as an attacker replaying would send). 1 granted. */
static int present(sim_ctl *c, unsigned k, const char *reader, int bad)
{
    const sim_key *key = &c->w->sim->o.keys[k];
    uint8_t ch[KS_CHALLENGE_SIZE], resp[KS_RESPONSE_SIZE];
    char hex[2 * KS_RESPONSE_SIZE + 1];
    size_t got = 0;
    int granted = 0;
    json_t *ans = handle(c, json_pack("{s:s,s:s,s:s}", "op", "challenge", "reader", reader,
                                      "action", "access"));
    const char *chh = json_string_value(json_object_get(ans, "challenge"));
    if (!chh || sodium_hex2bin(ch, sizeof ch, chh, strlen(chh), NULL, &got, NULL) ||
        got != sizeof ch)
        goto cleanup;
    if (ks_response_make(&c->a.crypto, ch, next_counter(), key->pk, key->sk, resp) != KS_OK)
        goto cleanup;
    if (bad)
        resp[sizeof resp - 1] ^= 0x55;
    sodium_bin2hex(hex, sizeof hex, resp, sizeof resp);
    json_decref(ans);
    ans = handle(c, json_pack("{s:s,s:s,s:s}", "op", "respond", "reader", reader, "response", hex));
    granted = json_is_true(json_object_get(ans, "granted"));
cleanup:
    json_decref(ans);
    c->presented++;
    c->granted += (uint64_t)granted;
    return granted;
}

/* 1 while the lockout fault's key is locked at this controller. */
static int locked(sim_ctl *c)
{
    json_t *st = ctl_status_json(&c->a);
    int n = (int)json_array_size(json_object_get(st, "lockouts"));
    json_decref(st);
    return n > 0;
}

static void take_fault(sim_ctl *c, uint64_t now)
{
    const sim_opts *o = &c->w->sim->o;
    c->fault_done = 1;
    switch (c->fault) {
    case SIM_F_CORRUPT:
        fault_op(c, "corrupt_sector", NULL);
        break;
    case SIM_F_DRIFT:
        fault_op(c, "skew_clock", json_integer(o->drift));
        break;
    case SIM_F_OFFLINE:
        c->a.link_down = 1;
        c->fault_done = 2; /* back online later */
        (void)now;
        break;
    case SIM_F_OLDPROTO:
        fault_op(c, "protocol", json_integer(0));
        break;
    case SIM_F_LOCKOUT:
        for (int i = 0; i < 32 && o->nkeys > 0 && !locked(c); i++)
            present(c, 0, "sim-lock", 1);
        break;
    default:
        break;
    }
}

/* The watched key: refused once it is not an active record here. */
static void watch_check(sim_ctl *c)
{
    sim *s = c->w->sim;
    uint8_t rec[KS_RECORD_SIZE];
    ks_record r;
    if (!s->watch || c->watch_ms)
        return;
    int err = ks_store_lookup(&c->a.store, s->watch_id, rec);
    if (err == KS_OK && ks_record_decode(&r, rec, NULL) == KS_OK && r.state == KS_STATE_ACTIVE)
        return;
    if (err != KS_OK && err != KS_E_NOTFOUND)
        return; /* a damaged store decides nothing yet */
    if (err == KS_E_NOTFOUND && !ks_store_header(&c->a.store))
        return; /* nothing applied yet: not a refusal of this key */
    c->watch_ms = sim_wall_ms();
}

static void record(sim_ctl *c, int err, uint64_t us)
{
    sim_worker *w = c->w;
    uint64_t b = us / 500u;
    pthread_mutex_lock(&w->mu);
    if (err == KS_OK)
        w->st.hb_ok++;
    else
        w->st.hb_err++;
    w->st.lat[b < SIM_LAT_BUCKETS ? b : SIM_LAT_BUCKETS]++;
    const ks_snap_header *h = ks_store_header(&c->a.store);
    c->ver = h ? h->version : 0;
    if (h)
        memcpy(c->root, h->root, sizeof c->root);
    pthread_mutex_unlock(&w->mu);
}

/* After a sync brought by a watch (sim_watch.c): what a heartbeat notes. */
static void after_push(sim_ctl *c)
{
    const ks_snap_header *h;
    pthread_mutex_lock(&c->w->mu);
    h = ks_store_header(&c->a.store);
    c->ver = h ? h->version : 0;
    if (h)
        memcpy(c->root, h->root, sizeof c->root);
    pthread_mutex_unlock(&c->w->mu);
    watch_check(c);
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sim_ctl_body(sim_ctl *c)
{
    sim *s = c->w->sim;
    const sim_opts *o = &s->o;
    uint64_t hb_ms = (uint64_t)o->heartbeat * 1000u;
    /* enrolment is spread at --enroll-rate so the fleet does not arrive as one burst */
    uint64_t at = s->start_ms + (uint64_t)c->idx * 1000u / (o->enroll_rate ? o->enroll_rate : 1);
    int tries = 0;

    sim_sleep_until(c, at);
    while (!sim_stopping(s) && ctl_enroll(&c->a, o->url, c->token) != 0) {
        if (++tries >= 5) {
            c->failed = 1;
            __atomic_add_fetch(&s->failed, 1, __ATOMIC_RELAXED);
            return;
        }
        sim_sleep_until(c, sim_mono_ms() + 500u * (uint64_t)tries + randombytes_uniform(500));
    }
    if (sim_stopping(s) || ctl_start_engine(&c->a) != KS_OK) {
        c->failed = 1;
        __atomic_add_fetch(&s->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    c->enrolled = 1;
    __atomic_add_fetch(&s->enrolled, 1, __ATOMIC_RELAXED);
    c->a.started_ms = ctl_mono_ms();
    randombytes_buf(&c->a.instance, sizeof c->a.instance);

    /* heartbeats at a random phase, then a steady rhythm (as ctl_thread.c) */
    uint64_t next = sim_mono_ms() + randombytes_uniform((uint32_t)hb_ms);
    uint64_t next_key = 0, key_gap = 0;
    if (o->keys_per_s > 0 && o->nkeys > 0) {
        key_gap = (uint64_t)(1000.0 * o->controllers / o->keys_per_s);
        next_key = sim_mono_ms() + randombytes_uniform((uint32_t)(key_gap ? key_gap : 1));
    }
    while (!sim_stopping(s)) {
        uint64_t now = sim_mono_ms();
        uint64_t fleet = __atomic_load_n(&s->fleet_ms, __ATOMIC_RELAXED);
        if (c->fault && !c->fault_done && fleet && now >= fleet + o->fault_at * 1000u)
            take_fault(c, now);
        if (c->fault_done == 2 && now >= fleet + (o->fault_at + o->offline_for) * 1000u) {
            c->a.link_down = 0;
            c->fault_done = 1;
        }
        if (key_gap && now >= next_key) {
            present(c, (unsigned)(c->presented % o->nkeys), "sim-r1", 0);
            next_key = now + key_gap;
        }
        if (now >= next) {
            uint64_t t0 = mono_us();
            int err = ctl_heartbeat(&c->a);
            record(c, err, mono_us() - t0);
            if (err == KS_OK)
                c->hb_ok++;
            else
                c->hb_err++;
            watch_check(c);
            now = sim_mono_ms();
            next += hb_ms;
            if (next < now + hb_ms / 4)
                next = now + hb_ms / 4; /* a slow one: a quarter interval of rest */
        }
        uint64_t wake = next;
        if (key_gap && next_key < wake)
            wake = next_key;
        sim_watch_until(c, wake, after_push); /* the push path, or a sleep */
    }
}
