/*
 * sup_tls.c - see sup_tls.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define MAX_CHAIN 8

typedef struct tls_pair {
    gnutls_pcert_st pcert[MAX_CHAIN];
    unsigned int npcert;
    gnutls_privkey_t key;
    uint8_t pin[KS_TLS_PIN_SIZE];
    int64_t expires;
    struct tls_pair *older; /* superseded pairs, freed with the sup_tls */
} tls_pair;

struct sup_tls {
    pthread_mutex_t lock;
    tls_pair *cur;
};

static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static sup_tls *active;

static void pair_free(tls_pair *p)
{
    while (p) {
        tls_pair *next = p->older;
        for (unsigned i = 0; i < p->npcert; i++)
            gnutls_pcert_deinit(&p->pcert[i]);
        if (p->key)
            gnutls_privkey_deinit(p->key);
        free(p);
        p = next;
    }
}

/* The leaf's pin, expiry and a check that the key is the leaf's key. */
static int pair_check(tls_pair *p, const char *cert_path, char *err, size_t errlen)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_x509_crt_t crt = NULL;
    uint8_t kid[KS_TLS_PIN_SIZE];
    size_t n = sizeof kid, m = sizeof p->pin;
    int rc, ret = -1;

    if ((rc = gnutls_pubkey_init(&pub)) < 0 || (rc = gnutls_pubkey_import_privkey(pub, p->key, 0, 0)) < 0 ||
        (rc = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, kid, &n)) < 0) {
        snprintf(err, errlen, "cannot read the public half of the key: %s", gnutls_strerror(rc));
        goto cleanup;
    }
    if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
        (rc = gnutls_x509_crt_import(crt, &p->pcert[0].cert, GNUTLS_X509_FMT_DER)) < 0 ||
        (rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, p->pin, &m)) < 0) {
        snprintf(err, errlen, "%s: cannot read the certificate: %s", cert_path, gnutls_strerror(rc));
        goto cleanup;
    }
    if (n != m || memcmp(kid, p->pin, n) != 0) {
        snprintf(err, errlen, "the key does not belong to the certificate %s (first certificate "
                 "in the file must be the server's own)", cert_path);
        goto cleanup;
    }
    p->expires = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
    ret = 0;
cleanup:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (pub)
        gnutls_pubkey_deinit(pub);
    return ret;
}

static tls_pair *pair_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    gnutls_datum_t c = {NULL, 0}, k = {NULL, 0};
    tls_pair *p = calloc(1, sizeof *p);
    int rc;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if ((rc = gnutls_load_file(cert_path, &c)) < 0) {
        snprintf(err, errlen, "%s: cannot read the certificate: %s", cert_path, gnutls_strerror(rc));
        goto fail;
    }
    if ((rc = gnutls_load_file(key_path, &k)) < 0) {
        snprintf(err, errlen, "%s: cannot read the key: %s", key_path, gnutls_strerror(rc));
        goto fail;
    }
    p->npcert = MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(p->pcert, &p->npcert, &c, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || p->npcert == 0) {
        p->npcert = 0;
        snprintf(err, errlen, "%s: not a PEM certificate (chain of at most %d): %s", cert_path,
                 MAX_CHAIN, rc < 0 ? gnutls_strerror(rc) : "empty");
        goto fail;
    }
    if ((rc = gnutls_privkey_init(&p->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(p->key, &k, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: not an unencrypted PEM private key: %s", key_path,
                 gnutls_strerror(rc));
        goto fail;
    }
    if (pair_check(p, cert_path, err, errlen))
        goto fail;
    goto done; /* an expired pair still loads: the caller warns (sup_tls_expires) */
fail:
    pair_free(p);
    p = NULL;
done:
    if (k.data) {
        gnutls_memset(k.data, 0, k.size);
        gnutls_free(k.data);
    }
    gnutls_free(c.data);
    return p;
}

int sup_tls_open(sup_tls **out, const char *cert_path, const char *key_path, char *err,
                size_t errlen)
{
    sup_tls *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->cur = pair_load(cert_path, key_path, err, errlen);
    if (!t->cur) {
        free(t);
        return -1;
    }
    pthread_mutex_init(&t->lock, NULL);
    *out = t;
    return 0;
}

int sup_tls_reload(sup_tls *t, const char *cert_path, const char *key_path, char *err,
                  size_t errlen)
{
    tls_pair *p = pair_load(cert_path, key_path, err, errlen);
    if (!p)
        return -1;
    pthread_mutex_lock(&t->lock);
    p->older = t->cur;
    t->cur = p;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void sup_tls_free(sup_tls *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&active_lock);
    if (active == t)
        active = NULL;
    pthread_mutex_unlock(&active_lock);
    pair_free(t->cur);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void sup_tls_activate(sup_tls *t)
{
    pthread_mutex_lock(&active_lock);
    active = t;
    pthread_mutex_unlock(&active_lock);
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
                    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    tls_pair *p = NULL;
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)algos;
    (void)nalgos;
    pthread_mutex_lock(&active_lock);
    if (active) {
        pthread_mutex_lock(&active->lock);
        p = active->cur;
        pthread_mutex_unlock(&active->lock);
    }
    pthread_mutex_unlock(&active_lock);
    if (!p)
        return -1; /* no certificate: the handshake fails */
    *pcert = p->pcert;
    *pcert_length = p->npcert;
    *privkey = p->key;
    return 0;
}

void *sup_tls_callback(void)
{
    /* Object and function pointers share a representation on every
     * platform libmicrohttpd supports; memcpy keeps -pedantic quiet. */
    gnutls_certificate_retrieve_function2 *fn = retrieve;
    void *v;
    _Static_assert(sizeof v == sizeof fn, "function and object pointers differ in size");
    memcpy(&v, &fn, sizeof v);
    return v;
}

void sup_tls_pin(sup_tls *t, char out[KS_TLS_PIN_TEXT])
{
    pthread_mutex_lock(&t->lock);
    ks_tls_pin_format(out, t->cur->pin);
    pthread_mutex_unlock(&t->lock);
}

int64_t sup_tls_expires(sup_tls *t)
{
    int64_t e;
    pthread_mutex_lock(&t->lock);
    e = t->cur->expires;
    pthread_mutex_unlock(&t->lock);
    return e;
}
