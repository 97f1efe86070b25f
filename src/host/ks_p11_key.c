/*
 * ks_p11_key.c - the Ed25519 key on a PKCS#11 token: find it, make it,
 * sign with it (ks_p11.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "ks_p11_int.h"
#include "ks_sodium.h"

/* The curve as PKCS#11 v3.0 names it: the OID 1.3.101.112 in DER, or the
 * PrintableString "edwards25519" some older modules use. */
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t name_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
                                       '2', '5', '5', '1', '9'};

static int is_ed25519(const uint8_t *p, CK_ULONG n)
{
    return (n == sizeof oid_ed25519 && memcmp(p, oid_ed25519, n) == 0) ||
           (n == sizeof name_ed25519 && memcmp(p, name_ed25519, n) == 0);
}

/* CKA_EC_POINT: DER OCTET STRING (04 20 || pk) per v3.0, raw 32 bytes in
 * some modules. */
static int ec_point(const uint8_t *p, CK_ULONG n, uint8_t pk[KS_PUBKEY_SIZE])
{
    if (n == KS_PUBKEY_SIZE + 2 && p[0] == 0x04 && p[1] == KS_PUBKEY_SIZE)
        p += 2;
    else if (n != KS_PUBKEY_SIZE)
        return -1;
    memcpy(pk, p, KS_PUBKEY_SIZE);
    return 0;
}

/* Up to 2 objects of class cls matching the URI's label/id (or an explicit id). */
static int find(ks_p11 *t, CK_OBJECT_CLASS cls, const CK_ATTRIBUTE *id, CK_OBJECT_HANDLE *h,
                CK_ULONG *n)
{
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG k = 0;
    CK_ATTRIBUTE_PTR a;
    CK_RV rv;

    tmpl[k++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
    if ((a = p11_kit_uri_get_attribute(t->uri, CKA_LABEL)) != NULL)
        tmpl[k++] = *a;
    if (id)
        tmpl[k++] = *id;
    else if ((a = p11_kit_uri_get_attribute(t->uri, CKA_ID)) != NULL)
        tmpl[k++] = *a;
    *n = 0;
    rv = t->m->C_FindObjectsInit(t->sess, tmpl, k);
    if (rv == CKR_OK) {
        rv = t->m->C_FindObjects(t->sess, h, 2, n);
        t->m->C_FindObjectsFinal(t->sess);
    }
    if (rv != CKR_OK)
        return ks_p11_fail(t, ks_p11_rv_err(rv), "token '%s': C_FindObjects: %s", t->label,
                           p11_kit_strerror(rv));
    return KS_OK;
}

static int read_pub(ks_p11 *t, CK_OBJECT_HANDLE pub, uint8_t pk[KS_PUBKEY_SIZE])
{
    uint8_t point[80];
    CK_ATTRIBUTE a = {CKA_EC_POINT, point, sizeof point};
    CK_RV rv = t->m->C_GetAttributeValue(t->sess, pub, &a, 1);
    if (rv != CKR_OK)
        return ks_p11_fail(t, ks_p11_rv_err(rv), "token '%s': reading the public key: %s",
                           t->label, p11_kit_strerror(rv));
    if (ec_point(point, a.ulValueLen, pk) != 0)
        return ks_p11_fail(t, KS_E_TOKEN_KEY_TYPE, "token '%s': the public key is %lu bytes, "
                           "not an Ed25519 point", t->label, (unsigned long)a.ulValueLen);
    return KS_OK;
}

int ks_p11_find_key(ks_p11 *t, uint8_t pk[KS_PUBKEY_SIZE])
{
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n;
    CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
    CK_BBOOL can_sign = CK_FALSE;
    uint8_t params[64], idbuf[256];
    CK_ATTRIBUTE at[4] = {{CKA_KEY_TYPE, &type, sizeof type},
                          {CKA_SIGN, &can_sign, sizeof can_sign},
                          {CKA_EC_PARAMS, params, sizeof params},
                          {CKA_ID, idbuf, sizeof idbuf}};
    CK_RV rv;
    int rc;

    if (!t->have_sess)
        return KS_E_INVAL;
    t->have_key = 0;
    if ((rc = find(t, CKO_PRIVATE_KEY, NULL, h, &n)) != KS_OK)
        return rc;
    if (n == 0)
        return ks_p11_fail(t, KS_E_TOKEN_KEY_MISSING, "token '%s' holds no private key with "
                           "the URI's object=/id=", t->label);
    if (n > 1)
        return ks_p11_fail(t, KS_E_TOKEN_KEY_MISSING, "token '%s' holds several private keys "
                           "matching the URI: add object= or id= to name one", t->label);
    /* Attributes a key does not have come back with length -1: fetch one at
     * a time so a missing CKA_EC_PARAMS (an RSA key) is a type error. */
    for (int i = 0; i < 4; i++) {
        rv = t->m->C_GetAttributeValue(t->sess, h[0], &at[i], 1);
        if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
            at[i].ulValueLen = (CK_ULONG)-1;
        else if (rv != CKR_OK)
            return ks_p11_fail(t, ks_p11_rv_err(rv), "token '%s': reading the key: %s",
                               t->label, p11_kit_strerror(rv));
    }
    if (type != CKK_EC_EDWARDS || at[2].ulValueLen == (CK_ULONG)-1 ||
        !is_ed25519(params, at[2].ulValueLen))
        return ks_p11_fail(t, KS_E_TOKEN_KEY_TYPE, "token '%s': the key is %s, not Ed25519",
                           t->label, type == CKK_EC_EDWARDS ? "Ed448" :
                           type == CKK_RSA ? "RSA" : type == CKK_EC ? "ECDSA" : "of another type");
    if (!can_sign)
        return ks_p11_fail(t, KS_E_TOKEN_KEY_TYPE, "token '%s': the key may not sign (CKA_SIGN "
                           "false)", t->label);
    t->priv = h[0];
    /* Its public half: the same id when the key has one, else the URI's label. */
    {
        CK_ATTRIBUTE idattr = {CKA_ID, idbuf, at[3].ulValueLen};
        int has_id = at[3].ulValueLen != (CK_ULONG)-1 && at[3].ulValueLen > 0;
        if ((rc = find(t, CKO_PUBLIC_KEY, has_id ? &idattr : NULL, h, &n)) != KS_OK)
            return rc;
    }
    if (n != 1)
        return ks_p11_fail(t, KS_E_TOKEN_KEY_MISSING, "token '%s': the private key's public key "
                           "object is %s", t->label, n ? "ambiguous" : "missing");
    if ((rc = read_pub(t, h[0], pk)) != KS_OK)
        return rc;
    memcpy(t->pk, pk, sizeof t->pk);
    t->have_key = 1;
    return KS_OK;
}

int ks_p11_public_key(ks_p11 *t, uint8_t pk[KS_PUBKEY_SIZE])
{
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n;
    CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
    uint8_t params[64];
    CK_ATTRIBUTE at[2] = {{CKA_KEY_TYPE, &type, sizeof type},
                          {CKA_EC_PARAMS, params, sizeof params}};
    int rc;

    if (!t->have_sess)
        return KS_E_INVAL;
    if ((rc = find(t, CKO_PUBLIC_KEY, NULL, h, &n)) != KS_OK)
        return rc;
    if (n != 1)
        return ks_p11_fail(t, KS_E_TOKEN_KEY_MISSING, "token '%s' holds %s public key matching "
                           "the URI's object=/id=", t->label, n ? "more than one" : "no");
    if (t->m->C_GetAttributeValue(t->sess, h[0], at, 2) != CKR_OK || type != CKK_EC_EDWARDS ||
        !is_ed25519(params, at[1].ulValueLen))
        return ks_p11_fail(t, KS_E_TOKEN_KEY_TYPE, "token '%s': the key is not Ed25519",
                           t->label);
    return read_pub(t, h[0], pk);
}

int ks_p11_keygen(ks_p11 *t, uint8_t pk[KS_PUBKEY_SIZE])
{
    CK_MECHANISM mech = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_KEY_TYPE kt = CKK_EC_EDWARDS;
    CK_ATTRIBUTE_PTR label = p11_kit_uri_get_attribute(t->uri, CKA_LABEL);
    CK_ATTRIBUTE_PTR id = p11_kit_uri_get_attribute(t->uri, CKA_ID);
    CK_ATTRIBUTE pub[7], priv[9];
    CK_ULONG np = 0, nv = 0, n = 0;
    CK_OBJECT_HANDLE hpub, hpriv, h[2];
    CK_RV rv;
    int rc;

    if (!t->have_sess)
        return KS_E_INVAL;
    if (!label)
        return ks_p11_fail(t, KS_E_INVAL, "the URI needs object=LABEL to name the new key");
    if ((rc = find(t, CKO_PRIVATE_KEY, NULL, h, &n)) != KS_OK)
        return rc;
    if (n > 0)
        return ks_p11_fail(t, KS_E_INVAL, "token '%s' already holds a key with this label; "
                           "choose another object=", t->label);
    pub[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    pub[np++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof kt};
    pub[np++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof yes};
    pub[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_ed25519, sizeof oid_ed25519};
    pub[np++] = *label;
    priv[nv++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof kt};
    priv[nv++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof no};
    priv[nv++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof yes};
    priv[nv++] = *label;
    if (id) {
        pub[np++] = *id;
        priv[nv++] = *id;
    }
    rv = t->m->C_GenerateKeyPair(t->sess, &mech, pub, np, priv, nv, &hpub, &hpriv);
    if (rv != CKR_OK)
        return ks_p11_fail(t, ks_p11_rv_err(rv), "token '%s': C_GenerateKeyPair(Ed25519): %s",
                           t->label, p11_kit_strerror(rv));
    if ((rc = read_pub(t, hpub, pk)) != KS_OK)
        return rc;
    t->priv = hpriv;
    memcpy(t->pk, pk, sizeof t->pk);
    t->have_key = 1;
    return KS_OK;
}

int ks_p11_sign(ks_p11 *t, uint8_t sig[KS_SIG_SIZE], const uint8_t *msg, size_t len)
{
    CK_MECHANISM mech = {CKM_EDDSA, NULL, 0}; /* no params: pure Ed25519 */
    CK_ULONG siglen = KS_SIG_SIZE;
    CK_RV rv;
    int rc = KS_OK;

    if (!t->have_key)
        return KS_E_INVAL;
    pthread_mutex_lock(&t->lock);
    /* Steady state: the kept session and key handle, two calls per
     * signature. Only after a removal does this open and log in again. */
    if ((rc = ks__p11_ensure_session(t)) != KS_OK)
        goto out;
    rv = t->m->C_SignInit(t->sess, &mech, t->priv);
    if (rv == CKR_OK)
        rv = t->m->C_Sign(t->sess, (CK_BYTE_PTR)msg, (CK_ULONG)len, sig, &siglen);
    if (rv != CKR_OK)
        rc = ks_p11_fail(t, ks_p11_rv_err(rv), "token '%s': C_Sign: %s", t->label,
                         p11_kit_strerror(rv));
    else if (siglen != KS_SIG_SIZE)
        rc = ks_p11_fail(t, KS_E_TOKEN_KEY_TYPE, "token '%s': a %lu-byte signature, not "
                         "Ed25519's 64", t->label, (unsigned long)siglen);
    ks__p11_after_fail(t, rc);
out:
    pthread_mutex_unlock(&t->lock);
    if (rc)
        memset(sig, 0, KS_SIG_SIZE);
    return rc;
}

static int p11_sign_op(void *ctx, uint8_t sig[64], const uint8_t *msg, size_t len,
                       const uint8_t sk[64])
{
    (void)sk; /* the secret stays on the token */
    return ks_p11_sign(ctx, sig, msg, len) == KS_OK ? 0 : -1;
}

int ks_p11_crypto(ks_p11 *t, ks_crypto *c)
{
    int rc = ks_sodium_crypto(c);
    if (rc)
        return rc;
    c->ctx = t;
    c->sign = p11_sign_op;
    return KS_OK;
}
