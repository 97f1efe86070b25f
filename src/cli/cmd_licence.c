/*
 * cmd_licence.c - `keysup licence issue|list|show|revoke|reactivate|
 * enforce|enforcement`: feature licences issued by the supervisor, and which
 * features controllers enforce (docs/licences.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_http.h"

static const char *const cols[] = {"id", "name", "controller_id", "state", "valid_until", NULL};

/* --feature NAME... into a JSON array (names: base, firmware, calibration,
 * two_man, bitN; the supervisor checks them). */
static json_t *features(const cli_list *l)
{
    json_t *a = json_array();
    for (int i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static int time_opt(cli_ctx *cx, json_t *b, const char *key, const char *v)
{
    uint64_t t;
    if (!v)
        return CLI_OK;
    if (cli_parse_time(v, &t))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --valid-until must be unix seconds or "
                       "YYYY-MM-DD[THH:MM:SSZ]", cx->cmd);
    json_object_set_new(b, key, json_integer((json_int_t)t));
    return CLI_OK;
}

/* --bound-key KEY [--bound-window S] into the body. */
static int bound_opts(cli_ctx *cx, json_t *b, const char *key, const char *window)
{
    uint64_t w;
    if (key)
        json_object_set_new(b, "bound_key", json_string(key));
    if (!window)
        return CLI_OK;
    if (cli_parse_u64(window, &w) || w == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --bound-window must be seconds (>= 1)",
                       cx->cmd);
    json_object_set_new(b, "bound_window", json_integer((json_int_t)w));
    return CLI_OK;
}

static int lic_issue(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *ctrl = NULL, *until = NULL, *name = NULL, *warn = NULL, *pos[1];
    const char *bkey = NULL, *bwin = NULL;
    cli_list feat = {{NULL}, 0};
    uint64_t id, w;
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r),
                      {"--controller", CLI_VALUE, &ctrl},
                      {"--feature", CLI_LIST, &feat},
                      {"--valid-until", CLI_VALUE, &until},
                      {"--warn-days", CLI_VALUE, &warn},
                      {"--name", CLI_VALUE, &name},
                      {"--bound-key", CLI_VALUE, &bkey},
                      {"--bound-window", CLI_VALUE, &bwin},
                      {NULL, CLI_FLAG, NULL}};
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos,
                    "usage: keysup licence issue --controller ID --feature NAME... "
                    "[--valid-until T]\n"
                    "                            [--warn-days N] [--name TEXT]\n"
                    "                            [--bound-key KEY [--bound-window S]]\n\n"
                    "Issues a feature licence bound to controller ID (its device key) and\n"
                    "signed by the supervisor key. Features: base, firmware, calibration,\n"
                    "two_man, bitN (8..63 for integrators). --valid-until: unix seconds or a\n"
                    "date (default: no end). An incident (KSE-801) opens --warn-days before\n"
                    "it expires (default 30). --bound-key: an enrolled dongle's key id or\n"
                    "public key; the licence then counts only while that key was presented\n"
                    "at the controller within --bound-window seconds (default 300).\n"
                    CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!ctrl || cli_parse_u64(ctrl, &id) || id == 0 || feat.n == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --controller ID and at least one --feature "
                       "are required", cx->cmd);
    b = json_pack("{s:I,s:o}", "controller_id", (json_int_t)id, "features", features(&feat));
    if (name)
        json_object_set_new(b, "name", json_string(name));
    if (warn) {
        if (cli_parse_u64(warn, &w)) {
            json_decref(b);
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: --warn-days must be a number", cx->cmd);
        }
        json_object_set_new(b, "warn_days", json_integer((json_int_t)w));
    }
    if ((ret = time_opt(cx, b, "valid_until", until)) != CLI_OK ||
        (ret = bound_opts(cx, b, bkey, bwin)) != CLI_OK) {
        json_decref(b);
        return ret;
    }
    ret = cli_api(cx, &r, "POST", "/v1/licences", b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static int lic_list(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *ctrl = NULL, *pos[1];
    char path[64];
    uint64_t id;
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--controller", CLI_VALUE, &ctrl},
                      {NULL, CLI_FLAG, NULL}};
    json_t *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos,
                    "usage: keysup licence list [--controller ID]\n\n"
                    "Lists licences: state active, expired, revoked or replaced.\n"
                    CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (ctrl && cli_parse_u64(ctrl, &id))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --controller takes an id", cx->cmd);
    if (ctrl)
        snprintf(path, sizeof path, "/v1/licences?controller=%llu", (unsigned long long)id);
    else
        snprintf(path, sizeof path, "/v1/licences");
    ret = cli_api(cx, &r, "GET", path, NULL, &out, NULL);
    return ret ? ret : cli_table(cx, out, "items", cols);
}

static int lic_show(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup licence show ID\n\nShows a licence, with its signed "
                             "bytes (docs/formats.md) in hex.\n" CLI_REMOTE_USAGE,
                             "GET", "/v1/licences/{}", CLI_ARG_ID, NULL);
}

static int lic_revoke(cli_ctx *cx, int argc, char **argv)
{
    return cli_remote_simple(cx, argc, argv,
                             "usage: keysup licence revoke ID\n\nRevokes a licence (admin).\n"
                             CLI_REMOTE_USAGE,
                             "POST", "/v1/licences/{}/revoke", CLI_ARG_ID, NULL);
}

static int lic_reactivate(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *until = NULL, *pos[1], *bkey = NULL, *bwin = NULL;
    cli_list feat = {{NULL}, 0};
    char path[64];
    uint64_t id;
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--valid-until", CLI_VALUE, &until},
                      {"--feature", CLI_LIST, &feat}, {"--bound-key", CLI_VALUE, &bkey},
                      {"--bound-window", CLI_VALUE, &bwin}, {NULL, CLI_FLAG, NULL}};
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos,
                    "usage: keysup licence reactivate ID [--valid-until T] [--feature NAME...]\n"
                    "                                [--bound-key KEY|none] [--bound-window S]\n\n"
                    "Issues a new licence that replaces licence ID (expired, expiring, or bound\n"
                    "to a lost dongle): same controller, features and dongle unless given\n"
                    "(--bound-key none: unbound). The old one becomes 'replaced' and its\n"
                    "expiry incident closes. Controllers fetch it within seconds.\n"
                    CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (cli_parse_u64(pos[0], &id) || id == 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: ID must be a positive number", cx->cmd);
    b = json_object();
    if (feat.n)
        json_object_set_new(b, "features", features(&feat));
    if ((ret = time_opt(cx, b, "valid_until", until)) != CLI_OK ||
        (ret = bound_opts(cx, b, bkey, bwin)) != CLI_OK) {
        json_decref(b);
        return ret;
    }
    snprintf(path, sizeof path, "/v1/licences/%llu/reactivate", (unsigned long long)id);
    ret = cli_api(cx, &r, "POST", path, b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

/* The rollout rule: which features a controller (or the fleet) enforces. */
static int lic_enforce(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *ctrl = NULL, *grace = NULL, *pos[1];
    cli_list feat = {{NULL}, 0};
    uint64_t id = 0, g = 0;
    int npos = 0, ret, none = 0;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {"--controller", CLI_VALUE, &ctrl},
                      {"--feature", CLI_LIST, &feat}, {"--grace", CLI_VALUE, &grace},
                      {"--none", CLI_FLAG, &none}, {NULL, CLI_FLAG, NULL}};
    json_t *b, *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos,
                    "usage: keysup licence enforce [--controller ID] (--feature NAME... | --none)\n"
                    "                              [--grace SECONDS]\n\n"
                    "Sets which licence features are enforced: on controller ID, or without\n"
                    "--controller for the fleet (every controller without a row of its own).\n"
                    "Nothing is enforced until this is set, so controllers without a licence\n"
                    "keep working. An enforced feature's actions are refused with KSE-800\n"
                    "unless the controller's licence covers it. --grace: seconds after a\n"
                    "licence's expiry that it still counts (default 0).\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if ((ctrl && cli_parse_u64(ctrl, &id)) || (grace && cli_parse_u64(grace, &g)))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --controller and --grace take numbers",
                       cx->cmd);
    if (!none == !feat.n)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: give --feature NAME... or --none", cx->cmd);
    b = json_pack("{s:I,s:o,s:I}", "controller_id", (json_int_t)id, "features", features(&feat),
                  "grace", (json_int_t)g);
    ret = cli_api(cx, &r, "PUT", "/v1/licence-enforcement", b, &out, NULL);
    json_decref(b);
    return ret ? ret : cli_emit(cx, out);
}

static int lic_enforcement(cli_ctx *cx, int argc, char **argv)
{
    static const char *const pcols[] = {"scope", "controller_id", "features", "grace", NULL};
    cli_remote r = {NULL, NULL};
    const char *pos[1];
    int npos = 0, ret;
    cli_opt opts[] = {CLI_REMOTE_OPTS(&r), {NULL, CLI_FLAG, NULL}};
    json_t *out;
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos,
                    "usage: keysup licence enforcement\n\n"
                    "Lists what is enforced: the fleet row (controller 0) and each\n"
                    "controller's own.\n" CLI_REMOTE_USAGE);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = cli_api(cx, &r, "GET", "/v1/licence-enforcement", NULL, &out, NULL);
    return ret ? ret : cli_table(cx, out, "items", pcols);
}

static const cli_verb verbs[] = {
    {"issue", "issue a feature licence for a controller (admin)", lic_issue},
    {"list", "list licences", lic_list},
    {"show", "show a licence and its signed bytes", lic_show},
    {"revoke", "revoke a licence (admin)", lic_revoke},
    {"reactivate", "replace a licence with a new one (admin)", lic_reactivate},
    {"enforce", "set which features a controller or the fleet enforces (admin)", lic_enforce},
    {"enforcement", "list what is enforced", lic_enforcement},
};

int cmd_licence(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "licence", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
