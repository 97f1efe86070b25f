/*
 * ctl_tls.c - the supervisor's TLS pin on the controller (docs/controller.md).
 *
 * The pin (SHA-256 of the certificate's SubjectPublicKeyInfo) arrives with
 * the provisioning token, so the enrolment request itself already goes only
 * to the real supervisor. It is kept in flash (settings v2) and curl checks
 * it before any byte of a request is sent. With a pin the CA chain and the
 * host name are not consulted: the pin is the stronger statement, and it
 * lets a site use a self-signed certificate on a bare IP address.
 *
 * Certificate change: the supervisor sends `tls_pin` with the new pin
 * before it switches. The controller then accepts either pin; the first
 * connection that shows the new key retires the old pin, so a proxy that
 * still holds the old key stops working as soon as the switch happened.
 */
#define _POSIX_C_SOURCE 200809L
#include "ctl_tls.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "ks_httpc.h"
#include "ks_tlspin.h"
#include "ks_hex.h"

int ctl_tls_token(ctl_agent *a, const char *token, char *out, size_t n)
{
    const char *dot = strchr(token, '.');
    size_t tl = dot ? (size_t)(dot - token) : strlen(token);
    int i = 0;

    if (tl >= n)
        return -1;
    memcpy(out, token, tl);
    out[tl] = '\0';
    a->set.tls_pins = 0;
    while (dot) {
        const char *p = dot + 1, *next = strchr(p, '.');
        size_t pl = next ? (size_t)(next - p) : strlen(p);
        char h[65];
        if (i >= 2 || pl != 64)
            return -1;
        memcpy(h, p, 64);
        h[64] = '\0';
        if (ks_unhex(a->set.tls_pin[i], 32, h))
            return -1;
        a->set.tls_pins |= (uint8_t)(1u << i);
        i++;
        dot = next;
    }
    return 0;
}

static int is_https(const ctl_agent *a)
{
    return a->o.supervisor && strncmp(a->o.supervisor, "https://", 8) == 0;
}

void ctl_tls_prepare(ctl_agent *a, CURL *c)
{
    char pins[2 * KS_TLS_PIN_TEXT + 2] = "";
    if (!is_https(a))
        return; /* ks_httpc_setup already asks for TLS 1.2 at least */
#if LIBCURL_VERSION_NUM >= 0x075000
    /* A kept connection (ctl_http.c) was checked against the pin at its
     * handshake only: hand it back every 4 heartbeats, so a certificate
     * changed under it is seen (KSE-720) within that, at one handshake per
     * 4 heartbeats instead of one per request. */
    curl_easy_setopt(c, CURLOPT_MAXLIFETIME_CONN, 4L * (long)(a->o.heartbeat ? a->o.heartbeat : 5u));
#endif
    if (!(a->set.tls_pins & 3))
        return; /* no pin: curl's default CA and host name checks apply */
    for (int i = 0; i < 2; i++) {
        char one[KS_TLS_PIN_TEXT];
        if (!(a->set.tls_pins & (1u << i)))
            continue;
        ks_tls_pin_format(one, a->set.tls_pin[i]);
        if (pins[0])
            strcat(pins, ";");
        strcat(pins, one);
    }
    ks_httpc_tls(c, NULL, pins); /* the pins alone vouch for the supervisor */
    if (a->set.tls_pins & 2) {
        curl_easy_setopt(c, CURLOPT_CERTINFO, 1L); /* to see which pin the server matched */
        /* only a handshake shows the certificate: no kept connection while
         * a new pin is announced (a few heartbeats around a rotation) */
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    }
}

/* 1 when the server's leaf certificate has pin `want`. */
static int leaf_is(CURL *c, const uint8_t want[32])
{
    struct curl_certinfo *ci = NULL;
    uint8_t h[KS_TLS_PIN_SIZE];
    char err[128];
    if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
        return 0;
    for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next)
        if (strncmp(l->data, "Cert:", 5) == 0)
            return ks_tls_pin_of_cert(h, l->data + 5, strlen(l->data + 5), err, sizeof err) == 0 &&
                   sodium_memcmp(h, want, sizeof h) == 0;
    return 0;
}

void ctl_tls_done(ctl_agent *a, CURL *c, CURLcode rc)
{
    if (!is_https(a) || !(a->set.tls_pins & 3))
        return;
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
        if (!a->tls_mismatch)
            fprintf(stderr, "keysup-controller: KSE-720 TLS_PIN_MISMATCH: %s presented a TLS key "
                            "this controller has not pinned; nothing was sent to it\n",
                    a->o.supervisor);
        a->tls_mismatch = 1;
        ctl_note_refusal(a, KS_E_TLS_PIN_MISMATCH, (uint64_t)time(NULL));
        return;
    }
    if (rc != CURLE_OK)
        return; /* not a TLS verdict (timeout, refused connection) */
    if (a->tls_mismatch)
        fprintf(stderr, "keysup-controller: the supervisor's TLS key matches the pin again\n");
    a->tls_mismatch = 0;
    if ((a->set.tls_pins & 2) && leaf_is(c, a->set.tls_pin[1])) {
        /* The supervisor now serves the announced key: retire the old one. */
        memcpy(a->set.tls_pin[0], a->set.tls_pin[1], 32);
        sodium_memzero(a->set.tls_pin[1], 32);
        a->set.tls_pins = 1;
        if (ctl_settings_save(a) == KS_OK)
            fprintf(stderr, "keysup-controller: tls.pin_switched: the supervisor serves the "
                            "announced certificate; the old pin is retired\n");
    }
}

int ctl_tls_pin_cmd(ctl_agent *a, json_t *args, char *msg, size_t n)
{
    uint8_t h[KS_TLS_PIN_SIZE];
    int err;
    if (ks_tls_pin_parse(h, json_string_value(json_object_get(args, "pin")))) {
        snprintf(msg, n, "malformed tls_pin arguments (want pin: sha256//BASE64)");
        return KS_E_FORMAT;
    }
    if ((a->set.tls_pins & 1) && sodium_memcmp(h, a->set.tls_pin[0], sizeof h) == 0) {
        snprintf(msg, n, "already the current pin");
        return KS_OK;
    }
    if (!(a->set.tls_pins & 1)) {
        /* Not pinning yet (enrolled over plain HTTP or a CA): start now. */
        memcpy(a->set.tls_pin[0], h, sizeof h);
        a->set.tls_pins = 1;
        snprintf(msg, n, "pin stored; the supervisor's TLS key is checked from now on");
    } else {
        memcpy(a->set.tls_pin[1], h, sizeof h);
        a->set.tls_pins |= 2;
        snprintf(msg, n, "new pin accepted alongside the current one until the supervisor "
                         "serves it");
    }
    err = ctl_settings_save(a);
    if (err)
        snprintf(msg, n, "cannot store the pin: %s", ks_err_name(err));
    return err;
}

json_t *ctl_tls_status(ctl_agent *a)
{
    json_t *o = json_object();
    char pin[KS_TLS_PIN_TEXT];
    json_object_set_new(o, "https", json_boolean(is_https(a)));
    if (a->set.tls_pins & 1) {
        ks_tls_pin_format(pin, a->set.tls_pin[0]);
        json_object_set_new(o, "pin", json_string(pin));
    } else {
        json_object_set_new(o, "pin", json_null());
    }
    if (a->set.tls_pins & 2) {
        ks_tls_pin_format(pin, a->set.tls_pin[1]);
        json_object_set_new(o, "next_pin", json_string(pin));
    }
    json_object_set_new(o, "pin_mismatch", json_boolean(a->tls_mismatch));
    return o;
}
