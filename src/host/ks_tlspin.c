/*
 * ks_tlspin.c - see ks_tlspin.h. GnuTLS parses the certificate; libsodium
 * does the base64.
 */
#define _POSIX_C_SOURCE 200809L
#include "ks_tlspin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

void ks_tls_pin_format(char out[KS_TLS_PIN_TEXT], const uint8_t h[KS_TLS_PIN_SIZE])
{
    memcpy(out, "sha256//", 8);
    sodium_bin2base64(out + 8, KS_TLS_PIN_TEXT - 8, h, KS_TLS_PIN_SIZE,
                      sodium_base64_VARIANT_ORIGINAL);
}

int ks_tls_pin_parse(uint8_t h[KS_TLS_PIN_SIZE], const char *text)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char back[KS_TLS_PIN_TEXT];
    size_t got = 0;
    /* 32 bytes are 43 base64 digits and one '='; anything else is refused
     * before decoding (libsodium skips over some bytes above 0x7f). */
    if (!text || strncmp(text, "sha256//", 8) != 0 || strlen(text + 8) != 44 ||
        strspn(text + 8, b64) != 43 || text[51] != '=')
        return -1;
    if (sodium_base642bin(h, KS_TLS_PIN_SIZE, text + 8, 44, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || got != KS_TLS_PIN_SIZE)
        return -1;
    /* One text per pin: the last digit's unused bits must be zero. */
    ks_tls_pin_format(back, h);
    return strcmp(back, text) == 0 ? 0 : -1;
}

/* 1 when the buffer looks like PEM (has a "-----BEGIN" line). */
static int is_pem(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i + 10 <= len; i++)
        if (p[i] == '-' && memcmp(p + i, "-----BEGIN", 10) == 0)
            return 1;
    return 0;
}

int ks_tls_pin_of_cert(uint8_t h[KS_TLS_PIN_SIZE], const void *cert, size_t len, char *err,
                       size_t errlen)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)cert, (unsigned)len};
    size_t n = KS_TLS_PIN_SIZE;
    int rc, ret = -1;

    if (len > 1u << 20) {
        snprintf(err, errlen, "certificate larger than 1 MiB");
        return -1;
    }
    if ((rc = gnutls_x509_crt_init(&crt)) < 0)
        goto fail;
    rc = gnutls_x509_crt_import(crt, &d, is_pem(cert, len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER);
    if (rc < 0)
        goto fail;
    /* GnuTLS's key id with SHA-256 is the hash of the DER SubjectPublicKeyInfo. */
    rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, h, &n);
    if (rc < 0 || n != KS_TLS_PIN_SIZE)
        goto fail;
    ret = 0;
    goto cleanup;
fail:
    snprintf(err, errlen, "not a readable X.509 certificate: %s",
             rc < 0 ? gnutls_strerror(rc) : "unexpected key id size");
cleanup:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return ret;
}

int ks_tls_pin_of_file(uint8_t h[KS_TLS_PIN_SIZE], const char *path, char *err, size_t errlen)
{
    gnutls_datum_t d = {NULL, 0};
    int rc = gnutls_load_file(path, &d), ret;
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, gnutls_strerror(rc));
        return -1;
    }
    ret = ks_tls_pin_of_cert(h, d.data, d.size, err, errlen);
    if (ret) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "%s: %s", path, tmp);
    }
    gnutls_free(d.data);
    return ret;
}
