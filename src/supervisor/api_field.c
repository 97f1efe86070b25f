/*
 * api_field.c - one JSON body field checked against its declaration
 * (sup_schema.h): present or absent (required?), then its type and bounds.
 * The schema decoder (api_schema.c) calls api_field for every body field;
 * the older getters (api_str, api_u64, ...) of sup_api.h are the same check
 * for handlers that read their own input.
 *
 * Return convention of all: 0 present and valid (stored), 1 absent and not
 * required (destination untouched), -1 after a 400 naming the field.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "sup_api.h"

int api_member(sup_resp *rs, json_t *o, const char *f, int required, json_t **out)
{
    json_t *v = json_object_get(o, f);
    if (!v || json_is_null(v)) {
        if (!required)
            return 1;
        api_error(rs, 400, "BAD_REQUEST", "field '%s' is required", f);
        return -1;
    }
    *out = v;
    return 0;
}

/* "a, b or c": the names of an enum field's values. */
void api_enum_list(const sup_field *f, char *out, size_t cap)
{
    size_t n = 0, used = 0;
    const char *names[32];
    out[0] = '\0';
    for (uint64_t v = f->lo; v <= f->hi && n < 32; v++)
        if (f->ename((int)v))
            names[n++] = f->ename((int)v);
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                         names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int api_enum_value(const sup_field *f, const char *s)
{
    for (uint64_t v = f->lo; s && v <= f->hi; v++) {
        const char *n = f->ename((int)v);
        if (n && strcmp(n, s) == 0)
            return (int)v;
    }
    return -1;
}

static int check_str(sup_resp *rs, const sup_field *f, json_t *v, const char **out)
{
    size_t min = f->lo > 1 ? (size_t)f->lo : 1;
    if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > f->hi ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        if (min > 1)
            api_error(rs, 400, "BAD_REQUEST", "field '%s' must be a string of %zu to %llu bytes",
                      f->name, min, (unsigned long long)f->hi);
        else
            api_error(rs, 400, "BAD_REQUEST", "field '%s' must be a non-empty string of at most"
                      " %llu bytes", f->name, (unsigned long long)f->hi);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int check_int(sup_resp *rs, const sup_field *f, json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) < f->lo || (uint64_t)json_integer_value(v) > f->hi) {
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be an integer in [%llu, %llu]", f->name,
                  (unsigned long long)f->lo, (unsigned long long)f->hi);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int check_hex(sup_resp *rs, const sup_field *f, json_t *v, uint8_t *out)
{
    const sup_field s = {.name = f->name, .hi = 2 * f->hi};
    const char *text;
    if (check_str(rs, &s, v, &text))
        return -1;
    if (ks_unhex(out, f->hi, text)) {
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be %llu hex digits", f->name,
                  (unsigned long long)(2 * f->hi));
        return -1;
    }
    return 0;
}

static int check_privs(sup_resp *rs, const sup_field *f, json_t *v, uint64_t *out)
{
    json_t *e;
    size_t i;
    uint64_t bits = 0;
    if (!json_is_array(v)) {
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be an array of privilege names",
                  f->name);
        return -1;
    }
    json_array_foreach(v, i, e) {
        if (json_is_string(e)) {
            uint64_t b = ks_priv_from_name(json_string_value(e), json_string_length(e));
            if (!b) {
                api_error(rs, 400, "BAD_REQUEST", "field '%s': unknown privilege '%s'", f->name,
                          json_string_value(e));
                return -1;
            }
            bits |= b;
        } else if (json_is_integer(e) && json_integer_value(e) >= 0 &&
                   json_integer_value(e) < 64) {
            bits |= 1ull << json_integer_value(e);
        } else {
            api_error(rs, 400, "BAD_REQUEST",
                      "field '%s': element %zu must be a privilege name or bit number", f->name, i);
            return -1;
        }
    }
    *out = bits;
    return 0;
}

/* A set of named bits: names through f->parse, or bit numbers in [lo, hi]. */
static int check_set(sup_resp *rs, const sup_field *f, json_t *v, uint64_t *out)
{
    char names[256];
    json_t *e;
    size_t i;
    uint64_t bits = 0;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        api_enum_list(f, names, sizeof names);
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be a non-empty array of names (%s) or"
                  " bit numbers in [%llu, %llu]", f->name, names, (unsigned long long)f->lo,
                  (unsigned long long)f->hi);
        return -1;
    }
    json_array_foreach(v, i, e) {
        json_int_t b = json_is_string(e)    ? f->parse(json_string_value(e))
                       : json_is_integer(e) ? json_integer_value(e)
                                            : -1;
        if (b < 0 || (uint64_t)b < f->lo || (uint64_t)b > f->hi || b > 63) {
            api_error(rs, 400, "BAD_REQUEST", "field '%s': element %zu is neither a known name nor"
                      " a bit number in [%llu, %llu]", f->name, i, (unsigned long long)f->lo,
                      (unsigned long long)f->hi);
            return -1;
        }
        bits |= 1ull << b;
    }
    *out = bits;
    return 0;
}

/* The kinds whose check is one JSON type test. */
static int check_shape(sup_resp *rs, const sup_field *f, json_t *v, void *dst)
{
    char names[256];
    int e;
    switch (f->type) {
    case SUP_T_BOOL:
        if (!json_is_boolean(v))
            break;
        *(int *)dst = json_is_true(v);
        return 0;
    case SUP_T_ENUM:
        e = json_is_string(v) ? api_enum_value(f, json_string_value(v)) : -1;
        if (e < 0)
            break;
        *(int *)dst = e;
        return 0;
    case SUP_T_OBJECT:
    case SUP_T_ARRAY:
        if (f->type == SUP_T_OBJECT ? !json_is_object(v)
                                    : !json_is_array(v) || json_array_size(v) > f->hi)
            break;
        *(json_t **)dst = v;
        return 0;
    default:
        api_error(rs, 500, "INTERNAL", "field '%s' has no body type", f->name);
        return -1;
    }
    if (f->type == SUP_T_BOOL) {
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be true or false", f->name);
    } else if (f->type == SUP_T_ENUM) {
        api_enum_list(f, names, sizeof names);
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be %s", f->name, names);
    } else if (f->type == SUP_T_OBJECT) {
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be an object", f->name);
    } else {
        api_error(rs, 400, "BAD_REQUEST", "field '%s' must be an array of at most %llu elements",
                  f->name, (unsigned long long)f->hi);
    }
    return -1;
}

int api_field(sup_resp *rs, json_t *o, const sup_field *f, void *dst)
{
    json_t *v;
    int rc = api_member(rs, o, f->name, (f->flags & SUP_REQUIRED) != 0, &v);
    if (rc)
        return rc;
    switch (f->type) {
    case SUP_T_STR:
        return check_str(rs, f, v, dst);
    case SUP_T_INT:
        return check_int(rs, f, v, dst);
    case SUP_T_HEX:
        return check_hex(rs, f, v, dst);
    case SUP_T_PRIVS:
        return check_privs(rs, f, v, dst);
    case SUP_T_SET:
        return check_set(rs, f, v, dst);
    default:
        return check_shape(rs, f, v, dst);
    }
}

/* ----- the getters of handlers that read their own input ----- */

#define REQ(r) ((r) ? SUP_REQUIRED : 0u)

int api_str(sup_resp *rs, json_t *o, const char *f, int required, size_t maxlen, const char **out)
{
    const sup_field d = {.name = f, .type = SUP_T_STR, .flags = REQ(required), .hi = maxlen};
    return api_field(rs, o, &d, out);
}

int api_u64(sup_resp *rs, json_t *o, const char *f, int required, uint64_t lo, uint64_t hi,
            uint64_t *out)
{
    const sup_field d = {.name = f, .type = SUP_T_INT, .flags = REQ(required), .lo = lo, .hi = hi};
    return api_field(rs, o, &d, out);
}

int api_bool(sup_resp *rs, json_t *o, const char *f, int required, int *out)
{
    const sup_field d = {.name = f, .type = SUP_T_BOOL, .flags = REQ(required)};
    return api_field(rs, o, &d, out);
}

int api_hex(sup_resp *rs, json_t *o, const char *f, int required, uint8_t *out, size_t n)
{
    const sup_field d = {.name = f, .type = SUP_T_HEX, .flags = REQ(required), .hi = n};
    return api_field(rs, o, &d, out);
}

int api_privs(sup_resp *rs, json_t *o, const char *f, int required, uint64_t *out)
{
    const sup_field d = {.name = f, .type = SUP_T_PRIVS, .flags = REQ(required)};
    return api_field(rs, o, &d, out);
}
