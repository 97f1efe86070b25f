/*
 * cli_util.c - see cli_util.h.
 *
 * Option parsing, output (JSON and human), error shapes, files and keys
 * that every command shares; values (numbers, times, durations) are
 * cli_values.c, and the output rule for times is cli_time.c.
 */
#define _XOPEN_SOURCE 700
#include "cli_util.h"
#include "ks_kse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "ks_fileio.h"
#include "ks_keyfile.h"
#include "ks_passphrase.h"

/* ----- options ----- */

int cli_usage(const char *usage)
{
    fputs(usage, stdout);
    return CLI_HELP_SHOWN;
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name)
{
    for (; opts && opts->name; opts++)
        if (strcmp(opts->name, name) == 0)
            return opts;
    return NULL;
}

static int list_add(cli_ctx *cx, cli_list *l, const char *name, const char *v)
{
    if (l->n >= CLI_LIST_MAX)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: at most %d values for %s", cx->cmd,
                       CLI_LIST_MAX, name);
    l->v[l->n++] = v;
    return CLI_OK;
}

/* After a usage mistake's error: the verb's synopsis (its "usage:" lines, up
 * to the first blank line), so the right spelling is on screen; --json gets
 * the error object only. Returns ret. */
static int with_synopsis(cli_ctx *cx, const char *usage, int ret)
{
    const char *end = usage ? strstr(usage, "\n\n") : NULL;
    if (!cx->json && usage)
        fprintf(stderr, "%.*s\n", end ? (int)(end - usage) : (int)strlen(usage), usage);
    return ret;
}

int cli_parse(cli_ctx *cx, int argc, char **argv, const cli_opt *opts, const char **pos,
              int min_pos, int max_pos, int *npos, const char *usage)
{
    int np = 0, only_pos = 0, ret;

    /* --json must take effect before any error is printed, wherever it is. */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--json") == 0)
            cx->json = 1;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const cli_opt *o;

        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (np >= max_pos)
                return with_synopsis(cx, usage, cli_err(cx, CLI_USAGE, "USAGE",
                                     "%s: unexpected argument '%s' (see --help)", cx->cmd, a));
            pos[np++] = a;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return cli_usage(usage);
        if (strcmp(a, "--json") == 0)
            continue;
        o = find_opt(opts, a);
        if (!o)
            return with_synopsis(cx, usage, cli_err(cx, CLI_USAGE, "USAGE",
                                 "%s: unknown option '%s' (see --help)", cx->cmd, a));
        if (o->kind == CLI_FLAG) {
            *(int *)o->dst = 1;
            continue;
        }
        if (i + 1 >= argc)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: option %s needs a value", cx->cmd, a);
        if (o->kind == CLI_VALUE) {
            if (*(const char **)o->dst)
                return cli_err(cx, CLI_USAGE, "USAGE", "%s: option %s given twice", cx->cmd, a);
            *(const char **)o->dst = argv[++i];
            /* Paging values are checked here, once for every list verb,
             * instead of being sent to the server as they are. */
            if ((strcmp(a, "--limit") == 0 || strcmp(a, "--offset") == 0) &&
                (argv[i][0] == '\0' || strspn(argv[i], "0123456789") != strlen(argv[i]) ||
                 strlen(argv[i]) > 9))
                return cli_err(cx, CLI_USAGE, "USAGE", "%s: %s must be a number, got '%s'",
                               cx->cmd, a, argv[i]);
            continue;
        }
        ret = list_add(cx, o->dst, a, argv[++i]);
        if (ret)
            return ret;
        while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            ret = list_add(cx, o->dst, a, argv[++i]);
            if (ret)
                return ret;
        }
    }
    if (np < min_pos)
        return with_synopsis(cx, usage, cli_err(cx, CLI_USAGE, "USAGE",
                             "%s: missing argument (see --help)", cx->cmd));
    *npos = np;
    return CLI_OK;
}

/* ----- output ----- */

void cli_set_str(json_t *o, const char *key, const char *s)
{
    json_object_set_new(o, key, json_string(s));
}

void cli_set_u64(json_t *o, const char *key, uint64_t v)
{
    /* JSON integers are signed 64-bit in jansson; values above that are
     * not produced by any keysup format in practice, but say so if one is. */
    if (v > (uint64_t)INT64_MAX) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
        json_object_set_new(o, key, json_string(buf));
        return;
    }
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

void cli_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (!s)
        return;
    ks_hex(s, p, n);
    json_object_set_new(o, key, json_string(s));
    free(s);
}

void cli_set_bool(json_t *o, const char *key, int v)
{
    json_object_set_new(o, key, json_boolean(v));
}

void cli_set_time(json_t *o, const char *key, uint64_t v, int zero_never)
{
    char iso[40], k[64];
    cli_set_u64(o, key, v);
    if (v == 0 && zero_never)
        strcpy(iso, "never");
    else
        cli_fmt_time(iso, sizeof iso, v);
    snprintf(k, sizeof k, "%s_utc", key);
    cli_set_str(o, k, iso);
}

static void print_scalar(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        fputs(json_string_value(v), stdout);
        break;
    case JSON_INTEGER:
        printf("%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL: /* json_dumps refuses a bare scalar: it printed "?" */
        printf("%.6g", json_real_value(v));
        break;
    case JSON_TRUE:
        fputs("yes", stdout);
        break;
    case JSON_FALSE:
        fputs("no", stdout);
        break;
    case JSON_NULL:
        fputs("-", stdout);
        break;
    default: {
        char *s = json_dumps(v, JSON_COMPACT);
        fputs(s ? s : "?", stdout);
        free(s);
    }
    }
}

/* Aligned `field: value` lines; arrays of objects become indented blocks. */
static void print_human(const json_t *o, int indent)
{
    const char *key;
    const json_t *v;
    int width = 0;

    json_object_foreach((json_t *)o, key, v) {
        int n = (int)strlen(key);
        if (n > width)
            width = n;
    }
    json_object_foreach((json_t *)o, key, v) {
        if (json_is_object(v)) {
            printf("%*s%s:\n", indent, "", key);
            print_human(v, indent + 2);
        } else if (json_is_array(v)) {
            size_t i;
            const json_t *e;
            int blocks = json_array_size(v) > 0 && json_is_object(json_array_get(v, 0));
            printf("%*s%s:%*s", indent, "", key, blocks ? 0 : width - (int)strlen(key) + 1, "");
            if (blocks) {
                putchar('\n');
                json_array_foreach(v, i, e) {
                    if (i > 0)
                        putchar('\n');
                    print_human(e, indent + 2);
                }
                continue;
            }
            json_array_foreach(v, i, e) {
                if (i > 0)
                    fputs(", ", stdout);
                print_scalar(e);
            }
            putchar('\n');
        } else {
            printf("%*s%s:%*s", indent, "", key, width - (int)strlen(key) + 1, "");
            print_scalar(v);
            putchar('\n');
        }
    }
}

int cli_emit(cli_ctx *cx, json_t *o)
{
    if (cx->json)
        cli_json_shape(o); /* before the times: it adds NAME_at fields */
    cli_people_times(o, cx->json);
    if (cx->json) {
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        print_human(o, 0);
    }
    json_decref(o);
    fflush(stdout);
    return CLI_OK;
}

/* ----- errors ----- */

static int emit_error(cli_ctx *cx, int exit_code, const char *code, const char *symbol,
                      int show_code, const ks_diag *d, const char *msg, const char *hint)
{
    if (cx->json) {
        json_t *e = json_object(), *root = json_object();
        cli_set_str(e, "code", code);
        if (symbol)
            cli_set_str(e, "symbol", symbol);
        cli_set_str(e, "message", msg);
        if (d && d->what) {
            cli_set_str(e, "what", d->what);
            cli_set_u64(e, "offset", d->offset);
        }
        if (hint)
            cli_set_str(e, "hint", hint);
        json_object_set_new(root, "error", e);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        fflush(stdout);
        json_decref(root);
    } else {
        if (symbol)
            fprintf(stderr, "keysup: %s %s: %s\n", code, symbol, msg);
        else if (show_code)
            fprintf(stderr, "keysup: %s: %s\n", code, msg);
        else
            fprintf(stderr, "keysup: error: %s\n", msg);
        if (hint)
            fprintf(stderr, "  next step: %s\n", hint);
    }
    return exit_code;
}

int cli_err(cli_ctx *cx, int exit_code, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return emit_error(cx, exit_code, code, NULL, exit_code == CLI_REFUSED, NULL, msg, NULL);
}

/* What to do about the refusals an operator of these tools actually meets. */
static const char *hint_for(int err)
{
    switch (err) {
    case KS_E_SUPERVISOR_UNTRUSTED:
        return "pin the signing supervisor key with --trust, or pass the rotation chain that "
               "introduces it with --rotation; on a controller: Replace Supervisor Credential";
    case KS_E_ROLLBACK:
        return "this snapshot is older than the applied one; fetch the current snapshot from "
               "the supervisor";
    case KS_E_SNAPSHOT_EXPIRED:
        return "the snapshot is authentic but past expires_at; publish a fresh snapshot "
               "(the controller runs in declared degraded mode meanwhile)";
    case KS_E_SIGNATURE:
    case KS_E_ROOT:
        return "the file was altered or damaged after signing; fetch it again";
    case KS_E_BASE:
        return "the delta was made for another base snapshot; apply it to its base or do a "
               "full download";
    case KS_E_CHAIN:
        return "the rotation chain is too long to follow; re-provision the trusted key";
    case KS_E_PASSPHRASE:
        return "check the passphrase (--passphrase-file or KEYSUP_PASSPHRASE)";
    default:
        /* A token's causes: the technician's first step from the catalogue. */
        if (err <= KS_E_TOKEN_ABSENT && err >= KS_E_TOKEN_MODULE && ks_kse_find(-err))
            return ks_kse_find(-err)->steps[0];
        return NULL;
    }
}

int cli_core_err(cli_ctx *cx, int err, const ks_diag *d, const char *fmt, ...)
{
    char ctx[512], msg[1024], code[32];
    const char *name, *desc;
    int kse = ks_err_kse(err), exit_code;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    if (err == KS_E_PASSPHRASE) {
        name = "PASSPHRASE";
        desc = d && d->what && strcmp(d->what, "keyfile.passphrase_required") == 0
                   ? "the key file is encrypted and no passphrase was given"
                   : "wrong passphrase: the key file is intact but does not open with it";
    } else {
        name = ks_err_name(err);
        desc = ks_strerror(err);
    }
    if (kse)
        snprintf(code, sizeof code, "KSE-%d", kse);
    else
        snprintf(code, sizeof code, "%s", name);
    if (d && d->what && err != KS_E_PASSPHRASE)
        snprintf(msg, sizeof msg, "%s: %s (%s, byte %lu)", ctx, desc, d->what,
                 (unsigned long)d->offset);
    else
        snprintf(msg, sizeof msg, "%s: %s", ctx, desc);

    switch (err) {
    case KS_E_IO:
        exit_code = CLI_IO;
        break;
    case KS_E_CRYPTO:
    case KS_E_NOSPC:
    case KS_E_INVAL:
        exit_code = CLI_INTERNAL;
        break;
    default:
        exit_code = CLI_REFUSED;
    }
    return emit_error(cx, exit_code, code, kse ? name : NULL, 1, d, msg, hint_for(err));
}

int cli_io_err(cli_ctx *cx, const char *path, const char *doing)
{
    int e = errno;
    char msg[1024];
    snprintf(msg, sizeof msg, "cannot %s %s: %s", doing, path, strerror(e));
    return emit_error(cx, CLI_IO, "IO", NULL, 0, NULL, msg,
                      e == EEXIST ? "pass --force to replace it" : NULL);
}

/* ----- values: cli_values.c ----- */

/* ----- files ----- */

int cli_read(cli_ctx *cx, const char *path, size_t max, uint8_t **buf, size_t *len)
{
    int ret = ks_file_read(path, max, buf, len);
    if (ret == KS_E_NOSPC)
        return cli_err(cx, CLI_REFUSED, "FORMAT", "%s: larger than the %zu bytes this input may have",
                       path, max);
    if (ret)
        return cli_io_err(cx, path, "read");
    return CLI_OK;
}

int cli_write(cli_ctx *cx, const char *path, const void *buf, size_t len, unsigned mode,
              int force)
{
    if (ks_file_write_atomic(path, buf, len, mode, force) != KS_OK)
        return cli_io_err(cx, path, "write");
    return CLI_OK;
}

/* ----- passphrases and keys ----- */

int cli_passphrase(cli_ctx *cx, const char *file, char **pass, size_t *len)
{
    char msg[1024];
    switch (ks_passphrase_read(file, pass, len, msg, sizeof msg)) {
    case KS_OK:
        return CLI_OK;
    case KS_E_IO:
        return cli_io_err(cx, file, "read");
    case KS_E_FORMAT:
        return cli_err(cx, CLI_REFUSED, "FORMAT", "%s", msg);
    case KS_E_INVAL:
        return cli_err(cx, CLI_USAGE, "USAGE", "%s", msg);
    case KS_E_PASSPHRASE:
        return cli_err(cx, CLI_USAGE, "PASSPHRASE", "%s", msg);
    default:
        return cli_err(cx, CLI_INTERNAL, "INTERNAL", "%s", msg);
    }
}

void cli_passphrase_free(char *pass, size_t len)
{
    ks_passphrase_free(pass, len);
}

int cli_load_key(cli_ctx *cx, const char *path, const char *passfile,
                 uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE])
{
    ks_keyfile_info info;
    ks_diag d = {0, 0, NULL};
    char *pass = NULL;
    size_t passlen = 0;
    int ret;

    sodium_memzero(sk, KS_SECKEY_SIZE);
    ret = ks_keyfile_load_info(path, &info, &d);
    if (ret == KS_E_IO)
        return cli_io_err(cx, path, "read");
    if (ret)
        return cli_core_err(cx, ret, &d, "key file %s", path);
    if (info.mode != KS_KEYFILE_PLAIN) {
        ret = cli_passphrase(cx, passfile, &pass, &passlen);
        if (ret)
            return ret;
        if (!pass)
            return cli_err(cx, CLI_USAGE, "PASSPHRASE",
                           "key file %s is encrypted: give --passphrase-file FILE or set "
                           "KEYSUP_PASSPHRASE", path);
    }
    ret = ks_keyfile_load(path, pass, passlen, pk, sk, &d);
    cli_passphrase_free(pass, passlen);
    if (ret == KS_E_IO)
        return cli_io_err(cx, path, "read");
    if (ret)
        return cli_core_err(cx, ret, &d, "key file %s", path);
    return CLI_OK;
}

int cli_public_key(cli_ctx *cx, const char *arg, uint8_t pk[KS_PUBKEY_SIZE])
{
    ks_keyfile_info info;
    ks_diag d = {0, 0, NULL};
    int ret;

    if (strlen(arg) == 2 * KS_PUBKEY_SIZE && ks_unhex(pk, KS_PUBKEY_SIZE, arg) == 0) {
        if (crypto_core_ed25519_is_valid_point(pk) != 1)
            return cli_err(cx, CLI_REFUSED, "FORMAT",
                           "%s is not a valid Ed25519 public key", arg);
        return CLI_OK;
    }
    ret = ks_keyfile_load_info(arg, &info, &d);
    if (ret == KS_E_IO)
        return cli_io_err(cx, arg, "read key file (not 64 hex digits either)");
    if (ret)
        return cli_core_err(cx, ret, &d, "key file %s", arg);
    memcpy(pk, info.public_key, KS_PUBKEY_SIZE);
    return CLI_OK;
}
