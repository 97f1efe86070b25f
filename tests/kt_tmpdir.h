/*
 * kt_tmpdir.h - a unit test whose cases write files: one scratch directory
 * per run, made before the first case and removed after the last, so that a
 * failed case leaves nothing behind and two runs never share files.
 */
#ifndef KT_TMPDIR_H
#define KT_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

#include "ks_test_util.h"

static char tmpdir[64];

/* out = tmpdir/name */
static void path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* Runs the group in /tmp/ks_test_<tag>_XXXXXX and removes it; a failed
 * removal fails the run. */
static int kt_run_in_tmpdir(const char *tag, const struct CMUnitTest *tests, size_t count)
{
    char cmd[128];
    int rc;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ks_test_%s_XXXXXX", tag);
    if (sodium_init() < 0 || !mkdtemp(tmpdir))
        return 1;
    rc = _cmocka_run_group_tests(tag, tests, count, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}

#endif
