/*
 * cmd_operator.c - `keysup operator add|list|remove|unlock|passwd` (admin):
 * the people who sign in to the web console (docs/console.md). A password
 * comes from --password-file (its first line) or $KEYSUP_OPERATOR_PASSWORD,
 * never from argv, which every user sees through /proc.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"

#define PW_MAX 256

/* The password into out (NUL-terminated); prints the error otherwise. */
static int read_password(cli_ctx *cx, const char *file, char out[PW_MAX + 1])
{
    uint8_t *buf = NULL;
    size_t n = 0, full;
    const char *env;
    int ret;
    if (file) {
        ret = cli_read(cx, file, PW_MAX + 2, &buf, &n);
        if (ret)
            return ret;
        full = n;
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\n') {
                n = i;
                break;
            }
        if (n > 0 && buf[n - 1] == '\r')
            n--;
        if (n > PW_MAX)
            n = PW_MAX + 1; /* refused below */
        else
            memcpy(out, buf, n);
        sodium_memzero(buf, full);
        free(buf);
    } else if ((env = getenv("KEYSUP_OPERATOR_PASSWORD")) != NULL) {
        n = strlen(env);
        if (n <= PW_MAX)
            memcpy(out, env, n);
    } else {
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: give the password with --password-file F"
                       " or $KEYSUP_OPERATOR_PASSWORD", cx->cmd);
    }
    if (n > PW_MAX)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: the password is longer than %d bytes",
                       cx->cmd, PW_MAX);
    out[n] = '\0';
    return CLI_OK;
}

/* "/v1/operators/ID" + suffix for a name or an id; prints the error. */
static int op_path(cli_ctx *cx, cli_remote *r, const char *who, const char *suffix, char *path,
                   size_t n)
{
    json_t *out = NULL, *it;
    size_t i;
    long long id = 0;
    int digits = who[0] != '\0', ret;
    for (const char *p = who; *p; p++)
        digits &= isdigit((unsigned char)*p) != 0;
    if (digits) {
        id = atoll(who);
    } else {
        ret = cli_api(cx, r, "GET", "/v1/operators", NULL, &out, NULL);
        if (ret)
            return ret;
        json_array_foreach(json_object_get(out, "items"), i, it) {
            const char *nm = json_string_value(json_object_get(it, "name"));
            if (nm && strcmp(nm, who) == 0)
                id = (long long)json_integer_value(json_object_get(it, "id"));
        }
        json_decref(out);
        if (id <= 0)
            return cli_err(cx, CLI_REFUSED, "NOT_FOUND", "no operator named '%s'", who);
    }
    snprintf(path, n, "/v1/operators/%lld%s", id, suffix);
    return CLI_OK;
}

static int op_add(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *role = NULL, *pwfile = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--role", CLI_VALUE, &role},
                      {"--password-file", CLI_VALUE, &pwfile}, {NULL, CLI_FLAG, NULL}};
    char pw[PW_MAX + 1];
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup operator add NAME --role admin|operator|auditor\n"
                    "                           [--password-file F]\n\n"
                    "Adds a console operator. The password is the first line of F, else\n"
                    "$KEYSUP_OPERATOR_PASSWORD (at least 10 characters).\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!role)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --role is required", cx->cmd);
    ret = read_password(cx, pwfile, pw);
    if (ret)
        return ret;
    b = json_pack("{s:s,s:s,s:s}", "name", pos[0], "role", role, "password", pw);
    sodium_memzero(pw, sizeof pw);
    ret = cli_api(cx, &r, "POST", "/v1/operators", b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static int op_list(cli_ctx *cx, int argc, char **argv)
{
    static const char *const cols[] = {"id", "name", "role", "failures", "locked_until",
                                       "last_signin", NULL};
    return cli_remote_simple(cx, argc, argv, "usage: keysup operator list\n" CLI_REMOTE_USAGE,
                             "GET", "/v1/operators", CLI_ARG_NONE, cols);
}

/* remove / unlock: one NAME or ID, no body. */
static int op_simple(cli_ctx *cx, int argc, char **argv, const char *usage, const char *method,
                     const char *suffix)
{
    cli_remote r = {NULL, NULL};
    const char *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {NULL, CLI_FLAG, NULL}};
    char path[96];
    json_t *out, *b;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = op_path(cx, &r, pos[0], suffix, path, sizeof path);
    if (ret)
        return ret;
    b = strcmp(method, "POST") == 0 ? json_object() : NULL;
    ret = cli_api(cx, &r, method, path, b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static int op_remove(cli_ctx *cx, int argc, char **argv)
{
    return op_simple(cx, argc, argv, "usage: keysup operator remove NAME|ID\n" CLI_REMOTE_USAGE,
                     "DELETE", "");
}

static int op_unlock(cli_ctx *cx, int argc, char **argv)
{
    return op_simple(cx, argc, argv,
                     "usage: keysup operator unlock NAME|ID\n\nClears the failed sign-ins and"
                     " the lock (KSE-740).\n" CLI_REMOTE_USAGE, "POST", "/unlock");
}

static int op_passwd(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *pwfile = NULL, *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--password-file", CLI_VALUE, &pwfile},
                      {NULL, CLI_FLAG, NULL}};
    char pw[PW_MAX + 1], path[96];
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup operator passwd NAME|ID [--password-file F]\n\n"
                    "Sets a new password (F's first line, else $KEYSUP_OPERATOR_PASSWORD);\n"
                    "the operator's sessions end.\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = op_path(cx, &r, pos[0], "/password", path, sizeof path);
    if (ret)
        return ret;
    ret = read_password(cx, pwfile, pw);
    if (ret)
        return ret;
    b = json_pack("{s:s}", "password", pw);
    sodium_memzero(pw, sizeof pw);
    ret = cli_api(cx, &r, "POST", path, b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static const cli_verb verbs[] = {
    {"add", "add a console operator (admin, operator or auditor)", op_add},
    {"list", "list console operators and their lock state", op_list},
    {"remove", "remove an operator (its sessions end)", op_remove},
    {"unlock", "clear an operator's failed sign-ins and lock", op_unlock},
    {"passwd", "set an operator's password", op_passwd},
};

int cmd_operator(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "operator", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
