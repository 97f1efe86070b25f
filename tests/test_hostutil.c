/*
 * test_hostutil.c - the host helpers the CLI, keysupd and the controller
 * share (issue 15): hex (one helper instead of sodium's at each call) and
 * the passphrase reader (`keysup`, `keysupd init`).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ks_fileio.h"
#include "ks_hex.h"
#include "ks_passphrase.h"
#include "ks_test_util.h"

/* An output path that names a device or a FIFO (/dev/null, /dev/stdout)
 * is written in place: the atomic rename would replace the node itself. */
static void test_write_special(void **state)
{
    (void)state;
    struct stat st;
    char dir[] = "/tmp/ks-hostutil.XXXXXX", fifo[64], reg[64], got[8] = {0};
    assert_non_null(mkdtemp(dir));
    assert_int_equal(ks_file_write_atomic("/dev/null", "abc", 3, 0644, 1), KS_OK);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    FILE *r = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(ks_file_write_atomic(fifo, "xyz", 3, 0600, 1) == KS_OK ? 0 : 1);
    r = fopen(fifo, "r");
    assert_non_null(r);
    assert_int_equal(fread(got, 1, sizeof got, r), 3);
    fclose(r);
    assert_memory_equal(got, "xyz", 3);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    /* without replace an existing node is refused, not opened */
    assert_int_not_equal(ks_file_write_atomic(fifo, "q", 1, 0600, 0), KS_OK);
    /* a regular file is still replaced atomically */
    snprintf(reg, sizeof reg, "%s/reg", dir);
    assert_int_equal(ks_file_write_atomic(reg, "one", 3, 0600, 1), KS_OK);
    assert_int_equal(ks_file_write_atomic(reg, "two", 3, 0600, 1), KS_OK);
    r = fopen(reg, "r");
    assert_non_null(r);
    assert_int_equal(fread(got, 1, sizeof got, r), 3);
    fclose(r);
    assert_memory_equal(got, "two", 3);
    unlink(reg);
    unlink(fifo);
    rmdir(dir);
}

static void test_hex(void **state)
{
    (void)state;
    const uint8_t b[3] = {0x00, 0xab, 0xFF};
    uint8_t out[4];
    char h[7];
    size_t n = 99;
    ks_hex(h, b, 3);
    assert_string_equal(h, "00abff");
    assert_int_equal(ks_unhex(out, 3, "00ABff"), 0);
    assert_memory_equal(out, b, 3);
    assert_int_equal(ks_unhex(out, 3, "00abf"), -1);   /* short */
    assert_int_equal(ks_unhex(out, 3, "00abff00"), -1); /* long */
    assert_int_equal(ks_unhex(out, 3, "00abfg"), -1);   /* not hex */
    assert_int_equal(ks_unhex(out, 3, NULL), -1);
    /* any even length up to max, as the key's answer (its length judged later) */
    assert_int_equal(ks_unhex_upto(out, 4, "00abff", &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ks_unhex_upto(out, 4, "", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ks_unhex_upto(out, 4, "00abf", &n), -1);       /* odd */
    assert_int_equal(ks_unhex_upto(out, 2, "00abff", &n), -1);      /* over max */
    assert_int_equal(ks_unhex_upto(out, 4, "zz", &n), -1);
    assert_int_equal(ks_unhex_upto(out, 4, NULL, &n), -1);
}

static char *write_tmp(const char *text, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ks_pass_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void test_passphrase(void **state)
{
    (void)state;
    char *pass = NULL, msg[256];
    size_t len = 0;
    char *f = write_tmp("open sesame\r\nsecond line\n", 26);
    assert_int_equal(ks_passphrase_read(f, &pass, &len, msg, sizeof msg), KS_OK);
    assert_int_equal(len, 11); /* the first line, without CR LF */
    assert_memory_equal(pass, "open sesame", 11);
    ks_passphrase_free(pass, len);
    unlink(f);

    f = write_tmp("\n", 1);
    assert_int_equal(ks_passphrase_read(f, &pass, &len, msg, sizeof msg), KS_E_PASSPHRASE);
    assert_non_null(strstr(msg, "is empty"));
    unlink(f);

    static char big[KS_PASSPHRASE_MAX + 2];
    memset(big, 'x', sizeof big);
    f = write_tmp(big, sizeof big);
    assert_int_equal(ks_passphrase_read(f, &pass, &len, msg, sizeof msg), KS_E_FORMAT);
    unlink(f);

    assert_int_equal(ks_passphrase_read("/nonexistent/pass", &pass, &len, msg, sizeof msg),
                     KS_E_IO);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(msg, "/nonexistent/pass"));

    unsetenv("KEYSUP_PASSPHRASE");
    assert_int_equal(ks_passphrase_read(NULL, &pass, &len, msg, sizeof msg), KS_OK);
    assert_null(pass); /* none given: the caller decides */
    setenv("KEYSUP_PASSPHRASE", "from env", 1);
    assert_int_equal(ks_passphrase_read(NULL, &pass, &len, msg, sizeof msg), KS_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(pass, "from env", 8);
    ks_passphrase_free(pass, len);
    setenv("KEYSUP_PASSPHRASE", "", 1);
    assert_int_equal(ks_passphrase_read(NULL, &pass, &len, msg, sizeof msg), KS_E_PASSPHRASE);
    big[KS_PASSPHRASE_MAX + 1] = '\0';
    setenv("KEYSUP_PASSPHRASE", big, 1);
    assert_int_equal(ks_passphrase_read(NULL, &pass, &len, msg, sizeof msg), KS_E_INVAL);
    unsetenv("KEYSUP_PASSPHRASE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_write_special),
        cmocka_unit_test(test_passphrase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
