/*
 * sup_api.h - what the HTTP glue (sup_http.c) and the endpoint files
 * (api_*.c) share: the request and response, the route tables, and the
 * helpers that turn bad input into 400s naming the field.
 *
 * Contract of a handler: it fills rs (status plus a JSON body, a binary body
 * or text) and returns; sup_http.c sends it, counts it, and owns freeing it.
 * Authentication and authorisation happened before the handler runs,
 * according to the route's `auth`.
 */
#ifndef KEYSUP_KS_API_H
#define KEYSUP_KS_API_H

#include "sup_guard.h"
#include "sup_schema.h"
#include "sup.h"

struct MHD_Connection;

enum sup_api_auth {
    KS_AUTH_PUBLIC = -1,   /* anyone */
    KS_AUTH_DEVICE = -2,   /* a controller's device-key signature */
    /* 1..3: bearer token with at least this role (enum sup_role) */
};

#define KS_API_MAXARGS 4

typedef struct sup_req {
    sup_ctx *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    const char *body;       /* NUL-terminated copy of the body */
    size_t body_len;
    int role;               /* enum sup_role of the token, when one was used */
    char actor[96];         /* "token:NAME" or "controller:ID" */
    int64_t ctrl_id;        /* authenticated controller (device routes) */
    uint32_t ctrl_scope;
    const char *args[KS_API_MAXARGS]; /* the `*` segments of the route */
    const struct sup_client *client;   /* the peer's address (sup_guard.h) */
    /* set by device authentication: what the answer's signature binds */
    int sign_answer;
    uint8_t nonce[32];
    uint8_t device_key_id[KS_KEYID_SIZE];
    /* or by its heartbeat session (api_hbsess.c): the answer gets a MAC */
    int mac_answer;
    uint8_t hbs_sid[16];
    uint64_t hbs_counter;
    /* set by the dispatcher from the route's schema (sup_schema.h) */
    const void *in;         /* the route's input struct, decoded and validated */
    uint64_t has;           /* bit i: schema field i was given */
    json_t *json;           /* the body, parsed (strings of `in` point into it) */
    const sup_schema *schema;
} sup_req;

typedef struct sup_resp {
    int status;
    json_t *json;
    uint8_t *bin;           /* malloc'd, application/octet-stream */
    size_t bin_len;
    char *text;             /* malloc'd, text/plain */
    const char *ctype;      /* for text */
    uint64_t version;       /* X-Keysup-Version header when non-zero */
    uint32_t retry_after;   /* Retry-After header (seconds) when non-zero */
    char *set_cookie;       /* malloc'd Set-Cookie value (console sessions) */
    int page;               /* a console file: security headers (sup_console_headers) */
    int self_signed;        /* the body carries its own supervisor signature (a
                             * snapshot or delta header): no answer signature,
                             * which would hash megabytes per download */
    int secret;             /* the JSON body carries a secret (a generated seed):
                             * its strings and the sent buffer are wiped */
    /* A body shared with other answers (the published snapshot image, never
     * copied per client): shared_p/shared_len are sent, shared_free(shared)
     * runs once libmicrohttpd is done with them (api_snapshot.c). */
    void *shared;
    uint8_t *shared_p;
    size_t shared_len;
    void (*shared_free)(void *);
    char etag[48];              /* ETag header when set */
    char content_range[80];     /* Content-Range header when set (206, 416) */
    int accept_ranges;          /* Accept-Ranges: bytes */
    int download_slot;          /* holds a download slot until sent (sup_shed.h) */
    struct sup_watcher *held;   /* a watch parked, answered once woken (sup_watch.h) */
} sup_resp;

typedef void (*sup_api_fn)(sup_req *rq, sup_resp *rs);

/* A route whose handler reads its own input (no schema). */
typedef struct sup_route {
    const char *method;
    const char *pattern;    /* "/v1/keys/ * /grant" without spaces; `*` = one segment */
    int auth;
    sup_api_fn fn;
    unsigned char body;     /* enum sup_body: what the body is, which sets its limit */
} sup_route;

/* A declared route: its input is decoded and validated against schema
 * before fn runs (sup_schema.h; docs/api.md, "Declaring a route"). A table
 * ends with an entry whose method is NULL. */
typedef struct sup_api_route {
    const char *method;
    const char *pattern;
    int auth;
    sup_api_fn fn;
    const sup_schema *schema; /* NULL: fn reads its own input, as a sup_route */
    const char *summary;      /* one line for docs/openapi.json */
} sup_api_route;

extern const sup_api_route sup_routes_keys[];
extern const sup_api_route sup_routes_ctrl[];
extern const sup_api_route sup_routes_device[];
extern const sup_api_route sup_routes_admin[];
extern const sup_api_route sup_routes_ops[];
extern const sup_api_route sup_routes_diag[];   /* api_diag.c */
/* Every declared table, in matching order (api_routes.c). */
extern const sup_api_route *const sup_api_tables[];
extern const size_t sup_api_ntables;

/*
 * Decodes rq's path arguments, query and body against schema into a new
 * input struct (rq->in, rq->has, rq->json). 0 when valid; else rs holds
 * the 400/404 naming the field. api_decode_free releases what it made.
 */
int api_decode(sup_req *rq, sup_resp *rs, const sup_schema *schema);
void api_decode_free(sup_req *rq);
/* 1 when the schema field `name` was given in the request. */
int api_has(const sup_req *rq, const char *name);
/* The route table as OpenAPI 3 (api_openapi.c); NULL on allocation failure. */
json_t *sup_openapi(void);
extern const sup_api_route sup_routes_console[];   /* api_console.c: sessions */
extern const sup_api_route sup_routes_fleet[];     /* api_fleet.c */
extern const sup_api_route sup_routes_operators[]; /* api_operators.c */
extern const sup_api_route sup_routes_decisions[]; /* api_decisions.c */
extern const sup_api_route sup_routes_keyfile[];   /* api_keyfile.c */
extern const sup_api_route sup_routes_licences[];  /* api_licences.c */
extern const sup_api_route sup_routes_licence_policy[]; /* api_licence_policy.c */
extern const sup_api_route sup_routes_sites[];     /* api_sites.c */
extern const sup_api_route sup_routes_published[]; /* api_published.c */
extern const sup_api_route sup_routes_watch[];     /* api_watch.c: the push path */
/* The console's static files (api_console.c): not JSON API routes, so a
 * schema-less sup_route table (sup_http.c), outside docs/openapi.json. */
extern const sup_route sup_routes_web[];
/* Bulk import and export (api_keys_batch.c): the body is a CSV or JSON-lines
 * file, not a JSON object, so these stay schema-less and parse it themselves
 * (sup_import_parse.c), every bad row named. */
extern const sup_route sup_routes_keys_batch[];
/* GET /v1/device/snapshot after its checks: shared image, Range/ETag, the
 * download limit (api_snapshot.c). */
void api_snapshot_serve(sup_req *rq, sup_resp *rs);

/* ----- console sessions (sup_session.c) ----- */

/* 1 when the request carries a console session cookie (and no bearer token). */
int sup_session_present(sup_req *rq);
/* Authenticates rq by its session cookie, as auth_token does by a token:
 * 0 with role and actor set, else 401 (KSE-741), 403 (KSE-742 without the
 * CSRF token on a state change, or FORBIDDEN for the role) in rs. */
int sup_session_auth(sup_req *rq, sup_resp *rs, int need, const char *action);
/* Adds the console's security headers (CSP, nosniff, no framing) to r. */
void sup_console_headers(void *mhd_response);

/*
 * An anonymous refusal (rate limit, unknown token, failed guess): counted in
 * /metrics and sampled into the audit per client (sup_guard_refusal).
 * locked: the caller holds the lock.
 */
void api_refusal(sup_req *rq, int locked, const char *action, const char *target,
                 const char *code, const char *detail);
/* ----- signed answers (api_answer.c) ----- */

/*
 * The X-Keysup-Answer-Key and X-Keysup-Answer-Signature values of the answer
 * (status, body) to the authenticated device request rq: the active
 * supervisor key (64 hex) and its signature (128 hex) over the envelope of
 * docs/formats.md. 0 on success.
 */
int api_answer_sign(sup_ctx *s, const sup_req *rq, int status, const uint8_t *body, size_t len,
                    char key_hex[2 * KS_PUBKEY_SIZE + 1], char sig_hex[2 * KS_SIG_SIZE + 1]);

/* ----- responses ----- */

/* {"error": {"code": code, "message": ...}} with status. */
void api_error(sup_resp *rs, int status, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void api_json(sup_resp *rs, int status, json_t *o);
/* 500 for a database failure, logged. */
void api_db_error(sup_req *rq, sup_resp *rs, int rc);

/* ----- input ----- */

/* The body as a JSON object; on failure rs has the 400 and NULL is returned. */
json_t *api_body(sup_req *rq, sup_resp *rs);
/* Query-string value or NULL. */
const char *api_query(sup_req *rq, const char *name);
/*
 * Field getters: 0 when present and valid (stored), 1 when absent and not
 * required (out untouched), -1 after setting a 400 naming the field.
 * api_member: any present, non-null member.
 */
int api_member(sup_resp *rs, json_t *o, const char *f, int required, json_t **out);
/* One body field of o checked against its declaration into dst (api_field.c). */
int api_field(sup_resp *rs, json_t *o, const sup_field *f, void *dst);
/* An enum field's names as "a, b or c"; the value of a name, -1 for none. */
void api_enum_list(const sup_field *f, char *out, size_t cap);
int api_enum_value(const sup_field *f, const char *s);
int api_str(sup_resp *rs, json_t *o, const char *f, int required, size_t maxlen, const char **out);
int api_u64(sup_resp *rs, json_t *o, const char *f, int required, uint64_t lo, uint64_t hi,
            uint64_t *out);
int api_bool(sup_resp *rs, json_t *o, const char *f, int required, int *out);
int api_hex(sup_resp *rs, json_t *o, const char *f, int required, uint8_t *out, size_t n);
/* Privileges: an array of names (see ks_priv_name) or numbers (bits). */
int api_privs(sup_resp *rs, json_t *o, const char *f, int required, uint64_t *out);
/* Query parameter as u64 in [lo, hi]; same return convention. */
int api_qu64(sup_req *rq, sup_resp *rs, const char *name, uint64_t lo, uint64_t hi, uint64_t *out);
/* Path argument as a positive row id; 404 otherwise. */
int api_arg_id(sup_req *rq, sup_resp *rs, int i, const char *what, int64_t *out);

/* Privilege bits as a JSON array of names (unnamed bits as "BIT<n>"). */
json_t *api_privs_json(uint64_t bits);
/* Replaces hex `name` of a JSON object row by a privilege name array, etc. */
void api_fix_key_row(json_t *row);

/*
 * Runs fn inside one transaction with the lock held. fn returns KS_DB_OK to
 * commit, a KS_DB_* error (answered as 409/500), or API_TX_ABORT after
 * setting its own 4xx in rs. Returns 0 when committed.
 */
#define API_TX_ABORT 100
typedef int (*api_tx_fn)(sup_req *rq, sup_resp *rs, void *ctx);
int api_tx(sup_req *rq, sup_resp *rs, api_tx_fn fn, void *ctx);

/* Answers 200 {"items": [rows of the query]}, taking the lock; 500 (logged)
 * on a database error. */
void api_rows(sup_req *rq, sup_resp *rs, const char *sql, const sup_dbv *p, int n);

/* One JSON row of a query (NULL when none); lock held. */
json_t *api_row(sup_ctx *s, const char *sql, const sup_dbv *p, int n);

#endif
