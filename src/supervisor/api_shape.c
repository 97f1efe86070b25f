/*
 * api_shape.c - the operator API's one JSON shape (docs/api.md,
 * "Conventions"):
 *   - a KSE code is the string "KSE-NNN" in a field named `code` (the
 *     number, where kept, is `kse_number`);
 *   - a point in time is unix seconds in NAME_at, with NAME_at_utc (ISO
 *     8601 UTC) beside it; the older second fields (ts, last_seen,
 *     last_sync, valid_from, valid_until...) get NAME_utc the same way;
 *     stored epoch milliseconds (NAME_ms) become NAME_at;
 *   - a duration keeps its unit in its name: NAME_ms (mttd_ms, mttr_ms,
 *     heartbeat_interval_ms), NAME_seconds;
 *   - "none" or "no end" is null, never 0 (the stored and binary formats
 *     keep their 0).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sup_shape.h"

/* Durations in milliseconds: every other NAME_ms is a point in time. */
static const char *const durations_ms[] = {"mttd_ms", "mttr_ms", "mttd_max_ms", "mttr_max_ms",
                                           "heartbeat_interval_ms", "interval_ms", NULL};
/* Points in time in unix seconds under names older than the NAME_at rule. */
static const char *const second_names[] = {"ts", "last_seen", "last_sync", "last_contact",
                                           "valid_from", "valid_until", "received", NULL};

static int in(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (strcmp(*l, k) == 0)
            return 1;
    return 0;
}

static int ends(const char *k, const char *suf)
{
    size_t n = strlen(k), m = strlen(suf);
    return n > m && strcmp(k + n - m, suf) == 0;
}

/* Sets NAME (seconds, or null for 0/none) and NAME_utc. */
static void put_time(json_t *o, const char *name, json_t *v, json_int_t secs)
{
    char k[96], iso[32];
    struct tm tm;
    time_t t = (time_t)secs;
    if (snprintf(k, sizeof k, "%s_utc", name) >= (int)sizeof k)
        return;
    if (!json_is_integer(v) || secs <= 0) {
        json_object_set_new(o, name, json_null());
        json_object_set_new(o, k, json_null());
        return;
    }
    json_object_set_new(o, name, json_integer(secs));
    if (gmtime_r(&t, &tm) && strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm))
        json_object_set_new(o, k, json_string(iso));
    else
        json_object_set_new(o, k, json_null());
}

static void shape_object(json_t *o)
{
    const char *key;
    json_t *v, *keys = json_array();
    size_t i;
    if (!keys)
        return;
    /* Keys first: the loop adds and removes members. */
    json_object_foreach(o, key, v)
        json_array_append_new(keys, json_string(key));
    for (i = 0; i < json_array_size(keys); i++) {
        char k[96];
        key = json_string_value(json_array_get(keys, i));
        v = key ? json_object_get(o, key) : NULL;
        if (!v)
            continue;
        if (json_is_object(v) || json_is_array(v)) {
            sup_api_shape(v);
            continue;
        }
        if (ends(key, "_utc"))
            continue;
        /* A numeric code beside its symbol is a KSE code. */
        if (strcmp(key, "code") == 0 && json_is_integer(v) && json_integer_value(v) > 0 &&
            json_integer_value(v) < 1000 && json_is_string(json_object_get(o, "symbol"))) {
            json_int_t n = json_integer_value(v);
            snprintf(k, sizeof k, "KSE-%03lld", (long long)n);
            json_object_set_new(o, "kse_number", json_integer(n));
            json_object_set_new(o, "code", json_string(k));
        } else if (ends(key, "_ms") && !in(durations_ms, key) &&
                   (json_is_integer(v) || json_is_null(v))) {
            size_t n = strlen(key) - 3;
            json_int_t ms = json_is_integer(v) ? json_integer_value(v) : 0;
            if (snprintf(k, sizeof k, "%.*s_at", (int)n, key) >= (int)sizeof k)
                continue;
            json_incref(v);
            json_object_del(o, key);
            put_time(o, k, v, ms / 1000);
            json_decref(v);
        } else if ((ends(key, "_at") || in(second_names, key)) &&
                   (json_is_integer(v) || json_is_null(v))) {
            json_incref(v);
            put_time(o, key, v, json_is_integer(v) ? json_integer_value(v) : 0);
            json_decref(v);
        }
    }
    json_decref(keys);
}

void sup_api_shape(json_t *o)
{
    json_t *v;
    size_t i;
    if (json_is_array(o)) {
        json_array_foreach(o, i, v)
            sup_api_shape(v);
        return;
    }
    if (json_is_object(o))
        shape_object(o);
}

int sup_api_shape_applies(const char *url)
{
    return url && strncmp(url, "/v1/", 4) == 0 && strncmp(url, "/v1/device/", 11) != 0;
}
