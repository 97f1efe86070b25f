/*
 * cmd_audit.c - `keysup audit list`: the supervisor's audit log.
 */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"

static int audit_list(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"id", "ts", "actor", "action", "target", "result", "code",
                                       "detail", NULL};
    cli_remote r = {NULL, NULL};
    const char *actor = NULL, *action = NULL, *result = NULL, *since = NULL, *until = NULL;
    const char *limit = NULL, *offset = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--actor", CLI_VALUE, &actor},
                      {"--action", CLI_VALUE, &action}, {"--result", CLI_VALUE, &result},
                      {"--since", CLI_VALUE, &since}, {"--until", CLI_VALUE, &until},
                      {"--limit", CLI_VALUE, &limit}, {"--offset", CLI_VALUE, &offset},
                      {NULL, CLI_FLAG, NULL}};
    char path[1024] = "/v1/audit", q[900] = "", num[32];
    uint64_t v;
    json_t *out;

    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos,
                    "usage: keysup audit list [--actor A] [--action A] [--result ok|denied|failed]\n"
                    "                         [--since T] [--until T] [--limit N] [--offset N]\n\n"
                    "Queries the audit log, newest first.\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (actor) cli_query_add(q, sizeof q, "actor", actor);
    if (action) cli_query_add(q, sizeof q, "action", action);
    if (result) cli_query_add(q, sizeof q, "result", result);
    if (since) {
        if (cli_parse_time(since, &v))
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad --since '%s'", cx->cmd, since);
        snprintf(num, sizeof num, "%llu", (unsigned long long)v);
        cli_query_add(q, sizeof q, "since", num);
    }
    if (until) {
        if (cli_parse_time(until, &v))
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad --until '%s'", cx->cmd, until);
        snprintf(num, sizeof num, "%llu", (unsigned long long)v);
        cli_query_add(q, sizeof q, "until", num);
    }
    if (limit) cli_query_add(q, sizeof q, "limit", limit);
    if (offset) cli_query_add(q, sizeof q, "offset", offset);
    strncat(path, q, sizeof path - strlen(path) - 1);
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    return ret ? ret : cli_table(cx, out, "items", cols);
}

static const cli_verb verbs[] = {
    {"list", "query the audit log", audit_list},
};

int cmd_audit(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "audit", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
