/*
 * sup_tlsgen.c - see sup_tlsgen.h. GnuTLS's X.509 API makes the certificate.
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_tlsgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>

#include "ks_fileio.h"
#include "sup_tls.h"

static const char *const loopback_sans[] = {"DNS:localhost", "IP:127.0.0.1", "IP:::1"};

/* Parses "DNS:name" (kind DNS, the name) or "IP:addr" (kind IP, 4 or 16 bytes). */
static int san_parse(const char *san, int *is_ip, unsigned char ip[16], unsigned *len, char *err,
                     size_t errlen)
{
    if (strncmp(san, "DNS:", 4) == 0) {
        const char *n = san + 4;
        if (!*n || strlen(n) > 253 || strspn(n, "abcdefghijklmnopqrstuvwxyz"
                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.*") != strlen(n)) {
            snprintf(err, errlen, "--san '%s': not a host name", san);
            return -1;
        }
        *is_ip = 0;
        *len = (unsigned)strlen(n);
        return 0;
    }
    if (strncmp(san, "IP:", 3) == 0) {
        *is_ip = 1;
        if (inet_pton(AF_INET, san + 3, ip) == 1)
            *len = 4;
        else if (inet_pton(AF_INET6, san + 3, ip) == 1)
            *len = 16;
        else {
            snprintf(err, errlen, "--san '%s': not an IPv4 or IPv6 address", san);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "--san '%s': expected DNS:NAME or IP:ADDRESS", san);
    return -1;
}

int sup_tlsgen_san_check(const char *san, char *err, size_t errlen)
{
    unsigned char ip[16];
    unsigned len;
    int is_ip;
    return san_parse(san, &is_ip, ip, &len, err, errlen);
}

static int add_san(gnutls_x509_crt_t crt, const char *san, char *err, size_t errlen)
{
    unsigned char ip[16];
    unsigned len;
    int rc, is_ip;
    if (san_parse(san, &is_ip, ip, &len, err, errlen))
        return -1;
    rc = is_ip ? gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, len,
                                                      GNUTLS_FSAN_APPEND)
               : gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, san + 4, len,
                                                      GNUTLS_FSAN_APPEND);
    if (rc < 0) {
        snprintf(err, errlen, "--san '%s': %s", san, gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

/* Exports an X.509 object as PEM into a gnutls_datum_t. */
static int write_pem(const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
    if (ks_file_write_atomic(path, d->data, d->size, 0600, 0) != KS_OK) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int sup_tlsgen_selfsigned(const char *cert_path, const char *key_path, const char *const *sans,
                       int nsans, int ed25519, unsigned days, char *err, size_t errlen)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t kd = {NULL, 0}, cd = {NULL, 0};
    unsigned char serial[16], kid[64];
    size_t kidlen = sizeof kid;
    time_t now = time(NULL);
    const char *cn;
    int rc = 0, ret = -1;

    if (!sans || nsans == 0) {
        sans = loopback_sans;
        nsans = 3;
    }
    cn = strncmp(sans[0], "DNS:", 4) == 0 ? sans[0] + 4 : "keysupd";
    if ((rc = gnutls_x509_privkey_init(&key)) < 0)
        goto gnutls_fail;
    rc = ed25519 ? gnutls_x509_privkey_generate2(key, GNUTLS_PK_EDDSA_ED25519, 256, 0, NULL, 0)
                 : gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                 0, NULL, 0);
    if (rc < 0)
        goto gnutls_fail;
    if ((rc = gnutls_x509_crt_init(&crt)) < 0 || (rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (rc = gnutls_x509_crt_set_key(crt, key)) < 0)
        goto gnutls_fail;
    randombytes_buf(serial, sizeof serial);
    serial[0] &= 0x7f; /* a positive INTEGER */
    if ((rc = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, now - 300)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                            (unsigned)strlen(cn))) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
        goto gnutls_fail;
    if ((rc = gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen)) < 0 ||
        (rc = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen)) < 0)
        goto gnutls_fail;
    for (int i = 0; i < nsans; i++)
        if (add_san(crt, sans[i], err, errlen))
            goto cleanup;
    rc = gnutls_x509_crt_sign2(crt, crt, key, ed25519 ? GNUTLS_DIG_UNKNOWN : GNUTLS_DIG_SHA256, 0);
    if (rc < 0)
        goto gnutls_fail;
    if ((rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                                &kd)) < 0 ||
        (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cd)) < 0)
        goto gnutls_fail;
    if (write_pem(key_path, &kd, err, errlen) || write_pem(cert_path, &cd, err, errlen))
        goto cleanup;
    ret = 0;
    goto cleanup;
gnutls_fail:
    snprintf(err, errlen, "cannot make the TLS certificate: %s", gnutls_strerror(rc));
cleanup:
    if (kd.data) {
        sodium_memzero(kd.data, kd.size);
        gnutls_free(kd.data);
    }
    gnutls_free(cd.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return ret;
}

int sup_tlsgen_import(const char *src_cert, const char *src_key, const char *cert_path,
                   const char *key_path, char *err, size_t errlen)
{
    sup_tls *t = NULL;
    uint8_t *c = NULL, *k = NULL;
    size_t cl = 0, kl = 0;
    int ret = -1;

    if (sup_tls_open(&t, src_cert, src_key, err, errlen))
        return -1; /* says which file and why */
    sup_tls_free(t);
    if (ks_file_read(src_cert, 1u << 20, &c, &cl) != KS_OK ||
        ks_file_read(src_key, 1u << 20, &k, &kl) != KS_OK) {
        snprintf(err, errlen, "%s: cannot read: %s", c ? src_key : src_cert, strerror(errno));
        goto cleanup;
    }
    if (ks_file_write_atomic(key_path, k, kl, 0600, 0) != KS_OK ||
        ks_file_write_atomic(cert_path, c, cl, 0600, 0) != KS_OK) {
        snprintf(err, errlen, "cannot write %s or %s: %s", key_path, cert_path, strerror(errno));
        goto cleanup;
    }
    ret = 0;
cleanup:
    if (k) {
        sodium_memzero(k, kl);
        free(k);
    }
    free(c);
    return ret;
}

int sup_conf_set(const char *conf, const char *key, const char *value, char *err, size_t errlen)
{
    uint8_t *in = NULL;
    size_t n = 0, klen = strlen(key), used = 0;
    char *out = NULL;
    int done = 0, ret = -1;

    if (ks_file_read(conf, 1u << 20, &in, &n) != KS_OK) {
        snprintf(err, errlen, "%s: cannot read: %s", conf, strerror(errno));
        return -1;
    }
    out = malloc(n + klen + strlen(value) + 8);
    if (!out) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n;) {
        size_t e = i;
        const char *l = (const char *)in + i, *p = l;
        while (e < n && in[e] != '\n')
            e++;
        if (*p == '#')
            p++;
        while (*p == ' ')
            p++;
        /* this key's line, set or commented out: replace the first one */
        if (!done && (size_t)(e - i) > klen && strncmp(p, key, klen) == 0 &&
            (p[klen] == ' ' || p[klen] == '=')) {
            used += (size_t)sprintf(out + used, "%s = %s\n", key, value);
            done = 1;
        } else {
            memcpy(out + used, l, e - i);
            used += e - i;
            out[used++] = '\n';
        }
        i = e + 1;
    }
    if (!done)
        used += (size_t)sprintf(out + used, "%s = %s\n", key, value);
    if (ks_file_write_atomic(conf, out, used, 0600, 1) != KS_OK) {
        snprintf(err, errlen, "%s: cannot write: %s", conf, strerror(errno));
        goto cleanup;
    }
    ret = 0;
cleanup:
    free(in);
    free(out);
    return ret;
}
