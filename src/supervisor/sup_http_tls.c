/*
 * sup_http_tls.c - see sup_http_tls.h.
 *
 * Why plain HTTP is refused off loopback: controllers and operators send
 * bearer tokens and act on the answers; on a site network anyone between
 * them could read the tokens and bend the answers. Loopback stays allowed
 * (tests, a reverse proxy on the same host), and allow_plain_http = yes is
 * the explicit opt-out for a site that terminates TLS elsewhere.
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_http_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_tls.h"

int sup_listen_parse(const char *text, sup_listen *out, char *err, size_t errlen)
{
    char host[128];
    const char *hs = text, *he, *ps;
    char *end;
    long port;

    memset(out, 0, sizeof *out);
    if (text[0] == '[') {
        hs = text + 1;
        he = strchr(hs, ']');
        if (!he || he[1] != ':') {
            snprintf(err, errlen, "listen '%s': expected [IPv6]:PORT", text);
            return -1;
        }
        ps = he + 2;
        out->v6 = 1;
    } else {
        he = strrchr(text, ':');
        if (!he) {
            snprintf(err, errlen, "listen '%s': expected HOST:PORT or [IPv6]:PORT", text);
            return -1;
        }
        ps = he + 1;
    }
    if ((size_t)(he - hs) >= sizeof host || he == hs) {
        snprintf(err, errlen, "listen '%s': bad address", text);
        return -1;
    }
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    port = strtol(ps, &end, 10);
    if (!*ps || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "listen '%s': the port must be 0..65535", text);
        return -1;
    }
    out->port = (unsigned)port;
    if (out->v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            snprintf(err, errlen, "listen '%s': '%s' is not an IPv6 address", text, host);
            return -1;
        }
        out->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        out->any6 = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            snprintf(err, errlen, "listen '%s': expected an IPv4 address (or [IPv6]) and a port",
                     text);
            return -1;
        }
        out->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    return 0;
}

static void warn_expiry(sup_tls *t, const char *cert)
{
    int64_t left = sup_tls_expires(t) - (int64_t)time(NULL);
    if (left <= 0)
        sup_log(KS_LOG_ERROR, "tls.expired", "cert=%s detail=\"the certificate has expired;"
               " every client will refuse it\"", cert);
    else if (left < 30 * 86400)
        sup_log(KS_LOG_WARN, "tls.expiring", "cert=%s days_left=%lld", cert,
               (long long)(left / 86400));
}

int sup_http_listen_setup(sup_ctx *s, sup_listen *l, unsigned *flags,
                         struct MHD_OptionItem opts[KS_HTTP_TLS_OPTS], char *err, size_t errlen)
{
    char cert[PATH_MAX * 2], key[PATH_MAX * 2], pin[KS_TLS_PIN_TEXT];
    size_t n = 0;

    *flags = 0;
    memset(opts, 0, sizeof(struct MHD_OptionItem) * KS_HTTP_TLS_OPTS);
    opts[0].option = MHD_OPTION_END;
    if (sup_listen_parse(s->cfg.listen, l, err, errlen))
        return KS_E_INVAL;
    if (l->v6)
        *flags |= l->any6 ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    if (!s->cfg.tls_cert[0] && !s->cfg.tls_key[0]) {
        if (!l->loopback && !s->cfg.allow_plain_http) {
            snprintf(err, errlen, "refusing plain HTTP on %s: it is not a loopback address. Set "
                     "tls_cert and tls_key (keysupd init --san ... makes them), or put "
                     "`allow_plain_http = yes` in keysupd.conf if TLS ends in front of keysupd",
                     s->cfg.listen);
            return KS_E_INVAL;
        }
        if (!l->loopback)
            sup_log(KS_LOG_WARN, "http.plain", "listen=%s detail=\"plain HTTP off loopback "
                   "(allow_plain_http = yes)\"", s->cfg.listen);
        return KS_OK;
    }
    if (!s->cfg.tls_cert[0] || !s->cfg.tls_key[0]) {
        snprintf(err, errlen, "TLS needs both tls_cert and tls_key (only %s is set)",
                 s->cfg.tls_cert[0] ? "tls_cert" : "tls_key");
        return KS_E_INVAL;
    }
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS) ||
        !MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK)) {
        snprintf(err, errlen, "this libmicrohttpd is built without HTTPS (certificate callback)");
        return KS_E_INVAL;
    }
    sup_path(s, s->cfg.tls_cert, cert, sizeof cert);
    sup_path(s, s->cfg.tls_key, key, sizeof key);
    if (sup_tls_open(&s->tls, cert, key, err, errlen))
        return KS_E_INVAL;
    sup_tls_activate(s->tls);
    warn_expiry(s->tls, cert);
    sup_tls_pin(s->tls, pin);
    sup_log(KS_LOG_INFO, "tls.loaded", "cert=%s pin=%s", cert, pin);
    *flags |= MHD_USE_TLS;
    opts[n].option = MHD_OPTION_HTTPS_CERT_CALLBACK;
    opts[n++].ptr_value = sup_tls_callback();
    opts[n].option = MHD_OPTION_HTTPS_PRIORITIES;
    opts[n++].ptr_value = (void *)(uintptr_t)KS_TLS_PRIORITIES;
    opts[n].option = MHD_OPTION_END;
    return KS_OK;
}

int sup_http_tls_reload(sup_ctx *s, const char *cfg_path, const char *cert_override,
                       const char *key_override)
{
    sup_config c;
    char path[PATH_MAX + 32], cert[PATH_MAX * 2], key[PATH_MAX * 2], err[512], pin[KS_TLS_PIN_TEXT];

    if (!s->tls) {
        sup_log(KS_LOG_WARN, "tls.reload_failed", "detail=\"keysupd started without TLS; restart "
               "it to start serving HTTPS\"");
        return -1;
    }
    sup_config_defaults(&c);
    if (!cfg_path) {
        sup_path(s, KS_SUP_CONF_NAME, path, sizeof path);
        cfg_path = path;
    }
    if ((!cert_override || !key_override) && sup_config_load(&c, cfg_path, err, sizeof err)) {
        sup_log(KS_LOG_ERROR, "tls.reload_failed", "detail=\"%s; still serving the old "
               "certificate\"", err);
        return -1;
    }
    sup_path(s, cert_override ? cert_override : c.tls_cert, cert, sizeof cert);
    sup_path(s, key_override ? key_override : c.tls_key, key, sizeof key);
    if (!(cert_override ? cert_override : c.tls_cert)[0] || !(key_override ? key_override
                                                                          : c.tls_key)[0]) {
        sup_log(KS_LOG_ERROR, "tls.reload_failed", "detail=\"tls_cert or tls_key is no longer "
               "set; still serving the old certificate\"");
        return -1;
    }
    if (sup_tls_reload(s->tls, cert, key, err, sizeof err)) {
        sup_log(KS_LOG_ERROR, "tls.reload_failed", "detail=\"%s; still serving the old "
               "certificate\"", err);
        return -1;
    }
    warn_expiry(s->tls, cert);
    sup_tls_pin(s->tls, pin);
    sup_log(KS_LOG_INFO, "tls.reloaded", "cert=%s pin=%s", cert, pin);
    return 0;
}

void sup_http_tls_pin(sup_ctx *s, char out[KS_TLS_PIN_TEXT])
{
    if (s->tls)
        sup_tls_pin(s->tls, out);
    else
        out[0] = '\0';
}

void sup_http_tls_token(sup_ctx *s, const char *tok, char *out, size_t n)
{
    char pin[KS_TLS_PIN_TEXT], hex[2 * KS_TLS_PIN_SIZE + 1];
    uint8_t h[KS_TLS_PIN_SIZE];
    sup_http_tls_pin(s, pin);
    if (!pin[0] || ks_tls_pin_parse(h, pin)) {
        snprintf(out, n, "%s", tok);
        return;
    }
    ks_hex(hex, h, sizeof h);
    snprintf(out, n, "%s.%s", tok, hex);
}

int sup_tls_pin_arg_ok(json_t *args)
{
    uint8_t h[KS_TLS_PIN_SIZE];
    return ks_tls_pin_parse(h, json_string_value(json_object_get(args, "pin")));
}
