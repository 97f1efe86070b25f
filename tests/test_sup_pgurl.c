/*
 * test_sup_pgurl.c - the PostgreSQL URL keysup backup/restore hand to
 * pg_dump/pg_restore carries no password (sup_pgurl.c): it is split off
 * from the userinfo or a password= parameter, percent-decoded, and the
 * rest of the URL is kept as written.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sup_pgurl.h"

static void split(const char *url, const char *want_url, const char *want_pw)
{
    char out[256], pw[64];
    assert_int_equal(sup_pgurl_split(url, out, sizeof out, pw, sizeof pw), 0);
    assert_string_equal(out, want_url);
    assert_string_equal(pw, want_pw);
}

static void test_split(void **state)
{
    (void)state;
    split("postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db", "pw");
    split("postgresql://u:p%40ss%3Aw@h/db?sslmode=require", "postgresql://u@h/db?sslmode=require",
          "p@ss:w");
    split("postgres://u@h/db?password=x%26y&sslmode=verify-full&connect_timeout=3",
          "postgres://u@h/db?sslmode=verify-full&connect_timeout=3", "x&y");
    split("postgresql://u@h/db?sslmode=disable&password=z", "postgresql://u@h/db?sslmode=disable",
          "z");
    split("postgresql://h/db", "postgresql://h/db", "");
    split("postgresql://u:@h/db", "postgresql://u@h/db", "");
    split("postgresql:///db?host=/run/pg", "postgresql:///db?host=/run/pg", "");
    /* '@' in a path or query is not userinfo */
    split("postgresql://h/db?application_name=a@b", "postgresql://h/db?application_name=a@b", "");
}

static void test_refused(void **state)
{
    char out[16], pw[4];
    (void)state;
    assert_int_equal(sup_pgurl_split("host=h dbname=d", out, sizeof out, pw, sizeof pw), -1);
    assert_int_equal(sup_pgurl_split("postgresql://u@a-very-long-host/db", out, sizeof out, pw,
                                     sizeof pw), -1);
    assert_int_equal(sup_pgurl_split("postgresql://u:longpw@h", out, sizeof out, pw, sizeof pw),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
