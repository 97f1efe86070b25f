/*
 * test_p11.c - keys on a PKCS#11 token (ks_p11.h) against SoftHSM2, with a
 * token made by softhsm2-util in a temporary directory (SOFTHSM2_CONF):
 *   - a key made on the token signs, and libsodium verifies the signature;
 *   - a seed imported into the token signs exactly what libsodium signs
 *     with the same seed (Ed25519 is deterministic), and the token reports
 *     the public key libsodium derives;
 *   - a ks_crypto backed by the token makes a challenge response the core
 *     accepts;
 *   - the PKCS#11 return values map to the KSE causes the technician sees.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ks_p11_int.h"
#include "ks_test_util.h"

/* SoftHSM2 and the OpenSSL inside it keep allocations until exit; they are
 * not ours to free. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libsofthsm2.so\nleak:libcrypto.so\n";
}

static char dir[] = "/tmp/ks_p11_XXXXXX";
static char module[256];

static int setup(void **state)
{
    char conf[512], cmd[1024];
    FILE *f;
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
    f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", conf, 1);
    snprintf(module, sizeof module, "%s",
             access("/usr/lib/softhsm/libsofthsm2.so", R_OK) == 0
                 ? "/usr/lib/softhsm/libsofthsm2.so"
                 : "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so");
    snprintf(cmd, sizeof cmd, "softhsm2-util --init-token --free --label kt --pin 1234 "
                              "--so-pin 5678 >/dev/null");
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[600];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static ks_p11 *open_key(const char *label)
{
    char uri[512];
    ks_p11 *t = NULL;
    snprintf(uri, sizeof uri, "pkcs11:token=kt;object=%s?module-path=%s", label, module);
    assert_int_equal(ks_p11_open(uri, &t), KS_OK);
    assert_int_equal(ks_p11_login(t, "1234", 4), KS_OK);
    return t;
}

static void test_keygen_verifies_with_libsodium(void **state)
{
    uint8_t pk[32], pk2[32], sig[64], msg[100];
    ks_p11 *t;
    (void)state;
    t = open_key("gen");
    assert_int_equal(ks_p11_keygen(t, pk), KS_OK);
    randombytes_buf(msg, sizeof msg);
    assert_int_equal(ks_p11_sign(t, sig, msg, sizeof msg), KS_OK);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    msg[0] ^= 1;
    assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    ks_p11_close(t);
    /* found again by its label, same public key */
    t = open_key("gen");
    assert_int_equal(ks_p11_find_key(t, pk2), KS_OK);
    assert_memory_equal(pk, pk2, 32);
    ks_p11_close(t);
}

/* Imports seed as an Ed25519 key pair labelled label, through the handle's
 * own session (PKCS#11 v3.0: CKA_VALUE of the private key is the seed). */
static void import_seed(ks_p11 *t, const char *label, const uint8_t seed[32], const uint8_t pk[32])
{
    static const uint8_t oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    uint8_t point[34] = {0x04, 0x20};
    CK_OBJECT_CLASS cpriv = CKO_PRIVATE_KEY, cpub = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_EC_EDWARDS;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE h;
    memcpy(point + 2, pk, 32);
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &cpriv, sizeof cpriv}, {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_TOKEN, &yes, sizeof yes},     {CKA_SIGN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},   {CKA_EC_PARAMS, (void *)oid, sizeof oid},
        {CKA_VALUE, (void *)seed, 32},     {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_ATTRIBUTE pub[] = {
        {CKA_CLASS, &cpub, sizeof cpub},   {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_TOKEN, &yes, sizeof yes},     {CKA_VERIFY, &yes, sizeof yes},
        {CKA_EC_PARAMS, (void *)oid, sizeof oid}, {CKA_EC_POINT, point, sizeof point},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    assert_int_equal(t->m->C_CreateObject(t->sess, priv, sizeof priv / sizeof priv[0], &h), CKR_OK);
    assert_int_equal(t->m->C_CreateObject(t->sess, pub, sizeof pub / sizeof pub[0], &h), CKR_OK);
}

static void test_same_seed_same_signature(void **state)
{
    uint8_t seed[32], pk[32], sk[64], tpk[32], sig[64], ref[64];
    const uint8_t msg[] = "keysup: EdDSA is deterministic, so a token and libsodium agree";
    ks_p11 *t;
    (void)state;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0xA5 ^ (i * 7));
    crypto_sign_seed_keypair(pk, sk, seed);
    t = open_key("imported");
    import_seed(t, "imported", seed, pk);
    assert_int_equal(ks_p11_find_key(t, tpk), KS_OK);
    assert_memory_equal(tpk, pk, 32);
    assert_int_equal(ks_p11_sign(t, sig, msg, sizeof msg), KS_OK);
    crypto_sign_detached(ref, NULL, msg, sizeof msg, sk);
    assert_memory_equal(sig, ref, 64);
    ks_p11_close(t);
    sodium_memzero(sk, sizeof sk);
}

static void test_token_crypto_answers_challenge(void **state)
{
    uint8_t pk[32], nosk[64] = {0}, ch[KS_CHALLENGE_SIZE], resp[KS_RESPONSE_SIZE];
    ks_crypto c;
    ks_p11 *t;
    (void)state;
    t = open_key("gen");
    assert_int_equal(ks_p11_find_key(t, pk), KS_OK);
    assert_int_equal(ks_p11_crypto(t, &c), KS_OK);
    memcpy(nosk + 32, pk, 32);
    randombytes_buf(ch, sizeof ch);
    assert_int_equal(ks_response_make(&c, ch, 42, pk, nosk, resp), KS_OK);
    /* the core (libsodium's verify) accepts what the token signed */
    assert_int_equal(ks_response_verify(&c, resp, pk), 0);
    resp[30] ^= 1;
    assert_int_not_equal(ks_response_verify(&c, resp, pk), 0);
    ks_p11_close(t);
}

static int pin_1234(void *ctx, char *pin, size_t cap, size_t *len)
{
    int *calls = ctx;
    (*calls)++;
    if (cap < 4)
        return -1;
    memcpy(pin, "1234", 4);
    *len = 4;
    return 0;
}

/* The kept session: signatures reuse it; a token pulled out (the module
 * drops its sessions) fails that one signature with KSE-212, and the next
 * one opens a new session, logs in through the PIN source, and signs with
 * the same key. */
static void test_session_kept_and_recovered(void **state)
{
    uint8_t pk[32], sig[64], zero[64] = {0}, msg[80];
    CK_SESSION_HANDLE first;
    int calls = 0;
    ks_p11 *t;
    (void)state;
    t = open_key("gen");
    assert_int_equal(ks_p11_find_key(t, pk), KS_OK);
    first = t->sess;
    randombytes_buf(msg, sizeof msg);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ks_p11_sign(t, sig, msg, sizeof msg), KS_OK);
        assert_int_equal(t->sess, first);
    }
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);

    /* removal: the module closes the session under our feet */
    assert_int_equal(t->m->C_CloseSession(t->sess), CKR_OK);
    memset(sig, 0xAB, sizeof sig);
    assert_int_equal(ks_p11_sign(t, sig, msg, sizeof msg), KS_E_TOKEN_REMOVED);
    assert_memory_equal(sig, zero, 64);
    assert_int_equal(t->have_sess, 0);
    /* back, but nothing can give the PIN: still KSE-212, and it says why */
    assert_int_equal(ks_p11_sign(t, sig, msg, sizeof msg), KS_E_TOKEN_REMOVED);
    assert_non_null(strstr(ks_p11_detail(t), "PIN"));
    /* with a PIN source: a new session, the same key */
    ks_p11_set_pin_source(t, pin_1234, &calls);
    assert_int_equal(ks_p11_sign(t, sig, msg, sizeof msg), KS_OK);
    assert_int_equal(calls, 1);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    /* and kept again: no further login */
    assert_int_equal(ks_p11_sign(t, sig, msg, sizeof msg), KS_OK);
    assert_int_equal(calls, 1);
    ks_p11_close(t);
}

static void test_errors(void **state)
{
    char uri[512];
    uint8_t pk[32];
    ks_p11 *t = NULL;
    (void)state;
    snprintf(uri, sizeof uri, "pkcs11:token=absent?module-path=%s", module);
    assert_int_equal(ks_p11_open(uri, &t), KS_E_TOKEN_ABSENT);
    ks_p11_close(t);
    assert_int_equal(ks_p11_open("pkcs11:token=kt?module-path=/nonexistent/mod.so", &t),
                     KS_E_TOKEN_MODULE);
    ks_p11_close(t);
    assert_int_equal(ks_p11_open("pkcs11:token=kt;pin-value=1234", &t), KS_E_INVAL);
    ks_p11_close(t);
    assert_int_equal(ks_p11_open("/etc/passwd", &t), KS_E_INVAL);
    ks_p11_close(t);
    snprintf(uri, sizeof uri, "pkcs11:token=kt;object=none?module-path=%s", module);
    assert_int_equal(ks_p11_open(uri, &t), KS_OK);
    assert_int_equal(ks_p11_login(t, "9999", 4), KS_E_TOKEN_PIN_WRONG);
    assert_int_equal(ks_p11_login(t, "1234", 4), KS_OK);
    assert_int_equal(ks_p11_find_key(t, pk), KS_E_TOKEN_KEY_MISSING);
    ks_p11_close(t);
    /* the mapping the CLI and keysupd rely on */
    assert_int_equal(ks_p11_rv_err(CKR_OK), KS_OK);
    assert_int_equal(ks_p11_rv_err(CKR_DEVICE_REMOVED), KS_E_TOKEN_REMOVED);
    assert_int_equal(ks_p11_rv_err(CKR_TOKEN_NOT_PRESENT), KS_E_TOKEN_REMOVED);
    assert_int_equal(ks_p11_rv_err(CKR_SESSION_HANDLE_INVALID), KS_E_TOKEN_REMOVED);
    assert_int_equal(ks_p11_rv_err(CKR_PIN_INCORRECT), KS_E_TOKEN_PIN_WRONG);
    assert_int_equal(ks_p11_rv_err(CKR_PIN_LOCKED), KS_E_TOKEN_PIN_LOCKED);
    assert_int_equal(ks_p11_rv_err(CKR_KEY_TYPE_INCONSISTENT), KS_E_TOKEN_KEY_TYPE);
    assert_int_equal(ks_p11_rv_err(CKR_MECHANISM_INVALID), KS_E_TOKEN_KEY_TYPE);
    assert_int_equal(ks_p11_rv_err(CKR_GENERAL_ERROR), KS_E_TOKEN_MODULE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_verifies_with_libsodium),
        cmocka_unit_test(test_same_seed_same_signature),
        cmocka_unit_test(test_token_crypto_answers_challenge),
        cmocka_unit_test(test_session_kept_and_recovered),
        cmocka_unit_test(test_errors),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
