/*
 * test_kse.c - the KSE catalogue is complete, agrees with the core's error
 * names, and docs/errors.md is exactly what it generates.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "ks_kse.h"
#include "ks_test_util.h"

/* Every KSE code the core defines (enum ks_err, negative). */
static const int core_codes[] = {
    KS_E_COMM_LOST, KS_E_SYNC_STALE, KS_E_SITE_UNREACHABLE, KS_E_SUPERVISOR_BUSY, KS_E_HB_SESSION_UNKNOWN, KS_E_HB_REPORT_NEEDED, KS_E_KEY_ABSENT, KS_E_KEY_UNREADABLE, KS_E_KEY_UNKNOWN,
    KS_E_KEY_REVOKED, KS_E_KEY_EXPIRED, KS_E_SIGNATURE_INVALID, KS_E_CLONE_SUSPECTED,
    KS_E_TOKEN_ABSENT, KS_E_TOKEN_PIN_WRONG, KS_E_TOKEN_PIN_LOCKED, KS_E_TOKEN_KEY_MISSING,
    KS_E_TOKEN_KEY_TYPE, KS_E_TOKEN_REMOVED, KS_E_TOKEN_MODULE, KS_E_KEY_CLONED,
    KS_E_DESYNC, KS_E_STORE_CORRUPT, KS_E_MEMORY_LOST, KS_E_STALE_DENIED, KS_E_SUPERVISOR_RESTORED,
    KS_E_FLASH_WEAR, KS_E_FLASH_RETIRED,
    KS_E_PROTOCOL_MISMATCH,
    KS_E_FIRMWARE_INCOMPATIBLE, KS_E_LOCKOUT, KS_E_SESSION_EXPIRED, KS_E_NOT_SUPERVISOR,
    KS_E_PRIVILEGE_REQUIRED, KS_E_SEAL_ENGAGED, KS_E_PENDING_TRANSACTION, KS_E_CLOCK_SKEW,
    KS_E_RTC_FAILURE, KS_E_SUPERVISOR_UNTRUSTED, KS_E_ROLLBACK, KS_E_SNAPSHOT_EXPIRED,
    KS_E_ANSWER_NOT_AUTHENTIC, KS_E_VERSION_CLAIM_UNPROVED,
    KS_E_TLS_PIN_MISMATCH,
    KS_E_IDENTITY_CLONED, KS_E_IMPORT_INVALID, KS_E_IMPORT_CONFLICT,
    KS_E_DATABASE_UNREACHABLE, KS_E_SIGNING_KEY_NOT_FOLLOWED,
    KS_E_OPERATOR_LOCKED, KS_E_CONSOLE_SESSION_EXPIRED, KS_E_CSRF_REJECTED, KS_E_BAD_CREDENTIALS,
    KS_E_LICENCE_INVALID, KS_E_LICENCE_EXPIRING, KS_E_LICENCE_POLICY_OLD, KS_E_LICENCE_REPLACED,
    KS_E_HARDWARE_FAULT,
};

static void test_complete_and_consistent(void **state)
{
    (void)state;
    size_t n = sizeof core_codes / sizeof core_codes[0];
    assert_int_equal(ks_kse_count(), n);
    for (size_t i = 0; i < n; i++) {
        const ks_kse *e = ks_kse_find(-core_codes[i]);
        assert_non_null(e);
        assert_string_equal(e->symbol, ks_err_name(core_codes[i]));
        assert_int_equal(ks_err_kse(core_codes[i]), e->code);
    }
    int prev = 0;
    for (size_t i = 0; i < ks_kse_count(); i++) {
        const ks_kse *e = ks_kse_at(i);
        assert_true(e->code > prev); /* in code order, unique */
        prev = e->code;
        assert_true(strlen(e->title) > 10 && strlen(e->cause) > 40 && strlen(e->detection) > 20);
        assert_non_null(e->steps[0]);
        assert_int_equal(e->auto_repair, e->repair != NULL);
    }
    /* The causes the issue says software cannot repair name a command instead. */
    const int manual[] = {200, 207, 208, 209, 212, 504, 400, 502, 700, 710, 500, 900};
    for (size_t i = 0; i < sizeof manual / sizeof manual[0]; i++)
        assert_false(ks_kse_find(manual[i])->auto_repair);
    const int automatic[] = {300, 301, 600, 110};
    for (size_t i = 0; i < sizeof automatic / sizeof automatic[0]; i++)
        assert_true(ks_kse_find(automatic[i])->auto_repair);
}

static void test_lookup(void **state)
{
    (void)state;
    assert_int_equal(ks_kse_lookup("KSE-301")->code, 301);
    assert_int_equal(ks_kse_lookup("kse-700")->code, 700);
    assert_int_equal(ks_kse_lookup("505")->code, 505);
    assert_int_equal(ks_kse_lookup("clock_skew")->code, 600);
    /* KSE-800 is LICENCE_INVALID; its earlier spelling still finds it */
    assert_string_equal(ks_kse_lookup("LICENCE_INVALID")->symbol, "LICENCE_INVALID");
    assert_int_equal(ks_kse_lookup("license_invalid")->code, 800);
    assert_int_equal(KS_E_LICENSE_INVALID, KS_E_LICENCE_INVALID);
    assert_null(ks_kse_lookup("KSE-999"));
    assert_null(ks_kse_lookup("301x"));
    assert_null(ks_kse_lookup("NOPE"));
    assert_null(ks_kse_lookup(NULL));
}

/*
 * The three places a KSE code is written agree, read from the source rather
 * than from a list kept here: every `KS_E_NAME = -N` (N >= 100) of enum
 * ks_err in include/keysup/ks_base.h has a catalogue entry N whose symbol
 * is NAME, ks_err.c's name table says NAME for -N (and names every code
 * below 100 too), and the catalogue holds
 * nothing the enum does not. A code added to one place only fails here.
 */
static void test_enum_names_catalogue_agree(void **state)
{
    (void)state;
    FILE *f = fopen(KS_SOURCE_DIR "/include/keysup/ks_base.h", "r");
    char line[256], name[64];
    size_t seen = 0;
    int n, in_enum = 0;
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "enum ks_err {"))
            in_enum = 1;
        else if (in_enum && strstr(line, "};"))
            break;
        if (!in_enum || sscanf(line, " KS_E_%63[A-Z0-9_] = -%d", name, &n) != 2)
            continue;
        /* every core code has a name and a text in ks_err.c; a KSE code's
         * name is its enum name (the generic ones below 100 are shorter) */
        if (strcmp(ks_err_name(-n), "UNKNOWN") == 0)
            fail_msg("KS_E_%s = -%d has no name in src/core/ks_err.c", name, n);
        if (n < 100)
            continue;
        if (strcmp(ks_err_name(-n), name) != 0)
            fail_msg("ks_err.c names -%d '%s', the enum KS_E_%s", n, ks_err_name(-n), name);
        const ks_kse *e = ks_kse_find(n);
        if (!e)
            fail_msg("KS_E_%s = -%d has no entry in src/host/ks_kse.c", name, n);
        if (strcmp(e->symbol, name) != 0)
            fail_msg("KSE-%d: the catalogue says %s, the enum KS_E_%s", n, e->symbol, name);
        assert_int_equal(ks_err_kse(-n), n);
        seen++;
    }
    fclose(f);
    assert_true(in_enum);
    if (seen != ks_kse_count())
        fail_msg("the catalogue has %zu codes, enum ks_err %zu", ks_kse_count(), seen);
}

static void test_docs_current(void **state)
{
    (void)state;
    char *gen = NULL;
    size_t genlen = 0;
    FILE *m = open_memstream(&gen, &genlen);
    assert_non_null(m);
    assert_int_equal(ks_kse_write_markdown(m), 0);
    fclose(m);

    FILE *f = fopen(KS_SOURCE_DIR "/docs/errors.md", "rb");
    if (!f)
        fail_msg("docs/errors.md is missing: run `keysup error docs > docs/errors.md`");
    static char have[1 << 17];
    size_t havelen = fread(have, 1, sizeof have, f);
    fclose(f);
    if (havelen != genlen || memcmp(have, gen, genlen) != 0)
        fail_msg("docs/errors.md is out of date: run `build/bin/keysup error docs > docs/errors.md`");
    free(gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_and_consistent),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_enum_names_catalogue_agree),
        cmocka_unit_test(test_docs_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
