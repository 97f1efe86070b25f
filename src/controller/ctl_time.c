/*
 * ctl_time.c - the time the agent's own bookkeeping runs on (issue 17
 * row 7). Snapshot and delta expiry, the last-sync age (KSE-110) and the
 * expiry condition (KSE-702) used to read the raw RTC: with the RTC a year
 * ahead, every snapshot after the clock was corrected was still refused as
 * expired, so no revocation ever arrived again. Once the supervisor's
 * signed time has anchored the engine's clock, that trusted time is used.
 */
#define _POSIX_C_SOURCE 200809L
#include "ctl_agent.h"

uint64_t ctl_now(ctl_agent *a, int *trusted)
{
    uint64_t now = 0;
    int rc = KS_E_RTC_FAILURE;
    if (a->auth_ready)
        rc = ks_auth_now(&a->auth, &now);
    if (trusted)
        *trusted = rc == KS_OK;
    if (a->auth_ready && (a->auth.clock & KS_CLOCK_ANCHORED) && now)
        return now; /* anchored: the supervisor's time carried forward, even if judged off */
    return ctl_rtc(a);
}
