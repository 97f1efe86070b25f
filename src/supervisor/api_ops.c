/*
 * api_ops.c - /healthz, /v1/ping (a static answer, the benchmark's
 * baseline) and /metrics (Prometheus text format).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_hbsess.h"
#include "sup_hbrep.h"
#include "sup_watch.h"
#include "sup_api.h"
#include "sup_diag.h"
#include "sup_devcache.h"
#include "sup_hbq.h"
#include "sup_shed.h"
#include "sup_clockstep.h"

static void healthz(sup_req *rq, sup_resp *rs)
{
    int64_t one = 0;
    int rc;
    pthread_mutex_lock(&rq->s->lock);
    rc = sup_db_int(rq->s->db, "SELECT 1", NULL, 0, &one);
    pthread_mutex_unlock(&rq->s->lock);
    if (rc != KS_DB_OK)
        api_error(rs, 503, "INTERNAL", "database unavailable");
    else
        api_json(rs, 200, json_pack("{s:s,s:s}", "status", "ok", "version", KS_VERSION_STRING));
}

static void ping(sup_req *rq, sup_resp *rs)
{
    (void)rq;
    api_json(rs, 200, json_pack("{s:b}", "ok", 1));
}

typedef struct scope_row {
    char *buf;
    size_t len, cap;
} scope_row;

static void append(scope_row *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void append(scope_row *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        {
            size_t nc = o->cap * 2 + (size_t)n;
            char *nb = realloc(o->buf, nc);
            if (!nb)
                return;
            o->buf = nb;
            o->cap = nc;
        }
    }
}

static int gauge_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    scope_row *o = ctx;
    (void)names;
    if (ncol >= 2)
        append(o, "keysup_snapshot_version{scope=\"%lld\"} %lld\n", (long long)c[0].i,
               (long long)c[1].i);
    return 0;
}

static void metrics(sup_req *rq, sup_resp *rs)
{
    sup_metrics *m = &rq->s->metrics;
    scope_row o = {malloc(4096), 0, 4096};
    int64_t keys = 0, ctrls = 0, stale = 0, pending = 0;
    if (!o.buf) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        return;
    }
    o.buf[0] = '\0';
#define C(name, help, v)                                                            \
    append(&o, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", \
           (unsigned long long)atomic_load(&v))
    C("keysup_http_requests_total", "HTTP requests answered.", m->http_requests);
    append(&o, "# HELP keysup_http_responses_total HTTP responses by status class.\n"
               "# TYPE keysup_http_responses_total counter\n"
               "keysup_http_responses_total{class=\"2xx\"} %llu\n"
               "keysup_http_responses_total{class=\"4xx\"} %llu\n"
               "keysup_http_responses_total{class=\"5xx\"} %llu\n",
           (unsigned long long)atomic_load(&m->http_2xx),
           (unsigned long long)atomic_load(&m->http_4xx),
           (unsigned long long)atomic_load(&m->http_5xx));
    C("keysup_http_request_too_large_total", "Requests refused with 413.", m->http_413);
    C("keysup_auth_failures_total", "Requests refused with 401 or 403.", m->auth_failures);
    C("keysup_device_replays_total", "Device requests refused for a reused nonce.",
      m->device_replays);
    C("keysup_heartbeats_total", "Controller heartbeats stored.", m->heartbeats);
    C("keysup_snapshots_served_total", "Full snapshots served.", m->snapshots_served);
    C("keysup_deltas_served_total", "Deltas served.", m->deltas_served);
    C("keysup_audit_records_total", "Audit entries written.", m->audit_records);
    C("keysup_publishes_total", "Snapshots published.", m->publishes);
#undef C
    append(&o, "# HELP keysup_build_info The running keysupd's version (always 1).\n"
               "# TYPE keysup_build_info gauge\nkeysup_build_info{version=\"%s\"} 1\n",
           KS_VERSION_STRING);
    {
        /* Latency in seconds as histograms, so a quantile or an SLO can be
         * computed over any window (histogram_quantile). */
        char *h = sup_hist_text(&m->request_seconds, "keysup_http_request_duration_seconds",
                               "Time to answer an HTTP request, from its first byte.");
        if (h)
            append(&o, "%s", h);
        free(h);
        h = sup_hist_text(&m->publish_seconds, "keysup_publish_duration_seconds",
                         "Time to build, sign and store a scope's snapshot.");
        if (h)
            append(&o, "%s", h);
        free(h);
    }
    {
        uint64_t in, dl, shed;
        sup_shed_stats(&in, &dl, &shed);
        append(&o, "# HELP keysup_shed_total Device requests answered 503 KSE-121 (load shed).\n"
                   "# TYPE keysup_shed_total counter\nkeysup_shed_total %llu\n"
                   "# HELP keysup_device_requests_inflight Device requests being handled.\n"
                   "# TYPE keysup_device_requests_inflight gauge\nkeysup_device_requests_inflight %llu\n"
                   "# HELP keysup_snapshot_downloads_active Snapshot answers being sent.\n"
                   "# TYPE keysup_snapshot_downloads_active gauge\nkeysup_snapshot_downloads_active %llu\n",
               (unsigned long long)shed, (unsigned long long)in, (unsigned long long)dl);
    }
    {
        uint64_t hit, miss;
        sup_devcache_stats(rq->s, &hit, &miss);
        append(&o, "# HELP keysup_devcache_hits_total Device requests authenticated from the device"
                   " cache.\n# TYPE keysup_devcache_hits_total counter\nkeysup_devcache_hits_total"
                   " %llu\n# HELP keysup_devcache_misses_total Device lookups that read the"
                   " database.\n# TYPE keysup_devcache_misses_total counter\n"
                   "keysup_devcache_misses_total %llu\n",
               (unsigned long long)hit, (unsigned long long)miss);
    }
    {
        sup_hbq_stats q;
        sup_diag_queue_stats(rq->s, &q);
        append(&o, "# HELP keysup_diag_queue_depth Heartbeat reports waiting for the diagnosis"
                   " (one per controller and agent instance).\n"
                   "# TYPE keysup_diag_queue_depth gauge\nkeysup_diag_queue_depth %llu\n"
                   "# HELP keysup_diag_queue_peak The largest diagnosis queue depth seen.\n"
                   "# TYPE keysup_diag_queue_peak gauge\nkeysup_diag_queue_peak %llu\n"
                   "# HELP keysup_diag_queue_superseded_total Heartbeat reports replaced by the"
                   " same controller's newer one before they were judged.\n"
                   "# TYPE keysup_diag_queue_superseded_total counter\n"
                   "keysup_diag_queue_superseded_total %llu\n",
               (unsigned long long)q.depth, (unsigned long long)q.peak,
               (unsigned long long)q.superseded);
    }
    {
        sup_watch_stats ws;
        sup_watch_stats_get(rq->s, &ws);
        append(&o, "# HELP keysup_watch_held Watches held now (the push path).\n"
                   "# TYPE keysup_watch_held gauge\nkeysup_watch_held %llu\n"
                   "# HELP keysup_watch_peak The most watches held at once.\n"
                   "# TYPE keysup_watch_peak gauge\nkeysup_watch_peak %llu\n"
                   "# HELP keysup_watch_answered_total Held watches answered, by reason.\n"
                   "# TYPE keysup_watch_answered_total counter\n"
                   "keysup_watch_answered_total{reason=\"published\"} %llu\n"
                   "keysup_watch_answered_total{reason=\"timeout\"} %llu\n"
                   "keysup_watch_answered_total{reason=\"replaced\"} %llu\n"
                   "# HELP keysup_watch_refused_total Watches refused over watch_max (503).\n"
                   "# TYPE keysup_watch_refused_total counter\nkeysup_watch_refused_total %llu\n"
                   "# HELP keysup_watch_delta_total Watch answers that carried the delta.\n"
                   "# TYPE keysup_watch_delta_total counter\nkeysup_watch_delta_total %llu\n"
                   "# HELP keysup_watch_last_published_timestamp_seconds Unix time of the last "
                   "answer to a publish.\n"
                   "# TYPE keysup_watch_last_published_timestamp_seconds gauge\n"
                   "keysup_watch_last_published_timestamp_seconds %llu.%03llu\n",
               (unsigned long long)ws.held, (unsigned long long)ws.peak,
               (unsigned long long)(ws.woken - ws.timeouts - ws.replaced),
               (unsigned long long)ws.timeouts, (unsigned long long)ws.replaced,
               (unsigned long long)ws.refused, (unsigned long long)ws.carried,
               (unsigned long long)(ws.last_pub_ms / 1000), (unsigned long long)(ws.last_pub_ms % 1000));
    }
    {
        sup_hbsess_stats hs;
        sup_hbsess_stats_get(rq->s->hbsess, &hs);
        append(&o, "# HELP keysup_hbsess_live Heartbeat sessions held now.\n"
                   "# TYPE keysup_hbsess_live gauge\nkeysup_hbsess_live %llu\n"
                   "# HELP keysup_hbsess_opened_total Heartbeat sessions opened by a signed"
                   " heartbeat.\n# TYPE keysup_hbsess_opened_total counter\n"
                   "keysup_hbsess_opened_total %llu\n"
                   "# HELP keysup_hbsess_heartbeats_total Heartbeats authenticated by their"
                   " session MAC.\n# TYPE keysup_hbsess_heartbeats_total counter\n"
                   "keysup_hbsess_heartbeats_total %llu\n"
                   "# HELP keysup_hbsess_unknown_total MAC'd heartbeats of a session not held"
                   " here (401 KSE-122: the agent re-opens).\n"
                   "# TYPE keysup_hbsess_unknown_total counter\nkeysup_hbsess_unknown_total %llu\n"
                   "# HELP keysup_hbsess_bad_mac_total MAC'd heartbeats whose MAC did not"
                   " verify.\n# TYPE keysup_hbsess_bad_mac_total counter\n"
                   "keysup_hbsess_bad_mac_total %llu\n"
                   "# HELP keysup_hbsess_full_total Sessions not opened for want of room.\n"
                   "# TYPE keysup_hbsess_full_total counter\nkeysup_hbsess_full_total %llu\n"
                   "# HELP keysup_hbsess_stale_total MAC'd heartbeats held on the way longer"
                   " than the lag (401 KSE-122: sent again signed).\n"
                   "# TYPE keysup_hbsess_stale_total counter\nkeysup_hbsess_stale_total %llu\n",
               (unsigned long long)hs.live, (unsigned long long)hs.opened,
               (unsigned long long)hs.mac_ok, (unsigned long long)hs.unknown,
               (unsigned long long)hs.bad_mac, (unsigned long long)hs.full,
               (unsigned long long)hs.stale);
    }
    append(&o, "# HELP keysup_clock_steps_total Steps of keysupd's wall clock seen against"
               " its monotonic clock.\n# TYPE keysup_clock_steps_total counter\n"
               "keysup_clock_steps_total %llu\n",
           (unsigned long long)sup_clockstep_count(sup_nonces_clockstep(rq->s->nonces)));
    {
        sup_hbrep_stats rs2;
        sup_hbrep_stats_get(rq->s->hbrep, &rs2);
        append(&o, "# HELP keysup_hbrep_held Controllers whose last full report keysupd holds.\n"
                   "# TYPE keysup_hbrep_held gauge\nkeysup_hbrep_held %llu\n"
                   "# HELP keysup_hbrep_full_total Full heartbeat reports taken with a hash.\n"
                   "# TYPE keysup_hbrep_full_total counter\nkeysup_hbrep_full_total %llu\n"
                   "# HELP keysup_hbrep_elided_total Heartbeats whose unchanged report was left"
                   " out and completed from the one held.\n"
                   "# TYPE keysup_hbrep_elided_total counter\nkeysup_hbrep_elided_total %llu\n"
                   "# HELP keysup_hbrep_needed_total Short heartbeats keysupd could not complete"
                   " (409 KSE-123: the agent sends its full report).\n"
                   "# TYPE keysup_hbrep_needed_total counter\nkeysup_hbrep_needed_total %llu\n"
                   "# HELP keysup_hbrep_in_place_total Of the elided, completed in the held"
                   " report itself (no copy: nobody else held it).\n"
                   "# TYPE keysup_hbrep_in_place_total counter\nkeysup_hbrep_in_place_total %llu\n",
               (unsigned long long)rs2.held, (unsigned long long)rs2.full,
               (unsigned long long)rs2.elided, (unsigned long long)rs2.needed,
               (unsigned long long)rs2.in_place);
    }
    append(&o, "# HELP keysup_publish_last_seconds Duration of the last publish.\n"
               "# TYPE keysup_publish_last_seconds gauge\nkeysup_publish_last_seconds %.6f\n",
           (double)atomic_load(&m->publish_usec_last) / 1e6);
    pthread_mutex_lock(&rq->s->lock);
    sup_db_int(rq->s->db, "SELECT COUNT(*) FROM keys", NULL, 0, &keys);
    sup_db_int(rq->s->db, "SELECT COUNT(*) FROM controllers", NULL, 0, &ctrls);
    {
        sup_dbv p = sup_dbv_int((int64_t)sup_now() - 3 * (int64_t)rq->s->cfg.heartbeat_interval);
        sup_db_int(rq->s->db, "SELECT COUNT(*) FROM controllers WHERE device_pk IS NOT NULL AND"
                             " (last_seen IS NULL OR last_seen < ?)", &p, 1, &stale);
    }
    sup_db_int(rq->s->db, "SELECT COUNT(*) FROM commands WHERE state = 'pending'", NULL, 0, &pending);
    append(&o, "# HELP keysup_snapshot_version Published snapshot version per scope.\n"
               "# TYPE keysup_snapshot_version gauge\n");
    sup_db_exec(rq->s->db, "SELECT scope, version FROM scopes ORDER BY scope", NULL, 0, gauge_cb, &o);
    {
        char *inc = sup_incident_metrics(rq->s); /* open incidents by KSE code */
        if (inc)
            append(&o, "%s", inc);
        free(inc);
    }
    pthread_mutex_unlock(&rq->s->lock);
    if (rq->s->guard) { /* connections, limits, refusals (sup_guard.c) */
        char *g = sup_guard_metrics(rq->s->guard);
        if (g)
            append(&o, "%s", g);
        free(g);
    }
    append(&o, "# HELP keysup_keys Enrolled keys.\n# TYPE keysup_keys gauge\nkeysup_keys %lld\n"
               "# HELP keysup_controllers Registered controllers.\n# TYPE keysup_controllers gauge\n"
               "keysup_controllers %lld\n"
               "# HELP keysup_controllers_silent Enrolled controllers without a heartbeat for"
               " three intervals (KSE-100 candidates).\n# TYPE keysup_controllers_silent gauge\n"
               "keysup_controllers_silent %lld\n"
               "# HELP keysup_commands_pending Remediation commands not yet acknowledged.\n"
               "# TYPE keysup_commands_pending gauge\nkeysup_commands_pending %lld\n",
           (long long)keys, (long long)ctrls, (long long)stale, (long long)pending);
    rs->status = 200;
    rs->text = o.buf;
    rs->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

const sup_api_route sup_routes_ops[] = {
    {"GET", "/healthz", KS_AUTH_PUBLIC, healthz, &sup_no_input, "liveness and readiness"},
    {"GET", "/v1/ping", KS_AUTH_PUBLIC, ping, &sup_no_input, "version and time"},
    {"GET", "/metrics", KS_AUTH_PUBLIC, metrics, &sup_no_input, "Prometheus metrics"},
    {.method = NULL},
};
