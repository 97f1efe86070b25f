/*
 * cmd_error.c - `keysup error list|show|docs`: the Key Supervisor Error
 * catalogue (src/host/ks_kse.c) for the person at the terminal.
 */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "ks_kse.h"

static json_t *kse_json(const ks_kse *e, int full)
{
    char code[16];
    json_t *o = json_object();
    snprintf(code, sizeof code, "KSE-%d", e->code);
    cli_set_str(o, "code", code);
    cli_set_str(o, "symbol", e->symbol);
    cli_set_str(o, "severity", ks_severity_name(e->severity));
    cli_set_str(o, "area", ks_area_name(e->area));
    cli_set_str(o, "title", e->title);
    cli_set_bool(o, "auto_repair", e->auto_repair);
    if (full) {
        json_t *steps = json_array();
        cli_set_str(o, "cause", e->cause);
        cli_set_str(o, "detection", e->detection);
        if (e->repair)
            cli_set_str(o, "repair", e->repair);
        for (int i = 0; i < KS_KSE_MAX_STEPS && e->steps[i]; i++)
            json_array_append_new(steps, json_string(e->steps[i]));
        json_object_set_new(o, "steps", steps);
    }
    return o;
}

/* The whole catalogue in the one list shape of docs/cli.md. */
static json_t *catalogue_json(int full)
{
    json_t *a = json_array(), *o = json_object();
    for (size_t i = 0; i < ks_kse_count(); i++)
        json_array_append_new(a, kse_json(ks_kse_at(i), full));
    json_object_set_new(o, "items", a);
    json_object_set_new(o, "total", json_integer((json_int_t)ks_kse_count()));
    json_object_set_new(o, "limit", json_integer((json_int_t)ks_kse_count()));
    json_object_set_new(o, "offset", json_integer(0));
    return o;
}

static const char list_usage[] =
    "usage: keysup error list [--json]\n\n"
    "Lists every Key Supervisor Error code with its severity and title.\n";

static int error_list(cli_ctx *cx, int argc, char **argv)
{
    cli_opt opts[] = {{NULL, CLI_FLAG, NULL}};
    int npos = 0, ret = cli_parse(cx, argc, argv, opts, NULL, 0, 0, &npos, list_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (cx->json)
        return cli_emit(cx, catalogue_json(0));
    /* The symbol column is as wide as the longest symbol, so no row shifts. */
    int sw = 6;
    for (size_t i = 0; i < ks_kse_count(); i++)
        if ((int)strlen(ks_kse_at(i)->symbol) > sw)
            sw = (int)strlen(ks_kse_at(i)->symbol);
    printf("%-8s  %-*s  %-8s  %-4s  %s\n", "CODE", sw, "SYMBOL", "SEVERITY", "AUTO", "TITLE");
    for (size_t i = 0; i < ks_kse_count(); i++) {
        const ks_kse *e = ks_kse_at(i);
        printf("KSE-%-4d  %-*s  %-8s  %-4s  %s\n", e->code, sw, e->symbol,
               ks_severity_name(e->severity), e->auto_repair ? "yes" : "no", e->title);
    }
    return CLI_OK;
}

static const char show_usage[] =
    "usage: keysup error show CODE [--json]\n"
    "       keysup error CODE [--json]\n\n"
    "Explains one code (\"KSE-301\", \"301\" or \"STORE_CORRUPT\"): what happened, how\n"
    "keysup detects it, what it repairs by itself, and the numbered next steps.\n";

static int error_show(cli_ctx *cx, int argc, char **argv)
{
    cli_opt opts[] = {{NULL, CLI_FLAG, NULL}};
    const char *pos[1];
    int npos = 0, ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, show_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    const ks_kse *e = ks_kse_lookup(pos[0]);
    if (!e)
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: '%s' is not a Key Supervisor Error code; `keysup error list` shows them",
                       cx->cmd, pos[0]);
    if (cx->json)
        return cli_emit(cx, kse_json(e, 1));
    printf("KSE-%d %s (%s, %s)\n%s\n\n", e->code, e->symbol, ks_severity_name(e->severity),
           ks_area_name(e->area), e->title);
    printf("What happened:\n  %s\n\nHow keysup detects it:\n  %s\n\n", e->cause, e->detection);
    if (e->auto_repair)
        printf("Automatic repair:\n  %s\n\n", e->repair);
    printf("What to do:\n");
    for (int i = 0; i < KS_KSE_MAX_STEPS && e->steps[i]; i++)
        printf("  %d. %s\n", i + 1, e->steps[i]);
    return CLI_OK;
}

static const char docs_usage[] =
    "usage: keysup error docs [--json]\n\n"
    "Writes the catalogue as Markdown (the content of docs/errors.md) to stdout;\n"
    "with --json, every code in full as a list (items, total, limit, offset).\n";

static int error_docs(cli_ctx *cx, int argc, char **argv)
{
    cli_opt opts[] = {{NULL, CLI_FLAG, NULL}};
    int npos = 0, ret = cli_parse(cx, argc, argv, opts, NULL, 0, 0, &npos, docs_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (cx->json)
        return cli_emit(cx, catalogue_json(1));
    if (ks_kse_write_markdown(stdout) != 0)
        return cli_io_err(cx, "stdout", "write");
    return CLI_OK;
}

static const cli_verb verbs[] = {
    {"list", "every KSE code with severity and title", error_list},
    {"show", "explain one code and its numbered next steps", error_show},
    {"docs", "write the catalogue as Markdown (docs/errors.md)", error_docs},
};

int cmd_error(cli_ctx *cx, int argc, char **argv)
{
    /* `keysup error KSE-301` (or 301, or STORE_CORRUPT) is `keysup error show
     * KSE-301`: the code is what the technician has in hand, and no verb is
     * spelled like a catalogue entry. */
    if (argc > 0 && argv[0][0] != '-' &&
        (ks_kse_lookup(argv[0]) || strncmp(argv[0], "KSE-", 4) == 0 ||
         strspn(argv[0], "0123456789") == strlen(argv[0]))) {
        /* A code that is not in the catalogue is told so, not "unknown verb". */
        cx->cmd = "keysup error show";
        return error_show(cx, argc, argv);
    }
    return cli_run_verb(cx, "error", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
