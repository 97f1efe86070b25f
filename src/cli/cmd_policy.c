/*
 * cmd_policy.c - `keysup policy list|show|set`: privileged actions (which
 * privileges, two-supervisor rule, session timeout).
 */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"

static int policy_list(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"name", "required_privileges", "two_supervisors",
                                       "session_timeout", "seal_blocked", "title", NULL};
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup policy list\n\nLists privileged-action policies.\n"
                             CLI_REMOTE_USAGE, "GET", "/v1/policies", CLI_ARG_NONE, cols);
}

static int policy_show(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup policy show NAME\n\nShows one privileged-action"
                             " policy: the privileges the action needs,\nwhether a second"
                             " supervisor must confirm, the session timeout and whether\nthe"
                             " seal switch blocks it.\n" CLI_REMOTE_USAGE,
                             "GET", "/v1/policies/{}", CLI_ARG_NAME, NULL);
}

static int policy_set(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *timeout = NULL, *title = NULL, *pos[1];
    cli_list privs = {{NULL}, 0};
    int npos = 0, ret, two = 0, one = 0, seal = 0;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--privilege", CLI_LIST, &privs},
                      {"--two-supervisors", CLI_FLAG, &two}, {"--one-supervisor", CLI_FLAG, &one},
                      {"--seal-blocked", CLI_FLAG, &seal}, {"--session-timeout", CLI_VALUE, &timeout},
                      {"--title", CLI_VALUE, &title}, {NULL, CLI_FLAG, NULL}};
    char path[160];
    json_t *b, *out, *pa;
    uint64_t v;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup policy set NAME --privilege NAME... [--two-supervisors]\n"
                    "                         [--seal-blocked] [--session-timeout 5m] [--title T]\n\n"
                    "Creates or replaces a privileged-action policy (admin).\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!privs.n)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --privilege NAME is required", cx->cmd);
    pa = json_array();
    for (int i = 0; i < privs.n; i++)
        json_array_append_new(pa, json_string(privs.v[i]));
    b = json_pack("{s:o,s:b,s:b}", "required_privileges", pa, "two_supervisors", two && !one,
                  "seal_blocked", seal);
    if (title)
        cli_set_str(b, "title", title);
    if (timeout) {
        if (cli_parse_duration(timeout, &v) && cli_parse_u64(timeout, &v)) {
            json_decref(b);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad --session-timeout '%s'", cx->cmd,
                           timeout);
        }
        cli_set_u64(b, "session_timeout", v);
    }
    snprintf(path, sizeof path, "/v1/policies/%.100s", pos[0]);
    ret = cli_api(cx, &r, "PUT", path, b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static const cli_verb verbs[] = {
    {"list", "list privileged-action policies", policy_list},
    {"show", "show one policy", policy_show},
    {"set", "create or replace a policy (admin)", policy_set},
};

int cmd_policy(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "policy", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
