/*
 * cmd_init.c - `keysup init|backup|restore ...`: fronts for `keysupd VERB`.
 *
 * Setting up a supervisor data directory is the daemon's work (SQLite, the
 * signing key, TLS material), so it lives in keysupd (src/supervisor/
 * sup_initcmd.c), and so is backing it up and restoring it (the registry's
 * online backup API, pg_dump: sup_backupcmd.c); the CLI links none of it. Every script and document that
 * says `keysup init` keeps working: this execs keysupd with the same
 * arguments (and --json when it was given before the noun). keysupd is looked
 * for beside this binary (a build tree: build/bin), then in ../sbin (an
 * installed tree: /usr/bin/keysup, /usr/sbin/keysupd), then on PATH.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_cmds.h"

/* dir of /proc/self/exe + rel, if that file is executable. */
static int beside_self(char *out, size_t n, const char *rel)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return -1;
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    if ((size_t)snprintf(out, n, "%s/%s", self, rel) >= n)
        return -1;
    return access(out, X_OK) == 0 ? 0 : -1;
}

static int run_keysupd(cli_ctx *cx, const char *verb, int argc, char **argv)
{
    char path[PATH_MAX + 32];
    char **av = calloc((size_t)argc + 4, sizeof *av);
    int n = 0;

    if (!av)
        return cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
    av[n++] = "keysupd";
    av[n++] = (char *)verb;
    if (cx->json)
        av[n++] = "--json";
    for (int i = 0; i < argc; i++)
        av[n++] = argv[i];
    av[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    if (beside_self(path, sizeof path, "keysupd") == 0 ||
        beside_self(path, sizeof path, "../sbin/keysupd") == 0)
        execv(path, av);
    else
        execvp("keysupd", av);
    int e = errno;
    free(av);
    return cli_err(cx, CLI_IO, "IO", "keysup %s runs `keysupd %s`, which could not be "
                   "started: %s (install keysupd beside keysup or on PATH)", verb, verb,
                   strerror(e));
}

int cmd_init(cli_ctx *cx, int argc, char **argv) { return run_keysupd(cx, "init", argc, argv); }

int cmd_backup(cli_ctx *cx, int argc, char **argv)
{
    return run_keysupd(cx, "backup", argc, argv);
}

int cmd_restore(cli_ctx *cx, int argc, char **argv)
{
    return run_keysupd(cx, "restore", argc, argv);
}
