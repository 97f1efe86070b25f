/*
 * cmd_init.c - `keysup init --data DIR`: a new supervisor data directory
 * (config, database, encrypted signing key, first admin token).
 */
#include <string.h>
#include <sodium.h>

#include "cli_cmds.h"
#include "ks_sup.h"

static const char init_usage[] =
    "usage: keysup init --data DIR [--passphrase-file F | --no-passphrase]\n"
    "                   [--kdf interactive|moderate] [--token-out FILE] [--json]\n\n"
    "Creates DIR (mode 0700) with keysupd.conf (docs/supervisor.md), keysup.db and\n"
    "the supervisor signing key supervisor-1.key, sealed with the passphrase (first\n"
    "line of --passphrase-file, else $KEYSUP_PASSPHRASE; never from argv). Prints\n"
    "the first admin token once (only its hash is stored); --token-out also writes\n"
    "it to FILE (mode 0600) for --token-file. --no-passphrase: tests and demos only.\n";

int cmd_init(cli_ctx *cx, int argc, char **argv)
{
    const char *data = NULL, *passfile = NULL, *kdf = NULL, *tokout = NULL, *pos[1];
    int nopass = 0, npos = 0, ret, fast = 0;
    cli_opt opts[] = {
        {"--data", CLI_VALUE, &data},
        {"--passphrase-file", CLI_VALUE, &passfile},
        {"--no-passphrase", CLI_FLAG, &nopass},
        {"--kdf", CLI_VALUE, &kdf},
        {"--token-out", CLI_VALUE, &tokout},
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
    if (!nopass) {
        ret = cli_passphrase(cx, passfile, &pass, &passlen);
        if (ret)
            return ret;
        if (!pass)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: the signing key needs a passphrase:"
                           " --passphrase-file FILE or KEYSUP_PASSPHRASE (or --no-passphrase"
                           " for a test setup)", cx->cmd);
    }
    ret = ks_sup_init(data, pass, passlen, fast, token, pk, err, sizeof err);
    cli_passphrase_free(pass, passlen);
    if (ret)
        return cli_err(cx, ret == KS_E_IO ? CLI_IO : CLI_REFUSED,
                       ret == KS_E_IO ? "IO" : "REFUSED", "%s: %s", cx->cmd, err);
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
    {
        uint8_t id[KS_KEYID_SIZE];
        ks_key_id(&cx->crypto, id, pk);
        cli_set_hex(o, "supervisor_key_id", id, sizeof id);
    }
    cli_set_hex(o, "supervisor_public_key", pk, sizeof pk);
    if (tokout) { /* written to a file: keep it off the screen and out of logs */
        cli_set_str(o, "admin_token_file", tokout);
    } else {
        cli_set_str(o, "admin_token", token);
        cli_set_str(o, "note", "the admin token is shown only now; store it (--token-file)");
    }
    sodium_memzero(token, sizeof token);
    return cli_emit(cx, o);
}
