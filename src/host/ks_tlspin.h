/*
 * ks_tlspin.h - TLS public key pins, shared by keysupd, the CLI and the
 * controller agent (docs/api.md, "TLS").
 *
 * A pin is the SHA-256 of a certificate's DER SubjectPublicKeyInfo, written
 * "sha256//" + standard base64 (the form curl's CURLOPT_PINNEDPUBLICKEY and
 * `curl --pinnedpubkey` take). Pinning the key, not the certificate, lets an
 * operator renew a certificate on the same key without touching controllers.
 */
#ifndef KEYSUP_KS_TLSPIN_H
#define KEYSUP_KS_TLSPIN_H

#include <stddef.h>
#include <stdint.h>

#define KS_TLS_PIN_SIZE 32
#define KS_TLS_PIN_TEXT 54 /* "sha256//" + 44 base64 + NUL */

/* "sha256//BASE64" of a 32-byte hash. */
void ks_tls_pin_format(char out[KS_TLS_PIN_TEXT], const uint8_t h[KS_TLS_PIN_SIZE]);
/* Parses "sha256//BASE64" (exactly 32 bytes). 0 ok, -1 malformed. */
int ks_tls_pin_parse(uint8_t h[KS_TLS_PIN_SIZE], const char *text);
/* Pin of the first certificate in a PEM (or DER) buffer. 0 ok, else -1 and
 * a reason in err. */
int ks_tls_pin_of_cert(uint8_t h[KS_TLS_PIN_SIZE], const void *cert, size_t len, char *err,
                       size_t errlen);
/* Same, reading the certificate from a file. */
int ks_tls_pin_of_file(uint8_t h[KS_TLS_PIN_SIZE], const char *path, char *err, size_t errlen);

#endif
