/*
 * sup_util.h - a keysupd in process for the supervisor unit tests: a fresh
 * data directory made by sup_init, opened with sup_open, quiet logs.
 * The caller sets what it needs in s->cfg, then starts the publisher.
 */
#ifndef KEYSUP_TEST_SUP_UTIL_H
#define KEYSUP_TEST_SUP_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* sup_fixture_open on "/tmp/ks_test_NAME_XXXXXX" (written to dir, of n
 * bytes) with the publisher started: the whole setup of a test that needs
 * no config of its own. 0 or -1. */
static inline int sup_fixture_start(sup_ctx *s, char *dir, size_t n, const char *name)
{
    snprintf(dir, n, "/tmp/ks_test_%s_XXXXXX", name);
    if (sup_fixture_open(s, dir) != 0)
        return -1;
    return sup_pub_start(s) == KS_OK ? 0 : -1;
}

/* A restart in process: the publisher stopped, the supervisor closed and
 * opened afresh on the same dir (a new context), the publisher started.
 * 0 or -1. */
static inline int sup_fixture_reopen(sup_ctx *s, const char *dir)
{
    char err[256];
    sup_pub_stop(s);
    sup_close(s);
    memset(s, 0, sizeof *s);
    if (sup_open(s, dir, NULL, NULL, 0, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    sup_log_set_level(KS_LOG_ERROR);
    return sup_pub_start(s) == KS_OK ? 0 : -1;
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
