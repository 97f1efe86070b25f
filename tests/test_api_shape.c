/*
 * test_api_shape.c - the operator API's one JSON shape (api_shape.c,
 * docs/api.md "Conventions"): KSE codes as "KSE-NNN", points in time as
 * unix seconds *_at with *_at_utc, durations *_ms kept, none as null.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sup_shape.h"

static void test_incident_row(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:i,s:s,s:I,s:I,s:n,s:I,s:I,s:n,s:{s:i},s:[{s:I,s:s}]}", "code", 301,
                          "symbol", "STORE_CORRUPT", "first_evidence_ms",
                          (json_int_t)1800000000250LL, "detected_ms", (json_int_t)1800000001999LL,
                          "resolved_ms", "mttd_ms", (json_int_t)1749, "heartbeat_interval_ms",
                          (json_int_t)1000, "mttr_ms", "symptoms", "KSE-202", 3, "actions",
                          "ts_ms", (json_int_t)1800000002000LL, "actor", "x");
    sup_api_shape(o);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "KSE-301");
    assert_int_equal(json_integer_value(json_object_get(o, "kse_number")), 301);
    assert_null(json_object_get(o, "detected_ms"));
    assert_int_equal(json_integer_value(json_object_get(o, "detected_at")), 1800000001);
    assert_string_equal(json_string_value(json_object_get(o, "detected_at_utc")),
                        "2027-01-15T08:00:01Z");
    assert_int_equal(json_integer_value(json_object_get(o, "first_evidence_at")), 1800000000);
    assert_true(json_is_null(json_object_get(o, "resolved_at")));
    assert_true(json_is_null(json_object_get(o, "resolved_at_utc")));
    /* durations keep their unit */
    assert_int_equal(json_integer_value(json_object_get(o, "mttd_ms")), 1749);
    assert_int_equal(json_integer_value(json_object_get(o, "heartbeat_interval_ms")), 1000);
    assert_true(json_is_null(json_object_get(o, "mttr_ms")));
    assert_null(json_object_get(o, "mttr_at"));
    json_t *a = json_array_get(json_object_get(o, "actions"), 0);
    assert_int_equal(json_integer_value(json_object_get(a, "ts_at")), 1800000002);
    json_decref(o);
}

static void test_seconds_and_no_end(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:I,s:i,s:i,s:I,s:n,s:s,s:s}", "created_at", (json_int_t)1700000000,
                          "valid_until", 0, "valid_from", 0, "last_seen", (json_int_t)1700000000,
                          "acked_at", "code", "BAD_REQUEST", "state", "active");
    sup_api_shape(o);
    assert_string_equal(json_string_value(json_object_get(o, "created_at_utc")),
                        "2023-11-14T22:13:20Z");
    assert_int_equal(json_integer_value(json_object_get(o, "created_at")), 1700000000);
    assert_true(json_is_null(json_object_get(o, "valid_until")));
    assert_true(json_is_null(json_object_get(o, "valid_until_utc")));
    assert_true(json_is_null(json_object_get(o, "valid_from")));
    assert_string_equal(json_string_value(json_object_get(o, "last_seen_utc")),
                        "2023-11-14T22:13:20Z");
    assert_true(json_is_null(json_object_get(o, "acked_at_utc")));
    /* a string code (an error's) is not touched, nor a number without a symbol */
    assert_string_equal(json_string_value(json_object_get(o, "code")), "BAD_REQUEST");
    json_decref(o);
    o = json_pack("{s:i}", "code", 5);
    sup_api_shape(o);
    assert_int_equal(json_integer_value(json_object_get(o, "code")), 5);
    json_decref(o);
}

static void test_scope(void **state)
{
    (void)state;
    assert_true(sup_api_shape_applies("/v1/incidents"));
    assert_true(sup_api_shape_applies("/v1/keys/abc"));
    assert_false(sup_api_shape_applies("/v1/device/heartbeat"));
    assert_false(sup_api_shape_applies("/metrics"));
    assert_false(sup_api_shape_applies(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incident_row),
        cmocka_unit_test(test_seconds_and_no_end),
        cmocka_unit_test(test_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
