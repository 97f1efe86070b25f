/*
 * sup_tlsgen.h - keysupd's TLS material made at setup: a fresh key and
 * self-signed certificate (`keysupd init --san`), an operator's own pair
 * copied in (`keysupd init --tls-cert/--tls-key`), and the config lines that
 * name them. (It was the CLI's until setup moved into keysupd.)
 */
#ifndef KEYSUP_SUP_TLSGEN_H
#define KEYSUP_SUP_TLSGEN_H

#include <stddef.h>

#define SUP_TLS_CERT_NAME "tls-cert.pem"
#define SUP_TLS_KEY_NAME "tls-key.pem"

/*
 * A new key (Ed25519 when ed25519, else ECDSA P-256) and a self-signed
 * server certificate valid for `days`, with subjectAltNames from sans
 * ("DNS:name" or "IP:address"; NULL/0: localhost, 127.0.0.1, ::1). PEM
 * files written 0600 (refusing to replace). 0 ok, else -1 and err.
 */
int sup_tlsgen_selfsigned(const char *cert_path, const char *key_path, const char *const *sans,
                       int nsans, int ed25519, unsigned days, char *err, size_t errlen);

/* 0 when san is a well-formed "DNS:name" or "IP:address", else -1 and err. */
int sup_tlsgen_san_check(const char *san, char *err, size_t errlen);

/* Checks an operator's pair (key matches the leaf) and copies both in (0600). */
int sup_tlsgen_import(const char *src_cert, const char *src_key, const char *cert_path,
                   const char *key_path, char *err, size_t errlen);

/* Sets `key = value` in a keysupd.conf, replacing a (commented) line for
 * that key or appending one. */
int sup_conf_set(const char *conf, const char *key, const char *value, char *err, size_t errlen);

#endif
