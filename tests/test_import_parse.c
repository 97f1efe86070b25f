/*
 * test_import_parse.c - the bulk import file reader (sup_import_parse.c):
 * CSV quoting, CRLF, comments, BITn privileges, JSON lines with arrays and
 * integers, and every bad line reported with its number and reason.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ks_sodium.h"
#include "sup_csvcell.h"
#include "sup_import.h"

static ks_crypto C;
#define PK1 "1111111111111111111111111111111111111111111111111111111111111111"
#define PK2 "2222222222222222222222222222222222222222222222222222222222222222"

static int has_error(const sup_import *im, uint32_t line, const char *needle)
{
    for (size_t i = 0; i < im->nerr; i++)
        if (im->err[i].line == line && strstr(im->err[i].reason, needle))
            return 1;
    return 0;
}

static void test_csv_good(void **state)
{
    const char *t = "# staff\r\nlabel,public_key,privileges,scope,valid_until,holder\r\n"
                    "\"till 1, \"\"north\"\"\"," PK1 ",OPERATOR|SUPERVISOR BIT40,3,0,7\r\n"
                    "\r\n"
                    "door," PK2 ",,,,\n";
    sup_import im;
    (void)state;
    assert_int_equal(sup_import_parse(&C, t, strlen(t), &im), KS_OK);
    assert_int_equal(im.nerr_total, 0);
    assert_int_equal(im.n, 2);
    assert_false(im.jsonl);
    for (size_t i = 0; i < 2; i++) {
        const sup_imp_row *r = &im.rows[i];
        if (r->line == 3) {
            assert_string_equal(sup_import_label(&im, r), "till 1, \"north\"");
            assert_int_equal(r->privileges, 1 | 2 | (1ull << 40));
            assert_int_equal(r->scope, 3);
            assert_int_equal(r->holder_id, 7);
        } else {
            assert_int_equal(r->line, 5);
            assert_string_equal(sup_import_label(&im, r), "door");
            assert_int_equal(r->privileges, 0);
            assert_int_equal(r->holder_id, 0);
        }
    }
    sup_import_free(&im);
}

static void test_csv_bad(void **state)
{
    const char *t = "public_key,scope,valid_from,valid_until,colour\n";
    const char *u = "public_key,scope,valid_from,valid_until\n"
                    PK1 ",4294967296,0,0\n"         /* 2: scope too big */
                    PK2 ",1,10,5\n"                 /* 3: window */
                    "abc,1,0,0\n"                   /* 4: short key */
                    PK1 ",1,0\n"                    /* 5: field count */
                    "\"" PK2 ",1,0,0\n"             /* 6: open quote */
                    PK2 ",1,0,0\n"                  /* 7: good */
                    PK2 ",2,0,0\n";                 /* 8: repeats 7 */
    sup_import im;
    (void)state;
    assert_int_equal(sup_import_parse(&C, t, strlen(t), &im), KS_OK);
    assert_true(has_error(&im, 1, "unknown column 'colour'"));
    sup_import_free(&im);
    assert_int_equal(sup_import_parse(&C, u, strlen(u), &im), KS_OK);
    assert_int_equal(im.nerr_total, 6);
    assert_true(has_error(&im, 2, "scope"));
    assert_true(has_error(&im, 3, "valid_until must be after"));
    assert_true(has_error(&im, 4, "64 hex"));
    assert_true(has_error(&im, 5, "3 fields where the header has 4"));
    assert_true(has_error(&im, 6, "unterminated"));
    assert_true(has_error(&im, 8, "repeats line 7"));
    for (size_t i = 1; i < im.nerr; i++) /* in line order */
        assert_true(im.err[i - 1].line <= im.err[i].line);
    assert_int_equal(im.n, 1); /* the repeat is dropped, line 7 kept */
    assert_int_equal(im.rows[0].line, 7);
    sup_import_free(&im);
}

static void test_jsonl(void **state)
{
    const char *t = "# exported\n{\"public_key\":\"" PK1 "\",\"privileges\":[\"VOID\",\"REFUND\"],"
                    "\"scope\":2,\"holder_id\":null,\"label\":\"x\"}\n"
                    "{\"public_key\":\"" PK2 "\",\"privileges\":\"VOID\",\"scope\":\"2\"}\n"
                    "{\"public_key\":\"" PK2 "\",\"colour\":1}\n"
                    "[1]\n"
                    "{\"public_key\":\"" PK1 "\",\"scope\":-3}\n";
    sup_import im;
    (void)state;
    assert_int_equal(sup_import_parse(&C, t, strlen(t), &im), KS_OK);
    assert_true(im.jsonl); /* the comment line before the first object is skipped */
    assert_true(has_error(&im, 4, "unknown field 'colour'"));
    assert_true(has_error(&im, 5, "not a JSON object"));
    assert_true(has_error(&im, 6, "wrong type"));
    assert_false(has_error(&im, 2, ""));
    assert_false(has_error(&im, 3, ""));
    assert_int_equal(im.n, 2);
    assert_int_equal(im.rows[0].privileges, im.rows[1].privileges | 16);
    sup_import_free(&im);
}

static void test_empty_and_no_header(void **state)
{
    sup_import im;
    (void)state;
    assert_int_equal(sup_import_parse(&C, "", 0, &im), KS_OK);
    assert_true(has_error(&im, 1, "no header"));
    sup_import_free(&im);
    assert_int_equal(sup_import_parse(&C, "label\nx\n", 8, &im), KS_OK);
    assert_true(has_error(&im, 1, "no public_key column"));
    assert_int_equal(im.n, 0);
    sup_import_free(&im);
}

/* The export's formula escape (sup_csvcell.h) comes off on import: one
 * apostrophe before = + - @ (after any others), nothing else touched. */
static void test_csv_formula_escape(void **state)
{
    const char *t = "public_key,label\n" PK1 ",'=HYPERLINK(\"x\")\n" PK2 ",''+1\n";
    const char *u = "public_key,label\n" PK1 ",'abc\n" PK2 ",=raw\n";
    sup_import im;
    (void)state;
    assert_int_equal(sup_import_parse(&C, t, strlen(t), &im), KS_OK);
    assert_int_equal(im.n, 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(sup_import_label(&im, &im.rows[i]),
                            im.rows[i].line == 2 ? "=HYPERLINK(\"x\")" : "'+1");
    sup_import_free(&im);
    assert_int_equal(sup_import_parse(&C, u, strlen(u), &im), KS_OK);
    assert_int_equal(im.n, 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(sup_import_label(&im, &im.rows[i]),
                            im.rows[i].line == 2 ? "'abc" : "=raw");
    sup_import_free(&im);
    assert_true(sup_csv_needs_quote("=x", 2) && sup_csv_needs_quote("''@x", 4) &&
                sup_csv_needs_quote("\tx", 2) && sup_csv_needs_quote("-1", 2));
    assert_false(sup_csv_needs_quote("'x", 2) || sup_csv_needs_quote("x=", 2) ||
                 sup_csv_needs_quote("", 0) || sup_csv_needs_quote("'", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_good),
        cmocka_unit_test(test_csv_bad),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_csv_formula_escape),
        cmocka_unit_test(test_empty_and_no_header),
    };
    ks_sodium_crypto(&C);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
