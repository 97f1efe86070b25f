/*
 * ks_p11_int.h - the ks_p11 handle, shared by ks_p11.c (module, token,
 * login) and ks_p11_key.c (key lookup, generation, signing).
 */
#ifndef KEYSUP_KS_P11_INT_H
#define KEYSUP_KS_P11_INT_H

#include <pthread.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "ks_p11.h"

struct ks_p11 {
    P11KitUri *uri;
    CK_FUNCTION_LIST **mods;  /* p11_kit_modules_load_and_initialize, or NULL */
    CK_FUNCTION_LIST *single; /* a module loaded by module-path=, or NULL */
    CK_FUNCTION_LIST *m;      /* the module holding the token */
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE sess;
    int have_sess;
    CK_OBJECT_HANDLE priv;
    int have_key;
    uint8_t pk[32];           /* the selected key's public key: the same key after a re-open */
    ks_p11_pin_fn pin_fn;     /* where a re-open gets the PIN (ks_p11_session.c), or NULL */
    void *pin_ctx;
    char label[33];
    char detail[256];
    int err;                  /* the error detail[] explains */
    pthread_mutex_t lock;     /* one operation at a time on the session */
};

/* The token the URI names, in the loaded modules: sets m, slot, label.
 * KS_E_TOKEN_ABSENT / KS_E_TOKEN_MODULE (ks_p11.c). */
int ks__p11_find_token(ks_p11 *t);
/* Opens the session on t->slot (ks_p11.c). */
int ks__p11_open_session(ks_p11 *t);
/* After a failed signature: if the token went away, drops the dead session
 * so the next signature re-opens one (ks_p11_session.c). Lock held. */
void ks__p11_after_fail(ks_p11 *t, int rc);
/* Before a signature: re-opens a dropped session, logs in with the PIN
 * source and finds the same key again. KS_OK when the session is usable.
 * Lock held. */
int ks__p11_ensure_session(ks_p11 *t);

/* Records a detail line and returns err. */
int ks_p11_fail(ks_p11 *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
