/*
 * cmd_controller.c - `keysup controller add|list|show|provision|command|audit|decisions`
 * through the keysupd API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"

static const char add_usage[] =
    "usage: keysup controller add NAME --scope N [--site S] [--model M] [--min-key-format N]\n\n"
    "Registers a controller and prints its one-time provisioning token (give it to\n"
    "`keysup-controller enroll --token`).\n" CLI_REMOTE_USAGE;

static int ctrl_add(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *site = NULL, *model = NULL, *scope = NULL, *minf = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--site", CLI_VALUE, &site},
                      {"--model", CLI_VALUE, &model}, {"--scope", CLI_VALUE, &scope},
                      {"--min-key-format", CLI_VALUE, &minf}, {NULL, CLI_FLAG, NULL}};
    json_t *b, *out;
    uint64_t v;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, add_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!scope) /* documented as required: a silent default scope would grant the wrong keys */
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --scope N is required", cx->cmd);
    b = json_pack("{s:s}", "name", pos[0]);
    if (site) cli_set_str(b, "site", site);
    if (model) cli_set_str(b, "model", model);
    if (scope) {
        if (cli_parse_u64(scope, &v)) {
            json_decref(b);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad --scope '%s'", cx->cmd, scope);
        }
        cli_set_u64(b, "scope", v);
    }
    if (minf) {
        if (cli_parse_u64(minf, &v)) {
            json_decref(b);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad --min-key-format '%s'", cx->cmd, minf);
        }
        cli_set_u64(b, "min_key_format", v);
    }
    ret = cli_api(cx, &r, "POST", "/v1/controllers", b, &out, NULL);
    json_decref(b);
    if (ret)
        return ret;
    if (!cx->json)
        fprintf(stderr, "keysup: the provisioning token is shown only now\n");
    return cli_emit(cx, out);
}

static const char list_usage[] =
    "usage: keysup controller list [--limit N] [--offset N]\n\n"
    "Lists controllers with their sync state.\n" CLI_REMOTE_USAGE;

static int ctrl_list(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"id", "name", "site", "scope", "enrolled",
                                       "applied_version", "published_version", "in_sync",
                                       "last_seen", "lockout", NULL};
    cli_remote r = {NULL, NULL};
    const char *limit = NULL, *offset = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--limit", CLI_VALUE, &limit},
                      {"--offset", CLI_VALUE, &offset}, {NULL, CLI_FLAG, NULL}};
    char path[256] = "/v1/controllers", q[200] = "";
    json_t *out;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, list_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (limit) cli_query_add(q, sizeof q, "limit", limit);
    if (offset) cli_query_add(q, sizeof q, "offset", offset);
    strncat(path, q, sizeof path - strlen(path) - 1);
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    return ret ? ret : cli_table(cx, out, "items", cols);
}

static int ctrl_show(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup controller show ID\n\nShows a controller: last sync,"
                             " applied and published version and root,\nclock offset, firmware,"
                             " lockout, last health report, recent commands.\n" CLI_REMOTE_USAGE,
                             "GET", "/v1/controllers/{}", CLI_ARG_ID, NULL);
}

static int ctrl_provision(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup controller provision ID\n\nIssues a new one-time"
                             " provisioning token; the controller must enrol again.\n"
                             CLI_REMOTE_USAGE, "POST", "/v1/controllers/{}/provision", CLI_ARG_ID,
                             NULL);
}

/* For people, each uploaded record's own fields beside the row's, not one
 * JSON cell: what was asked, what came of it, by which key, where. */
static void flatten_records(json_t *out)
{
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(out, "items"), i, it) {
        json_t *rec = json_object_get(it, "record");
        const char *code = json_string_value(json_object_get(rec, "code"));
        json_object_set(it, "action", json_object_get(rec, "action"));
        json_object_set_new(it, "result", json_string(json_is_true(json_object_get(rec, "granted"))
                                                          ? "granted" : code ? code : "-"));
        json_object_set(it, "key_id", json_object_get(rec, "key_id"));
        json_object_set(it, "reader", json_object_get(rec, "reader"));
    }
}

static const char audit_usage[] =
    "usage: keysup controller audit ID [--since-seq N] [--limit N]\n\n"
    "The decisions and events controller ID uploaded from its audit ring, oldest\n"
    "first by sequence number: time, action, result (granted, or the KSE code),\n"
    "key id and reader. --json gives each record in full (event, use counter,\n"
    "chain index and hashes; docs/auth.md, \"Audit record\").\n" CLI_REMOTE_USAGE;

/* What `controller audit` and `controller decisions` share: the ID, the
 * options checked here before anything is sent (--limit by cli_parse, as
 * for every list verb; --since-seq, where the verb has it, by the same
 * rule), the query, the call, and the records as rows for people. */
typedef struct rec_verb {
    const char *usage;
    const char *route;              /* after /v1/controllers/ID/ */
    const char *const *cols;
    int since;                      /* takes --since-seq */
} rec_verb;

static int ctrl_records(cli_ctx *cx, int argc, char **argv, const rec_verb *v)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1], *since = NULL, *limit = NULL;
    int npos = 0, ret;
    /* A NULL name ends the list: without since, --since-seq is unknown. */
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--limit", CLI_VALUE, &limit},
                      {v->since ? "--since-seq" : NULL, CLI_VALUE, &since},
                      {NULL, CLI_FLAG, NULL}};
    char path[256], q[128] = "";
    json_t *out;
    uint64_t id, n;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, v->usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (cli_parse_u64(pos[0], &id) || id == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: ID must be a positive number, got '%s'",
                       cx->cmd, pos[0]);
    if (since && cli_parse_u64(since, &n))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --since-seq must be a number, got '%s'",
                       cx->cmd, since);
    if (since)
        cli_query_add(q, sizeof q, "since_seq", since);
    if (limit)
        cli_query_add(q, sizeof q, "limit", limit);
    snprintf(path, sizeof path, "/v1/controllers/%llu/%s%s", (unsigned long long)id, v->route,
             q);
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    if (ret || cx->json)
        return ret ? ret : cli_emit(cx, out);
    flatten_records(out);
    return cli_table(cx, out, "items", v->cols);
}

static int ctrl_audit(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"seq", "ts", "action", "result", "key_id", "reader", NULL};
    static const rec_verb v = {audit_usage, "audit", cols, 1};
    return ctrl_records(cx, argc, argv, &v);
}

static const char decisions_usage[] =
    "usage: keysup controller decisions ID [--limit N]\n\n"
    "The newest decisions and refusals controller ID uploaded (default 50, at most\n"
    "1000), newest first, each with the holder and label of its key as enrolled\n"
    "here (as the console's Hardware Management page shows them).\n" CLI_REMOTE_USAGE;

static int ctrl_decisions(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"seq",    "ts",    "action", "result",
                                       "holder", "label", "key_id", NULL};
    static const rec_verb v = {decisions_usage, "decisions", cols, 0};
    return ctrl_records(cx, argc, argv, &v);
}

static const char cmd_usage[] =
    "usage: keysup controller command ID initialize|time_sync|unlock|clear_pending|"
    "replace_credential\n"
    "       keysup controller command ID tls_pin --pin sha256//BASE64\n\n"
    "Queues a remediation command; the controller receives it in its next heartbeat\n"
    "and acknowledges it. replace_credential prints a one-time code to enter at the\n"
    "controller and the fingerprint of the supervisor key it authorises (shown once):\n"
    "the technician checks the controller shows the same fingerprint before typing\n"
    "the code. tls_pin announces the supervisor's next TLS key (keysup tls pin\n"
    "--cert NEW.pem prints it); the controller accepts it beside the current one\n"
    "until the supervisor serves it (keysup tls stage does this for every controller).\n"
    CLI_REMOTE_USAGE;

static int ctrl_command(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pos[2];
    int npos = 0, ret;
    const char *pin = NULL;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--pin", CLI_VALUE, &pin}, {NULL, CLI_FLAG, NULL}};
    char path[256];
    json_t *out, *b;
    uint64_t id;

    ret = cli_parse(cx, argc, argv, opts, pos, 2, 2, &npos, cmd_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (cli_parse_u64(pos[0], &id) || id == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: controller ID must be a number", cx->cmd);
    snprintf(path, sizeof path, "/v1/controllers/%llu/commands", (unsigned long long)id);
    b = json_pack("{s:s}", "command", pos[1]);
    if (pin || strcmp(pos[1], "tls_pin") == 0) {
        if (!pin || strcmp(pos[1], "tls_pin") != 0) {
            json_decref(b);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: --pin goes with tls_pin, and tls_pin needs"
                           " --pin sha256//BASE64", cx->cmd);
        }
        json_object_set_new(b, "args", json_pack("{s:s}", "pin", pin));
    }
    ret = cli_api(cx, &r, "POST", path, b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static const cli_verb verbs[] = {
    {"add", "register a controller; prints its one-time provisioning token", ctrl_add},
    {"list", "list controllers and their sync state", ctrl_list},
    {"show", "show one controller: sync, clock, firmware, lockout, health", ctrl_show},
    {"provision", "issue a new provisioning token (re-enrol)", ctrl_provision},
    {"command", "queue a remediation command", ctrl_command},
    {"audit", "audit records uploaded by a controller", ctrl_audit},
    {"decisions", "newest decisions and refusals, with holder and label", ctrl_decisions},
};

int cmd_controller(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "controller", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
