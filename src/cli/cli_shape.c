/*
 * cli_shape.c - the one --json shape of docs/cli.md, whatever the API
 * answered: a list carries items/total/limit/offset, a KSE code is the
 * string "KSE-NNN", and a time kept in epoch milliseconds (NAME_ms) also
 * appears as NAME_at (unix seconds) with NAME_at_utc.
 */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"

/* Epoch milliseconds are above this (2001-09-09); durations are far below. */
#define EPOCH_MS_MIN 1000000000000LL

static void shape_object(json_t *o)
{
    const char *key;
    json_t *v, *keys = json_array();
    size_t i;

    if (!keys)
        return;
    json_object_foreach(o, key, v)
        json_array_append_new(keys, json_string(key));
    for (i = 0; i < json_array_size(keys); i++) {
        char k[96];
        size_t n;
        key = json_string_value(json_array_get(keys, i));
        v = key ? json_object_get(o, key) : NULL;
        if (!v)
            continue;
        if (json_is_object(v) || json_is_array(v)) {
            cli_json_shape(v);
            continue;
        }
        n = strlen(key);
        /* A code beside its symbol is a KSE code: one spelling everywhere. */
        if (strcmp(key, "code") == 0 && json_is_integer(v) && json_integer_value(v) > 0 &&
            json_integer_value(v) < 1000 && json_is_string(json_object_get(o, "symbol"))) {
            snprintf(k, sizeof k, "KSE-%03lld", (long long)json_integer_value(v));
            json_object_set_new(o, "code", json_string(k));
        } else if (n > 3 && strcmp(key + n - 3, "_ms") == 0 && json_is_integer(v) &&
                   json_integer_value(v) >= EPOCH_MS_MIN && n - 3 + 4 < sizeof k) {
            snprintf(k, sizeof k, "%.*s_at", (int)(n - 3), key);
            if (!json_object_get(o, k))
                json_object_set_new(o, k, json_integer(json_integer_value(v) / 1000));
        }
    }
    json_decref(keys);
}

void cli_json_shape(json_t *o)
{
    json_t *items = json_object_get(o, "items"), *v;
    size_t i;

    if (json_is_array(o)) {
        json_array_foreach(o, i, v)
            cli_json_shape(v);
        return;
    }
    if (!json_is_object(o))
        return;
    /* A list the server did not page is one page holding everything. */
    if (json_is_array(items)) {
        json_int_t n = (json_int_t)json_array_size(items);
        if (!json_object_get(o, "total"))
            json_object_set_new(o, "total", json_integer(n));
        if (!json_object_get(o, "limit"))
            json_object_set_new(o, "limit", json_integer(n));
        if (!json_object_get(o, "offset"))
            json_object_set_new(o, "offset", json_integer(0));
    }
    shape_object(o);
}
