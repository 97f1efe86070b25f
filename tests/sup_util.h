/*
 * sup_util.h - a keysupd in process for the supervisor unit tests: a fresh
 * data directory made by sup_init, opened with sup_open, quiet logs.
 * The caller sets what it needs in s->cfg, then starts the publisher.
 */
#ifndef KEYSUP_TEST_SUP_UTIL_H
#define KEYSUP_TEST_SUP_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "sup.h"

/* dir: a mkdtemp template ("/tmp/ks_test_x_XXXXXX"), filled in. 0 or -1. */
static inline int sup_fixture_open(sup_ctx *s, char *dir)
{
    char err[256], tok[80];
    uint8_t pk[32];
    if (sodium_init() < 0 || !mkdtemp(dir))
        return -1;
    if (sup_init(dir, NULL, 0, 1, tok, pk, err, sizeof err) ||
        sup_open(s, dir, NULL, NULL, 0, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    sup_log_set_level(KS_LOG_ERROR);
    return 0;
}

/* Stops the publisher, closes the supervisor, removes dir. 0 or -1. */
static inline int sup_fixture_close(sup_ctx *s, const char *dir)
{
    char cmd[128];
    sup_pub_stop(s);
    sup_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
