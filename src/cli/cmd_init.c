/*
 * cmd_init.c - `keysup init --data DIR`: a new supervisor data directory
 * (config, database, encrypted signing key, first admin token).
 */
#include <string.h>
#include <sodium.h>

#include "cli_cmds.h"
#include "cli_tls.h"
#include "sup.h"
#include "sup_tls.h"
#include "ks_tlspin.h"

static const char init_usage[] =
    "usage: keysup init --data DIR [--db postgresql://...] [--passphrase-file F | --no-passphrase]\n"
    "                   [--kdf interactive|moderate] [--token-out FILE] [--json]\n"
    "                   [--tls | --san DNS:NAME|IP:ADDR ... | --tls-cert F --tls-key F]\n"
    "                   [--tls-key-type ecdsa|ed25519] [--tls-days N]\n\n"
    "Creates DIR (mode 0700) with keysupd.conf (docs/supervisor.md), keysup.db and\n"
    "the supervisor signing key supervisor-1.key, sealed with the passphrase (first\n"
    "line of --passphrase-file, else $KEYSUP_PASSPHRASE; never from argv). Prints\n"
    "the first admin token once (only its hash is stored); --token-out also writes\n"
    "it to FILE (mode 0600) for --token-file. --no-passphrase: tests and demos only.\n\n"
    "TLS: --san (repeatable) makes a key (ECDSA P-256, or Ed25519) and a self-signed\n"
    "certificate for those names (--tls alone: localhost, 127.0.0.1, ::1), valid\n"
    "--tls-days (825); --tls-cert/--tls-key copy in a CA-issued pair instead. Both\n"
    "land in DIR (0600) and in keysupd.conf; the answer shows the pin controllers\n"
    "learn at enrolment. Without any of these keysupd speaks plain HTTP (loopback).\n\n"
    "--db URL: the registry lives in that PostgreSQL database instead of DIR/keysup.db\n"
    "(written to keysupd.conf as `database`); the key and config stay in DIR. More\n"
    "keysupd on the same database get a copy of DIR (docs/operations.md).\n";

int cmd_init(cli_ctx *cx, int argc, char **argv)
{
    const char *dburl = NULL;
    const char *data = NULL, *passfile = NULL, *kdf = NULL, *tokout = NULL, *pos[1];
    const char *tls_cert = NULL, *tls_key = NULL, *tls_type = NULL, *tls_days = NULL;
    cli_list sans = {{NULL}, 0};
    int nopass = 0, npos = 0, ret, fast = 0, tls = 0, tls_failed = 0;
    uint64_t days = 825;
    char pin[KS_TLS_PIN_TEXT] = "";
    cli_opt opts[] = {
        {"--data", CLI_VALUE, &data},
        {"--db", CLI_VALUE, &dburl},
        {"--passphrase-file", CLI_VALUE, &passfile},
        {"--no-passphrase", CLI_FLAG, &nopass},
        {"--kdf", CLI_VALUE, &kdf},
        {"--token-out", CLI_VALUE, &tokout},
        {"--tls", CLI_FLAG, &tls},
        {"--san", CLI_LIST, &sans},
        {"--tls-cert", CLI_VALUE, &tls_cert},
        {"--tls-key", CLI_VALUE, &tls_key},
        {"--tls-key-type", CLI_VALUE, &tls_type},
        {"--tls-days", CLI_VALUE, &tls_days},
        {NULL, CLI_FLAG, NULL},
    };
    char *pass = NULL, token[80], err[512];
    size_t passlen = 0;
    uint8_t pk[KS_PUBKEY_SIZE];
    json_t *o;

    cx->cmd = "keysup init";
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, init_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!data)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --data DIR is required", cx->cmd);
    if (kdf) {
        if (strcmp(kdf, "interactive") == 0)
            fast = 1;
        else if (strcmp(kdf, "moderate") != 0)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: --kdf must be interactive or moderate",
                           cx->cmd);
    }
    if (!tls_cert != !tls_key)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --tls-cert and --tls-key go together", cx->cmd);
    if (tls_cert && sans.n)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --san makes a certificate; --tls-cert brings"
                       " one: use one or the other", cx->cmd);
    if (tls_type && strcmp(tls_type, "ecdsa") != 0 && strcmp(tls_type, "ed25519") != 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --tls-key-type must be ecdsa or ed25519",
                       cx->cmd);
    if (tls_days && (cli_parse_u64(tls_days, &days) || days < 1 || days > 3650))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --tls-days must be 1..3650", cx->cmd);
    tls |= sans.n > 0 || tls_cert != NULL;
    /* Everything that can be wrong with the TLS options is found before the
     * directory exists: the admin token is printed only once, at the end. */
    for (int i = 0; i < sans.n; i++)
        if (cli_tls_san_check(sans.v[i], err, sizeof err))
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: %s", cx->cmd, err);
    if (tls_cert) {
        sup_tls *t = NULL;
        if (sup_tls_open(&t, tls_cert, tls_key, err, sizeof err))
            return cli_err(cx, CLI_REFUSED, "TLS", "%s: %s", cx->cmd, err);
        sup_tls_free(t);
    }
    if (!nopass) {
        ret = cli_passphrase(cx, passfile, &pass, &passlen);
        if (ret)
            return ret;
        if (!pass)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: the signing key needs a passphrase:"
                           " --passphrase-file FILE or KEYSUP_PASSPHRASE (or --no-passphrase"
                           " for a test setup)", cx->cmd);
    }
    ret = sup_init_db(data, dburl, pass, passlen, fast, token, pk, err, sizeof err);
    cli_passphrase_free(pass, passlen);
    if (ret)
        return cli_err(cx, ret == KS_E_IO ? CLI_IO : CLI_REFUSED,
                       ret == KS_E_IO ? "IO" : "REFUSED", "%s: %s", cx->cmd, err);
    if (tls) {
        /* keysupd.conf names the pair relative to the data directory. */
        char cp[PATH_MAX + 32], kp[PATH_MAX + 32], conf[PATH_MAX + 32];
        uint8_t h[KS_TLS_PIN_SIZE];
        snprintf(cp, sizeof cp, "%s/%s", data, CLI_TLS_CERT_NAME);
        snprintf(kp, sizeof kp, "%s/%s", data, CLI_TLS_KEY_NAME);
        snprintf(conf, sizeof conf, "%s/%s", data, KS_SUP_CONF_NAME);
        if ((tls_cert ? cli_tls_import(tls_cert, tls_key, cp, kp, err, sizeof err)
                      : cli_tls_selfsigned(cp, kp, sans.v, sans.n,
                                           tls_type && strcmp(tls_type, "ed25519") == 0,
                                           (unsigned)days, err, sizeof err)) ||
            cli_conf_set(conf, "tls_cert", CLI_TLS_CERT_NAME, err, sizeof err) ||
            cli_conf_set(conf, "tls_key", CLI_TLS_KEY_NAME, err, sizeof err) ||
            ks_tls_pin_of_file(h, cp, err, sizeof err)) {
            /* Only I/O is left to fail here; the token must still be shown. */
            tls_failed = 1;
        } else {
            ks_tls_pin_format(pin, h);
        }
    }
    if (tokout) {
        char line[84];
        size_t n = strlen(token);
        memcpy(line, token, n);
        line[n] = '\n';
        ret = cli_write(cx, tokout, line, n + 1, 0600, 0);
        sodium_memzero(line, sizeof line);
        if (ret) {
            sodium_memzero(token, sizeof token);
            return ret;
        }
    }
    o = json_object();
    cli_set_str(o, "data", data);
    /* which engine, never the URL (it may hold a password) */
    cli_set_str(o, "database", dburl ? "postgresql (keysupd.conf: database)" : KS_SUP_DB_NAME);
    {
        uint8_t id[KS_KEYID_SIZE];
        ks_key_id(&cx->crypto, id, pk);
        cli_set_hex(o, "supervisor_key_id", id, sizeof id);
    }
    cli_set_hex(o, "supervisor_public_key", pk, sizeof pk);
    if (tokout) /* written to a file: keep it off the screen and out of logs */
        cli_set_str(o, "admin_token_file", tokout);
    else
        cli_set_str(o, "admin_token", token);
    if (pin[0]) {
        cli_set_str(o, "tls_cert", CLI_TLS_CERT_NAME);
        cli_set_str(o, "tls_pin", pin);
    }
    if (tls_failed)
        cli_set_str(o, "tls_error", err);
    if (tls_failed || !tokout)
        cli_set_str(o, "note", tls_failed ? "TLS was NOT set up (tls_error): fix it, then set "
                    "tls_cert/tls_key in keysupd.conf; the admin token is shown only now, store it"
                    : "the admin token is shown only now; store it (--token-file)");
    sodium_memzero(token, sizeof token);
    ret = cli_emit(cx, o);
    return tls_failed ? CLI_IO : ret;
}
