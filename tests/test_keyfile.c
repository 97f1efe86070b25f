/*
 * test_keyfile.c - the host key file (src/host/ks_keyfile.c): round trips,
 * wrong passphrase vs damage, every single-byte corruption, argon2id caps,
 * and file handling (mode 0600, no silent overwrite).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "ks_keyfile.h"

/* Cheapest cost argon2id allows: the tests are about the format. */
static const ks_kdf_cost cheap = {1u, 8u};
static const char pass[] = "correct horse battery staple";

static uint8_t seed[32];
static uint8_t want_pk[32], want_sk[64];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    crypto_sign_seed_keypair(want_pk, want_sk, seed);
    return 0;
}

static void rechecksum(uint8_t *f)
{
    crypto_generichash_blake2b(f + 136, 32, f, 136, NULL, 0);
}

static void encode_plain(uint8_t f[KS_KEYFILE_SIZE])
{
    assert_int_equal(ks_keyfile_encode(f, seed, NULL, 0, NULL), KS_OK);
}

static void encode_enc(uint8_t f[KS_KEYFILE_SIZE])
{
    assert_int_equal(ks_keyfile_encode(f, seed, pass, strlen(pass), &cheap), KS_OK);
}

static void expect(const uint8_t *f, size_t len, const char *p, int err, const char *what)
{
    uint8_t pk[32], sk[64];
    ks_diag d = {0, 0, NULL};
    int ret = ks_keyfile_parse(f, len, p, p ? strlen(p) : 0, pk, sk, &d);
    assert_int_equal(ret, err);
    if (what) {
        assert_non_null(d.what);
        assert_string_equal(d.what, what);
    }
    if (err == KS_OK) {
        assert_memory_equal(pk, want_pk, 32);
        assert_memory_equal(sk, want_sk, 64);
    } else {
        uint8_t zero[64] = {0};
        assert_memory_equal(sk, zero, 64);  /* no secret left behind on failure */
    }
}

static void test_plain_round_trip(void **state)
{
    uint8_t f[KS_KEYFILE_SIZE];
    ks_keyfile_info info;
    (void)state;
    encode_plain(f);
    assert_memory_equal(f, "KSKF", 4);
    expect(f, sizeof f, NULL, KS_OK, NULL);
    expect(f, sizeof f, "ignored for plain files", KS_OK, NULL);
    assert_int_equal(ks_keyfile_inspect(f, sizeof f, &info, NULL), KS_OK);
    assert_int_equal(info.mode, KS_KEYFILE_PLAIN);
    assert_memory_equal(info.public_key, want_pk, 32);
}

static void test_encrypted_round_trip(void **state)
{
    uint8_t f[KS_KEYFILE_SIZE], g[KS_KEYFILE_SIZE];
    ks_keyfile_info info;
    (void)state;
    encode_enc(f);
    expect(f, sizeof f, pass, KS_OK, NULL);
    /* The seed is not in the file in the clear. */
    for (size_t i = 0; i + 32 <= sizeof f; i++)
        assert_memory_not_equal(f + i, seed, 32);
    /* Fresh salt and nonce every time. */
    encode_enc(g);
    assert_memory_not_equal(f + 16, g + 16, 40);
    /* Public part readable without the passphrase. */
    assert_int_equal(ks_keyfile_inspect(f, sizeof f, &info, NULL), KS_OK);
    assert_int_equal(info.mode, KS_KEYFILE_ARGON2ID);
    assert_int_equal(info.opslimit, 1);
    assert_int_equal(info.memlimit_kib, 8);
    assert_memory_equal(info.public_key, want_pk, 32);
}

static void test_wrong_and_missing_passphrase(void **state)
{
    uint8_t f[KS_KEYFILE_SIZE];
    (void)state;
    encode_enc(f);
    expect(f, sizeof f, "correct horse battery stapler", KS_E_PASSPHRASE, "keyfile.passphrase");
    expect(f, sizeof f, "", KS_E_PASSPHRASE, "keyfile.passphrase");
    expect(f, sizeof f, NULL, KS_E_PASSPHRASE, "keyfile.passphrase_required");
}

/* Damage is always KS_E_FORMAT, never "wrong passphrase", never accepted. */
static void corrupt_sweep(const uint8_t *good, const char *p)
{
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    uint8_t f[KS_KEYFILE_SIZE];
    for (size_t i = 0; i < KS_KEYFILE_SIZE; i++)
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(f, good, KS_KEYFILE_SIZE);
            f[i] ^= flips[k];
            expect(f, sizeof f, p, KS_E_FORMAT, NULL);
        }
}

static void test_corruption_plain(void **state)
{
    uint8_t f[KS_KEYFILE_SIZE];
    (void)state;
    encode_plain(f);
    corrupt_sweep(f, NULL);
}

static void test_corruption_encrypted(void **state)
{
    uint8_t f[KS_KEYFILE_SIZE];
    (void)state;
    encode_enc(f);
    corrupt_sweep(f, pass);
}

static void test_sizes(void **state)
{
    uint8_t f[KS_KEYFILE_SIZE + 1];
    (void)state;
    encode_plain(f);
    f[KS_KEYFILE_SIZE] = 0;
    expect(f, KS_KEYFILE_SIZE - 1, NULL, KS_E_FORMAT, "keyfile.size");
    expect(f, KS_KEYFILE_SIZE + 1, NULL, KS_E_FORMAT, "keyfile.size");
    expect(f, 0, NULL, KS_E_FORMAT, "keyfile.size");
}

/* Fields a crafted file (valid checksum) could get wrong. */
static void test_crafted_fields(void **state)
{
    uint8_t f[KS_KEYFILE_SIZE];
    (void)state;

    encode_plain(f);
    memcpy(f, "KSKG", 4);
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.magic");
    encode_plain(f);
    f[4] = 2;
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.version");
    encode_plain(f);
    f[6] = 2;
    rechecksum(f);
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.mode");
    encode_plain(f);
    f[7] = 1;
    rechecksum(f);
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.reserved");
    encode_plain(f);
    f[20] = 1;
    rechecksum(f);
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.salt");
    encode_plain(f);
    f[40] = 1;
    rechecksum(f);
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.nonce");
    encode_plain(f);
    f[130] = 1;
    rechecksum(f);
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.padding");
    /* A public key that is not the seed's: plain and encrypted. */
    encode_plain(f);
    f[60] ^= 1;
    rechecksum(f);
    expect(f, sizeof f, NULL, KS_E_FORMAT, "keyfile.public_key");
    encode_enc(f);
    f[60] ^= 1;
    rechecksum(f);
    expect(f, sizeof f, pass, KS_E_FORMAT, "keyfile.public_key");
}

/* A file must not make the reader spend unbounded memory or time. */
static void test_argon2_caps(void **state)
{
    static const struct {
        uint32_t ops, mem;
        const char *what;
    } bad[] = {
        {0, 8, "keyfile.opslimit"},
        {KS_KEYFILE_OPSLIMIT_MAX + 1, 8, "keyfile.opslimit"},
        {0xffffffffu, 8, "keyfile.opslimit"},
        {1, 7, "keyfile.memlimit"},
        {1, KS_KEYFILE_MEMLIMIT_MAX_KIB + 1, "keyfile.memlimit"},
        {1, 0xffffffffu, "keyfile.memlimit"},
    };
    uint8_t f[KS_KEYFILE_SIZE];
    ks_kdf_cost c;
    ks_keyfile_info info;
    ks_diag d = {0, 0, NULL};
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        encode_enc(f);
        f[8] = (uint8_t)bad[i].ops;
        f[9] = (uint8_t)(bad[i].ops >> 8);
        f[10] = (uint8_t)(bad[i].ops >> 16);
        f[11] = (uint8_t)(bad[i].ops >> 24);
        f[12] = (uint8_t)bad[i].mem;
        f[13] = (uint8_t)(bad[i].mem >> 8);
        f[14] = (uint8_t)(bad[i].mem >> 16);
        f[15] = (uint8_t)(bad[i].mem >> 24);
        rechecksum(f);
        expect(f, sizeof f, pass, KS_E_FORMAT, bad[i].what);
        assert_int_equal(ks_keyfile_inspect(f, sizeof f, &info, &d), KS_E_FORMAT);
        /* And the writer refuses to make such a file. */
        c.opslimit = bad[i].ops;
        c.memlimit_kib = bad[i].mem;
        assert_int_equal(ks_keyfile_encode(f, seed, pass, strlen(pass), &c), KS_E_INVAL);
    }
    /* The documented caps themselves are accepted. */
    c.opslimit = KS_KEYFILE_OPSLIMIT_MAX;
    c.memlimit_kib = KS_KEYFILE_MEMLIMIT_MIN_KIB;
    assert_int_equal(ks_keyfile_encode(f, seed, pass, strlen(pass), &c), KS_OK);
    expect(f, sizeof f, pass, KS_OK, NULL);
}

static void test_files(void **state)
{
    char dir[] = "/tmp/ks_keyfile_XXXXXX", path[64];
    uint8_t pk[32], sk[64];
    struct stat st;
    ks_diag d = {0, 0, NULL};
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/k.key", dir);
    assert_int_equal(ks_keyfile_write(path, seed, pass, strlen(pass), &cheap, 0), KS_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, KS_KEYFILE_SIZE);
    assert_int_equal(ks_keyfile_load(path, pass, strlen(pass), pk, sk, &d), KS_OK);
    assert_memory_equal(sk, want_sk, 64);
    /* No silent overwrite; explicit replace works. */
    errno = 0;
    assert_int_equal(ks_keyfile_write(path, seed, NULL, 0, NULL, 0), KS_E_IO);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(ks_keyfile_load(path, NULL, 0, pk, sk, &d), KS_E_PASSPHRASE);
    assert_int_equal(ks_keyfile_write(path, seed, NULL, 0, NULL, 1), KS_OK);
    assert_int_equal(ks_keyfile_load(path, NULL, 0, pk, sk, &d), KS_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Missing file: I/O error, not a format error. */
    unlink(path);
    assert_int_equal(ks_keyfile_load(path, NULL, 0, pk, sk, &d), KS_E_IO);
    assert_int_equal(rmdir(dir), 0);  /* no temporary files left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_round_trip),
        cmocka_unit_test(test_encrypted_round_trip),
        cmocka_unit_test(test_wrong_and_missing_passphrase),
        cmocka_unit_test(test_corruption_plain),
        cmocka_unit_test(test_corruption_encrypted),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_crafted_fields),
        cmocka_unit_test(test_argon2_caps),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
