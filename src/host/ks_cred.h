/*
 * ks_cred.h - Replace Supervisor Credential: what binds the one-time code
 * to one supervisor key for one controller (docs/formats.md), and the key
 * fingerprint a technician compares before confirming.
 *
 * tag = Argon2id13(password = the 8-digit code,
 *                  salt = BLAKE2b-128("KEYSUP-RSC-V1" || controller_id u64 LE
 *                                     || device key id[16] || new supervisor pk[32]),
 *                  opslimit, memlimit) -> 32 bytes
 * A proxy that swaps the key, or moves the command to another controller,
 * changes the salt, so the code typed at the controller no longer matches;
 * Argon2id makes each guess of the code cost real time and memory.
 */
#ifndef KEYSUP_KS_CRED_H
#define KEYSUP_KS_CRED_H

#include <keysup/ks_base.h>

#define KS_CRED_TAG_SIZE 32
#define KS_CRED_OPS 3u              /* Argon2id passes */
#define KS_CRED_MEM_KIB 32768u      /* 32 MiB */
#define KS_CRED_OPS_MAX 10u         /* what a controller agrees to compute */
#define KS_CRED_MEM_KIB_MAX 262144u
/* "1a2b-3c4d-...": the key id (16 bytes) in eight groups of four hex digits. */
#define KS_FINGERPRINT_LEN 39

/* KS_OK, KS_E_INVAL for costs out of range, KS_E_CRYPTO when Argon2id fails
 * (out of memory). */
int ks_cred_tag(const char *code, uint64_t controller_id, const uint8_t device_key_id[16],
                const uint8_t pk[KS_PUBKEY_SIZE], uint32_t ops, uint32_t mem_kib,
                uint8_t tag[KS_CRED_TAG_SIZE]);
void ks_key_fingerprint(const ks_crypto *c, const uint8_t pk[KS_PUBKEY_SIZE],
                        char out[KS_FINGERPRINT_LEN + 1]);

#endif
