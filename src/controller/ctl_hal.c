/*
 * ctl_hal.c - the auth engine's hardware on Linux: the system clock as the
 * RTC (with the agent's fault hooks), the kernel RNG, the simulated seal
 * switch, and CLOCK_MONOTONIC as the tick that never stops.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include <sodium.h>

#include "ctl_agent.h"

static int hal_rtc(void *ctx, uint64_t *unix_s)
{
    *unix_s = ctl_rtc((const ctl_agent *)ctx);
    return 0;
}

static int hal_rng(void *ctx, uint8_t *buf, size_t n)
{
    (void)ctx;
    randombytes_buf(buf, n);
    return 0;
}

static int hal_seal(void *ctx)
{
    return ((const ctl_agent *)ctx)->seal_on;
}

static int hal_mono(void *ctx, uint64_t *s)
{
    struct timespec ts;
    (void)ctx;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return -1;
    *s = (uint64_t)ts.tv_sec;
    return 0;
}

void ctl_hal(ctl_agent *a, ks_auth_hal *hal)
{
    hal->ctx = a;
    hal->rtc = hal_rtc;
    hal->rng = hal_rng;
    hal->seal = hal_seal;
    hal->mono = hal_mono;
}
