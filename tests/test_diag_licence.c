/*
 * test_diag_licence.c - what a KSE-800 finding says (sup_diag_licence_note,
 * docs/licences.md "What the diagnosis says"): from the licence part of a
 * controller's report, the licence id, the feature and the one fix for each
 * reason; the 400-byte evidence never overflows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sup_licence.h"

/* The note for a report whose "licence" object is lic_json. */
static const char *note(const char *lic_json, char *ev, size_t cap)
{
    json_error_t jerr;
    json_t *lic = json_loads(lic_json, 0, &jerr), *rep;
    assert_non_null(lic);
    rep = json_pack("{s:o}", "licence", lic);
    snprintf(ev, cap, "1 refusal(s) with LICENCE_INVALID since the last report");
    sup_diag_licence_note(rep, 3, ev, cap);
    json_decref(rep);
    return ev;
}

static void test_reasons(void **state)
{
    char ev[400];
    (void)state;
    note("{\"state\":\"none\",\"enforce\":[\"calibration\"],\"last_refusal\":{\"check\":"
         "\"licence.none\",\"features\":[\"calibration\"],\"at\":1}}", ev, sizeof ev);
    assert_non_null(strstr(ev, "ask for feature calibration: `keysup licence issue "
                               "--controller 3 --feature calibration`"));

    note("{\"state\":\"valid\",\"id\":12,\"features\":1,\"last_refusal\":{\"check\":"
         "\"licence.feature\",\"features\":[\"calibration\"],\"at\":1}}", ev, sizeof ev);
    assert_non_null(strstr(ev, "licence 12 lacks feature calibration"));
    /* the reactivation keeps the licence's features and adds the missing one */
    assert_non_null(strstr(ev, "`keysup licence reactivate 12 --feature base --feature "
                               "calibration`"));

    note("{\"state\":\"valid\",\"id\":12,\"features\":4,\"expires_at\":1700000000,"
         "\"last_refusal\":{\"check\":\"licence.expired\",\"features\":[\"calibration\"]}}",
         ev, sizeof ev);
    assert_non_null(strstr(ev, "licence 12 (feature calibration) expired at 1700000000"));
    assert_non_null(strstr(ev, "`keysup licence reactivate 12 --valid-until DATE`"));

    note("{\"state\":\"valid\",\"id\":7,\"features\":4,\"bound_key\":\"00112233445566778899aabbc"
         "cddeeff\",\"bound_window\":300,\"last_refusal\":{\"check\":\"licence.dongle\","
         "\"features\":[\"calibration\"]}}", ev, sizeof ev);
    assert_non_null(strstr(ev, "seat dongle 00112233445566778899aabbccddeeff at controller 3"));
    assert_non_null(strstr(ev, "`keysup licence reactivate 7 --bound-key NEWKEY`"));

    /* a version 1 licence has no id: the list names it */
    note("{\"state\":\"valid\",\"features\":4,\"last_refusal\":{\"check\":\"licence.expired\","
         "\"features\":[\"calibration\"]}}", ev, sizeof ev);
    assert_non_null(strstr(ev, "`keysup licence list --controller 3`"));

    note("{\"state\":\"refused\",\"id\":9,\"check\":\"licence.signature\"}", ev, sizeof ev);
    assert_non_null(strstr(ev, "licence 9 refused by the controller (licence.signature)"));
    note("{\"state\":\"valid\",\"id\":9,\"refused_update\":\"licence.signer\"}", ev, sizeof ev);
    assert_non_null(strstr(ev, "refused (licence.signer) and licence 9 stays in force"));

    /* nothing to say: the evidence is left as it was */
    note("{\"state\":\"none\"}", ev, sizeof ev);
    assert_string_equal(ev, "1 refusal(s) with LICENCE_INVALID since the last report");
}

static void test_bounded(void **state)
{
    char ev[120];
    (void)state;
    /* a long note into a short buffer is cut, never overrun (ASan watches) */
    note("{\"state\":\"valid\",\"id\":7,\"bound_key\":\"00112233445566778899aabbccddeeff\","
         "\"bound_window\":300,\"last_refusal\":{\"check\":\"licence.dongle\",\"features\":"
         "[\"base\",\"firmware\",\"calibration\",\"two_man\"]}}", ev, sizeof ev);
    assert_int_equal(strlen(ev), sizeof ev - 1);
    /* a full buffer gets nothing more */
    memset(ev, 'x', sizeof ev - 1);
    ev[sizeof ev - 1] = 0;
    {
        json_t *rep = json_pack("{s:{s:s}}", "licence", "state", "refused");
        sup_diag_licence_note(rep, 3, ev, sizeof ev);
        json_decref(rep);
    }
    assert_int_equal(strlen(ev), sizeof ev - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests_name("diag_licence", tests, NULL, NULL);
}
