/*
 * cmd_diagnose.c - `keysup diagnose CTRL`: the supervisor runs the checks
 * now, in a technician's order, and this prints each area with what was
 * found, the evidence, whether it is the root cause or a symptom of one,
 * and the numbered steps. Written for the person at the terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_diag.h"
#include "cli_http.h"

static const char usage[] =
    "usage: keysup diagnose CTRL [--json]\n\n"
    "Runs the Key Supervisor Error checks on controller CTRL now: communication,\n"
    "store integrity, supervisor trust, sync state, clock, protocol version, lockout,\n"
    "profile, key, hardware, licence. Each finding shows its evidence, whether it is\n"
    "the root cause or a symptom of one, what keysup repairs by itself, and the\n"
    "numbered steps for the rest (`keysup error KSE-NNN` explains a code). Exit code\n"
    "0 whether or not problems were found (see `verdict`).\n"
    CLI_REMOTE_USAGE;

static void print_wrapped(const char *indent, const char *label, const char *text)
{
    /* Lines of at most ~88 columns, broken at spaces. */
    size_t width = 88 - strlen(indent), col = 0;
    const char *p = text;
    printf("%s%s", indent, label);
    col = strlen(label);
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t wl = sp ? (size_t)(sp - p) : strlen(p);
        if (col + wl + 1 > width && col > strlen(label)) {
            printf("\n%s%*s", indent, (int)strlen(label), "");
            col = strlen(label);
        }
        printf("%.*s%s", (int)wl, p, sp ? " " : "");
        col += wl + 1;
        p += wl;
        while (*p == ' ')
            p++;
    }
    putchar('\n');
}

static void print_finding(json_t *f)
{
    const char *code = json_string_value(json_object_get(f, "code"));
    const char *sym = json_string_value(json_object_get(f, "symbol"));
    const char *title = json_string_value(json_object_get(f, "title"));
    json_t *inc = json_object_get(f, "incident"), *st;
    size_t i;
    int root = json_is_true(json_object_get(f, "root_cause"));
    char head[256], tag[96];

    const char *role = json_string_value(json_object_get(f, "role"));
    if (root)
        snprintf(tag, sizeof tag, "ROOT CAUSE");
    else if (role && strcmp(role, "evidence") == 0)
        /* A refusal that is the policy working: no incident (docs/diagnosis.md). */
        snprintf(tag, sizeof tag, "evidence: the policy working, no incident");
    else
        snprintf(tag, sizeof tag, "symptom of %s",
                 json_string_value(json_object_get(f, "symptom_of")));
    if (json_is_integer(inc)) {
        size_t l = strlen(tag);
        snprintf(tag + l, sizeof tag - l, ", incident %lld", (long long)json_integer_value(inc));
    }
    snprintf(head, sizeof head, "%s %s - %s [%s, %s]", code, sym, title,
             json_string_value(json_object_get(f, "severity")), tag);
    printf("     %s\n", head);
    print_wrapped("       ", "Evidence: ", json_string_value(json_object_get(f, "evidence")));
    if (json_is_string(json_object_get(f, "key_id"))) {
        /* Who, not only which: label and holder from the key list. */
        const char *label = json_string_value(json_object_get(f, "key_label"));
        const char *holder = json_string_value(json_object_get(f, "key_holder"));
        printf("       Key: %s", json_string_value(json_object_get(f, "key_id")));
        if (label || holder)
            printf(" (%s%s%s%s)", label ? label : "", label && holder ? ", " : "",
                   holder ? "holder " : "", holder ? holder : "");
        else if (json_is_string(json_object_get(f, "key_id")) && json_object_get(f, "key_known"))
            printf(" (not enrolled at this supervisor)");
        printf("\n");
    }
    if (!root)
        return; /* the root cause's steps cover it */
    print_wrapped("       ", "Why: ", json_string_value(json_object_get(f, "cause")));
    if (json_is_true(json_object_get(f, "auto_repair")))
        print_wrapped("       ", "keysup repairs this itself: ",
                      json_string_value(json_object_get(f, "repair")));
    st = json_object_get(f, "steps");
    if (json_array_size(st)) {
        printf("       What to do:\n");
        for (i = 0; i < json_array_size(st); i++) {
            char num[16];
            snprintf(num, sizeof num, "%zu. ", i + 1);
            print_wrapped("         ", num, json_string_value(json_array_get(st, i)));
        }
    }
}

/* Adds key_label and key_holder to each finding naming a key, from one
 * GET /v1/keys; a key the supervisor does not know gets key_known. Best
 * effort: without the list the ids are printed alone. */
static void annotate_keys(cli_ctx *cx, const cli_remote *r, json_t *o)
{
    json_t *a, *f, *keys = NULL, *k;
    size_t i, j, n;
    int any = 0;

    json_array_foreach(json_object_get(o, "areas"), i, a)
        json_array_foreach(json_object_get(a, "findings"), j, f)
            any |= json_is_string(json_object_get(f, "key_id"));
    if (!any)
        return;
    /* Same server and token as the diagnosis that just came: an error here
     * is printed (stderr) and the report goes on with bare ids. */
    if (cli_api(cx, r, "GET", "/v1/keys?limit=1000", NULL, &keys, NULL) != CLI_OK)
        return;
    json_array_foreach(json_object_get(o, "areas"), i, a)
        json_array_foreach(json_object_get(a, "findings"), j, f) {
            const char *id = json_string_value(json_object_get(f, "key_id"));
            if (!id)
                continue;
            json_object_set_new(f, "key_known", json_false());
            json_array_foreach(json_object_get(keys, "items"), n, k)
                if (json_is_string(json_object_get(k, "key_id")) &&
                    strcmp(json_string_value(json_object_get(k, "key_id")), id) == 0) {
                    json_object_del(f, "key_known");
                    if (json_is_string(json_object_get(k, "label")))
                        json_object_set(f, "key_label", json_object_get(k, "label"));
                    if (json_is_string(json_object_get(k, "holder")))
                        json_object_set(f, "key_holder", json_object_get(k, "holder"));
                    break;
                }
        }
    json_decref(keys);
}

static void print_report(json_t *o)
{
    json_t *areas = json_object_get(o, "areas"), *a, *roots = json_object_get(o, "root_causes");
    size_t i, j;
    const char *verdict = json_string_value(json_object_get(o, "verdict"));
    printf("Controller %lld (%s): %s\n", (long long)json_integer_value(json_object_get(o, "controller_id")),
           json_string_value(json_object_get(o, "name")),
           strcmp(verdict, "ok") == 0 ? "no problem found" : verdict);
    if (json_array_size(roots)) {
        printf("Root cause%s:", json_array_size(roots) > 1 ? "s" : "");
        for (i = 0; i < json_array_size(roots); i++)
            printf(" %s", json_string_value(json_array_get(roots, i)));
        printf("\n");
    }
    {
        json_t *av = json_object_get(o, "applied_version");
        const char *ar = json_string_value(json_object_get(o, "applied_root"));
        printf("Database: published version %lld (root %.16s...), controller at %s%lld (root %.16s...)\n",
               (long long)json_integer_value(json_object_get(o, "published_version")),
               json_string_value(json_object_get(o, "published_root")),
               json_is_integer(av) ? "version " : "", (long long)json_integer_value(av),
               ar ? ar : "none");
    }
    if (json_is_true(json_object_get(o, "comm_lost")))
        printf("The controller is not reporting: what follows is as of its last report.\n");
    printf("\n");
    json_array_foreach(areas, i, a) {
        const char *st = json_string_value(json_object_get(a, "status"));
        char name[64];
        snprintf(name, sizeof name, "%s ", json_string_value(json_object_get(a, "area")));
        printf("%2zu. %-22s %s\n", i + 1, name, strcmp(st, "ok") == 0 ? "ok" : "PROBLEM");
        json_t *f;
        json_array_foreach(json_object_get(a, "findings"), j, f) print_finding(f);
    }
    cli_diag_print_incidents(json_object_get(o, "open_incidents"), "\nOpen incidents:");
}

int cmd_diagnose(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {NULL, CLI_FLAG, NULL}};
    char path[96];
    uint64_t id;
    json_t *out;

    cx->cmd = "keysup diagnose";
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (cli_parse_u64(pos[0], &id) || id == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: CTRL must be a controller id (see keysup"
                       " controller list)", cx->cmd);
    snprintf(path, sizeof path, "/v1/controllers/%llu/diagnosis", (unsigned long long)id);
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    if (ret)
        return ret;
    if (cx->json)
        return cli_emit(cx, out);
    annotate_keys(cx, &r, out);
    print_report(out);
    json_decref(out);
    fflush(stdout);
    return CLI_OK;
}
