/*
 * cli_tls.h - keysupd's TLS material made by the CLI: a fresh key and
 * self-signed certificate (`keysup init --san`), an operator's own pair
 * copied in (`keysup init --tls-cert/--tls-key`), and the config lines that
 * name them.
 */
#ifndef KEYSUP_CLI_TLS_H
#define KEYSUP_CLI_TLS_H

#include <stddef.h>

#define CLI_TLS_CERT_NAME "tls-cert.pem"
#define CLI_TLS_KEY_NAME "tls-key.pem"

/*
 * A new key (Ed25519 when ed25519, else ECDSA P-256) and a self-signed
 * server certificate valid for `days`, with subjectAltNames from sans
 * ("DNS:name" or "IP:address"; NULL/0: localhost, 127.0.0.1, ::1). PEM
 * files written 0600 (refusing to replace). 0 ok, else -1 and err.
 */
int cli_tls_selfsigned(const char *cert_path, const char *key_path, const char *const *sans,
                       int nsans, int ed25519, unsigned days, char *err, size_t errlen);

/* 0 when san is a well-formed "DNS:name" or "IP:address", else -1 and err. */
int cli_tls_san_check(const char *san, char *err, size_t errlen);

/* Checks an operator's pair (key matches the leaf) and copies both in (0600). */
int cli_tls_import(const char *src_cert, const char *src_key, const char *cert_path,
                   const char *key_path, char *err, size_t errlen);

/* Sets `key = value` in a keysupd.conf, replacing a (commented) line for
 * that key or appending one. */
int cli_conf_set(const char *conf, const char *key, const char *value, char *err, size_t errlen);

#endif
