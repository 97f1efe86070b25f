/*
 * main.c - `keysup <noun> <verb> [options]`: global options, then dispatch
 * on the noun through one table.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "ks_sodium.h"

typedef struct cli_noun {
    const char *name;
    const char *summary;
    cli_handler run;
} cli_noun;

/* One row per noun; the order is the order of `keysup --help`. */
static const cli_noun nouns[] = {
    {"init", "create a supervisor data directory (keysupd)", cmd_init},
    {"backup", "back up a supervisor: config, sealed keys, registry (online)", cmd_backup},
    {"restore", "restore a supervisor backup (keysupd stopped); prints the next steps", cmd_restore},
    {"key", "key files (keygen, show, rotate, present) and keys at the supervisor (enrol, list, get, grant, revoke-privilege, suspend, resume, revoke, set-validity, import, export)", cmd_key},
    {"snapshot", "signed credential snapshots: build, inspect, verify, fetch (a published one)", cmd_snapshot},
    {"delta", "snapshot deltas: make, apply", cmd_delta},
    {"flash", "controller flash images: inspect, check, wear", cmd_flash},
    {"error", "the Key Supervisor Error catalogue: list, show, docs (`keysup error KSE-301` shows one)", cmd_error},
    {"controller", "controllers at the supervisor: add, list, show, provision, command, audit, decisions", cmd_controller},
    {"holder", "key holders at the supervisor: create, list, show", cmd_holder},
    {"policy", "privileged-action policies: list, show, set", cmd_policy},
    {"audit", "the supervisor's audit log: list", cmd_audit},
    {"token", "admin, operator and auditor API tokens: create, list, revoke", cmd_token},
    {"operator", "web console operators: add, list, remove, unlock, passwd", cmd_operator},
    {"supervisor", "the supervisor signing key: show, rotate", cmd_supervisor},
    {"tls", "keysupd's TLS key pin: pin (of a certificate or server), stage a new certificate", cmd_tls},
    {"diagnose", "diagnose a controller: root cause, evidence, numbered steps", cmd_diagnose},
    {"incidents", "list incidents with MTTD/MTTR (--open, --controller ID)", cmd_incidents},
    {"incident", "incidents: list, show, resolve, stats", cmd_incident},
    {"licence", "feature licences: issue, list, show, revoke, reactivate, enforce, enforcement", cmd_licence},
};

static void usage(FILE *f)
{
    fputs("usage: keysup [--json] [--server URL] [--token-file F] <noun> <verb> [options]\n"
          "       keysup --version | --help\n\n"
          "nouns:\n", f);
    for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++) {
        /* Wrapped at 79 columns under the summary column. */
        const char *p = nouns[i].summary;
        int col = fprintf(f, "  %-10s", nouns[i].name);
        while (*p) {
            size_t w = strcspn(p, " ");
            if (col + 1 + (int)w > 79)
                col = fprintf(f, "\n%12s", "") - 1;
            col += fprintf(f, " %.*s", (int)w, p);
            p += w;
            p += strspn(p, " ");
        }
        fputc('\n', f);
    }
    fputs("\n`keysup <noun> --help` lists a noun's verbs; every verb takes --help and --json.\n"
          "Exit codes: 0 ok, 1 input refused, 2 usage, 3 file I/O, 4 internal (docs/cli.md).\n",
          f);
}

int cli_run_verb(cli_ctx *cx, const char *noun, const cli_verb *verbs, size_t n, int argc,
                 char **argv)
{
    static char cmd[128];
    int help = argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0);
    FILE *f = help ? stdout : stderr;

    if (argc > 0 && !help) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(argv[0], verbs[i].name) == 0) {
                snprintf(cmd, sizeof cmd, "keysup %s %s", noun, verbs[i].name);
                cx->cmd = cmd;
                return verbs[i].run(cx, argc - 1, argv + 1);
            }
    }
    if (!help) {
        int ret;
        for (int i = 0; i < argc; i++)
            if (strcmp(argv[i], "--json") == 0)
                cx->json = 1;
        ret = cli_err(cx, CLI_USAGE, "USAGE", argc > 0 ? "keysup %s: unknown verb '%s'"
                                                           : "keysup %s: missing verb%s",
                          noun, argc > 0 ? argv[0] : "");
        if (cx->json)
            return ret;
    }
    fprintf(f, "usage: keysup %s <verb> [options]\n\nverbs:\n", noun);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f, "\n`keysup %s <verb> --help` for the verb's options.\n", noun);
    return help ? CLI_OK : CLI_USAGE;
}

int main(int argc, char **argv)
{
    static char help_flag[] = "--help";
    char *hv[3] = {NULL, NULL, NULL}; /* argv of `keysup help NOUN [VERB]` */
    cli_ctx cx;
    int i = 1;

    memset(&cx, 0, sizeof cx);
    cx.cmd = "keysup";
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            cx.json = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            if (cx.json)
                printf("{\"version\": \"%s\"}\n", KS_VERSION_STRING);
            else
                printf("keysup %s\n", KS_VERSION_STRING);
            return CLI_OK;
        } else if (strcmp(argv[i], "--server") == 0 || strcmp(argv[i], "--token-file") == 0) {
            /* Before the noun as after the verb: passed on as the variables
             * every remote verb reads; a verb's own option still wins. */
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_err(&cx, CLI_USAGE, "USAGE", "option %s needs a value", argv[i]);
            if (setenv(strcmp(argv[i], "--server") == 0 ? "KEYSUP_SERVER" : "KEYSUP_TOKEN_FILE",
                       argv[i + 1], 1) != 0)
                return cli_err(&cx, CLI_INTERNAL, "INTERNAL", "out of memory");
            i++;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        } else {
            cli_err(&cx, CLI_USAGE, "USAGE", "unknown option '%s' before the noun", argv[i]);
            if (!cx.json)
                usage(stderr);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    /* `keysup help [NOUN [VERB]]` is `keysup [NOUN [VERB]] --help`: people type
     * it first, and an "unknown noun 'help'" teaches them nothing. */
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 >= argc || argv[i + 1][0] == '-') {
            usage(stdout);
            return CLI_OK;
        }
        hv[0] = argv[i + 1];
        hv[1] = i + 2 < argc ? argv[i + 2] : help_flag;
        hv[2] = i + 2 < argc ? help_flag : NULL;
        argv = hv;
        argc = hv[2] ? 3 : 2;
        i = 0;
    }
    if (ks_sodium_crypto(&cx.crypto) != KS_OK)
        return cli_err(&cx, CLI_INTERNAL, "CRYPTO", "libsodium failed to initialise");
    for (size_t n = 0; n < sizeof nouns / sizeof nouns[0]; n++)
        if (strcmp(argv[i], nouns[n].name) == 0)
            return nouns[n].run(&cx, argc - i - 1, argv + i + 1);
    cli_err(&cx, CLI_USAGE, "USAGE", "unknown noun '%s'", argv[i]);
    if (!cx.json)
        usage(stderr);
    return CLI_USAGE;
}
