/*
 * cli_util.h - what every `keysup` command shares: option parsing, output
 * (aligned `field: value` lines or JSON from one jansson object), errors
 * with their exit codes, hex, times, files and passphrases.
 *
 * Exit codes (docs/cli.md): a command returns one of enum cli_exit, and the
 * error helpers below print the message and hand back the right one, so a
 * command body reads `return cli_err(...)`.
 */
#ifndef KEYSUP_CLI_UTIL_H
#define KEYSUP_CLI_UTIL_H

#include <jansson.h>
#include <keysup/keysup.h>
#include <stdarg.h>

#include "ks_hex.h"
#include "cli_time.h"
#include "cli_values.h"

enum cli_exit {
    CLI_OK = 0,
    CLI_REFUSED = 1,   /* input data refused: verification failure, KSE, bad key list */
    CLI_USAGE = 2,     /* wrong arguments */
    CLI_IO = 3,        /* a file could not be read or written */
    CLI_INTERNAL = 4   /* crypto backend or memory failure */
};

/* Marker a parser returns after printing --help: the command exits 0. */
#define CLI_HELP_SHOWN (-1)

typedef struct cli_ctx {
    int json;             /* --json: one JSON document on stdout */
    ks_crypto crypto;     /* libsodium ops, set up once by main */
    const char *cmd;      /* "keysup snapshot verify", for messages */
} cli_ctx;

/* ----- options ----- */

#define CLI_LIST_MAX 8

typedef struct cli_list {
    const char *v[CLI_LIST_MAX];
    int n;
} cli_list;

enum cli_opt_kind {
    CLI_FLAG,   /* int *: set to 1 */
    CLI_VALUE,  /* const char **: the next argument */
    CLI_LIST    /* cli_list *: the next argument, repeatable; also takes the
                   arguments after it up to the next one starting with "--" */
};

typedef struct cli_opt {
    const char *name;   /* with its dashes: "--out" */
    enum cli_opt_kind kind;
    void *dst;
} cli_opt;

/*
 * Parses argv[0..argc) (the arguments after the verb) against opts (ended by
 * a {NULL} entry); --json and --help are always accepted. Positional
 * arguments go to pos[0..*npos), between min_pos and max_pos of them.
 * Returns CLI_OK, CLI_HELP_SHOWN after printing usage, or CLI_USAGE after
 * printing what was wrong.
 */
int cli_parse(cli_ctx *cx, int argc, char **argv, const cli_opt *opts, const char **pos,
              int min_pos, int max_pos, int *npos, const char *usage);

/* Prints usage text (to stdout) and returns CLI_HELP_SHOWN. */
int cli_usage(const char *usage);

/* ----- output ----- */

void cli_set_str(json_t *o, const char *key, const char *s);
void cli_set_u64(json_t *o, const char *key, uint64_t v);
void cli_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n);
void cli_set_bool(json_t *o, const char *key, int v);
/* key: the unix time; key_utc: ISO 8601 ("never" when v == 0 and zero_never). */
void cli_set_time(json_t *o, const char *key, uint64_t v, int zero_never);

/* Prints o (JSON, or aligned `field: value` lines), releases it, returns CLI_OK. */
int cli_emit(cli_ctx *cx, json_t *o);

/* ----- errors: print, then return the exit code ----- */

/* A message with a stable code ("USAGE", "IO", "FORMAT", ...). */
int cli_err(cli_ctx *cx, int exit_code, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/*
 * A core (or key file) error: code "KSE-700" for KSE conditions, else the
 * error's name ("FORMAT"); the message says what was checked (d->what, the
 * byte offset) and, for the usual refusals, what to do. The exit code
 * follows the error: I/O 3, crypto/memory/argument 4, anything else 1.
 */
int cli_core_err(cli_ctx *cx, int err, const ks_diag *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* An OS error on path (errno): code "IO", exit 3. */
int cli_io_err(cli_ctx *cx, const char *path, const char *doing);

/* ----- values (cli_values.h) and times in output (cli_time.h) ----- */

/* The one --json shape (cli_shape.c): lists with items/total/limit/offset,
 * KSE codes as "KSE-NNN", epoch-millisecond times also as NAME_at seconds. */
void cli_json_shape(json_t *o);

/* ----- files ----- */

/* Reads a file (cap max bytes); prints the error and returns its exit code. */
int cli_read(cli_ctx *cx, const char *path, size_t max, uint8_t **buf, size_t *len);
/* Atomic write; refuses to replace an existing file unless force. */
int cli_write(cli_ctx *cx, const char *path, const void *buf, size_t len, unsigned mode,
              int force);

/* ----- passphrases and keys ----- */

/*
 * The passphrase from file (first line, without its line end) when file is
 * set, else from $KEYSUP_PASSPHRASE, else none (*pass NULL). Never from
 * argv: arguments are visible to every user through /proc.
 */
int cli_passphrase(cli_ctx *cx, const char *file, char **pass, size_t *len);
void cli_passphrase_free(char *pass, size_t len);

/*
 * Loads a key file's secret, asking for the passphrase (as above) only when
 * the file is encrypted. sk is wiped on failure; the caller wipes it after.
 */
int cli_load_key(cli_ctx *cx, const char *path, const char *passfile,
                 uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE]);

/* A public key given as 64 hex digits or as a key file path (no passphrase). */
int cli_public_key(cli_ctx *cx, const char *arg, uint8_t pk[KS_PUBKEY_SIZE]);

#endif
