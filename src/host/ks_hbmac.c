/*
 * ks_hbmac.c - the heartbeat session's keys and MACs (ks_hbmac.h).
 */
#include "ks_hbmac.h"

#include <string.h>

#include <sodium.h>

static void session_id(uint8_t sid[KS_HBS_SID], const uint8_t cpk[KS_HBS_PK],
                       const uint8_t spk[KS_HBS_PK])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, KS_HBS_SID);
    crypto_generichash_update(&st, (const uint8_t *)"keysup-hbsid-v1", 16);
    crypto_generichash_update(&st, cpk, KS_HBS_PK);
    crypto_generichash_update(&st, spk, KS_HBS_PK);
    crypto_generichash_final(&st, sid, KS_HBS_SID);
}

int ks_hbs_client_keys(uint8_t c2s[KS_HBS_KEY], uint8_t s2c[KS_HBS_KEY], uint8_t sid[KS_HBS_SID],
                       const uint8_t cpk[KS_HBS_PK], const uint8_t csk[KS_HBS_PK],
                       const uint8_t spk[KS_HBS_PK])
{
    /* crypto_kx: the client's rx is the server's tx (s2c) and vice versa */
    if (crypto_kx_client_session_keys(s2c, c2s, cpk, csk, spk) != 0)
        return -1;
    session_id(sid, cpk, spk);
    return 0;
}

int ks_hbs_server_keys(uint8_t c2s[KS_HBS_KEY], uint8_t s2c[KS_HBS_KEY], uint8_t sid[KS_HBS_SID],
                       const uint8_t spk[KS_HBS_PK], const uint8_t ssk[KS_HBS_PK],
                       const uint8_t cpk[KS_HBS_PK])
{
    if (crypto_kx_server_session_keys(c2s, s2c, spk, ssk, cpk) != 0)
        return -1;
    session_id(sid, cpk, spk);
    return 0;
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The fields both MACs start with. */
static void mac_head(crypto_generichash_state *st, const uint8_t key[KS_HBS_KEY], const char *label,
                     const uint8_t sid[KS_HBS_SID], uint64_t id, uint64_t counter)
{
    uint8_t n[16];
    crypto_generichash_init(st, key, KS_HBS_KEY, KS_HBS_MAC);
    crypto_generichash_update(st, (const uint8_t *)label, 16); /* 15 characters and NUL */
    crypto_generichash_update(st, sid, KS_HBS_SID);
    le64(n, id);
    le64(n + 8, counter);
    crypto_generichash_update(st, n, sizeof n);
}

static void mac_tail(crypto_generichash_state *st, uint8_t mac[KS_HBS_MAC], const char *method,
                     const char *path, const uint8_t *body, size_t len)
{
    crypto_generichash_update(st, (const uint8_t *)method, strlen(method) + 1);
    crypto_generichash_update(st, (const uint8_t *)path, strlen(path) + 1);
    if (len)
        crypto_generichash_update(st, body, len);
    crypto_generichash_final(st, mac, KS_HBS_MAC);
    sodium_memzero(st, sizeof *st); /* holds the key */
}

void ks_hbs_req_mac(uint8_t mac[KS_HBS_MAC], const uint8_t c2s[KS_HBS_KEY],
                    const uint8_t sid[KS_HBS_SID], uint64_t controller_id, uint64_t counter,
                    uint64_t elapsed_ms, const char *method, const char *path, const uint8_t *body,
                    size_t len)
{
    crypto_generichash_state st;
    uint8_t e[8];
    mac_head(&st, c2s, "keysup-hbreq-v1", sid, controller_id, counter);
    le64(e, elapsed_ms);
    crypto_generichash_update(&st, e, sizeof e);
    mac_tail(&st, mac, method, path, body, len);
}

void ks_hbs_ans_mac(uint8_t mac[KS_HBS_MAC], const uint8_t s2c[KS_HBS_KEY],
                    const uint8_t sid[KS_HBS_SID], uint64_t controller_id, uint64_t counter,
                    const uint8_t challenge[KS_HBS_CHAL], uint16_t status, const char *method,
                    const char *path, const uint8_t *body, size_t len)
{
    crypto_generichash_state st;
    uint8_t s[2] = {(uint8_t)status, (uint8_t)(status >> 8)};
    mac_head(&st, s2c, "keysup-hbans-v1", sid, controller_id, counter);
    crypto_generichash_update(&st, challenge, KS_HBS_CHAL);
    crypto_generichash_update(&st, s, sizeof s);
    mac_tail(&st, mac, method, path, body, len);
}

int ks_hbs_mac_eq(const uint8_t a[KS_HBS_MAC], const uint8_t b[KS_HBS_MAC])
{
    return sodium_memcmp(a, b, KS_HBS_MAC) == 0;
}
