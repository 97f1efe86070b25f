/*
 * cmd_incident.c - `keysup incidents [--open] [--controller ID] [--code KSE]`,
 * `keysup incident show|resolve|stats`: the incidents diagnosis opened,
 * with MTTD (detected - first evidence) and MTTR (resolved - detected).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_cmds.h"
#include "cli_diag.h"
#include "cli_http.h"

void cli_diag_ms(char *out, size_t n, json_t *ms)
{
    if (!json_is_integer(ms))
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.3f s", (double)json_integer_value(ms) / 1000.0);
}

/* A NAME_at field (unix seconds, null for none) in local time for people. */
static void fmt_at_time(char *out, size_t n, json_t *at)
{
    if (!json_is_integer(at) || json_integer_value(at) <= 0) {
        snprintf(out, n, "-");
        return;
    }
    cli_fmt_local(out, n, (uint64_t)json_integer_value(at));
}

void cli_diag_print_incidents(json_t *items, const char *heading)
{
    static const char *const cols[] = {"id", "controller", "code", "symbol", "state", "detected",
                                       "mttd", "mttr", "repair", NULL};
    json_t *wrap, *row;
    size_t i;
    cli_ctx cx;
    if (!json_array_size(items))
        return;
    if (heading)
        printf("%s\n", heading);
    memset(&cx, 0, sizeof cx);
    json_array_foreach(items, i, row) {
        char b[64];
        json_object_set(row, "controller", json_object_get(row, "controller_id"));
        fmt_at_time(b, sizeof b, json_object_get(row, "detected_at"));
        json_object_set_new(row, "detected", json_string(b));
        cli_diag_ms(b, sizeof b, json_object_get(row, "mttd_ms"));
        json_object_set_new(row, "mttd", json_string(b));
        cli_diag_ms(b, sizeof b, json_object_get(row, "mttr_ms"));
        json_object_set_new(row, "mttr", json_string(b));
    }
    wrap = json_pack("{s:O}", "items", items);
    cli_table(&cx, wrap, "items", cols);
}

static const char list_usage[] =
    "usage: keysup incidents [--open] [--controller ID] [--code KSE-NNN] [--limit N]\n\n"
    "Lists diagnosis incidents, newest first, with MTTD (detected - first evidence)\n"
    "and MTTR (resolved - detected). `keysup incident show ID` has every action.\n"
    CLI_REMOTE_USAGE;

static int inc_list(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *ctrl = NULL, *code = NULL, *limit = NULL, *pos[1];
    int open = 0, npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--open", CLI_FLAG, &open},
                      {"--controller", CLI_VALUE, &ctrl}, {"--code", CLI_VALUE, &code},
                      {"--limit", CLI_VALUE, &limit}, {NULL, CLI_FLAG, NULL}};
    char path[256] = "/v1/incidents", q[200] = "";
    json_t *out;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, list_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (open) cli_query_add(q, sizeof q, "open", "1");
    if (ctrl) cli_query_add(q, sizeof q, "controller", ctrl);
    if (code) cli_query_add(q, sizeof q, "code", code);
    if (limit) cli_query_add(q, sizeof q, "limit", limit);
    strncat(path, q, sizeof path - strlen(path) - 1);
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    if (ret)
        return ret;
    if (cx->json)
        return cli_emit(cx, out);
    if (!json_array_size(json_object_get(out, "items")))
        printf("no incidents%s\n", open ? " open" : "");
    else
        cli_diag_print_incidents(json_object_get(out, "items"), NULL);
    json_decref(out);
    return CLI_OK;
}

static int id_arg(cli_ctx *cx, const char *s, uint64_t *id)
{
    if (cli_parse_u64(s, id) || *id == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: ID must be an incident number (see keysup"
                       " incidents)", cx->cmd);
    return CLI_OK;
}

static void print_incident(json_t *o)
{
    char a[64], b[64];
    json_t *act, *st;
    size_t i;
    printf("incident %lld: %s %s - %s\n", (long long)json_integer_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "code")), json_string_value(json_object_get(o, "symbol")),
           json_string_value(json_object_get(o, "title")));
    printf("  controller:     %lld\n", (long long)json_integer_value(json_object_get(o, "controller_id")));
    printf("  state:          %s\n", json_string_value(json_object_get(o, "state")));
    if (json_is_string(json_object_get(o, "key_id")))
        printf("  key:            %s\n", json_string_value(json_object_get(o, "key_id")));
    printf("  evidence:       %s\n", json_string_value(json_object_get(o, "evidence")));
    fmt_at_time(a, sizeof a, json_object_get(o, "first_evidence_at"));
    printf("  first evidence: %s\n", a);
    fmt_at_time(a, sizeof a, json_object_get(o, "detected_at"));
    cli_diag_ms(b, sizeof b, json_object_get(o, "mttd_ms"));
    printf("  detected:       %s  (MTTD %s)\n", a, b);
    fmt_at_time(a, sizeof a, json_object_get(o, "resolved_at"));
    cli_diag_ms(b, sizeof b, json_object_get(o, "mttr_ms"));
    printf("  resolved:       %s  (MTTR %s)\n", a, b);
    if (json_is_string(json_object_get(o, "resolution")))
        printf("  resolution:     %s\n", json_string_value(json_object_get(o, "resolution")));
    printf("  repair:         %s (%lld automatic attempt(s))\n",
           json_string_value(json_object_get(o, "repair")),
           (long long)json_integer_value(json_object_get(o, "repairs")));
    if (json_is_integer(json_object_get(o, "escalated_from")))
        printf("  escalated from: incident %lld\n",
               (long long)json_integer_value(json_object_get(o, "escalated_from")));
    if (json_object_size(json_object_get(o, "symptoms"))) {
        const char *k;
        json_t *v;
        printf("  symptoms:      ");
        json_object_foreach(json_object_get(o, "symptoms"), k, v)
            printf(" %s x%lld", k, (long long)json_integer_value(v));
        printf("\n");
    }
    printf("  why:            %s\n", json_string_value(json_object_get(o, "cause")));
    st = json_object_get(o, "steps");
    if (json_array_size(st)) {
        printf("  what to do:\n");
        for (i = 0; i < json_array_size(st); i++)
            printf("    %zu. %s\n", i + 1, json_string_value(json_array_get(st, i)));
    }
    printf("  actions:\n");
    json_array_foreach(json_object_get(o, "actions"), i, act) {
        fmt_at_time(a, sizeof a, json_object_get(act, "ts_at"));
        printf("    %s  %-18s %-16s %s\n", a, json_string_value(json_object_get(act, "actor")),
               json_string_value(json_object_get(act, "action")),
               json_is_string(json_object_get(act, "detail"))
                   ? json_string_value(json_object_get(act, "detail")) : "");
    }
}

/* One incident as an answer came back: --json as it is, else for people. */
static int emit_incident(cli_ctx *cx, json_t *out)
{
    if (cx->json)
        return cli_emit(cx, out);
    print_incident(out);
    json_decref(out);
    return CLI_OK;
}

static int inc_show(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {NULL, CLI_FLAG, NULL}};
    char path[96];
    uint64_t id;
    json_t *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup incident show ID\n\nOne incident: evidence, first evidence,"
                    " detection, resolution, MTTD and MTTR,\nsymptoms, steps and every action"
                    " taken (automatic or by whom).\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if ((ret = id_arg(cx, pos[0], &id)) != CLI_OK)
        return ret;
    snprintf(path, sizeof path, "/v1/incidents/%llu", (unsigned long long)id);
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    return ret ? ret : emit_incident(cx, out);
}

static int inc_resolve(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1], *note = NULL;
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--note", CLI_VALUE, &note}, {NULL, CLI_FLAG, NULL}};
    char path[96];
    uint64_t id;
    json_t *out, *b;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup incident resolve ID --note TEXT\n\nCloses an incident after"
                    " doing its steps (e.g. the hardware was replaced);\nthe note and your token"
                    " name are recorded.\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if ((ret = id_arg(cx, pos[0], &id)) != CLI_OK)
        return ret;
    snprintf(path, sizeof path, "/v1/incidents/%llu/resolve", (unsigned long long)id);
    b = json_object();
    if (note)
        cli_set_str(b, "note", note);
    ret = cli_api(cx, &r, "POST", path, b, &out, NULL);
    json_decref(b);
    return ret ? ret : emit_incident(cx, out);
}

static int inc_stats(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"code", "symbol", "incidents", "open", "auto_repaired",
                                       "mttd", "mttd_max", "mttr", "mttr_max", NULL};
    cli_remote r = {NULL, NULL};
    const char *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {NULL, CLI_FLAG, NULL}};
    json_t *out, *row;
    size_t i;
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos,
                    "usage: keysup incident stats\n\nMTTD and MTTR per KSE code (mean and"
                    " worst).\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = cli_api(cx, &r, "GET", "/v1/incidents/stats", NULL, &out, NULL);
    if (ret || cx->json)
        return ret ? ret : cli_emit(cx, out);
    json_array_foreach(json_object_get(out, "items"), i, row) {
        static const char *const k[] = {"mttd_ms", "mttd_max_ms", "mttr_ms", "mttr_max_ms"};
        static const char *const d[] = {"mttd", "mttd_max", "mttr", "mttr_max"};
        for (int j = 0; j < 4; j++) {
            char b[32];
            cli_diag_ms(b, sizeof b, json_object_get(row, k[j]));
            json_object_set_new(row, d[j], json_string(b));
        }
    }
    return cli_table(cx, out, "items", cols);
}

static const cli_verb verbs[] = {
    {"list", "list incidents with MTTD/MTTR (same as `keysup incidents`)", inc_list},
    {"show", "one incident with every action taken", inc_show},
    {"resolve", "close an incident after doing its steps", inc_resolve},
    {"stats", "MTTD and MTTR per KSE code", inc_stats},
};

int cmd_incident(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "incident", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}

int cmd_incidents(cli_ctx *cx, int argc, char **argv)
{
    cx->cmd = "keysup incidents";
    return inc_list(cx, argc, argv);
}
