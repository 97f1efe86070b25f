/*
 * bench_device.h - signed device requests for the keysupd benchmarks
 * (bench_supervisor, bench_tls), over a caller's libcurl handle.
 *
 * tests/sup_devreq.c signs on its own on purpose: the API test must not
 * trust the signer it checks the daemon against. The benchmarks only need
 * requests keysupd accepts, so they share this one.
 */
#ifndef KEYSUP_BENCH_DEVICE_H
#define KEYSUP_BENCH_DEVICE_H

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <keysup/keysup.h>
#include <sodium.h>

#include "ks_hex.h"

/*
 * Fetches a nonce with c (its WRITEFUNCTION must append to resp, a buffer
 * of 256 bytes) and returns the headers of the signed request METHOD PATH
 * with body (docs/api.md: "keysup-device-v1" 0x00 nonce METHOD 0x00 PATH
 * 0x00 H(body), signed with the device key), "Expect:" included; NULL on
 * failure. The caller frees them with curl_slist_free_all.
 */
static inline struct curl_slist *bench_device_headers(CURL *c, const char *base_url,
                                                      const ks_crypto *cr,
                                                      const uint8_t dev_sk[64], int64_t ctrl_id,
                                                      const char *method, const char *path,
                                                      const char *body, char *resp)
{
    char url[128], h[3][200], sigh[129], nh[65];
    uint8_t nonce[32], bh[32], sig[64], msg[512];
    struct curl_slist *hl = NULL;
    ks_iov iov = {body, strlen(body)};
    size_t ml = strlen(method) + 1, pl = strlen(path) + 1, o = 0;
    const char *at;

    if (17 + 32 + ml + pl + 32 > sizeof msg)
        return NULL;
    snprintf(url, sizeof url, "%s/v1/device/nonce", base_url);
    resp[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    if (curl_easy_perform(c) != CURLE_OK || !(at = strstr(resp, "\"nonce\":\"")))
        return NULL;
    memcpy(nh, at + 9, 64);
    nh[64] = 0;
    if (ks_unhex(nonce, 32, nh))
        return NULL;
    cr->hash(cr->ctx, bh, &iov, 1);
    memcpy(msg, "keysup-device-v1", 17); o = 17;
    memcpy(msg + o, nonce, 32); o += 32;
    memcpy(msg + o, method, ml); o += ml;
    memcpy(msg + o, path, pl); o += pl;
    memcpy(msg + o, bh, 32); o += 32;
    crypto_sign_detached(sig, NULL, msg, o, dev_sk);
    ks_hex(sigh, sig, 64);
    snprintf(h[0], sizeof h[0], "X-Keysup-Controller: %lld", (long long)ctrl_id);
    snprintf(h[1], sizeof h[1], "X-Keysup-Nonce: %s", nh);
    snprintf(h[2], sizeof h[2], "X-Keysup-Signature: %s", sigh);
    for (int i = 0; i < 3; i++)
        hl = curl_slist_append(hl, h[i]);
    return curl_slist_append(hl, "Expect:");
}

#endif
