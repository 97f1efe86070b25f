/*
 * sup_schema.h - a route's input, declared: every path segment, query
 * parameter and body field a route reads, with its JSON type, bounds,
 * enum values, whether it is required, and where in the route's input
 * struct the decoded value goes.
 *
 * The dispatcher (sup_http.c) decodes and validates a request against its
 * route's schema (api_schema.c) before the handler runs and answers a bad
 * one itself ("field 'x': ..." / "query parameter 'x' ..." / "path: ..."),
 * so a handler holds only its business rule and its transaction. The same
 * tables are the API's reference: `keysupd openapi` (api_openapi.c) prints
 * them as OpenAPI 3, checked in as docs/openapi.json.
 *
 * How to declare a route: docs/api.md, "Declaring a route".
 */
#ifndef KEYSUP_SUP_SCHEMA_H
#define KEYSUP_SUP_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

/* What a field holds, and the C type at its offset. */
enum sup_ftype {
    SUP_T_STR = 1, /* const char *: a non-empty string of at most hi bytes, at least lo when
                    * lo > 1 (query: hi 0 = any string, as given; path: only bytes of
                    * `chars`) */
    SUP_T_INT,     /* uint64_t in [lo, hi] */
    SUP_T_BOOL,    /* int, 0 or 1 */
    SUP_T_HEX,     /* uint8_t[hi]: exactly 2*hi hex digits */
    SUP_T_PRIVS,   /* uint64_t bits: body, an array of privilege names or bit numbers;
                    * query, one privilege name */
    SUP_T_ENUM,    /* int v in [lo, hi], given as its name ename(v) */
    SUP_T_OBJECT,  /* json_t * (borrowed from the body): any JSON object */
    SUP_T_ARRAY,   /* json_t * (borrowed): a JSON array of at most hi elements */
    SUP_T_ID,      /* int64_t > 0: a row id (path: 404 "no NAME 'x'" otherwise) */
    SUP_T_KSE,     /* const ks_kse *: a KSE code "KSE-NNN" of the catalogue */
    SUP_T_SET,     /* uint64_t bits: body, a non-empty array of names (parse(name) is the
                    * bit, -1 unknown; ename(bit) the documented ones) or bit numbers in
                    * [lo, hi] (<= 63) */
};

/* Where a field comes from. Path fields are the route pattern's `*`s, in order. */
enum sup_fin { SUP_IN_BODY = 0, SUP_IN_QUERY, SUP_IN_PATH };

#define SUP_REQUIRED 1u
/* The field is a secret (a password, a seed): when a schema has one, the raw
 * body, the body's strings and the decoded input are wiped as the request
 * ends, valid or refused (api_decode_free). */
#define SUP_SECRET 2u

typedef struct sup_field {
    const char *name;
    unsigned char type;     /* enum sup_ftype */
    unsigned char in;       /* enum sup_fin */
    unsigned char flags;    /* SUP_REQUIRED, SUP_SECRET */
    uint64_t lo, hi;        /* see enum sup_ftype */
    uint64_t def;           /* INT, BOOL, ENUM: the value when absent */
    const char *(*ename)(int v); /* ENUM: the name of each value in [lo, hi]; SET: of a bit */
    int (*parse)(const char *name); /* SET: the bit a name stands for, -1 when none */
    const char *chars;      /* STR in the path: the bytes allowed */
    const char *chars_doc;  /* ... as people read them, "[a-z0-9_-]" */
    size_t off;             /* offsetof(the route's input struct, member) */
    const char *doc;        /* one line for the OpenAPI description */
} sup_field;

/* What the body is. */
enum sup_body {
    SUP_BODY_NONE = 0,  /* not read (ignored when sent) */
    SUP_BODY_FIELDS,    /* a JSON object; the declared body fields are decoded */
    SUP_BODY_ANY,       /* a JSON object of any members: the handler reads rq->json */
    SUP_BODY_OPTIONAL,  /* as FIELDS, or no body at all (every body field then absent) */
    SUP_BODY_FILE,      /* a file the handler parses itself (the bulk import): not
                         * decoded, bounded by import_max_body instead of max_body */
};

typedef struct sup_schema {
    size_t size;              /* sizeof the route's input struct (0: none) */
    unsigned char body;       /* enum sup_body */
    const sup_field *fields;  /* ends with a field whose name is NULL; NULL for none */
} sup_schema;

/* Routes that read nothing from the request. */
extern const sup_schema sup_no_input;

/*
 * Field declarations: ST is the route's input struct, M its member, F
 * SUP_REQUIRED or 0. Designated initialisers: every other member is 0.
 */
#define SUP_FIELD(N, T, IN, F, ST, M, D) \
    .name = (N), .type = (T), .in = (IN), .flags = (F), .off = offsetof(ST, M), .doc = (D)
/* body */
#define SUP_STR(N, F, MAX, ST, M, D) {SUP_FIELD(N, SUP_T_STR, SUP_IN_BODY, F, ST, M, D), .hi = (MAX)}
#define SUP_INT(N, F, LO, HI, DEF, ST, M, D) \
    {SUP_FIELD(N, SUP_T_INT, SUP_IN_BODY, F, ST, M, D), .lo = (LO), .hi = (HI), .def = (DEF)}
/* a string of MIN to MAX bytes (a password: refused before the handler when short) */
#define SUP_STR_LEN(N, F, MIN, MAX, ST, M, D) \
    {SUP_FIELD(N, SUP_T_STR, SUP_IN_BODY, F, ST, M, D), .lo = (MIN), .hi = (MAX)}
#define SUP_BOOL(N, F, ST, M, D) {SUP_FIELD(N, SUP_T_BOOL, SUP_IN_BODY, F, ST, M, D)}
#define SUP_HEX(N, F, BYTES, ST, M, D) \
    {SUP_FIELD(N, SUP_T_HEX, SUP_IN_BODY, F, ST, M, D), .hi = (BYTES)}
#define SUP_PRIVS(N, F, ST, M, D) {SUP_FIELD(N, SUP_T_PRIVS, SUP_IN_BODY, F, ST, M, D)}
#define SUP_ENUM(N, F, FN, LO, HI, DEF, ST, M, D)                                            \
    {SUP_FIELD(N, SUP_T_ENUM, SUP_IN_BODY, F, ST, M, D), .ename = (FN), .lo = (LO), .hi = (HI), \
     .def = (DEF)}
#define SUP_OBJECT(N, F, ST, M, D) {SUP_FIELD(N, SUP_T_OBJECT, SUP_IN_BODY, F, ST, M, D)}
#define SUP_ARRAY(N, F, MAX, ST, M, D) \
    {SUP_FIELD(N, SUP_T_ARRAY, SUP_IN_BODY, F, ST, M, D), .hi = (MAX)}
/* a set of named bits [LO, HI]: NAMEFN(bit) documents, PARSEFN(name) reads */
#define SUP_SET(N, F, NAMEFN, PARSEFN, LO, HI, ST, M, D)                                   \
    {SUP_FIELD(N, SUP_T_SET, SUP_IN_BODY, F, ST, M, D), .ename = (NAMEFN), .parse = (PARSEFN), \
     .lo = (LO), .hi = (HI)}
/* query */
#define SUP_Q_STR(N, ST, M, D) {SUP_FIELD(N, SUP_T_STR, SUP_IN_QUERY, 0, ST, M, D)}
#define SUP_Q_INT(N, LO, HI, DEF, ST, M, D) \
    {SUP_FIELD(N, SUP_T_INT, SUP_IN_QUERY, 0, ST, M, D), .lo = (LO), .hi = (HI), .def = (DEF)}
#define SUP_Q_ENUM(N, FN, LO, HI, ST, M, D) \
    {SUP_FIELD(N, SUP_T_ENUM, SUP_IN_QUERY, 0, ST, M, D), .ename = (FN), .lo = (LO), .hi = (HI)}
#define SUP_Q_PRIV(N, ST, M, D) {SUP_FIELD(N, SUP_T_PRIVS, SUP_IN_QUERY, 0, ST, M, D)}
#define SUP_Q_KSE(N, ST, M, D) {SUP_FIELD(N, SUP_T_KSE, SUP_IN_QUERY, 0, ST, M, D)}
/* The usual page of a list: limit in [1, 1000] (100), offset (0). */
#define SUP_Q_PAGE(ST, LIMIT, OFFSET)                                                  \
    SUP_Q_INT("limit", 1, 1000, 100, ST, LIMIT, "page size"),                          \
        SUP_Q_INT("offset", 0, INT64_MAX, 0, ST, OFFSET, "rows to skip")
/* path: N names the thing ("controller": 404 "no controller 'x'") */
#define SUP_P_ID(N, ST, M) {SUP_FIELD(N, SUP_T_ID, SUP_IN_PATH, SUP_REQUIRED, ST, M, N " id")}
#define SUP_P_HEX(N, BYTES, ST, M) \
    {SUP_FIELD(N, SUP_T_HEX, SUP_IN_PATH, SUP_REQUIRED, ST, M, N " id (hex)"), .hi = (BYTES)}
#define SUP_P_INT(N, ST, M, D) \
    {SUP_FIELD(N, SUP_T_INT, SUP_IN_PATH, SUP_REQUIRED, ST, M, D), .hi = UINT64_MAX}
#define SUP_P_NAME(N, MAX, CH, CHDOC, ST, M, D)                                            \
    {SUP_FIELD(N, SUP_T_STR, SUP_IN_PATH, SUP_REQUIRED, ST, M, D), .hi = (MAX), .chars = (CH), \
     .chars_doc = (CHDOC)}
#define SUP_END {.name = NULL}

#endif
