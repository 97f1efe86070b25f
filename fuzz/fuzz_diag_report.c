/*
 * fuzz_diag_report.c - libFuzzer target: a controller's health report is
 * untrusted input to keysupd's diagnosis. Arbitrary bytes, as JSON, become
 * the last and the previous report; the refusal tally and the walk must
 * never crash or overflow, and their findings must stay coherent: every
 * finding names a catalogue entry, every symptom points at a root cause
 * that is present.
 */
#include <stdlib.h>
#include <string.h>

#include "sup_diag.h"
#include "../tests/diag_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* First byte picks the shape; the rest is the report's JSON. */
    if (size < 1)
        return 0;
    json_t *report = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!report)
        return 0;
    /* keysupd's default policy, the wear rule included (the tests' own) */
    sup_diag_cfg cfg = kt_diag_cfg(SUP_DIAG_WEAR_DAYS);

    sup_diag_facts f;
    memset(&f, 0, sizeof f);
    f.ctrl_id = 1;
    f.enrolled = 1;
    f.now_ms = 1800000000000LL;
    f.last_seen_ms = (data[0] & 1) ? f.now_ms - 500 : f.now_ms - 10000;
    f.interval_ms = (data[0] & 2) ? 1000 : 0;
    f.published_version = data[0] >> 4;
    memset(f.published_root, 'a', 64);
    f.report = report;
    f.report_ms = f.now_ms - 500;
    f.behind_since_ms = (data[0] & 4) ? f.now_ms - 60000 : 0;
    sup_diag_refusals(&f, (data[0] & 8) ? report : NULL, 900000);

    sup_findings o;
    sup_diag_walk(&cfg, &f, &o);
    if (o.n < 0 || o.n > KS_DIAG_MAX_FINDINGS)
        abort();
    for (int i = 0; i < o.n; i++) {
        if (!o.f[i].kse || o.f[i].kse->code != o.f[i].code)
            abort();
        /* a symptom names a root cause that is present; a policy refusal
         * under the threshold is evidence only, neither */
        if (!o.f[i].root && !o.f[i].evidence_only) {
            int found = 0;
            for (int j = 0; j < o.n; j++)
                found |= o.f[j].root && o.f[j].code == o.f[i].cause;
            if (!found)
                abort();
        }
    }
    json_decref(report);
    return 0;
}
