/*
 * ks_p11.h - Ed25519 keys that never leave a PKCS#11 token (USB dongle,
 * smart card, HSM), reached through p11-kit and named by RFC 7512 pkcs11:
 * URIs.
 *
 * A URI names the module (module-path= or module-name=; without either,
 * every module p11-kit has registered is searched), the token (token=,
 * serial=, model=, manufacturer=) and the key (object= label, id=).
 * pin-value= is refused: a URI travels on command lines and in config
 * files, and a PIN must not (callers take it from a file, a prompt or the
 * environment).
 *
 * Errors are the token KSE codes (ks_base.h, KSE-207..213); each call also
 * leaves a one-line detail (the PKCS#11 return value, the token label) in
 * ks_p11_detail(), for the operator's message.
 *
 * Thread safety: one ks_p11 may sign from several threads (keysupd's
 * publisher and its API threads); ks_p11_sign serialises on the handle,
 * because a PKCS#11 session runs one operation at a time.
 */
#ifndef KEYSUP_KS_P11_H
#define KEYSUP_KS_P11_H

#include <keysup/ks_base.h>

typedef struct ks_p11 ks_p11;

/* Is this string a pkcs11: URI (as opposed to a key file path)? */
int ks_p11_is_uri(const char *s);

/* Parses uri only (no module is loaded): KS_OK, or KS_E_INVAL with why in
 * msg (not a pkcs11: URI, malformed, or carrying pin-value=). */
int ks_p11_uri_check(const char *uri, char *msg, size_t msglen);

/*
 * Parses uri, loads and initialises the module(s), finds the token and
 * opens a read/write session. *out is set (and must be closed) even on
 * failure, so ks_p11_detail can say why; NULL only when out of memory.
 *   KS_E_INVAL          not a pkcs11: URI, or it carries pin-value=
 *   KS_E_TOKEN_MODULE   module missing or fails to initialise
 *   KS_E_TOKEN_ABSENT   no token matching the URI is present
 */
int ks_p11_open(const char *uri, ks_p11 **out);

/* Logs the user in. pin may hold any bytes; it is not kept.
 *   KS_E_TOKEN_PIN_WRONG, KS_E_TOKEN_PIN_LOCKED, KS_E_TOKEN_REMOVED */
int ks_p11_login(ks_p11 *t, const char *pin, size_t pinlen);

/*
 * Finds the Ed25519 private key the URI names and its public key.
 *   KS_E_TOKEN_KEY_MISSING  no private key with that label/id
 *   KS_E_TOKEN_KEY_TYPE     not CKK_EC_EDWARDS on edwards25519, or cannot sign
 */
int ks_p11_find_key(ks_p11 *t, uint8_t pk[KS_PUBKEY_SIZE]);

/* The public key of the URI's key, without a login (public objects need
 * none): for enrolment. KS_E_TOKEN_KEY_MISSING / KS_E_TOKEN_KEY_TYPE. */
int ks_p11_public_key(ks_p11 *t, uint8_t pk[KS_PUBKEY_SIZE]);

/*
 * Makes an Ed25519 key pair on the token (CKM_EC_EDWARDS_KEY_PAIR_GEN),
 * labelled with the URI's object= (required) and id= when given. The
 * private key is sensitive and not extractable. Refuses (KS_E_INVAL) when
 * a private key with that label already exists. Leaves it selected for
 * ks_p11_sign.
 */
int ks_p11_keygen(ks_p11 *t, uint8_t pk[KS_PUBKEY_SIZE]);

/*
 * Signs msg with the selected key (CKM_EDDSA, pure Ed25519) on the session
 * and key handle kept since open: no per-signature C_OpenSession, C_Login or
 * C_FindObjects. When the token is pulled out the signature fails with
 * KS_E_TOKEN_REMOVED (nothing signed, sig zeroed) and the dead session is
 * dropped; the next call opens a new one once the token is seated again
 * (KS_E_TOKEN_ABSENT until then), logs in through the PIN source and checks
 * that the key found is the same public key (KS_E_TOKEN_KEY_MISSING if not).
 */
int ks_p11_sign(ks_p11 *t, uint8_t sig[KS_SIG_SIZE], const uint8_t *msg, size_t len);
/*
 * Where a re-open after removal gets the PIN: fn writes at most cap bytes
 * into pin and their count into *len, and returns 0 (or not 0: no PIN). The
 * PIN is wiped after the login; the handle never keeps it. Without a
 * source, a token that needs a login stays KS_E_TOKEN_REMOVED until the
 * owner opens a new handle.
 */
typedef int (*ks_p11_pin_fn)(void *ctx, char *pin, size_t cap, size_t *len);
void ks_p11_set_pin_source(ks_p11 *t, ks_p11_pin_fn fn, void *ctx);

/*
 * A ks_crypto whose sign goes to the token: hash and verify are
 * libsodium's, sign ignores the secret-key argument (the secret never
 * leaves the token). t must outlive c.
 */
int ks_p11_crypto(ks_p11 *t, ks_crypto *c);

/* Last error's detail ("token 'alice': CKR_PIN_INCORRECT"); never NULL. */
const char *ks_p11_detail(const ks_p11 *t);

/* The error ks_p11_detail explains (KS_OK if none yet). */
int ks_p11_error(const ks_p11 *t);

/* The token's label (from its token info), "" before a token is found. */
const char *ks_p11_token_label(const ks_p11 *t);

/* Closes the session, finalises the modules this handle loaded. NULL ok. */
void ks_p11_close(ks_p11 *t);

/* A PKCS#11 return value as a keysup error (KS_OK for CKR_OK). Exposed for
 * the unit test of the mapping. */
int ks_p11_rv_err(unsigned long rv);

#endif
