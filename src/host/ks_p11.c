/*
 * ks_p11.c - PKCS#11 tokens through p11-kit: the URI, the module, the
 * token, the session and the login (ks_p11.h). Keys: ks_p11_key.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_p11_int.h"

int ks_p11_fail(ks_p11 *t, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->detail, sizeof t->detail, fmt, ap);
    va_end(ap);
    t->err = err;
    return err;
}

int ks_p11_is_uri(const char *s)
{
    return s && strncmp(s, "pkcs11:", 7) == 0;
}

/*
 * What a return value means for the holder. Removal shows up under several
 * names depending on when the module notices: the device, the token, or a
 * session the module already dropped.
 */
int ks_p11_rv_err(unsigned long rv)
{
    switch (rv) {
    case CKR_OK:
        return KS_OK;
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_ERROR:
        return KS_E_TOKEN_REMOVED;
    case CKR_SLOT_ID_INVALID:
        return KS_E_TOKEN_ABSENT;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_INVALID:
    case CKR_USER_NOT_LOGGED_IN:
        return KS_E_TOKEN_PIN_WRONG;
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
        return KS_E_TOKEN_PIN_LOCKED;
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        return KS_E_TOKEN_KEY_TYPE;
    default:
        return KS_E_TOKEN_MODULE;
    }
}

static void copy_label(char out[33], const unsigned char lab[32])
{
    size_t n = p11_kit_space_strlen(lab, 32);
    memcpy(out, lab, n);
    out[n] = '\0';
}

/* Looks for the URI's token in module m; KS_OK and t->m/t->slot when found. */
static int find_in_module(ks_p11 *t, CK_FUNCTION_LIST *m)
{
    CK_INFO info;
    CK_SLOT_ID *slots = NULL, want = p11_kit_uri_get_slot_id(t->uri);
    CK_ULONG n = 0;
    CK_RV rv;
    int rc = KS_E_TOKEN_ABSENT;

    if (m->C_GetInfo(&info) != CKR_OK || !p11_kit_uri_match_module_info(t->uri, &info))
        return KS_E_TOKEN_ABSENT;
    rv = m->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK)
        return ks_p11_fail(t, KS_E_TOKEN_MODULE, "C_GetSlotList: %s", p11_kit_strerror(rv));
    if (n == 0)
        return KS_E_TOKEN_ABSENT;
    slots = calloc(n, sizeof *slots);
    if (!slots)
        return ks_p11_fail(t, KS_E_TOKEN_MODULE, "out of memory");
    rv = m->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        rc = ks_p11_fail(t, KS_E_TOKEN_MODULE, "C_GetSlotList: %s", p11_kit_strerror(rv));
        goto cleanup;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (want != (CK_SLOT_ID)-1 && slots[i] != want)
            continue;
        /* A token pulled out between the two calls is simply not there. */
        if (m->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (!p11_kit_uri_match_token_info(t->uri, &ti))
            continue;
        t->m = m;
        t->slot = slots[i];
        copy_label(t->label, ti.label);
        rc = KS_OK;
        break;
    }
cleanup:
    free(slots);
    return rc;
}

static int load_modules(ks_p11 *t)
{
    const char *path = p11_kit_uri_get_module_path(t->uri);
    CK_RV rv;

    if (path) {
        t->single = p11_kit_module_load(path, 0);
        if (!t->single)
            return ks_p11_fail(t, KS_E_TOKEN_MODULE, "module %s cannot be loaded", path);
        rv = p11_kit_module_initialize(t->single);
        if (rv != CKR_OK) {
            p11_kit_module_release(t->single);
            t->single = NULL;
            return ks_p11_fail(t, KS_E_TOKEN_MODULE, "module %s: C_Initialize: %s", path,
                               p11_kit_strerror(rv));
        }
        return KS_OK;
    }
    /* Modules that fail to start are skipped by p11-kit unless critical. */
    t->mods = p11_kit_modules_load_and_initialize(0);
    if (!t->mods)
        return ks_p11_fail(t, KS_E_TOKEN_MODULE, "p11-kit loaded no PKCS#11 module");
    return KS_OK;
}

int ks__p11_find_token(ks_p11 *t)
{
    const char *name = p11_kit_uri_get_module_name(t->uri);
    int rc = KS_E_TOKEN_ABSENT, named = 0;

    if (t->single)
        rc = find_in_module(t, t->single);
    for (size_t i = 0; rc == KS_E_TOKEN_ABSENT && t->mods && t->mods[i]; i++) {
        if (name) {
            char *mn = p11_kit_module_get_name(t->mods[i]);
            int same = mn && strcmp(mn, name) == 0;
            free(mn);
            if (!same)
                continue;
            named = 1;
        }
        rc = find_in_module(t, t->mods[i]);
    }
    if (rc == KS_E_TOKEN_ABSENT && name && !t->single && !named)
        return ks_p11_fail(t, KS_E_TOKEN_MODULE, "no PKCS#11 module named '%s' is registered "
                                                 "with p11-kit", name);
    if (rc == KS_E_TOKEN_ABSENT)
        return ks_p11_fail(t, rc, "no token matching the URI is present");
    return rc;
}

static int parse_uri(const char *s, P11KitUri *u, char *msg, size_t n)
{
    int rc;
    if (!ks_p11_is_uri(s)) {
        snprintf(msg, n, "not a pkcs11: URI (RFC 7512)");
        return KS_E_INVAL;
    }
    rc = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u);
    if (rc != P11_KIT_URI_OK) {
        snprintf(msg, n, "bad pkcs11: URI: %s", p11_kit_uri_message(rc));
        return KS_E_INVAL;
    }
    if (p11_kit_uri_get_pin_value(u)) {
        snprintf(msg, n, "the URI carries pin-value=: a PIN never goes in a URI (command lines "
                         "and config files are readable); use a PIN file, KEYSUP_PIN or the prompt");
        return KS_E_INVAL;
    }
    return KS_OK;
}

int ks_p11_uri_check(const char *uri, char *msg, size_t msglen)
{
    P11KitUri *u = p11_kit_uri_new();
    int rc;
    if (!u) {
        snprintf(msg, msglen, "out of memory");
        return KS_E_INVAL;
    }
    rc = parse_uri(uri, u, msg, msglen);
    p11_kit_uri_free(u);
    return rc;
}

int ks_p11_open(const char *uri, ks_p11 **out)
{
    ks_p11 *t = calloc(1, sizeof *t);
    int rc;

    *out = t;
    if (!t)
        return KS_E_TOKEN_MODULE;
    pthread_mutex_init(&t->lock, NULL);
    t->uri = p11_kit_uri_new();
    if (!t->uri)
        return ks_p11_fail(t, KS_E_TOKEN_MODULE, "out of memory");
    if ((rc = parse_uri(uri, t->uri, t->detail, sizeof t->detail)) != KS_OK)
        return t->err = rc;
    rc = load_modules(t);
    if (rc)
        return rc;
    rc = ks__p11_find_token(t);
    if (rc)
        return rc;
    return ks__p11_open_session(t);
}

int ks__p11_open_session(ks_p11 *t)
{
    CK_RV rv;
    rv = t->m->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->sess);
    if (rv == CKR_TOKEN_WRITE_PROTECTED)
        rv = t->m->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &t->sess);
    if (rv != CKR_OK)
        return ks_p11_fail(t, rv == CKR_TOKEN_NOT_PRESENT ? KS_E_TOKEN_ABSENT : ks_p11_rv_err(rv),
                           "token '%s': C_OpenSession: %s", t->label, p11_kit_strerror(rv));
    t->have_sess = 1;
    return KS_OK;
}

int ks_p11_login(ks_p11 *t, const char *pin, size_t pinlen)
{
    CK_TOKEN_INFO ti;
    CK_RV rv;

    if (!t->have_sess)
        return KS_E_INVAL;
    rv = t->m->C_GetTokenInfo(t->slot, &ti);
    if (rv != CKR_OK)
        return ks_p11_fail(t, KS_E_TOKEN_REMOVED, "token '%s': C_GetTokenInfo: %s", t->label,
                           p11_kit_strerror(rv));
    /* Asking a locked token again teaches nothing and some count it. */
    if (ti.flags & CKF_USER_PIN_LOCKED)
        return ks_p11_fail(t, KS_E_TOKEN_PIN_LOCKED, "token '%s': the user PIN is locked",
                           t->label);
    if (!(ti.flags & CKF_LOGIN_REQUIRED))
        return KS_OK;
    rv = t->m->C_Login(t->sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)pinlen);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return KS_OK;
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
        const char *left = "";
        if (t->m->C_GetTokenInfo(t->slot, &ti) == CKR_OK) {
            if (ti.flags & CKF_USER_PIN_LOCKED)
                return ks_p11_fail(t, KS_E_TOKEN_PIN_LOCKED, "token '%s': wrong PIN, and the "
                                   "token has now locked its user PIN", t->label);
            if (ti.flags & CKF_USER_PIN_FINAL_TRY)
                left = "; one try left before the token locks";
            else if (ti.flags & CKF_USER_PIN_COUNT_LOW)
                left = "; few tries left before the token locks";
        }
        return ks_p11_fail(t, KS_E_TOKEN_PIN_WRONG, "token '%s': %s%s", t->label,
                           p11_kit_strerror(rv), left);
    }
    return ks_p11_fail(t, ks_p11_rv_err(rv), "token '%s': C_Login: %s", t->label,
                       p11_kit_strerror(rv));
}

const char *ks_p11_detail(const ks_p11 *t)
{
    return t ? t->detail : "out of memory";
}

int ks_p11_error(const ks_p11 *t)
{
    return t ? t->err : KS_E_TOKEN_MODULE;
}

const char *ks_p11_token_label(const ks_p11 *t)
{
    return t ? t->label : "";
}

void ks_p11_close(ks_p11 *t)
{
    if (!t)
        return;
    /* No C_Logout: a login belongs to the whole application, so it would
     * also log out another handle on the same token (keysupd keeps one per
     * signing key). Closing the application's last session logs out. */
    if (t->have_sess)
        t->m->C_CloseSession(t->sess);
    if (t->single) {
        p11_kit_module_finalize(t->single);
        p11_kit_module_release(t->single);
    }
    if (t->mods)
        p11_kit_modules_finalize_and_release(t->mods);
    if (t->uri)
        p11_kit_uri_free(t->uri);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
