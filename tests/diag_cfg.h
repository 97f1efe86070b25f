/*
 * diag_cfg.h - the diagnosis policy the diagnosis tests and the report fuzz
 * target run the walk with: keysupd's defaults (docs/diagnosis.md), written
 * once so the unit tests and the fuzzer judge reports by the same rules.
 */
#ifndef KEYSUP_TEST_DIAG_CFG_H
#define KEYSUP_TEST_DIAG_CFG_H

#include <string.h>

#include "sup_diag.h"

/* wear_days: the projected flash life under which KSE-310 warns
 * (SUP_DIAG_WEAR_DAYS as keysupd has it; 0 leaves the wear rule off, which
 * test_diag_rules relies on so its wear-free reports raise nothing). */
static inline sup_diag_cfg kt_diag_cfg(uint32_t wear_days)
{
    sup_diag_cfg c;
    memset(&c, 0, sizeof c);
    c.interval_ms = 1000;
    c.missed = 3;
    c.clock_tolerance = 300;
    c.quiet = 600;
    c.recent = 900;
    c.behind = 5;
    c.escalate_window = 86400;
    c.max_repairs = 3;
    c.policy_threshold = 5;
    c.policy_window = 600;
    c.proto_min = c.proto_max = 1;
    c.wear_days = wear_days;
    return c;
}

#endif
