/*
 * sup_config.c - keysupd's config file: `key = value` lines, `#` comments.
 * docs/supervisor.md documents every key. Unknown keys are errors so a typo
 * never silently falls back to a default.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup.h"
#include "sup_console.h"
#include "sup_clone.h"

/*
 * threads = 0 (the default): 4 per core, at least 16, at most 64. A worker
 * thread serves many connections, and one that waits (a database write, a
 * slow client) holds them all: 4 threads gave 1,000 controllers a p50 of
 * 1.4 s where 16 gave 15 ms (docs/BENCHMARKS.md). Heartbeats themselves are
 * CPU-bound (a verify and a signature each), so more than a few per core
 * only costs stacks.
 */
uint32_t sup_config_threads(const sup_config *c)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t t;
    if (c->threads)
        return c->threads;
    t = n > 0 ? (uint32_t)n * 4u : 16u;
    return t < 16u ? 16u : t > 64u ? 64u : t;
}

void sup_config_defaults(sup_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8750");
    snprintf(c->key_file, sizeof c->key_file, "%s", KS_SUP_KEY_NAME);
    c->max_body = 1024 * 1024;
    c->threads = 0; /* auto: sup_config_threads */
    c->snapshot_ttl = 7 * 86400;
    c->snapshot_retain = 8;
    c->heartbeat_interval = 5;
    c->nonce_ttl = 60;
    c->provision_ttl = 86400;
    c->sync_full = 1;
    c->log_level = KS_LOG_INFO;
    c->diag_missed = 3;
    c->clock_tolerance = 300;
    c->diag_quiet = 600;
    c->diag_recent = 900;
    c->diag_behind = 5;
    c->escalate_window = 86400;
    c->max_repairs = 3;
    c->policy_threshold = 5;
    c->policy_window = 600;
    c->protocol_min = 1;
    c->protocol_max = 1;
    c->max_connections = 16384; /* room for watch_max held watches */
    c->max_conn_per_ip = 128;
    c->header_timeout = 10;
    c->body_timeout = 60;
    c->nonce_rate = 50;
    c->nonce_burst = 100;
    c->enroll_per_minute = 10;
    c->audit_sample = 5;
    c->audit_retention_days = 365;
    c->audit_retention_rows = 0;
    sup_console_config_defaults(c);
    c->import_max_body = 512u << 20;
    c->max_downloads = 32;
    c->max_inflight = 1024;
    c->retry_after = 2;
    c->site_fold = 3;
    c->watch_max = 12288;
    c->watch_hold = 30;
    c->clone_policy = SUP_CLONE_SUSPEND; /* why: docs/diagnosis.md, clone detection */
}

/* sup_config_trim and sup_config_uint, the value rules every .conf file
 * shares, are in sup_confval.c. */

static int set_key(sup_config *c, const char *k, const char *v)
{
    uint64_t x;
    if (strcmp(k, "listen") == 0) {
        if (strlen(v) >= sizeof c->listen || !strchr(v, ':'))
            return -1;
        snprintf(c->listen, sizeof c->listen, "%s", v);
        return 0;
    }
    if (strcmp(k, "key_file") == 0) {
        if (!*v || strlen(v) >= sizeof c->key_file)
            return -1;
        snprintf(c->key_file, sizeof c->key_file, "%s", v);
        return 0;
    }
    if (strcmp(k, "tls_cert") == 0 || strcmp(k, "tls_key") == 0) {
        char *dst = k[4] == 'c' ? c->tls_cert : c->tls_key;
        if (strlen(v) >= sizeof c->tls_cert)
            return -1;
        snprintf(dst, sizeof c->tls_cert, "%s", v);
        return 0;
    }
    if (strcmp(k, "database") == 0) {
        if (strlen(v) >= sizeof c->database || (*v && strncmp(v, "postgres", 8) != 0))
            return -1;
        snprintf(c->database, sizeof c->database, "%s", v);
        return 0;
    }
    if (strcmp(k, "signing_key") == 0) {
        /* A token URI (docs/keys-hardware.md); a file key needs no line. */
        if (strlen(v) >= sizeof c->signing_key || (*v && strncmp(v, "pkcs11:", 7) != 0))
            return -1;
        snprintf(c->signing_key, sizeof c->signing_key, "%s", v);
        return 0;
    }
    if (strcmp(k, "signing_key_pin_file") == 0) {
        if (strlen(v) >= sizeof c->signing_key_pin_file)
            return -1;
        snprintf(c->signing_key_pin_file, sizeof c->signing_key_pin_file, "%s", v);
        return 0;
    }
    if (strcmp(k, "allow_plain_http") == 0) {
        if (strcmp(v, "yes") == 0) c->allow_plain_http = 1;
        else if (strcmp(v, "no") == 0) c->allow_plain_http = 0;
        else return -1;
        return 0;
    }
    if (strcmp(k, "log_level") == 0) {
        static const char *const n[] = {"error", "warn", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (strcmp(v, n[i]) == 0) {
                c->log_level = i;
                return 0;
            }
        return -1;
    }
    if (strcmp(k, "clone_policy") == 0)
        return sup_clone_policy_parse(v, &c->clone_policy);
    if (strcmp(k, "sync") == 0) {
        if (strcmp(v, "full") == 0) c->sync_full = 1;
        else if (strcmp(v, "normal") == 0) c->sync_full = 0;
        else return -1;
        return 0;
    }
#define NUM(name, lo, hi, field)                                 \
    if (strcmp(k, name) == 0) {                                  \
        if (sup_config_uint(v, lo, hi, &x)) return -1;                       \
        c->field = x;                                            \
        return 0;                                                \
    }
    NUM("max_body", 1024, 1u << 30, max_body)
    NUM("threads", 0, 256, threads)
    NUM("snapshot_ttl", 60, 10ull * 365 * 86400, snapshot_ttl)
    NUM("snapshot_retain", 1, 1000, snapshot_retain)
    NUM("heartbeat_interval", 1, 3600, heartbeat_interval)
    NUM("nonce_ttl", 5, 3600, nonce_ttl)
    NUM("provision_ttl", 60, 365ull * 86400, provision_ttl)
    NUM("diag_missed_heartbeats", 1, 100, diag_missed)
    NUM("clock_tolerance", 1, 86400, clock_tolerance)
    NUM("diag_quiet", 10, 30ull * 86400, diag_quiet)
    NUM("diag_recent", 10, 30ull * 86400, diag_recent)
    NUM("diag_behind_intervals", 1, 1000, diag_behind)
    NUM("escalate_window", 60, 365ull * 86400, escalate_window)
    NUM("max_auto_repairs", 1, 100, max_repairs)
    NUM("policy_refusal_threshold", 1, 1000000, policy_threshold)
    NUM("policy_refusal_window", 10, 30ull * 86400, policy_window)
    NUM("protocol_min", 0, 65535, protocol_min)
    NUM("protocol_max", 0, 65535, protocol_max)
    NUM("max_connections", 16, 1000000, max_connections)
    NUM("max_connections_per_ip", 1, 1000000, max_conn_per_ip)
    NUM("header_timeout", 1, 3600, header_timeout)
    NUM("body_timeout", 1, 3600, body_timeout)
    NUM("nonce_rate", 1, 100000, nonce_rate)
    NUM("nonce_burst", 1, 100000, nonce_burst)
    NUM("enroll_attempts_per_minute", 1, 10000, enroll_per_minute)
    NUM("audit_sample", 0, 10000, audit_sample)
    NUM("audit_retention_days", 0, 36500, audit_retention_days)
    NUM("audit_retention_rows", 0, 2000000000, audit_retention_rows)
    NUM("import_max_body", 1024, 2u << 30, import_max_body)
    NUM("max_downloads", 1, 100000, max_downloads)
    NUM("max_inflight", 1, 1000000, max_inflight)
    NUM("retry_after", 1, 3600, retry_after)
    NUM("site_fold", 0, 1000000, site_fold)
    NUM("watch_max", 0, 1000000, watch_max)
    NUM("watch_hold", 1, 3600, watch_hold)
#undef NUM
    return sup_console_config_key(c, k, v); /* -2 when not one of them either */
}

int sup_config_load(sup_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int lineno = 0, ret = KS_OK;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return KS_E_IO;
    }
    while (fgets(line, sizeof line, f)) {
        char *s = sup_config_trim(line), *eq, *k, *v;
        int rc;
        lineno++;
        if (!*s || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected `key = value`", path, lineno);
            ret = KS_E_FORMAT;
            break;
        }
        *eq = '\0';
        k = sup_config_trim(s);
        v = sup_config_trim(eq + 1);
        rc = set_key(c, k, v);
        if (rc) {
            snprintf(err, errlen, rc == -2 ? "%s:%d: unknown key '%s'"
                                           : "%s:%d: bad value for '%s'", path, lineno, k);
            ret = KS_E_FORMAT;
            break;
        }
    }
    fclose(f);
    return ret;
}

int sup_config_write(const sup_config *c, const char *path)
{
    static const char *const lv[] = {"error", "warn", "info", "debug"};
    FILE *f = fopen(path, "wx");
    if (!f)
        return KS_E_IO;
    fprintf(f,
            "# keysupd configuration (docs/supervisor.md). `key = value`, # comments.\n"
            "# Flags on the command line override these values.\n\n"
            "# Address and port of the HTTP API.\n"
            "listen = %s\n"
            "# Supervisor signing key file, relative to the data directory.\n"
            "key_file = %s\n"
            "# Largest request body accepted, in bytes (413 above).\n"
            "max_body = %u\n"
            "# HTTP worker threads; 0: 4 per core, at least 16, at most 64.\n"
            "threads = %u\n"
            "# Seconds a published snapshot stays valid (expires_at = created_at + ttl).\n"
            "snapshot_ttl = %llu\n"
            "# Published versions kept per scope, so deltas can be served from them.\n"
            "snapshot_retain = %u\n"
            "# Seconds between controller heartbeats (told to controllers).\n"
            "heartbeat_interval = %u\n"
            "# Seconds a device nonce stays usable.\n"
            "nonce_ttl = %u\n"
            "# Seconds a controller provisioning token stays usable.\n"
            "provision_ttl = %u\n"
            "# full: fsync every commit (survives power loss); normal: faster.\n"
            "sync = %s\n"
            "# error, warn, info or debug.\n"
            "log_level = %s\n"
            "\n"
            "# Diagnosis (docs/diagnosis.md).\n"
            "# Missed heartbeats before a controller is COMM_LOST (KSE-100).\n"
            "diag_missed_heartbeats = %u\n"
            "# Seconds a controller's clock may be off before CLOCK_SKEW (KSE-600).\n"
            "clock_tolerance = %u\n"
            "# Seconds without a new refusal that close a refusal incident.\n"
            "diag_quiet = %u\n"
            "# Seconds of refusals an on-demand diagnosis looks back.\n"
            "diag_recent = %u\n"
            "# Heartbeat intervals a controller may lag the published version.\n"
            "diag_behind_intervals = %u\n"
            "# Seconds in which a repaired fault that returns escalates (KSE-900).\n"
            "escalate_window = %u\n"
            "# Automatic repair attempts per incident before the operator gets the steps.\n"
            "max_auto_repairs = %u\n"
            "# Refusals that are the policy working (KSE-502 NOT_SUPERVISOR...) are evidence;\n"
            "# this many of one code within policy_refusal_window seconds open an incident.\n"
            "policy_refusal_threshold = %u\n"
            "policy_refusal_window = %u\n"
            "# Device protocol versions this supervisor speaks (KSE-401 outside).\n"
            "protocol_min = %u\n"
            "protocol_max = %u\n",
            c->listen, c->key_file, c->max_body, c->threads,
            (unsigned long long)c->snapshot_ttl, c->snapshot_retain, c->heartbeat_interval,
            c->nonce_ttl, c->provision_ttl, c->sync_full ? "full" : "normal",
            lv[c->log_level & 3], c->diag_missed, c->clock_tolerance, c->diag_quiet,
            c->diag_recent, c->diag_behind, c->escalate_window, c->max_repairs,
            c->policy_threshold, c->policy_window, c->protocol_min, c->protocol_max);
    fprintf(f,
            "# A key seen at two controllers in an order its counter contradicts\n"
            "# (KSE-214): alert opens the incident; suspend also suspends the key.\n"
            "clone_policy = %s\n", sup_clone_policy_name(c->clone_policy));
    fprintf(f,
            "\n"
            "# Limits against a hostile network (docs/supervisor.md, \"Limits\").\n"
            "# Open client connections in total, and per client address.\n"
            "max_connections = %u\n"
            "max_connections_per_ip = %u\n"
            "# Seconds to send a complete request header (from connect or the previous\n"
            "# answer), and from the header until the answer starts. Absolute: a client\n"
            "# trickling bytes does not extend them.\n"
            "header_timeout = %u\n"
            "body_timeout = %u\n"
            "# Anonymous device nonces per client address: per second, and burst.\n"
            "nonce_rate = %u\n"
            "nonce_burst = %u\n"
            "# Failed enrolments per client address per minute (then 429).\n"
            "enroll_attempts_per_minute = %u\n"
            "# Anonymous refusals audited one by one per client and minute; the rest\n"
            "# become one summary row.\n"
            "audit_sample = %u\n"
            "# Audit retention: days and newest rows kept (0 = no limit).\n"
            "audit_retention_days = %u\n"
            "audit_retention_rows = %u\n",
            c->max_connections, c->max_conn_per_ip, c->header_timeout, c->body_timeout,
            c->nonce_rate, c->nonce_burst, c->enroll_per_minute, c->audit_sample,
            c->audit_retention_days, c->audit_retention_rows);
    fprintf(f,
            "\n# TLS (docs/supervisor.md): PEM certificate and key, relative to the data\n"
            "# directory or absolute. Without them keysupd speaks plain HTTP, which it\n"
            "# refuses on any address but loopback unless allow_plain_http = yes.\n"
            "# `kill -HUP` reloads the pair without dropping connections.\n"
            "%stls_cert = %s\n%stls_key = %s\nallow_plain_http = %s\n",
            c->tls_cert[0] ? "" : "# ", c->tls_cert, c->tls_key[0] ? "" : "# ", c->tls_key,
            c->allow_plain_http ? "yes" : "no");
    fprintf(f,
            "\n# Database (docs/operations.md): empty for keysup.db (SQLite) in the data\n"
            "# directory; a postgresql:// URL lets several keysupd share one database.\n"
            "%sdatabase = %s\n", c->database[0] ? "" : "# ", c->database);
    sup_console_config_write(c, f);
    fprintf(f,
            "\n# Fleet scale (docs/operations.md, \"Storms\").\n"
            "# Largest key file POST /v1/keys:batch takes, in bytes.\n"
            "import_max_body = %u\n"
            "# Snapshot downloads sent at once, and requests handled at once; above\n"
            "# either keysupd answers 503 with Retry-After (retry_after seconds, plus a\n"
            "# share of the queue) and controllers back off with jitter.\n"
            "max_downloads = %u\nmax_inflight = %u\nretry_after = %u\n"
            "# This many controllers of one site offline together fold into one site\n"
            "# incident (KSE-120 SITE_UNREACHABLE); 0 = never fold.\n"
            "site_fold = %u\n"
            "# The push path (docs/supervisor.md): watches held at once (each holds a\n"
            "# connection: keep max_connections above it; 0 = no watches), and the\n"
            "# seconds one is held before it is answered \"nothing new\".\n"
            "watch_max = %u\nwatch_hold = %u\n",
            c->import_max_body, c->max_downloads, c->max_inflight, c->retry_after, c->site_fold,
            c->watch_max, c->watch_hold);
    return fclose(f) == 0 ? KS_OK : KS_E_IO;
}
