/*
 * sim_report.c - what the sim prints: a progress line a second, the
 * status file a test polls, and the summary (text or --json).
 *
 * "In step" is judged per scope against the newest version any controller
 * of the scope applied (the sim does not ask the supervisor); the e2e test
 * compares that version and root with what keysupd published.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "sim.h"

void sim_stats_sum(sim *s, sim_stats *t)
{
    memset(t, 0, sizeof *t);
    for (unsigned k = 0; k < s->o.threads; k++) {
        sim_worker *w = &s->w[k];
        pthread_mutex_lock(&w->mu);
        t->hb_ok += w->st.hb_ok;
        t->hb_err += w->st.hb_err;
        for (unsigned b = 0; b <= SIM_LAT_BUCKETS; b++)
            t->lat[b] += w->st.lat[b];
        pthread_mutex_unlock(&w->mu);
    }
    for (unsigned i = 0; i < s->o.controllers; i++) {
        t->presented += __atomic_load_n(&s->ctl[i]->presented, __ATOMIC_RELAXED);
        t->granted += __atomic_load_n(&s->ctl[i]->granted, __ATOMIC_RELAXED);
    }
}

/* Latency percentile p (0..1) in ms, from 0.5 ms buckets (upper edge). */
double sim_lat_pct(const sim_stats *t, double p)
{
    uint64_t n = 0, seen = 0;
    for (unsigned b = 0; b <= SIM_LAT_BUCKETS; b++)
        n += t->lat[b];
    if (!n)
        return 0;
    for (unsigned b = 0; b <= SIM_LAT_BUCKETS; b++) {
        seen += t->lat[b];
        if ((double)seen >= p * (double)n)
            return (b + 1) * 0.5;
    }
    return SIM_LAT_BUCKETS * 0.5;
}

typedef struct scope_view {
    uint64_t ver;
    uint8_t root[KS_HASH_SIZE];
    unsigned n, in_step;
    uint64_t one;                /* a controller of the scope (the supervisor's id) */
} scope_view;

/* Per scope: the newest version applied and how many hold it. */
static unsigned in_step(sim *s, scope_view *v)
{
    unsigned sc = s->o.scopes, total = 0;
    memset(v, 0, sizeof *v * sc);
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < s->o.controllers; i++) {
            sim_ctl *c = s->ctl[i];
            if (!c->enrolled || !c->a.set.scope)
                continue;
            scope_view *x = &v[(c->a.set.scope - 1) % sc];
            pthread_mutex_lock(&c->w->mu);
            if (pass == 0) {
                x->n++;
                x->one = c->a.set.controller_id;
                if (c->ver > x->ver) {
                    x->ver = c->ver;
                    memcpy(x->root, c->root, sizeof x->root);
                }
            } else if (c->ver && c->ver == x->ver && !memcmp(c->root, x->root, sizeof x->root)) {
                x->in_step++;
                total++;
            }
            pthread_mutex_unlock(&c->w->mu);
        }
    return total;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static json_t *watch_json(sim *s)
{
    uint64_t *t = calloc(s->o.controllers ? s->o.controllers : 1, sizeof *t);
    unsigned n = 0;
    char hex[2 * KS_KEYID_SIZE + 1];
    json_t *o;
    if (!t)
        return json_null();
    for (unsigned i = 0; i < s->o.controllers; i++) {
        uint64_t m = __atomic_load_n(&s->ctl[i]->watch_ms, __ATOMIC_RELAXED);
        if (m)
            t[n++] = m;
    }
    qsort(t, n, sizeof *t, cmp_u64);
    sodium_bin2hex(hex, sizeof hex, s->watch_id, sizeof s->watch_id);
    /* wall-clock unix ms: the caller subtracts the time it revoked at */
    o = json_pack("{s:s,s:i,s:I,s:I,s:I,s:I}", "key_id", hex, "refused", (int)n, "first_ms",
                  (json_int_t)(n ? t[0] : 0), "p50_ms", (json_int_t)(n ? t[(n - 1) / 2] : 0),
                  "p99_ms", (json_int_t)(n ? t[(size_t)((n - 1) * 0.99)] : 0), "last_ms",
                  (json_int_t)(n ? t[n - 1] : 0));
    free(t);
    return o;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static json_t *summary_json(sim *s)
{
    sim_stats t;
    scope_view *v = calloc(s->o.scopes, sizeof *v);
    json_t *o, *sc = json_array(), *faults = json_object();
    uint64_t now = sim_mono_ms(), fleet = __atomic_load_n(&s->fleet_ms, __ATOMIC_RELAXED);
    double el = fleet && now > fleet ? (double)(now - fleet) / 1000.0 : 0;
    unsigned step = v ? in_step(s, v) : 0;
    unsigned fc[SIM_F_KINDS] = {0};
    char rh[2 * KS_HASH_SIZE + 1];

    sim_stats_sum(s, &t);
    for (unsigned i = 0; v && i < s->o.scopes; i++) {
        sodium_bin2hex(rh, sizeof rh, v[i].root, sizeof v[i].root);
        json_array_append_new(sc, json_pack("{s:i,s:I,s:s,s:i,s:i,s:I}", "scope", (int)(i + 1),
                                            "version", (json_int_t)v[i].ver, "root", rh,
                                            "controllers", (int)v[i].n, "in_step",
                                            (int)v[i].in_step, "controller_id",
                                            (json_int_t)v[i].one));
    }
    json_t *fids = json_object();
    for (int k = 1; k < SIM_F_KINDS; k++)
        json_object_set_new(fids, sim_fault_name(k), json_array());
    for (unsigned i = 0; i < s->o.controllers; i++) {
        sim_ctl *c = s->ctl[i];
        fc[c->fault]++;
        if (c->fault && c->enrolled) /* the supervisor's ids, for matching its incidents */
            json_array_append_new(json_object_get(fids, sim_fault_name(c->fault)),
                                  json_integer((json_int_t)c->a.set.controller_id));
    }
    for (int k = 1; k < SIM_F_KINDS; k++)
        json_object_set_new(faults, sim_fault_name(k), json_integer(fc[k]));
    o = json_pack("{s:i,s:i,s:i,s:i,s:i,s:f,s:I,s:I,s:f,s:{s:f,s:f,s:f},s:i,s:o,s:I,s:I,s:o,s:I}",
                  "controllers", (int)s->o.controllers, "enrolled",
                  (int)__atomic_load_n(&s->enrolled, __ATOMIC_RELAXED), "failed",
                  (int)__atomic_load_n(&s->failed, __ATOMIC_RELAXED), "threads",
                  (int)s->o.threads, "heartbeat_s", (int)s->o.heartbeat, "elapsed_s", el,
                  "heartbeats", (json_int_t)t.hb_ok, "heartbeat_errors", (json_int_t)t.hb_err,
                  "heartbeats_per_s", el > 0 ? (double)t.hb_ok / el : 0.0, "latency_ms", "p50",
                  sim_lat_pct(&t, 0.50), "p99", sim_lat_pct(&t, 0.99), "max",
                  sim_lat_pct(&t, 1.0), "in_step", (int)step, "scopes", sc, "presented",
                  (json_int_t)t.presented, "granted", (json_int_t)t.granted, "faults", faults,
                  "rss_kb", (json_int_t)rss_kb());
    json_object_set_new(o, "fault_controllers", fids);
    {
        /* Shed heartbeats (503 KSE-121) are a busy supervisor, not a lost
         * link: counted apart, and no controller may show KSE-100 for them. */
        uint64_t shed = 0, lost = 0, fb = 0, wakes = 0, refused = 0, carried = 0;
        uint64_t ans_ns = 0, app_ns = 0, n_ans = 0, n_app = 0;
        for (unsigned i = 0; i < s->o.controllers; i++) {
            wakes += __atomic_load_n(&s->ctl[i]->a.watch_wakes, __ATOMIC_RELAXED);
            refused += __atomic_load_n(&s->ctl[i]->push_refused, __ATOMIC_RELAXED);
            carried += __atomic_load_n(&s->ctl[i]->a.watch_carried, __ATOMIC_RELAXED);
            ans_ns += __atomic_load_n(&s->ctl[i]->a.cpu_answer_ns, __ATOMIC_RELAXED);
            app_ns += __atomic_load_n(&s->ctl[i]->a.cpu_apply_ns, __ATOMIC_RELAXED);
            n_ans += __atomic_load_n(&s->ctl[i]->a.n_answer, __ATOMIC_RELAXED);
            n_app += __atomic_load_n(&s->ctl[i]->a.n_apply, __ATOMIC_RELAXED);
            shed += __atomic_load_n(&s->ctl[i]->a.shed_heartbeats, __ATOMIC_RELAXED);
            /* carried nonces refused (a restart, an expiry): fetched again */
            fb += __atomic_load_n(&s->ctl[i]->a.nonce_fallbacks, __ATOMIC_RELAXED);
            lost += __atomic_load_n(&s->ctl[i]->a.comm_lost, __ATOMIC_RELAXED) != 0;
        }
        json_object_set_new(o, "heartbeats_shed", json_integer((json_int_t)shed));
        json_object_set_new(o, "comm_lost", json_integer((json_int_t)lost));
        json_object_set_new(o, "nonce_fallbacks", json_integer((json_int_t)fb));
        json_object_set_new(o, "push_wakes", json_integer((json_int_t)wakes));
        json_object_set_new(o, "push_refused", json_integer((json_int_t)refused));
        /* the push path's own CPU (ctl_watch.c): watch answers checked, deltas
         * verified and applied; the bench takes differences across a burst */
        json_object_set_new(o, "push_carried", json_integer((json_int_t)carried));
        json_object_set_new(o, "cpu_ns", json_pack("{s:I,s:I,s:I,s:I}", "answer_check",
                                                   (json_int_t)ans_ns, "answers", (json_int_t)n_ans,
                                                   "delta_apply", (json_int_t)app_ns, "deltas",
                                                   (json_int_t)n_app));
    }
    json_object_set_new(o, "verify_per_s_core", json_real(s->verify_per_s));
    json_object_set_new(o, "verify_per_cpu_s", json_real(s->verify_per_cpu_s));
    json_object_set_new(o, "cores", json_integer(s->cores));
    json_object_set_new(o, "verify_bound_per_s", json_real(s->verify_per_s * s->cores));
    if (s->watch)
        json_object_set_new(o, "watch", watch_json(s));
    free(v);
    return o;
}

void sim_progress(sim *s, FILE *f)
{
    json_t *o = summary_json(s);
    json_t *w = json_object_get(o, "watch");
    fprintf(f, "t=%.0fs enrolled %lld/%lld failed %lld in-step %lld hb %lld (%.0f/s) p50 %.1f ms "
               "p99 %.1f ms errors %lld",
            json_real_value(json_object_get(o, "elapsed_s")),
            json_integer_value(json_object_get(o, "enrolled")),
            json_integer_value(json_object_get(o, "controllers")),
            json_integer_value(json_object_get(o, "failed")),
            json_integer_value(json_object_get(o, "in_step")),
            json_integer_value(json_object_get(o, "heartbeats")),
            json_real_value(json_object_get(o, "heartbeats_per_s")),
            json_real_value(json_object_get(json_object_get(o, "latency_ms"), "p50")),
            json_real_value(json_object_get(json_object_get(o, "latency_ms"), "p99")),
            json_integer_value(json_object_get(o, "heartbeat_errors")));
    if (w)
        fprintf(f, " watch-refused %lld", json_integer_value(json_object_get(w, "refused")));
    fputc('\n', f);
    fflush(f);
    json_decref(o);
}

void sim_status_file(sim *s)
{
    char tmp[1100];
    json_t *o;
    FILE *f;
    if (!s->o.status_path)
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", s->o.status_path);
    if (!(f = fopen(tmp, "w")))
        return;
    o = summary_json(s);
    json_dumpf(o, f, JSON_COMPACT);
    json_decref(o);
    if (fclose(f) == 0)
        rename(tmp, s->o.status_path); /* a reader sees the old file or the new one */
}

void sim_summary(sim *s)
{
    json_t *o = summary_json(s);
    if (s->o.json) {
        json_dumpf(o, s->out, JSON_INDENT(2));
        fputc('\n', s->out);
    } else {
        json_t *lat = json_object_get(o, "latency_ms"), *w = json_object_get(o, "watch");
        fprintf(s->out,
                "keysup-sim: %lld controllers (%lld enrolled, %lld failed) on %d thread(s), "
                "%.1f s after the fleet was enrolled\n"
                "  heartbeats %lld ok, %lld failed: %.0f/s, p50 %.1f ms, p99 %.1f ms\n"
                "  in step with their scope's newest version: %lld\n"
                "  keys presented %lld, granted %lld\n",
                json_integer_value(json_object_get(o, "controllers")),
                json_integer_value(json_object_get(o, "enrolled")),
                json_integer_value(json_object_get(o, "failed")), (int)s->o.threads,
                json_real_value(json_object_get(o, "elapsed_s")),
                json_integer_value(json_object_get(o, "heartbeats")),
                json_integer_value(json_object_get(o, "heartbeat_errors")),
                json_real_value(json_object_get(o, "heartbeats_per_s")),
                json_real_value(json_object_get(lat, "p50")),
                json_real_value(json_object_get(lat, "p99")),
                json_integer_value(json_object_get(o, "in_step")),
                json_integer_value(json_object_get(o, "presented")),
                json_integer_value(json_object_get(o, "granted")));
        for (int k = 1; k < SIM_F_KINDS; k++) {
            json_int_t n = json_integer_value(json_object_get(json_object_get(o, "faults"),
                                                              sim_fault_name(k)));
            if (n)
                fprintf(s->out, "  fault %s: %lld controller(s)\n", sim_fault_name(k), (long long)n);
        }
        if (w)
            fprintf(s->out, "  watched key refused by %lld controller(s)\n",
                    json_integer_value(json_object_get(w, "refused")));
    }
    fflush(s->out);
    json_decref(o);
}
