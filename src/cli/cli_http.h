/*
 * cli_http.h - the CLI's client of the keysupd API (libcurl).
 *
 * Every remote verb takes --server URL (else $KEYSUP_SERVER, else
 * http://127.0.0.1:8750) and --token-file F (else $KEYSUP_TOKEN_FILE): the
 * file's first line is the bearer token. Tokens never come from argv.
 *
 * Exit codes: an API refusal (4xx) is 1 with the server's error code and
 * message; a server failure (5xx) is 4; no connection or no token file is 3.
 */
#ifndef KEYSUP_CLI_HTTP_H
#define KEYSUP_CLI_HTTP_H

#include "cli_util.h"

typedef struct cli_remote {
    const char *server;      /* --server */
    const char *token_file;  /* --token-file */
} cli_remote;

/*
 * How an https:// server is verified (cli_http.c): --cacert FILE (else
 * $KEYSUP_CACERT) is the CA, or the self-signed certificate itself, that
 * must vouch for the server, host name included; --server-pin sha256//B64
 * (else $KEYSUP_PIN_SHA256) pins its key instead of (or besides) a CA.
 * Without either, the system's CA store applies. Process-wide: one CLI
 * invocation talks to one server.
 */
extern const char *cli_tls_cacert;
extern const char *cli_tls_pin;

/* The remote options as cli_opt rows, for a verb's option table. */
#define CLI_REMOTE_OPTS(r)                         \
    {"--server", CLI_VALUE, &(r)->server},         \
    {"--token-file", CLI_VALUE, &(r)->token_file}, \
    {"--cacert", CLI_VALUE, &cli_tls_cacert},      \
    {"--server-pin", CLI_VALUE, &cli_tls_pin}

#define CLI_REMOTE_USAGE \
    "Common: --server URL ($KEYSUP_SERVER), --token-file F ($KEYSUP_TOKEN_FILE), --json;\n" \
    "https: --cacert FILE ($KEYSUP_CACERT), --server-pin sha256//... ($KEYSUP_PIN_SHA256).\n"

/* The bearer token of r (its file's first line) into tok; an exit code. */
int cli_load_token(cli_ctx *cx, const cli_remote *r, char *tok, size_t n);

/* Applies the TLS verification settings above to a curl handle. */
void cli_tls_setopt(void *curl);
/* GET path whose answer is a file (cmd_key_bulk.c): the body in *out (a
 * struct ks_httpc_buf, ks_httpc.h) on 200, else the refusal printed and its
 * exit code. */
struct ks_httpc_buf;
int cli_get_file(cli_ctx *cx, const cli_remote *r, const char *path, struct ks_httpc_buf *out);
/* Length of the server URL sv[0..len) without a trailing "/" or "/v1". */
int cli_server_len(const char *sv, int len);
/* A clear message for a failed transfer: TLS verification failures name
 * the host and the reason (then 1 is returned, else 0). */
int cli_tls_explain(char *out, size_t n, const char *server, int curl_code, const char *errbuf);

/*
 * Calls METHOD path (body may be NULL) and, on 2xx, stores the parsed JSON
 * answer in *out (an empty object for an empty body). Otherwise prints the
 * error and returns its exit code. *status gets the HTTP status if non-NULL.
 */
int cli_api(cli_ctx *cx, const cli_remote *r, const char *method, const char *path, json_t *body,
            json_t **out, long *status);

/* Prints items (array of objects) as an aligned table of cols (NULL-ended),
 * or the whole answer as JSON with --json. Releases answer. */
int cli_table(cli_ctx *cx, json_t *answer, const char *items_key, const char *const *cols);

/* What cli_remote_simple takes as its one positional argument. */
enum cli_remote_arg {
    CLI_ARG_NONE = 0,   /* the verb takes no argument */
    CLI_ARG_NAME = 1,   /* a name: letters, digits, '_' '-' '.' */
    CLI_ARG_ID = 2      /* a positive row id */
};

/*
 * The shape most remote verbs share: only the remote options, at most one
 * positional argument put in place of "{}" in path, one request without a
 * body (POST and PUT send {}), and the answer printed as a table of
 * items (cols non-NULL) or as it came.
 */
int cli_remote_simple(cli_ctx *cx, int argc, char **argv, const char *usage, const char *method,
                      const char *path, enum cli_remote_arg arg, const char *const *cols);

/* Appends `name=value` (URL-escaped) to a query string. */
void cli_query_add(char *q, size_t n, const char *name, const char *value);

#endif
