/*
 * sup_http_tls.h - how keysupd listens: the --listen address (IPv4 or
 * [IPv6]:port), the plain-HTTP rule, and the TLS options for
 * libmicrohttpd. sup_http_start (sup_http.c) uses it.
 */
#ifndef KEYSUP_KS_HTTP_TLS_H
#define KEYSUP_KS_HTTP_TLS_H

#include <microhttpd.h>
#include <sys/socket.h>

#include "sup.h"
#include "ks_tlspin.h"

typedef struct sup_listen {
    struct sockaddr_storage addr;
    int v6;        /* an IPv6 address */
    int any6;      /* "::": dual stack */
    int loopback;  /* 127.0.0.0/8 or ::1 */
    unsigned port;
} sup_listen;

/* "1.2.3.4:8750", "[::1]:8750", "[::]:0". 0 ok, else -1 and err. */
int sup_listen_parse(const char *text, sup_listen *out, char *err, size_t errlen);

#define KS_HTTP_TLS_OPTS 4

/*
 * Everything about the listener before MHD_start_daemon: parses the
 * address, loads the certificate (s->tls) when tls_cert is set, refuses
 * plain HTTP off loopback unless allow_plain_http, and fills *flags (extra
 * MHD flags) and opts (an MHD_OPTION_ARRAY list, END-terminated).
 */
int sup_http_listen_setup(sup_ctx *s, sup_listen *l, unsigned *flags,
                         struct MHD_OptionItem opts[KS_HTTP_TLS_OPTS], char *err, size_t errlen);

/* SIGHUP: re-reads tls_cert/tls_key from cfg_path (NULL: DIR/keysupd.conf)
 * unless overridden, and swaps the pair. Logs the outcome either way. */
int sup_http_tls_reload(sup_ctx *s, const char *cfg_path, const char *cert_override,
                       const char *key_override);

/* The pin being served ("sha256//..."), or "" on plain HTTP. */
void sup_http_tls_pin(sup_ctx *s, char out[KS_TLS_PIN_TEXT]);

/*
 * The provisioning token as given to the operator: the stored token, then
 * ".<64 hex>" of the TLS pin when serving HTTPS, so the controller checks
 * the supervisor from its very first request (docs/controller.md).
 */
void sup_http_tls_token(sup_ctx *s, const char *tok, char *out, size_t n);
#define KS_PROV_TOKEN_MAX 160

/* 0 when args (a JSON object) has "pin": a well-formed sha256//BASE64. */
int sup_tls_pin_arg_ok(json_t *args);

#endif
