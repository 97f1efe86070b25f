/*
 * sup_signer.h - where keysupd's signing key lives: a key file or a
 * PKCS#11 token (docs/keys-hardware.md). Everything that signs (snapshots,
 * deltas, rotation records, signed answers, time tokens) goes through
 * s->crypto.sign with the 64-byte key in s->sk, so the backend is chosen
 * by that one callback and those 64 bytes:
 *
 *   file key:   s->sk = seed || public key (libsodium signs);
 *   token key:  s->sk = 32 zero bytes || public key, a handle: the
 *               callback finds the token holding that public key and the
 *               token signs. The secret never enters keysupd's memory.
 *
 * A rotation may sign with a file key and a token key in one record; both
 * stay usable because every token opened stays open until sup_close.
 */
#ifndef KEYSUP_SUP_SIGNER_H
#define KEYSUP_SUP_SIGNER_H

#include "sup.h"

/* Installs the dispatching sign op in s->crypto (idempotent). */
int sup_signer_init(sup_ctx *s);

/*
 * Opens the token uri names, logs in with the PIN (signing_key_pin_file,
 * else $KEYSUP_PIN), finds its Ed25519 key and keeps the token open for
 * signing. Fills pk and the handle form of sk. KSE token codes on failure,
 * with the detail in err.
 */
int sup_signer_token(sup_ctx *s, const char *uri, uint8_t pk[KS_PUBKEY_SIZE],
                     uint8_t sk[KS_SECKEY_SIZE], char *err, size_t errlen);

/* Is sk the handle of a token key? */
int sup_signer_is_token(const uint8_t sk[KS_SECKEY_SIZE]);

/*
 * Rotates to the key uri names on a token (NULL: a new key file, as
 * sup_sigkey_rotate): one rotation record signed by the active key and the
 * new one, whichever backend each lives in (sup_sigkey.c).
 */
int sup_sigkey_rotate_to(sup_ctx *s, const char *uri, int64_t *new_seq, char *err,
                         size_t errlen);

/*
 * keysupd.conf's `signing_key = pkcs11:...`: at start, when the URI's key
 * has never been a supervisor key here, rotate to it. A URI that was
 * adopted once and rotated away from since is not adopted again (a warning
 * is logged): otherwise every restart would undo the operator's rotation.
 */
int sup_sigkey_adopt(sup_ctx *s, char *err, size_t errlen);

/* Closes every token (sup_close). */
void sup_signer_free(sup_ctx *s);

#endif
