/*
 * api_openapi.c - the declared routes (api_routes.c) as an OpenAPI 3
 * description: `keysupd openapi` prints it, docs/openapi.json is a copy
 * (tests/api_schema.sh fails when the copy is stale, and drives every
 * route and every required field of it against a running keysupd).
 *
 * Each field carries an `example` that passes the schema, so a client (and
 * the test) can build a valid request from the description alone.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "sup_api.h"

/* The JSON schema of one field, with its example. */
static json_t *field_schema(const sup_field *f)
{
    json_t *o = json_object(), *names, *ex = NULL;
    char pat[48];
    if (!o)
        return NULL;
    switch (f->type) {
    case SUP_T_STR:
        json_object_set_new(o, "type", json_string("string"));
        if (f->hi && f->in != SUP_IN_PATH)
            json_object_set_new(o, "minLength", json_integer(f->lo > 1 ? (json_int_t)f->lo : 1));
        if (f->hi)
            json_object_set_new(o, "maxLength", json_integer((json_int_t)f->hi));
        if (f->chars_doc) {
            snprintf(pat, sizeof pat, "^%s+$", f->chars_doc);
            json_object_set_new(o, "pattern", json_string(pat));
        }
        { /* "x", or as many x as the minimum length asks */
            char x[65];
            size_t n = f->lo > 1 ? (f->lo < 64 ? (size_t)f->lo : 64) : 1;
            memset(x, 'x', n);
            x[n] = '\0';
            ex = json_string(x);
        }
        break;
    case SUP_T_INT:
    case SUP_T_ID:
        json_object_set_new(o, "type", json_string("integer"));
        json_object_set_new(o, "minimum", json_integer(f->type == SUP_T_ID ? 1 : (json_int_t)f->lo));
        if (f->type == SUP_T_ID)
            json_object_set_new(o, "maximum", json_integer(INT64_MAX));
        else if (f->hi <= INT64_MAX)
            json_object_set_new(o, "maximum", json_integer((json_int_t)f->hi));
        if (f->type == SUP_T_INT && f->in != SUP_IN_PATH && f->def)
            json_object_set_new(o, "default", json_integer((json_int_t)f->def));
        ex = json_integer(f->type == SUP_T_ID ? 1 : f->def ? (json_int_t)f->def : (json_int_t)f->lo);
        break;
    case SUP_T_BOOL:
        json_object_set_new(o, "type", json_string("boolean"));
        ex = json_false();
        break;
    case SUP_T_HEX: {
        char z[2 * 64 + 1];
        size_t n = f->hi <= 64 ? (size_t)f->hi : 64;
        json_object_set_new(o, "type", json_string("string"));
        snprintf(pat, sizeof pat, "^[0-9a-fA-F]{%zu}$", 2 * n);
        json_object_set_new(o, "pattern", json_string(pat));
        memset(z, '0', 2 * n);
        z[2 * n] = '\0';
        ex = json_string(z);
        break;
    }
    case SUP_T_PRIVS:
        names = json_array();
        for (unsigned i = 0; i < 64; i++)
            if (ks_priv_name(1ull << i))
                json_array_append_new(names, json_string(ks_priv_name(1ull << i)));
        if (f->in == SUP_IN_QUERY) {
            json_object_set_new(o, "type", json_string("string"));
            json_object_set_new(o, "enum", names);
            ex = json_string("OPERATOR");
        } else {
            json_object_set_new(o, "type", json_string("array"));
            json_object_set_new(o, "items",
                                json_pack("{s:[{s:s,s:o},{s:s,s:i,s:i}]}", "oneOf", "type",
                                          "string", "enum", names, "type", "integer", "minimum", 0,
                                          "maximum", 63));
            ex = json_pack("[s]", "OPERATOR");
        }
        break;
    case SUP_T_ENUM:
        names = json_array();
        for (uint64_t v = f->lo; v <= f->hi; v++)
            if (f->ename((int)v))
                json_array_append_new(names, json_string(f->ename((int)v)));
        json_object_set_new(o, "type", json_string("string"));
        json_object_set_new(o, "enum", names);
        if (f->in == SUP_IN_BODY && !(f->flags & SUP_REQUIRED) && f->ename((int)f->def))
            json_object_set_new(o, "default", json_string(f->ename((int)f->def)));
        ex = json_incref(json_array_get(names, 0));
        break;
    case SUP_T_SET: {
        /* The names are not an enum: parse may read more than ename lists
         * (a licence's "bitN"); the field's doc says which. */
        char list[256], desc[300];
        api_enum_list(f, list, sizeof list);
        snprintf(desc, sizeof desc, "a name (%s, or as the field says)", list);
        json_object_set_new(o, "type", json_string("array"));
        json_object_set_new(o, "minItems", json_integer(1));
        for (uint64_t v = f->lo; !ex && v <= f->hi; v++)
            if (f->ename((int)v))
                ex = json_pack("[s]", f->ename((int)v));
        json_object_set_new(o, "items",
                            json_pack("{s:[{s:s,s:s},{s:s,s:I,s:I}]}", "oneOf", "type", "string",
                                      "description", desc, "type", "integer", "minimum",
                                      (json_int_t)f->lo, "maximum", (json_int_t)f->hi));
        break;
    }
    case SUP_T_OBJECT:
        json_object_set_new(o, "type", json_string("object"));
        ex = json_object();
        break;
    case SUP_T_ARRAY:
        json_object_set_new(o, "type", json_string("array"));
        json_object_set_new(o, "maxItems", json_integer((json_int_t)f->hi));
        ex = json_array();
        break;
    case SUP_T_KSE:
        json_object_set_new(o, "type", json_string("string"));
        json_object_set_new(o, "pattern", json_string("^KSE-[0-9]{3}$"));
        ex = json_string("KSE-100");
        break;
    default:
        break;
    }
    if (f->flags & SUP_SECRET) /* never echoed back; the request is wiped */
        json_object_set_new(o, "writeOnly", json_true());
    if (f->doc)
        json_object_set_new(o, "description", json_string(f->doc));
    if (ex)
        json_object_set_new(o, "example", ex);
    return o;
}

/* The request body of a schema, NULL when it reads none. */
static json_t *body_schema(const sup_schema *sc)
{
    json_t *props = json_object(), *req = json_array(), *o;
    for (size_t i = 0; sc->fields && sc->fields[i].name; i++) {
        const sup_field *f = &sc->fields[i];
        if (f->in != SUP_IN_BODY)
            continue;
        json_object_set_new(props, f->name, field_schema(f));
        if (f->flags & SUP_REQUIRED)
            json_array_append_new(req, json_string(f->name));
    }
    o = json_pack("{s:s,s:o}", "type", "object", "properties", props);
    if (json_array_size(req))
        json_object_set_new(o, "required", req);
    else
        json_decref(req);
    if (sc->body == SUP_BODY_ANY)
        json_object_set_new(o, "additionalProperties", json_true());
    return json_pack("{s:b,s:{s:{s:o}}}", "required", sc->body != SUP_BODY_OPTIONAL, "content",
                     "application/json", "schema", o);
}

static const char *auth_name(int auth)
{
    return auth == KS_AUTH_PUBLIC ? "public" : auth == KS_AUTH_DEVICE ? "device"
                                                                      : sup_role_name(auth);
}

/* One operation; its OpenAPI path (the pattern's `*`s named) into path. */
static json_t *operation(const sup_api_route *r, char *path, size_t cap)
{
    const sup_schema *sc = r->schema;
    json_t *op, *params = json_array();
    const char *p = r->pattern;
    size_t used = 0, k = 0;

    path[0] = '\0';
    for (; *p && used + 1 < cap; p++) {
        const char *name = NULL;
        size_t seen = 0;
        if (*p != '*') {
            path[used++] = *p;
            path[used] = '\0';
            continue;
        }
        for (size_t i = 0; sc && sc->fields && sc->fields[i].name; i++)
            if (sc->fields[i].in == SUP_IN_PATH && seen++ == k)
                name = sc->fields[i].name;
        k++;
        used += (size_t)snprintf(path + used, cap - used, "{%s}", name ? name : "arg");
        if (used >= cap)
            used = cap - 1;
    }
    for (size_t i = 0; sc && sc->fields && sc->fields[i].name; i++) {
        const sup_field *f = &sc->fields[i];
        if (f->in == SUP_IN_BODY)
            continue;
        json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:o}", "name", f->name, "in",
                                                f->in == SUP_IN_PATH ? "path" : "query",
                                                "required", f->in == SUP_IN_PATH, "schema",
                                                field_schema(f)));
    }
    op = json_pack("{s:s,s:s,s:{s:{s:s},s:{s:s,s:{s:{s:{s:s}}}}}}", "summary",
                   r->summary ? r->summary : "", "x-keysup-auth", auth_name(r->auth),
                   "responses", "2XX", "description", "success", "default", "description",
                   "an error: {\"error\": {\"code\", \"message\"}}", "content",
                   "application/json", "schema", "$ref", "#/components/schemas/Error");
    if (!op)
        return NULL;
    if (r->auth == KS_AUTH_PUBLIC)
        json_object_set_new(op, "security", json_array());
    else
        json_object_set_new(op, "security", json_pack("[{s:[]}]", r->auth == KS_AUTH_DEVICE
                                                                      ? "device" : "bearer"));
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    if (sc && sc->body != SUP_BODY_NONE)
        json_object_set_new(op, "requestBody", body_schema(sc));
    return op;
}

json_t *sup_openapi(void)
{
    json_t *doc, *paths = json_object();
    char path[256], method[16];
    doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:{s:{s:{s:s,s:s},s:{s:s,s:s,s:s,s:s}},s:{s:{s:s,s:{s:{s:s,s:{"
        "s:{s:s},s:{s:s}}}}}}}}",
        "openapi", "3.0.3", "info", "title", "keysup supervisor API", "version", "1",
        "description", "Generated by `keysupd openapi` from the route table; docs/api.md explains"
        " it.", "components", "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
        "device", "type", "apiKey", "in", "header", "name", "X-Keysup-Signature", "description",
        "Ed25519 by the device key with X-Keysup-Controller and X-Keysup-Nonce (docs/api.md)",
        "schemas", "Error", "type", "object", "properties", "error", "type", "object",
        "properties", "code", "type", "string", "message", "type", "string");
    if (!doc || !paths) {
        json_decref(doc);
        json_decref(paths);
        return NULL;
    }
    for (size_t t = 0; t < sup_api_ntables; t++) {
        for (const sup_api_route *r = sup_api_tables[t]; r->method; r++) {
            json_t *op = operation(r, path, sizeof path), *item;
            size_t i;
            if (!op)
                continue;
            for (i = 0; r->method[i] && i + 1 < sizeof method; i++)
                method[i] = (char)(r->method[i] | 0x20); /* "GET" -> "get" */
            method[i] = '\0';
            item = json_object_get(paths, path);
            if (!item) {
                item = json_object();
                json_object_set_new(paths, path, item);
            }
            json_object_set_new(item, method, op);
        }
    }
    json_object_set_new(doc, "paths", paths);
    return doc;
}
