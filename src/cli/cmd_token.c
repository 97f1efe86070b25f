/*
 * cmd_token.c - `keysup token create|list|revoke` (admin): operator and
 * auditor bearer tokens. A token is printed once; only its hash is kept.
 */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"

static int token_create(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *role = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--role", CLI_VALUE, &role}, {NULL, CLI_FLAG, NULL}};
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup token create NAME --role admin|operator|auditor\n\n"
                    "Creates a bearer token; it is printed only now.\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!role)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --role is required", cx->cmd);
    b = json_pack("{s:s,s:s}", "name", pos[0], "role", role);
    ret = cli_api(cx, &r, "POST", "/v1/tokens", b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static int token_list(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"id", "name", "role", "created_at", "revoked", NULL};
    return cli_remote_simple(cx, argc, argv, "usage: keysup token list\n" CLI_REMOTE_USAGE, "GET",
                             "/v1/tokens", CLI_ARG_NONE, cols);
}

static int token_revoke(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv, "usage: keysup token revoke ID\n" CLI_REMOTE_USAGE,
                             "DELETE", "/v1/tokens/{}", CLI_ARG_ID, NULL);
}

static int sup_show(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup supervisor show\n\nShows the supervisor signing keys"
                             " (the active one and those it replaced)\nand the rotation chain"
                             " controllers follow to trust a new key.\n" CLI_REMOTE_USAGE,
                             "GET", "/v1/supervisor", CLI_ARG_NONE, NULL);
}

static int sup_rotate(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *to = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--to", CLI_VALUE, &to}, {NULL, CLI_FLAG, NULL}};
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos,
                    "usage: keysup supervisor rotate [--to pkcs11:URI]\n\n"
                    "Rotates the supervisor signing key (admin); controllers follow the\n"
                    "rotation record. The new key is a new key file, or with --to the Ed25519\n"
                    "key already on that PKCS#11 token (docs/keys-hardware.md); keysupd logs\n"
                    "in with its signing_key_pin_file or KEYSUP_PIN.\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (to && strncmp(to, "pkcs11:", 7) != 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --to takes a pkcs11: URI", cx->cmd);
    b = json_object();
    if (to)
        json_object_set_new(b, "to", json_string(to));
    ret = cli_api(cx, &r, "POST", "/v1/supervisor/rotate", b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static const cli_verb verbs[] = {
    {"create", "create an admin, operator or auditor token", token_create},
    {"list", "list tokens", token_list},
    {"revoke", "revoke a token", token_revoke},
};

int cmd_token(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "token", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}

static const cli_verb sup_verbs[] = {
    {"show", "the supervisor's public keys and rotation chain", sup_show},
    {"rotate", "rotate the supervisor signing key (admin)", sup_rotate},
};

int cmd_supervisor(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "supervisor", sup_verbs, sizeof sup_verbs / sizeof sup_verbs[0], argc,
                        argv);
}
