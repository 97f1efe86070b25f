/*
 * cmd_holder.c - `keysup holder create|list|show`: the people keys belong to.
 */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"

static int holder_create(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *email = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--email", CLI_VALUE, &email}, {NULL, CLI_FLAG, NULL}};
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup holder create NAME [--email E]\n\nAdds a key holder.\n"
                    CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    b = json_pack("{s:s}", "name", pos[0]);
    if (email)
        cli_set_str(b, "email", email);
    ret = cli_api(cx, &r, "POST", "/v1/holders", b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static int holder_list(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"id", "name", "email", "keys", NULL};
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup holder list\n\nLists key holders.\n" CLI_REMOTE_USAGE,
                             "GET", "/v1/holders", CLI_ARG_NONE, cols);
}

static int holder_show(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup holder show ID\n\nShows a holder and their keys.\n"
                             CLI_REMOTE_USAGE, "GET", "/v1/holders/{}", CLI_ARG_ID, NULL);
}

static const cli_verb verbs[] = {
    {"create", "add a key holder", holder_create},
    {"list", "list key holders", holder_list},
    {"show", "show a holder and their keys", holder_show},
};

int cmd_holder(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "holder", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
