/*
 * sup_tls.h - keysupd's TLS certificate: the pair libmicrohttpd hands to
 * GnuTLS for every new handshake, swapped in place on SIGHUP.
 *
 * libmicrohttpd asks for the certificate through a GnuTLS retrieve callback
 * (MHD_OPTION_HTTPS_CERT_CALLBACK) at each handshake, so a reload only has
 * to change which pair the callback returns: connections in flight keep the
 * pair they started with, new ones get the new pair, none is dropped. A
 * superseded pair stays allocated until sup_tls_free (a handshake may still
 * hold it; reloads are rare, so this costs a few KiB per reload).
 *
 * One TLS daemon per process: GnuTLS's callback has no user pointer, so the
 * active sup_tls is process-wide (sup_tls_activate).
 */
#ifndef KEYSUP_KS_TLS_H
#define KEYSUP_KS_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "ks_tlspin.h"

typedef struct sup_tls sup_tls;

/* TLS 1.2 is the floor; GnuTLS's NORMAL set above it. */
#define KS_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Loads the certificate (PEM, may be a chain, leaf first) and its key;
 * checks they belong together. err gets a one-line reason. */
int sup_tls_open(sup_tls **out, const char *cert_path, const char *key_path, char *err,
                size_t errlen);
/* Loads a new pair and, only if it is good, makes it the one served. On
 * failure the old pair stays and err says why. */
int sup_tls_reload(sup_tls *t, const char *cert_path, const char *key_path, char *err,
                  size_t errlen);
void sup_tls_free(sup_tls *t);
/* Makes t the pair the GnuTLS callback serves (NULL: none). */
void sup_tls_activate(sup_tls *t);
/* The callback to give libmicrohttpd (a gnutls_certificate_retrieve_function2). */
void *sup_tls_callback(void);
/* Pin ("sha256//...") and expiry (unix seconds) of the pair being served. */
void sup_tls_pin(sup_tls *t, char out[KS_TLS_PIN_TEXT]);
int64_t sup_tls_expires(sup_tls *t);

#endif
