/*
 * sup_initcmd.c - `keysupd init --data DIR`: a new supervisor data directory
 * (config, database, encrypted signing key, first admin token, and TLS
 * material when asked). Setup is the daemon's own business, so it lives
 * here and the `keysup` CLI does not link the daemon, SQLite or
 * libmicrohttpd; `keysup init` still works and execs this (src/cli/cmd_init.c).
 *
 * The answer and the errors keep the CLI's conventions (docs/cli.md): JSON
 * with --json, aligned `field: value` lines without; exit 0 done, 1 refused,
 * 2 wrong arguments, 3 I/O, 4 internal.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "ks_fileio.h"
#include "ks_hex.h"
#include "ks_passphrase.h"
#include "ks_sodium.h"
#include "ks_tlspin.h"
#include "sup.h"
#include "sup_cmdout.h"
#include "sup_initcmd.h"
#include "sup_tls.h"
#include "sup_tlsgen.h"


#define INIT_SANS_MAX 8

static const char init_usage[] =
    "usage: keysupd init --data DIR [--db postgresql://...] [--passphrase-file F | --no-passphrase]\n"
    "                    [--kdf interactive|moderate] [--token-out FILE] [--json]\n"
    "                    [--tls | --san DNS:NAME|IP:ADDR ... | --tls-cert F --tls-key F]\n"
    "                    [--tls-key-type ecdsa|ed25519] [--tls-days N]\n\n"
    "Creates DIR (mode 0700) with keysupd.conf (docs/supervisor.md), keysup.db and\n"
    "the supervisor signing key supervisor-1.key, sealed with the passphrase (first\n"
    "line of --passphrase-file, else $KEYSUP_PASSPHRASE; never from argv). Prints\n"
    "the first admin token once (only its hash is stored); --token-out also writes\n"
    "it to FILE (mode 0600) for --token-file. --no-passphrase: tests and demos only.\n\n"
    "TLS: --san (repeatable) makes a key (ECDSA P-256, or Ed25519) and a self-signed\n"
    "certificate for those names (--tls alone: localhost, 127.0.0.1, ::1), valid\n"
    "--tls-days (825); --tls-cert/--tls-key copy in a CA-issued pair instead. Both\n"
    "land in DIR (0600) and in keysupd.conf; the answer shows the pin controllers\n"
    "learn at enrolment. Without any of these keysupd speaks plain HTTP (loopback).\n"
    "--db URL: the registry lives in that PostgreSQL database instead of DIR/keysup.db\n"
    "(written to keysupd.conf as `database`); the key and config stay in DIR. More\n"
    "keysupd on the same database get a copy of DIR (docs/operations.md).\n\n"
    "`keysup init` is the same command (it runs this one).\n";

typedef struct init_args {
    const char *data, *db, *passfile, *kdf, *tokout, *tls_cert, *tls_key, *tls_type, *tls_days;
    const char *sans[INIT_SANS_MAX];
    int nsans, nopass, tls, json;
} init_args;


static const char **value_slot(init_args *a, const char *opt)
{
    static const struct {
        const char *name;
        size_t off;
    } values[] = {
        {"--data", offsetof(init_args, data)},
        {"--db", offsetof(init_args, db)},
        {"--passphrase-file", offsetof(init_args, passfile)},
        {"--kdf", offsetof(init_args, kdf)},
        {"--token-out", offsetof(init_args, tokout)},
        {"--tls-cert", offsetof(init_args, tls_cert)},
        {"--tls-key", offsetof(init_args, tls_key)},
        {"--tls-key-type", offsetof(init_args, tls_type)},
        {"--tls-days", offsetof(init_args, tls_days)},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if (strcmp(opt, values[i].name) == 0)
            return (const char **)(void *)((char *)a + values[i].off);
    return NULL;
}

/* `--opt value` as the CLI takes it; --san also takes the values after it
 * up to the next `--` option. -1 after printing --help. */
static int parse(int argc, char **argv, init_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0)
            a->json = sup_cmd_json = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], **slot;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(init_usage, stdout);
            return -1;
        }
        if (strcmp(o, "--json") == 0)
            continue;
        if (strcmp(o, "--no-passphrase") == 0 || strcmp(o, "--tls") == 0) {
            *(o[2] == 'n' ? &a->nopass : &a->tls) = 1;
            continue;
        }
        if (o[0] != '-' || o[1] == '\0')
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: unexpected argument '%s' (see --help)", o);
        slot = value_slot(a, o);
        if (!slot && strcmp(o, "--san") != 0)
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: unknown option '%s' (see --help)", o);
        if (i + 1 >= argc)
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: option %s needs a value", o);
        if (slot) {
            if (*slot)
                return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: option %s given twice", o);
            *slot = argv[++i];
            continue;
        }
        do {
            if (a->nsans >= INIT_SANS_MAX)
                return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: at most %d values for --san",
                            INIT_SANS_MAX);
            a->sans[a->nsans++] = argv[++i];
        } while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0);
    }
    return 0;
}

/* Everything that can be wrong with the options is found before the
 * directory exists: the admin token is printed only once, at the end. */
static int check(init_args *a, int *fast, unsigned *days)
{
    char err[512];
    uint64_t d = 825;
    if (!a->data)
        return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: --data DIR is required");
    if (a->kdf && strcmp(a->kdf, "interactive") != 0 && strcmp(a->kdf, "moderate") != 0)
        return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: --kdf must be interactive or moderate");
    *fast = a->kdf && strcmp(a->kdf, "interactive") == 0;
    if (!a->tls_cert != !a->tls_key)
        return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: --tls-cert and --tls-key go together");
    if (a->tls_cert && a->nsans)
        return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: --san makes a certificate; --tls-cert "
                    "brings one: use one or the other");
    if (a->tls_type && strcmp(a->tls_type, "ecdsa") != 0 && strcmp(a->tls_type, "ed25519") != 0)
        return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: --tls-key-type must be ecdsa or ed25519");
    if (a->tls_days) {
        char *end = NULL;
        errno = 0;
        d = strtoull(a->tls_days, &end, 10);
        if (!*a->tls_days || *a->tls_days == '-' || *end || errno || d < 1 || d > 3650)
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: --tls-days must be 1..3650");
    }
    *days = (unsigned)d;
    a->tls |= a->nsans > 0 || a->tls_cert != NULL;
    for (int i = 0; i < a->nsans; i++)
        if (sup_tlsgen_san_check(a->sans[i], err, sizeof err))
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: %s", err);
    if (a->tls_cert) {
        sup_tls *t = NULL;
        if (sup_tls_open(&t, a->tls_cert, a->tls_key, err, sizeof err))
            return sup_cmd_fail(SUP_CMD_REFUSED, "TLS", "keysupd init: %s", err);
        sup_tls_free(t);
    }
    return 0;
}

/* The key and certificate into DIR, named in keysupd.conf; pin gets their pin. */
static int setup_tls(const init_args *a, unsigned days, char pin[KS_TLS_PIN_TEXT], char *err,
                     size_t errlen)
{
    char cp[PATH_MAX + 32], kp[PATH_MAX + 32], conf[PATH_MAX + 32];
    uint8_t h[KS_TLS_PIN_SIZE];
    snprintf(cp, sizeof cp, "%s/%s", a->data, SUP_TLS_CERT_NAME);
    snprintf(kp, sizeof kp, "%s/%s", a->data, SUP_TLS_KEY_NAME);
    snprintf(conf, sizeof conf, "%s/%s", a->data, KS_SUP_CONF_NAME);
    if ((a->tls_cert ? sup_tlsgen_import(a->tls_cert, a->tls_key, cp, kp, err, errlen)
                     : sup_tlsgen_selfsigned(cp, kp, a->sans, a->nsans,
                                             a->tls_type && strcmp(a->tls_type, "ed25519") == 0,
                                             days, err, errlen)) ||
        sup_conf_set(conf, "tls_cert", SUP_TLS_CERT_NAME, err, errlen) ||
        sup_conf_set(conf, "tls_key", SUP_TLS_KEY_NAME, err, errlen) ||
        ks_tls_pin_of_file(h, cp, err, errlen))
        return -1;
    ks_tls_pin_format(pin, h);
    return 0;
}

static void set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
    char hex[2 * KS_PUBKEY_SIZE + 1];
    ks_hex(hex, p, n);
    json_object_set_new(o, key, json_string(hex));
}

int sup_init_main(int argc, char **argv)
{
    init_args a;
    int fast = 0, tls_failed = 0, ret;
    unsigned days = 825;
    char *pass = NULL, token[80] = "", err[512], pin[KS_TLS_PIN_TEXT] = "";
    size_t passlen = 0;
    uint8_t pk[KS_PUBKEY_SIZE], id[KS_KEYID_SIZE];
    ks_crypto crypto;
    json_t *o = NULL;

    sup_cmd_json = 0;
    if ((ret = parse(argc, argv, &a)) != 0)
        return ret < 0 ? SUP_CMD_OK : ret;
    if ((ret = check(&a, &fast, &days)) != 0)
        return ret;
    if (sodium_init() < 0 || ks_sodium_crypto(&crypto) != KS_OK)
        return sup_cmd_fail(SUP_CMD_INTERNAL, "CRYPTO", "libsodium failed to initialise");
    if (!a.nopass) {
        switch (ks_passphrase_read(a.passfile, &pass, &passlen, err, sizeof err)) {
        case KS_OK: break;
        case KS_E_IO: return sup_cmd_fail(SUP_CMD_IO, "IO", "%s", err);
        case KS_E_FORMAT: return sup_cmd_fail(SUP_CMD_REFUSED, "FORMAT", "%s", err);
        case KS_E_INVAL: return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "%s", err);
        case KS_E_PASSPHRASE: return sup_cmd_fail(SUP_CMD_USAGE, "PASSPHRASE", "%s", err);
        default: return sup_cmd_fail(SUP_CMD_INTERNAL, "INTERNAL", "%s", err);
        }
        if (!pass)
            return sup_cmd_fail(SUP_CMD_USAGE, "USAGE", "keysupd init: the signing key needs a passphrase:"
                        " --passphrase-file FILE or KEYSUP_PASSPHRASE (or --no-passphrase"
                        " for a test setup)");
    }
    ret = sup_init_db(a.data, a.db, pass, passlen, fast, token, pk, err, sizeof err);
    ks_passphrase_free(pass, passlen); /* the key is sealed: the passphrase is not needed */
    if (ret)
        return sup_cmd_fail(ret == KS_E_IO ? SUP_CMD_IO : SUP_CMD_REFUSED, ret == KS_E_IO ? "IO" : "REFUSED",
                    "keysupd init: %s", err);
    /* Only I/O is left to fail in TLS here; the token must still be shown. */
    if (a.tls && setup_tls(&a, days, pin, err, sizeof err))
        tls_failed = 1;
    if (a.tokout) {
        char line[84];
        size_t n = strlen(token);
        memcpy(line, token, n);
        line[n] = '\n';
        int werr = ks_file_write_atomic(a.tokout, line, n + 1, 0600, 0);
        int e = errno;
        sodium_memzero(line, sizeof line);
        if (werr != KS_OK) {
            sodium_memzero(token, sizeof token);
            return sup_cmd_fail(SUP_CMD_IO, "IO", "cannot write %s: %s", a.tokout, strerror(e));
        }
    }
    o = json_object();
    json_object_set_new(o, "data", json_string(a.data));
    /* which engine, never the URL (it may hold a password) */
    json_object_set_new(o, "database",
                        json_string(a.db ? "postgresql (keysupd.conf: database)" : KS_SUP_DB_NAME));
    ks_key_id(&crypto, id, pk);
    set_hex(o, "supervisor_key_id", id, sizeof id);
    set_hex(o, "supervisor_public_key", pk, sizeof pk);
    if (a.tokout) /* written to a file: keep it off the screen and out of logs */
        json_object_set_new(o, "admin_token_file", json_string(a.tokout));
    else
        json_object_set_new(o, "admin_token", json_string(token));
    if (pin[0]) {
        json_object_set_new(o, "tls_cert", json_string(SUP_TLS_CERT_NAME));
        json_object_set_new(o, "tls_pin", json_string(pin));
    }
    if (tls_failed)
        json_object_set_new(o, "tls_error", json_string(err));
    if (tls_failed || !a.tokout)
        json_object_set_new(o, "note", json_string(
            tls_failed ? "TLS was NOT set up (tls_error): fix it, then set tls_cert/tls_key in "
                         "keysupd.conf; the admin token is shown only now, store it"
                       : "the admin token is shown only now; store it (--token-file)"));
    sodium_memzero(token, sizeof token);
    sup_cmd_emit(o);
    json_decref(o);
    return tls_failed ? SUP_CMD_IO : SUP_CMD_OK;
}
