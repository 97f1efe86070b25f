/*
 * ks_answer.h - the signed envelope of a supervisor answer (docs/formats.md,
 * "Signed answer"): what a controller acts on (heartbeat answer with its
 * commands, rotation chain, time token, audit acknowledgement) is signed by
 * the supervisor key and bound to the controller and to the nonce of the
 * request that asked for it, so a proxy on the network can neither rewrite
 * it, replay an old one, nor hand one controller's answer to another.
 *
 * Signed bytes (122, after the 16-byte label "KEYSUP-ANSWER-V1"):
 *    0 controller_id u64 LE     the supervisor's id of the controller
 *    8 device_key_id [16]       key id of the controller's device key
 *   24 nonce [32]               X-Keysup-Nonce of the request, or, when the
 *                               request carried X-Keysup-Challenge (32 random
 *                               bytes of the controller's own, hex),
 *                               ks_answer_challenge(nonce, challenge)
 *   56 status u16 LE            HTTP status of the answer
 *   58 request_hash [32]        BLAKE2b-256(METHOD 0x00 PATH)
 *   90 body_hash [32]           BLAKE2b-256(answer body bytes)
 */
#ifndef KEYSUP_KS_ANSWER_H
#define KEYSUP_KS_ANSWER_H

#include "ks_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KS_ANSWER_LABEL "KEYSUP-ANSWER-V1"
#define KS_ANSWER_SIGNED_SIZE 122
#define KS_ANSWER_NONCE_SIZE 32

typedef struct ks_answer {
    uint64_t controller_id;
    uint8_t device_key_id[KS_KEYID_SIZE];
    uint8_t nonce[KS_ANSWER_NONCE_SIZE];
    uint16_t status;
    uint8_t request_hash[KS_HASH_SIZE];
    uint8_t body_hash[KS_HASH_SIZE];
} ks_answer;

#define KS_ANSWER_CHALLENGE_SIZE 32
/*
 * The nonce field of an answer to a request with a controller challenge:
 * BLAKE2b-256("KEYSUP-ANSWER-CH" || nonce || challenge). Why: the server
 * nonce reaches the controller unsigned (GET /v1/device/nonce), so someone
 * on the path can hand it the nonce of an old request and replay that
 * request's answer; the challenge is fresh randomness the controller picked
 * itself, so an old answer never binds it.
 */
void ks_answer_challenge(const ks_crypto *c, uint8_t out[KS_ANSWER_NONCE_SIZE],
                         const uint8_t nonce[KS_ANSWER_NONCE_SIZE],
                         const uint8_t challenge[KS_ANSWER_CHALLENGE_SIZE]);

/* Fills request_hash and body_hash from the request line and the body. */
void ks_answer_bind(const ks_crypto *c, ks_answer *a, const char *method, const char *path,
                    const uint8_t *body, size_t len);
/* The 122 signed bytes (without the label). */
void ks_answer_encode(const ks_answer *a, uint8_t out[KS_ANSWER_SIGNED_SIZE]);
int ks_answer_sign(const ks_crypto *c, const ks_answer *a, const uint8_t sk[KS_SECKEY_SIZE],
                   uint8_t sig[KS_SIG_SIZE]);
/* KS_OK when sig verifies with pk, else KS_E_ANSWER_NOT_AUTHENTIC. */
int ks_answer_verify_key(const ks_crypto *c, const ks_answer *a, const uint8_t sig[KS_SIG_SIZE],
                         const uint8_t pk[KS_PUBKEY_SIZE]);
/*
 * KS_OK when sig verifies with one of the keys pinned in t (its index in
 * *signer when non-NULL), else KS_E_ANSWER_NOT_AUTHENTIC.
 */
int ks_answer_verify(const ks_crypto *c, const ks_answer *a, const uint8_t sig[KS_SIG_SIZE],
                     const ks_trust *t, uint32_t *signer);

#ifdef __cplusplus
}
#endif

#endif
