/*
 * cmd_key_remote.c - the `keysup key` verbs that act on the supervisor
 * through its API: enrol, list, get, grant, revoke-privilege, suspend,
 * resume, revoke, set-validity. (The offline verbs are in cmd_key.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"
#include "cli_pkcs11.h"

/* Who before what: the label and holder name sit beside the key id. */
static const char *const key_cols[] = {"key_id", "label", "holder", "state", "privileges", "scope",
                                       "form_factor", "valid_until", NULL};

/* Shows one key answer (and the generated secret, if any). */
static int show_key(cli_ctx *cx, json_t *k)
{
    return cli_emit(cx, k);
}

static const char enrol_usage[] =
    "usage: keysup key enrol (--public-key HEX|KEYFILE | --pkcs11 URI | --generate)\n"
    "                        [--holder ID]\n"
    "                        [--privilege NAME...] [--scope N] [--valid-from T]\n"
    "                        [--valid-until T] [--form software|usb|nfc|physical|pkcs11]\n"
    "                        [--key-format N] [--label TEXT]\n\n"
    "Enrols a key at the supervisor. --generate makes a software key there and prints\n"
    "its secret seed once. --pkcs11 reads the public key of a key on a PKCS#11 token\n"
    "(no PIN) and enrols it as form pkcs11. Times: unix seconds, YYYY-MM-DD or\n"
    "YYYY-MM-DDTHH:MM:SSZ.\n"
    CLI_REMOTE_USAGE;

int key_enrol(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pkarg = NULL, *holder = NULL, *scope = NULL, *from = NULL, *until = NULL;
    const char *form = NULL, *fmt = NULL, *label = NULL, *p11 = NULL, *pos[1];
    cli_list privs = {{NULL}, 0};
    int gen = 0, npos = 0, ret;
    cli_opt opts[] = {
        CLI_REMOTE_OPTS(&r),
        {"--public-key", CLI_VALUE, &pkarg}, {"--generate", CLI_FLAG, &gen},
        {"--holder", CLI_VALUE, &holder}, {"--privilege", CLI_LIST, &privs},
        {"--scope", CLI_VALUE, &scope}, {"--valid-from", CLI_VALUE, &from},
        {"--valid-until", CLI_VALUE, &until}, {"--form", CLI_VALUE, &form},
        {"--key-format", CLI_VALUE, &fmt}, {"--label", CLI_VALUE, &label},
        {"--pkcs11", CLI_VALUE, &p11},
        {NULL, CLI_FLAG, NULL},
    };
    json_t *b, *out = NULL, *pa;
    uint64_t v;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, enrol_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!!pkarg + !!gen + !!p11 != 1)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: give exactly one of --public-key,"
                       " --pkcs11 and --generate", cx->cmd);
    b = json_object();
    if (gen) {
        json_object_set_new(b, "generate", json_true());
    } else if (p11) {
        /* The key is what the token says: its form is pkcs11. */
        uint8_t pk[KS_PUBKEY_SIZE];
        ret = cli_p11_public_key(cx, p11, pk);
        if (ret)
            goto fail;
        cli_set_hex(b, "public_key", pk, sizeof pk);
        if (!form)
            form = "pkcs11";
    } else {
        uint8_t pk[KS_PUBKEY_SIZE];
        ret = cli_public_key(cx, pkarg, pk);
        if (ret)
            goto fail;
        cli_set_hex(b, "public_key", pk, sizeof pk);
    }
#define NUMOPT(opt, field, parse)                                                           \
    if (opt) {                                                                              \
        if (parse(opt, &v)) {                                                               \
            ret = cli_err(cx, CLI_USAGE, "USAGE", "%s: bad value '%s' for %s", cx->cmd, opt, \
                          field);                                                           \
            goto fail;                                                                      \
        }                                                                                   \
        cli_set_u64(b, field, v);                                                           \
    }
    NUMOPT(holder, "holder_id", cli_parse_u64)
    NUMOPT(scope, "scope", cli_parse_u64)
    NUMOPT(from, "valid_from", cli_parse_time)
    NUMOPT(until, "valid_until", cli_parse_time)
    NUMOPT(fmt, "key_format", cli_parse_u64)
#undef NUMOPT
    /* A key file or a generated seed is a software key; only a bare public
     * key (a token's or a card's) leaves the form to the server's default. */
    if (!form && (gen || (pkarg && strlen(pkarg) != 2 * KS_PUBKEY_SIZE)))
        form = ks_form_name(KS_FORM_SOFTWARE);
    if (form)
        cli_set_str(b, "form_factor", form);
    if (label)
        cli_set_str(b, "label", label);
    pa = json_array();
    for (int i = 0; i < privs.n; i++)
        json_array_append_new(pa, json_string(privs.v[i]));
    json_object_set_new(b, "privileges", pa);
    ret = cli_api(cx, &r, "POST", "/v1/keys", b, &out, NULL);
    json_decref(b);
    if (ret)
        return ret;
    if (!cx->json && json_object_get(out, "secret_seed"))
        fprintf(stderr, "keysup: the secret seed is shown only now; keep it safe\n");
    return show_key(cx, out);
fail:
    json_decref(b);
    return ret;
}

static const char list_usage[] =
    "usage: keysup key list [--state active|suspended|revoked] [--holder ID] [--scope N]\n"
    "                       [--privilege NAME] [--limit N] [--offset N]\n\n"
    "Lists enrolled keys at the supervisor.\n" CLI_REMOTE_USAGE;

int key_list(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *state = NULL, *holder = NULL, *scope = NULL, *priv = NULL, *limit = NULL;
    const char *offset = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {
        CLI_REMOTE_OPTS(&r),
        {"--state", CLI_VALUE, &state}, {"--holder", CLI_VALUE, &holder},
        {"--scope", CLI_VALUE, &scope}, {"--privilege", CLI_VALUE, &priv},
        {"--limit", CLI_VALUE, &limit}, {"--offset", CLI_VALUE, &offset},
        {NULL, CLI_FLAG, NULL},
    };
    char path[1024] = "/v1/keys", q[900] = "";
    json_t *out;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, list_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (state) cli_query_add(q, sizeof q, "state", state);
    if (holder) cli_query_add(q, sizeof q, "holder_id", holder);
    if (scope) cli_query_add(q, sizeof q, "scope", scope);
    if (priv) cli_query_add(q, sizeof q, "privilege", priv);
    if (limit) cli_query_add(q, sizeof q, "limit", limit);
    if (offset) cli_query_add(q, sizeof q, "offset", offset);
    strncat(path, q, sizeof path - strlen(path) - 1);
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    if (ret)
        return ret;
    return cli_table(cx, out, "items", key_cols);
}

/* Verbs of the form `keysup key VERB KEY_ID [body options]`. */
typedef struct key_op {
    const char *suffix;   /* "" for GET, else "/grant" ... */
    int privs;            /* takes --privilege NAME... */
    int validity;         /* takes --valid-from/--valid-until */
    const char *usage;
} key_op;

static int key_op_run(cli_ctx *cx, int argc, char **argv, const key_op *op)
{
    cli_remote r = {NULL, NULL};
    const char *from = NULL, *until = NULL, *pos[1];
    cli_list privs = {{NULL}, 0};
    int npos = 0, ret;
    cli_opt opts[] = {
        CLI_REMOTE_OPTS(&r),
        {"--privilege", CLI_LIST, &privs},
        {"--valid-from", CLI_VALUE, &from},
        {"--valid-until", CLI_VALUE, &until},
        {NULL, CLI_FLAG, NULL},
    };
    char path[256];
    json_t *b = NULL, *out;
    uint64_t v;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, op->usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (strlen(pos[0]) != 2 * KS_KEYID_SIZE || strspn(pos[0], "0123456789abcdefABCDEF") != 32)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: KEY_ID must be 32 hex digits", cx->cmd);
    if ((privs.n && !op->privs) || ((from || until) && !op->validity))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: option not valid here (see --help)", cx->cmd);
    snprintf(path, sizeof path, "/v1/keys/%s%s", pos[0], op->suffix);
    if (op->privs) {
        json_t *pa = json_array();
        if (!privs.n) {
            json_decref(pa);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: --privilege NAME is required", cx->cmd);
        }
        for (int i = 0; i < privs.n; i++)
            json_array_append_new(pa, json_string(privs.v[i]));
        b = json_pack("{s:o}", "privileges", pa);
    } else if (op->validity) {
        b = json_object();
        v = 0;
        if (from && cli_parse_time(from, &v)) {
            json_decref(b);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad --valid-from '%s'", cx->cmd, from);
        }
        if (!from)
            v = cli_now();
        cli_set_u64(b, "valid_from", v);
        v = 0;
        if (until && strcmp(until, "never") != 0 && cli_parse_time(until, &v)) {
            json_decref(b);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad --valid-until '%s'", cx->cmd, until);
        }
        cli_set_u64(b, "valid_until", v);
    } else if (op->suffix[0]) {
        b = json_object();
    }
    ret = cli_api(cx, &r, b ? "POST" : "GET", path, b, &out, NULL);
    json_decref(b);
    if (ret)
        return ret;
    return show_key(cx, out);
}

#define KEY_OP(fn, suffix, privs, validity, text)                                   \
    int fn(cli_ctx *cx, int argc, char **argv)                                      \
    {                                                                               \
        static const key_op op = {suffix, privs, validity, text CLI_REMOTE_USAGE}; \
        return key_op_run(cx, argc, argv, &op);                                     \
    }

KEY_OP(key_get, "", 0, 0, "usage: keysup key get KEY_ID\n\nShows one key at the supervisor.\n")
KEY_OP(key_grant, "/grant", 1, 0,
       "usage: keysup key grant KEY_ID --privilege NAME...\n\nAdds privileges to a key.\n")
KEY_OP(key_revoke_priv, "/revoke-privilege", 1, 0,
       "usage: keysup key revoke-privilege KEY_ID --privilege NAME...\n\n"
       "Removes privileges from a key.\n")
KEY_OP(key_suspend, "/suspend", 0, 0,
       "usage: keysup key suspend KEY_ID\n\nSuspends a key (controllers refuse it, KSE-203)"
       " until resumed.\n")
KEY_OP(key_resume, "/resume", 0, 0, "usage: keysup key resume KEY_ID\n\nResumes a suspended key.\n")
KEY_OP(key_revoke, "/revoke", 0, 0,
       "usage: keysup key revoke KEY_ID\n\nRevokes a key for good (KSE-203 everywhere within"
       " seconds).\n")
KEY_OP(key_set_validity, "/validity", 0, 1,
       "usage: keysup key set-validity KEY_ID [--valid-from T] [--valid-until T|never]\n\n"
       "Sets a key's validity window (from defaults to now).\n")
