/*
 * api_schema.c - decodes and validates a request against its route's
 * schema (sup_schema.h) before the handler runs: path arguments, then
 * query parameters, then body fields, each in declaration order, so the
 * first bad input is the one reported. Every refusal names what was wrong:
 * "field 'x' ...", "query parameter 'x' ...", "path: ..." (404 for a path
 * id that cannot name a row, as before).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_kse.h"
#include "sup_api.h"

const sup_schema sup_no_input = {0, SUP_BODY_NONE, NULL};

/* ----- path ----- */

static int path_field(sup_req *rq, sup_resp *rs, const sup_field *f, int k, void *dst)
{
    const char *a = k < KS_API_MAXARGS ? rq->args[k] : NULL;
    if (!a) {
        api_error(rs, 500, "INTERNAL", "route pattern has no segment for '%s'", f->name);
        return -1;
    }
    switch (f->type) {
    case SUP_T_ID:
        return api_arg_id(rq, rs, k, f->name, dst);
    case SUP_T_HEX:
        if (ks_unhex(dst, f->hi, a)) {
            api_error(rs, 404, "NOT_FOUND", "no %s '%s' (a %s id is %llu hex digits)", f->name, a,
                      f->name, (unsigned long long)(2 * f->hi));
            return -1;
        }
        return 0;
    case SUP_T_INT: {
        char *end;
        unsigned long long v;
        errno = 0;
        v = strtoull(a, &end, 10);
        if (!*a || *end || *a == '-' || errno || v < f->lo || v > f->hi) {
            api_error(rs, 400, "BAD_REQUEST", "path: %s '%s' must be a number", f->name, a);
            return -1;
        }
        *(uint64_t *)dst = v;
        return 0;
    }
    case SUP_T_STR:
        if (strlen(a) > f->hi || (f->chars && strspn(a, f->chars) != strlen(a))) {
            api_error(rs, 400, "BAD_REQUEST", "path: %s name must be at most %llu of %s", f->name,
                      (unsigned long long)f->hi, f->chars_doc ? f->chars_doc : "its characters");
            return -1;
        }
        *(const char **)dst = a;
        return 0;
    default:
        api_error(rs, 500, "INTERNAL", "path segment '%s' has an unknown type", f->name);
        return -1;
    }
}

/* ----- query ----- */

/* 0 stored, 1 absent, -1 refused (rs set). */
static int query_field(sup_req *rq, sup_resp *rs, const sup_field *f, void *dst)
{
    const char *q;
    char names[256];
    int v;
    if (f->type == SUP_T_INT)
        return api_qu64(rq, rs, f->name, f->lo, f->hi, dst);
    q = api_query(rq, f->name);
    if (!q)
        return 1;
    switch (f->type) {
    case SUP_T_STR:
        if (f->hi && (!*q || strlen(q) > f->hi)) {
            api_error(rs, 400, "BAD_REQUEST", "query parameter '%s' must be a non-empty string of"
                      " at most %llu bytes", f->name, (unsigned long long)f->hi);
            return -1;
        }
        *(const char **)dst = q;
        return 0;
    case SUP_T_ENUM:
        v = api_enum_value(f, q);
        if (v < 0) {
            api_enum_list(f, names, sizeof names);
            api_error(rs, 400, "BAD_REQUEST", "query parameter '%s' must be %s", f->name, names);
            return -1;
        }
        *(int *)dst = v;
        return 0;
    case SUP_T_PRIVS: {
        uint64_t bit = ks_priv_from_name(q, strlen(q));
        if (!bit) {
            api_error(rs, 400, "BAD_REQUEST", "query parameter '%s': unknown privilege '%s'",
                      f->name, q);
            return -1;
        }
        *(uint64_t *)dst = bit;
        return 0;
    }
    case SUP_T_KSE: {
        const ks_kse *k = ks_kse_lookup(q);
        if (!k) {
            api_error(rs, 400, "BAD_REQUEST", "query parameter '%s': '%s' is not a KSE code (see"
                      " keysup error list)", f->name, q);
            return -1;
        }
        *(const ks_kse **)dst = k;
        return 0;
    }
    default:
        api_error(rs, 500, "INTERNAL", "query parameter '%s' has an unknown type", f->name);
        return -1;
    }
}

/* ----- the decoder ----- */

static void set_default(const sup_field *f, void *dst)
{
    if (f->type == SUP_T_INT)
        *(uint64_t *)dst = f->def;
    else if (f->type == SUP_T_BOOL || f->type == SUP_T_ENUM)
        *(int *)dst = (int)f->def;
}

int api_decode(sup_req *rq, sup_resp *rs, const sup_schema *schema)
{
    unsigned char *in;
    int k = 0, rc;
    size_t i;

    rq->schema = schema;
    /* calloc: every absent pointer is NULL, every absent number 0. */
    in = calloc(1, schema->size ? schema->size : 1);
    if (!in) {
        api_error(rs, 500, "INTERNAL", "out of memory");
        return -1;
    }
    rq->in = in;
    for (i = 0; schema->fields && schema->fields[i].name; i++) {
        if (i >= 64 || schema->fields[i].off >= schema->size) { /* a table error: loud */
            api_error(rs, 500, "INTERNAL", "route schema field %zu is out of range", i);
            return -1;
        }
        set_default(&schema->fields[i], in + schema->fields[i].off);
    }
    for (i = 0; schema->fields && schema->fields[i].name; i++) {
        const sup_field *f = &schema->fields[i];
        if (f->in == SUP_IN_PATH) {
            if (path_field(rq, rs, f, k++, in + f->off))
                return -1;
            rq->has |= 1ull << i;
        }
    }
    for (i = 0; schema->fields && schema->fields[i].name; i++) {
        const sup_field *f = &schema->fields[i];
        if (f->in != SUP_IN_QUERY)
            continue;
        rc = query_field(rq, rs, f, in + f->off);
        if (rc < 0)
            return -1;
        if (rc == 0)
            rq->has |= 1ull << i;
    }
    if (schema->body == SUP_BODY_NONE || schema->body == SUP_BODY_FILE)
        return 0;
    if (schema->body == SUP_BODY_OPTIONAL && (!rq->body || rq->body_len == 0))
        return 0; /* no body: every body field absent, with its default */
    rq->json = api_body(rq, rs);
    if (!rq->json)
        return -1;
    for (i = 0; schema->fields && schema->fields[i].name; i++) {
        const sup_field *f = &schema->fields[i];
        if (f->in != SUP_IN_BODY)
            continue;
        rc = api_field(rs, rq->json, f, in + f->off);
        if (rc < 0)
            return -1;
        if (rc == 0)
            rq->has |= 1ull << i;
    }
    return 0;
}

/* A secret route's request, wiped: the raw body, jansson's copies of the
 * body's strings (top-level members: where declared fields live) and the
 * decoded input (a HEX field holds the bytes themselves). */
static void wipe_secret(sup_req *rq)
{
    const char *k;
    json_t *v;
    if (rq->body)
        sodium_memzero((char *)rq->body, rq->body_len);
    json_object_foreach(rq->json, k, v) {
        if (json_is_string(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
    }
    if (rq->in)
        sodium_memzero((void *)rq->in, rq->schema->size ? rq->schema->size : 1);
}

static int has_secret(const sup_schema *sc)
{
    for (size_t i = 0; sc && sc->fields && sc->fields[i].name; i++)
        if (sc->fields[i].flags & SUP_SECRET)
            return 1;
    return 0;
}

void api_decode_free(sup_req *rq)
{
    if (has_secret(rq->schema))
        wipe_secret(rq);
    free((void *)rq->in);
    json_decref(rq->json);
    rq->in = NULL;
    rq->json = NULL;
    rq->has = 0;
}

int api_has(const sup_req *rq, const char *name)
{
    const sup_field *f = rq->schema ? rq->schema->fields : NULL;
    for (size_t i = 0; f && f[i].name && i < 64; i++)
        if (strcmp(f[i].name, name) == 0)
            return (rq->has >> i) & 1;
    return 0;
}
