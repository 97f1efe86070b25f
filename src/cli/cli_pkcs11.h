/*
 * cli_pkcs11.h - `keysup key keygen|present --pkcs11 URI`: keys held in a
 * PKCS#11 token (cli_pkcs11.c, ks_p11.h).
 */
#ifndef KEYSUP_CLI_PKCS11_H
#define KEYSUP_CLI_PKCS11_H

#include "cli_util.h"

/* Makes an Ed25519 key on the token the URI names and prints its public key. */
int key_keygen_p11(cli_ctx *cx, const char *uri, const char *pinfile);

/* The public key of the token's key named by uri (no PIN needed). */
int cli_p11_public_key(cli_ctx *cx, const char *uri, uint8_t pk[KS_PUBKEY_SIZE]);

/* Answers ch (or, with sock, a running controller's challenge for action
 * at reader) with the token's key. */
int key_present_p11(cli_ctx *cx, const char *uri, const char *pinfile, const uint8_t *ch,
                    const char *sock, const char *action, const char *reader, int session,
                    uint64_t ctr);

#endif
