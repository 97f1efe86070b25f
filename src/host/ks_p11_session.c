/*
 * ks_p11_session.c - the session a ks_p11 keeps across signatures, and what
 * happens to it when the token is pulled out (KSE-212) and seated again.
 *
 * Why keep one: a signature on the kept session and key handle is two
 * module calls (C_SignInit, C_Sign). Opening per signature would add
 * C_OpenSession, C_Login and two C_FindObjects rounds, and on a real
 * dongle or smart card each of those is a round trip to the device
 * (bench/bench_hsm.c measures that cost beside the kept session).
 *
 * Why it must recover: a module invalidates every session of a token that
 * goes away; the kept handle would then fail forever, and keysupd could
 * sign nothing until restarted. So a signature that fails because the token
 * went away drops the session, and the next signature opens a new one once
 * the token is back: find the token again (its slot may have changed), log
 * in with a PIN fetched from the owner's source for that moment only, find
 * the key the URI names and check it is the same public key as before.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <sodium.h>

#include "ks_p11_int.h"

#define PIN_CAP 256

void ks_p11_set_pin_source(ks_p11 *t, ks_p11_pin_fn fn, void *ctx)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->pin_fn = fn;
    t->pin_ctx = ctx;
    pthread_mutex_unlock(&t->lock);
}

void ks__p11_after_fail(ks_p11 *t, int rc)
{
    if (rc != KS_E_TOKEN_REMOVED || !t->have_sess)
        return;
    /* The module may already have closed it; an error here changes nothing. */
    t->m->C_CloseSession(t->sess);
    t->have_sess = 0;
}

static int relogin(ks_p11 *t)
{
    char pin[PIN_CAP];
    size_t len = 0;
    int rc;

    if (!t->pin_fn)
        return ks_p11_fail(t, KS_E_TOKEN_REMOVED, "token '%s' was removed and is back, but "
                           "nothing can give its PIN again: open the key anew", t->label);
    if (t->pin_fn(t->pin_ctx, pin, sizeof pin, &len) != 0 || len > sizeof pin) {
        sodium_memzero(pin, sizeof pin);
        return ks_p11_fail(t, KS_E_TOKEN_PIN_WRONG, "token '%s' is back, but its PIN could "
                           "not be read again", t->label);
    }
    rc = ks_p11_login(t, pin, len);
    sodium_memzero(pin, sizeof pin);
    return rc;
}

int ks__p11_ensure_session(ks_p11 *t)
{
    uint8_t was[32], pk[32];
    int rc;

    if (t->have_sess)
        return KS_OK;
    if ((rc = ks__p11_find_token(t)) != KS_OK)
        return rc; /* KSE-207 while it is out: "seat the key" */
    if ((rc = ks__p11_open_session(t)) != KS_OK)
        return rc;
    memcpy(was, t->pk, sizeof was);
    rc = relogin(t);
    if (rc == KS_OK)
        rc = ks_p11_find_key(t, pk);
    if (rc == KS_OK && sodium_memcmp(pk, was, sizeof pk) != 0) {
        /* Another token under the same label: never sign with its key. */
        memcpy(t->pk, was, sizeof t->pk);
        rc = ks_p11_fail(t, KS_E_TOKEN_KEY_MISSING, "token '%s' seated again holds a different "
                         "key under the URI's name: seat the original token", t->label);
    }
    if (rc != KS_OK) {
        t->m->C_CloseSession(t->sess);
        t->have_sess = 0;
        t->have_key = 1; /* still the key we had: the next try looks again */
        return rc;
    }
    return KS_OK;
}
