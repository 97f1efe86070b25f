/*
 * sup_keyview.c - the signing key copy for answers (sup_keyview.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sup_keyview.h"

struct sup_keyview {
    pthread_mutex_t mu;
    uint8_t sk[KS_SECKEY_SIZE];
    uint8_t pk[KS_PUBKEY_SIZE];
    int set;
};

int sup_keyview_new(sup_ctx *s)
{
    struct sup_keyview *v = calloc(1, sizeof *v);
    if (!v)
        return KS_E_NOSPC;
    pthread_mutex_init(&v->mu, NULL);
    s->keyview = v;
    return KS_OK;
}

void sup_keyview_free(sup_ctx *s)
{
    struct sup_keyview *v = s->keyview;
    if (!v)
        return;
    sodium_memzero(v->sk, sizeof v->sk);
    pthread_mutex_destroy(&v->mu);
    free(v);
    s->keyview = NULL;
}

void sup_keyview_set(sup_ctx *s)
{
    struct sup_keyview *v = s->keyview;
    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    memcpy(v->sk, s->sk, sizeof v->sk);
    memcpy(v->pk, s->pk, sizeof v->pk);
    v->set = 1;
    pthread_mutex_unlock(&v->mu);
}

void sup_keyview_get(sup_ctx *s, uint8_t sk[KS_SECKEY_SIZE], uint8_t pk[KS_PUBKEY_SIZE])
{
    struct sup_keyview *v = s->keyview;
    if (v) {
        pthread_mutex_lock(&v->mu);
        if (v->set) {
            memcpy(sk, v->sk, KS_SECKEY_SIZE);
            memcpy(pk, v->pk, KS_PUBKEY_SIZE);
            pthread_mutex_unlock(&v->mu);
            return;
        }
        pthread_mutex_unlock(&v->mu);
    }
    pthread_mutex_lock(&s->lock);
    memcpy(sk, s->sk, KS_SECKEY_SIZE);
    memcpy(pk, s->pk, KS_PUBKEY_SIZE);
    pthread_mutex_unlock(&s->lock);
}
