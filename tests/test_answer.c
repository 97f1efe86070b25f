/*
 * test_answer.c - the signed answer envelope (docs/formats.md, "Signed
 * answer") and the Replace Supervisor Credential code tag: every byte of
 * the signed message and of the signature matters, the layout is the
 * documented one, and the tag binds code, key and controller.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ks_cred.h"
#include "ks_test_util.h"

static ks_crypto C;
static uint8_t PK[3][32], SK[3][64];

static void sample(ks_answer *a)
{
    static const uint8_t body[] = "{\"version\":7,\"commands\":[]}\n";
    memset(a, 0, sizeof *a);
    a->controller_id = 0x0102030405060708ull;
    for (int i = 0; i < KS_KEYID_SIZE; i++)
        a->device_key_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < KS_ANSWER_NONCE_SIZE; i++)
        a->nonce[i] = (uint8_t)i;
    a->status = 200;
    ks_answer_bind(&C, a, "POST", "/v1/device/heartbeat", body, sizeof body - 1);
}

/* The inverse of ks_answer_encode, for the sweep. */
static void decode(ks_answer *a, const uint8_t m[KS_ANSWER_SIGNED_SIZE])
{
    a->controller_id = ks_ld64(m);
    memcpy(a->device_key_id, m + 8, KS_KEYID_SIZE);
    memcpy(a->nonce, m + 24, KS_ANSWER_NONCE_SIZE);
    a->status = ks_ld16(m + 56);
    memcpy(a->request_hash, m + 58, KS_HASH_SIZE);
    memcpy(a->body_hash, m + 90, KS_HASH_SIZE);
}

static void test_layout(void **state)
{
    (void)state;
    ks_answer a;
    uint8_t m[KS_ANSWER_SIGNED_SIZE], h[32], sig[64];
    sample(&a);
    ks_answer_encode(&a, m);
    assert_int_equal(m[0], 0x08); /* controller_id little-endian */
    assert_int_equal(m[7], 0x01);
    assert_int_equal(m[8], 0xa0);
    assert_int_equal(m[24], 0);
    assert_int_equal(m[55], 31);
    assert_int_equal(ks_ld16(m + 56), 200);
    /* request_hash = BLAKE2b-256("POST" 0x00 "/v1/device/heartbeat") */
    static const char req[] = "POST\0/v1/device/heartbeat";
    crypto_generichash(h, 32, (const uint8_t *)req, sizeof req - 1, NULL, 0);
    assert_memory_equal(m + 58, h, 32);
    static const char body[] = "{\"version\":7,\"commands\":[]}\n";
    crypto_generichash(h, 32, (const uint8_t *)body, sizeof body - 1, NULL, 0);
    assert_memory_equal(m + 90, h, 32);
    /* The signature is plain Ed25519 over label || the 122 bytes. */
    uint8_t msg[16 + KS_ANSWER_SIGNED_SIZE];
    memcpy(msg, KS_ANSWER_LABEL, 16);
    memcpy(msg + 16, m, sizeof m);
    assert_int_equal(ks_answer_sign(&C, &a, SK[0], sig), KS_OK);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, PK[0]), 0);
}

static void test_every_byte(void **state)
{
    (void)state;
    ks_answer a, b;
    ks_trust t;
    uint8_t m[KS_ANSWER_SIGNED_SIZE], sig[64];
    uint32_t who = 9;
    int refused = 0;
    sample(&a);
    assert_int_equal(ks_answer_sign(&C, &a, SK[1], sig), KS_OK);
    ks_trust_init(&t);
    ks_trust_add(&t, &C, PK[0]);
    assert_int_equal(ks_answer_verify(&C, &a, sig, &t, NULL), KS_E_ANSWER_NOT_AUTHENTIC);
    ks_trust_add(&t, &C, PK[1]);
    assert_int_equal(ks_answer_verify(&C, &a, sig, &t, &who), KS_OK);
    assert_int_equal(who, 1);
    ks_answer_encode(&a, m);
    for (size_t i = 0; i < sizeof m; i++)
        for (int bit = 0; bit < 8; bit++) {
            m[i] ^= (uint8_t)(1u << bit);
            decode(&b, m);
            refused += ks_answer_verify(&C, &b, sig, &t, NULL) == KS_E_ANSWER_NOT_AUTHENTIC;
            m[i] ^= (uint8_t)(1u << bit);
        }
    assert_int_equal(refused, 8 * KS_ANSWER_SIGNED_SIZE);
    refused = 0;
    for (size_t i = 0; i < sizeof sig; i++) {
        sig[i] ^= 0x01;
        refused += ks_answer_verify(&C, &a, sig, &t, NULL) == KS_E_ANSWER_NOT_AUTHENTIC;
        sig[i] ^= 0x01;
    }
    assert_int_equal(refused, 64);
    printf("# envelope: %d signed bits and %d signature bytes flipped, all refused\n",
           8 * KS_ANSWER_SIGNED_SIZE, 64);
    assert_int_equal(ks_answer_verify(&C, &a, sig, &t, NULL), KS_OK);
}

static void test_binding(void **state)
{
    (void)state;
    ks_answer a, b;
    uint8_t sig[64];
    static const uint8_t body[] = "{\"version\":7,\"commands\":[]}\n";
    sample(&a);
    assert_int_equal(ks_answer_sign(&C, &a, SK[0], sig), KS_OK);
    /* Same body, other request: the rotation answer cannot stand in for a
     * heartbeat, nor a time answer for an audit acknowledgement. */
    b = a;
    ks_answer_bind(&C, &b, "GET", "/v1/device/rotation", body, sizeof body - 1);
    assert_int_equal(ks_answer_verify_key(&C, &b, sig, PK[0]), KS_E_ANSWER_NOT_AUTHENTIC);
    b = a;
    ks_answer_bind(&C, &b, "POSTX", "/v1/device/heartbeat", body, sizeof body - 1);
    assert_int_equal(ks_answer_verify_key(&C, &b, sig, PK[0]), KS_E_ANSWER_NOT_AUTHENTIC);
    /* "POST" "/v1/x" and "POST/" "v1/x" differ: the separator is signed. */
    ks_answer c1 = a, c2 = a;
    ks_answer_bind(&C, &c1, "POST", "/v1/x", NULL, 0);
    ks_answer_bind(&C, &c2, "POST/", "v1/x", NULL, 0);
    assert_memory_not_equal(c1.request_hash, c2.request_hash, 32);
    /* One byte more or less of body. */
    b = a;
    ks_answer_bind(&C, &b, "POST", "/v1/device/heartbeat", body, sizeof body - 2);
    assert_int_equal(ks_answer_verify_key(&C, &b, sig, PK[0]), KS_E_ANSWER_NOT_AUTHENTIC);
    /* Another supervisor key. */
    assert_int_equal(ks_answer_verify_key(&C, &a, sig, PK[2]), KS_E_ANSWER_NOT_AUTHENTIC);
    assert_int_equal(ks_answer_verify_key(&C, &a, sig, PK[0]), KS_OK);
}

/* The controller's challenge (X-Keysup-Challenge): an answer signed for
 * one challenge does not verify for another, nor for the plain nonce that
 * an attacker on the path could hand the controller again (field2). */
static void test_challenge(void **state)
{
    (void)state;
    ks_answer a, b;
    uint8_t sig[64], ch1[KS_ANSWER_CHALLENGE_SIZE], ch2[KS_ANSWER_CHALLENGE_SIZE];
    memset(ch1, 1, sizeof ch1);
    memset(ch2, 1, sizeof ch2);
    ch2[31] ^= 1;
    sample(&a);
    b = a;
    ks_answer_challenge(&C, a.nonce, b.nonce, ch1);
    assert_memory_not_equal(a.nonce, b.nonce, KS_ANSWER_NONCE_SIZE);
    assert_int_equal(ks_answer_sign(&C, &a, SK[0], sig), KS_OK);
    assert_int_equal(ks_answer_verify_key(&C, &a, sig, PK[0]), KS_OK);
    assert_int_equal(ks_answer_verify_key(&C, &b, sig, PK[0]), KS_E_ANSWER_NOT_AUTHENTIC);
    ks_answer c = b;
    ks_answer_challenge(&C, c.nonce, b.nonce, ch2);
    assert_int_equal(ks_answer_verify_key(&C, &c, sig, PK[0]), KS_E_ANSWER_NOT_AUTHENTIC);
}

static void test_code_tag(void **state)
{
    (void)state;
    uint8_t kid[16] = {1, 2, 3}, kid2[16] = {1, 2, 4}, t0[32], t1[32];
    const uint32_t ops = 1, mem = 8; /* cheap here; the binding is what is tested */
    assert_int_equal(ks_cred_tag("12345678", 7, kid, PK[0], ops, mem, t0), KS_OK);
    assert_int_equal(ks_cred_tag("12345678", 7, kid, PK[0], ops, mem, t1), KS_OK);
    assert_memory_equal(t0, t1, 32);
    assert_int_equal(ks_cred_tag("12345679", 7, kid, PK[0], ops, mem, t1), KS_OK);
    assert_memory_not_equal(t0, t1, 32);
    assert_int_equal(ks_cred_tag("12345678", 8, kid, PK[0], ops, mem, t1), KS_OK);
    assert_memory_not_equal(t0, t1, 32);
    assert_int_equal(ks_cred_tag("12345678", 7, kid2, PK[0], ops, mem, t1), KS_OK);
    assert_memory_not_equal(t0, t1, 32);
    assert_int_equal(ks_cred_tag("12345678", 7, kid, PK[1], ops, mem, t1), KS_OK);
    assert_memory_not_equal(t0, t1, 32);
    assert_int_equal(ks_cred_tag("12345678", 7, kid, PK[0], 2, mem, t1), KS_OK);
    assert_memory_not_equal(t0, t1, 32);
    /* A controller refuses to compute absurd costs (a forged command). */
    assert_int_equal(ks_cred_tag("1", 7, kid, PK[0], 0, mem, t1), KS_E_INVAL);
    assert_int_equal(ks_cred_tag("1", 7, kid, PK[0], KS_CRED_OPS_MAX + 1, mem, t1), KS_E_INVAL);
    assert_int_equal(ks_cred_tag("1", 7, kid, PK[0], 1, KS_CRED_MEM_KIB_MAX + 1, t1), KS_E_INVAL);
    /* The default cost runs (and is what the supervisor uses). */
    assert_int_equal(ks_cred_tag("12345678", 7, kid, PK[0], KS_CRED_OPS, KS_CRED_MEM_KIB, t1), KS_OK);
}

static void test_fingerprint(void **state)
{
    (void)state;
    char fp[KS_FINGERPRINT_LEN + 1], hex[33];
    uint8_t id[16];
    ks_key_fingerprint(&C, PK[0], fp);
    assert_int_equal(strlen(fp), KS_FINGERPRINT_LEN);
    ks_key_id(&C, id, PK[0]);
    sodium_bin2hex(hex, sizeof hex, id, sizeof id);
    for (int g = 0; g < 8; g++) {
        assert_memory_equal(fp + 5 * g, hex + 4 * g, 4);
        if (g < 7)
            assert_int_equal(fp[5 * g + 4], '-');
    }
}

int main(void)
{
    if (ks_sodium_crypto(&C) != KS_OK)
        return 1;
    for (uint32_t i = 0; i < 3; i++)
        kt_keypair(300 + i, PK[i], SK[i]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_binding),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_code_tag),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
