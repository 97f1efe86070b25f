/*
 * cli_time.c - one rule for times in every command's output (docs/cli.md):
 * the API and the offline tools carry unix seconds; with --json each time
 * field NAME also gets NAME_utc (ISO 8601 UTC, null for "none"), and for
 * people the seconds become local ISO 8601 time.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_time.h"
#include "cli_values.h"

/* A field holding unix seconds: NAME_at, or one of the older names. */
static int is_time_key(const char *k)
{
    static const char *const names[] = {"ts", "last_seen", "last_sync", "last_contact",
                                        "valid_from", "valid_until", "received", NULL};
    size_t n = strlen(k);
    if (n > 3 && strcmp(k + n - 3, "_at") == 0)
        return 1;
    for (size_t i = 0; names[i]; i++)
        if (strcmp(k, names[i]) == 0)
            return 1;
    return 0;
}

/* Local time with its offset, e.g. 2026-11-30T12:59:05+01:00. */
void cli_fmt_local(char *out, size_t n, uint64_t v)
{
    time_t t = (time_t)v;
    struct tm tm;
    char z[8];
    if (!localtime_r(&t, &tm) || strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
        strftime(z, sizeof z, "%z", &tm) != 5) {
        snprintf(out, n, "%llu", (unsigned long long)v);
        return;
    }
    snprintf(out + strlen(out), n - strlen(out), "%.3s:%.2s", z, z + 3);
}

void cli_people_times(json_t *o, int json)
{
    const char *key;
    json_t *v, *keys;
    size_t i;

    if (json_is_array(o)) {
        json_array_foreach(o, i, v)
            cli_people_times(v, json);
        return;
    }
    if (!json_is_object(o) || !(keys = json_array()))
        return;
    /* Keys first: the loop below adds and removes members. */
    json_object_foreach(o, key, v)
        json_array_append_new(keys, json_string(key));
    for (i = 0; i < json_array_size(keys); i++) {
        char k[96], iso[48];
        json_int_t t;
        key = json_string_value(json_array_get(keys, i));
        v = key ? json_object_get(o, key) : NULL;
        if (!v)
            continue;
        if (json_is_object(v) || json_is_array(v)) {
            cli_people_times(v, json);
            continue;
        }
        /* The supervisor sends "none" as null (docs/api.md, "Conventions"). */
        if (json_is_null(v) && is_time_key(key) &&
            snprintf(k, sizeof k, "%s_utc", key) < (int)sizeof k) {
            if (json) {
                if (!json_object_get(o, k))
                    json_object_set_new(o, k, json_null());
            } else {
                json_object_set_new(o, key, json_string("-"));
                json_object_del(o, k);
            }
            continue;
        }
        /* 1e12: beyond that it is milliseconds or a count, not seconds. */
        if (!is_time_key(key) || !json_is_integer(v) || (t = json_integer_value(v)) < 0 ||
            t > 1000000000000LL || snprintf(k, sizeof k, "%s_utc", key) >= (int)sizeof k)
            continue;
        if (json) {
            if (json_object_get(o, k))
                continue;
            if (t == 0) {
                json_object_set_new(o, k, json_null());
            } else {
                cli_fmt_time(iso, sizeof iso, (uint64_t)t);
                json_object_set_new(o, k, json_string(iso));
            }
        } else {
            /* For people: the local time once, not seconds and UTC twice. */
            if (t == 0)
                snprintf(iso, sizeof iso, "-");
            else
                cli_fmt_local(iso, sizeof iso, (uint64_t)t);
            json_object_set_new(o, key, json_string(iso));
            json_object_del(o, k);
        }
    }
    json_decref(keys);
}
