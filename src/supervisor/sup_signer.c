/*
 * sup_signer.c - keysupd's signing backends behind s->crypto.sign: a key
 * file's secret signed by libsodium, or a key held in a PKCS#11 token
 * (sup_signer.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "ks_p11.h"
#include "sup_signer.h"

#define SIGNER_TOKENS 8 /* tokens one run may use: each rotation adds at most one */
#define PIN_MAX 256

typedef struct signer_token {
    ks_p11 *t;
    uint8_t pk[KS_PUBKEY_SIZE];
} signer_token;

struct sup_signer {
    pthread_mutex_t lock; /* the table, not the signatures (ks_p11 serialises those) */
    signer_token tok[SIGNER_TOKENS];
    int n;
};

int sup_signer_is_token(const uint8_t sk[KS_SECKEY_SIZE])
{
    static const uint8_t zero[32];
    /* An all-zero seed is what randombytes never gives a key file. */
    return sodium_memcmp(sk, zero, 32) == 0;
}

static int dispatch_sign(void *ctx, uint8_t sig[64], const uint8_t *msg, size_t len,
                         const uint8_t sk[64])
{
    struct sup_signer *g = ctx;
    ks_p11 *t = NULL;
    int rc;

    if (!sup_signer_is_token(sk))
        return crypto_sign_detached(sig, NULL, msg, len, sk) == 0 ? 0 : -1;
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < g->n; i++)
        if (memcmp(g->tok[i].pk, sk + 32, KS_PUBKEY_SIZE) == 0)
            t = g->tok[i].t;
    pthread_mutex_unlock(&g->lock);
    if (!t)
        return -1;
    rc = ks_p11_sign(t, sig, msg, len);
    if (rc) {
        sup_log(KS_LOG_ERROR, "signing_key.token", "code=KSE-%d detail=\"%s\"", ks_err_kse(rc),
                ks_p11_detail(t));
        return -1;
    }
    return 0;
}

int sup_signer_init(sup_ctx *s)
{
    if (s->signer)
        return KS_OK;
    s->signer = calloc(1, sizeof *s->signer);
    if (!s->signer)
        return KS_E_NOSPC;
    pthread_mutex_init(&s->signer->lock, NULL);
    s->crypto.ctx = s->signer;
    s->crypto.sign = dispatch_sign;
    return KS_OK;
}

/* The PIN: signing_key_pin_file (first line), else $KEYSUP_PIN. */
static int read_pin(sup_ctx *s, char pin[PIN_MAX + 1], size_t *len, char *err, size_t errlen)
{
    const char *env = getenv("KEYSUP_PIN");
    char path[PATH_MAX * 2];
    ssize_t n;
    int fd;

    if (s->cfg.signing_key_pin_file[0]) {
        sup_path(s, s->cfg.signing_key_pin_file, path, sizeof path);
        fd = open(path, O_RDONLY);
        if (fd < 0) {
            snprintf(err, errlen, "signing_key_pin_file %s cannot be read", path);
            return KS_E_IO;
        }
        n = read(fd, pin, PIN_MAX);
        close(fd);
        if (n < 0) {
            snprintf(err, errlen, "signing_key_pin_file %s cannot be read", path);
            return KS_E_IO;
        }
        pin[n] = '\0';
        pin[strcspn(pin, "\r\n")] = '\0';
    } else if (env && strlen(env) <= PIN_MAX) {
        snprintf(pin, PIN_MAX + 1, "%s", env);
    } else {
        snprintf(err, errlen, "the signing key's token needs a PIN: signing_key_pin_file in "
                              "keysupd.conf, or KEYSUP_PIN");
        return KS_E_INVAL;
    }
    *len = strlen(pin);
    return KS_OK;
}

/* A token pulled out and seated again needs a new login (ks_p11_session.c):
 * the PIN is read again from where it came from, not kept in memory. */
static int pin_again(void *ctx, char *pin, size_t cap, size_t *len)
{
    char buf[PIN_MAX + 1], err[256];
    size_t n = 0;
    int rc = read_pin(ctx, buf, &n, err, sizeof err);
    if (rc == KS_OK && n <= cap)
        memcpy(pin, buf, n);
    else
        sup_log(KS_LOG_ERROR, "signing_key.pin", "detail=\"%s\"", rc ? err : "PIN too long");
    *len = n;
    sodium_memzero(buf, sizeof buf);
    return rc == KS_OK && n <= cap ? 0 : -1;
}

int sup_signer_token(sup_ctx *s, const char *uri, uint8_t pk[KS_PUBKEY_SIZE],
                     uint8_t sk[KS_SECKEY_SIZE], char *err, size_t errlen)
{
    char pin[PIN_MAX + 1];
    size_t pinlen = 0;
    ks_p11 *t = NULL;
    int rc = sup_signer_init(s);

    if (rc) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = read_pin(s, pin, &pinlen, err, errlen);
    if (rc)
        goto cleanup;
    rc = ks_p11_open(uri, &t);
    if (!rc)
        rc = ks_p11_login(t, pin, pinlen);
    if (!rc)
        rc = ks_p11_find_key(t, pk);
    if (rc) {
        if (ks_err_kse(rc))
            snprintf(err, errlen, "KSE-%d %s: %s", ks_err_kse(rc), ks_err_name(rc),
                     ks_p11_detail(t));
        else
            snprintf(err, errlen, "%s", ks_p11_detail(t));
        goto cleanup;
    }
    pthread_mutex_lock(&s->signer->lock);
    for (int i = 0; i < s->signer->n; i++)
        if (memcmp(s->signer->tok[i].pk, pk, KS_PUBKEY_SIZE) == 0)
            goto known; /* already open: keep that session, close this one */
    if (s->signer->n == SIGNER_TOKENS) {
        rc = KS_E_NOSPC;
        snprintf(err, errlen, "more than %d token keys in one run: restart keysupd",
                 SIGNER_TOKENS);
    } else {
        ks_p11_set_pin_source(t, pin_again, s);
        s->signer->tok[s->signer->n].t = t;
        memcpy(s->signer->tok[s->signer->n].pk, pk, KS_PUBKEY_SIZE);
        s->signer->n++;
        t = NULL;
    }
known:
    pthread_mutex_unlock(&s->signer->lock);
    if (!rc) {
        memset(sk, 0, 32);
        memcpy(sk + 32, pk, KS_PUBKEY_SIZE);
    }
cleanup:
    sodium_memzero(pin, sizeof pin);
    ks_p11_close(t);
    return rc;
}

void sup_signer_free(sup_ctx *s)
{
    if (!s->signer)
        return;
    for (int i = 0; i < s->signer->n; i++)
        ks_p11_close(s->signer->tok[i].t);
    pthread_mutex_destroy(&s->signer->lock);
    free(s->signer);
    s->signer = NULL;
}
