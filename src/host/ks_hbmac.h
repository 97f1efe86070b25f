/*
 * ks_hbmac.h - the heartbeat session's keys and MACs, shared by keysupd
 * (sup_hbsess.c) and the controller agent (ctl_hbsess.c). The protocol and
 * its security argument: docs/protocol.md, "Heartbeat session".
 *
 * Keys: X25519 (libsodium crypto_kx) between an ephemeral key of the
 * controller, carried in a heartbeat body its device key signs, and an
 * ephemeral key of keysupd, carried in the answer its supervisor key signs.
 * The controller is crypto_kx's client. c2s keys the controller's requests,
 * s2c keysupd's answers. The session id is BLAKE2b-128 of both public keys.
 *
 * Request MAC, BLAKE2b-256 keyed with c2s, over
 *   "keysup-hbreq-v1" 0x00 | sid(16) | controller_id u64 LE | counter u64 LE
 *   | elapsed_ms u64 LE | METHOD 0x00 | PATH 0x00 | body
 * (elapsed_ms: the controller's monotonic time since the session's last
 * answer it took; keysupd bounds how long a request can be held on the way)
 * Answer MAC, BLAKE2b-256 keyed with s2c, over
 *   "keysup-hbans-v1" 0x00 | sid(16) | controller_id u64 LE | counter u64 LE
 *   | challenge(32) | status u16 LE | METHOD 0x00 | PATH 0x00 | body
 */
#ifndef KEYSUP_KS_HBMAC_H
#define KEYSUP_KS_HBMAC_H

#include <stddef.h>
#include <stdint.h>

#define KS_HBS_PK 32
#define KS_HBS_KEY 32
#define KS_HBS_SID 16
#define KS_HBS_MAC 32
#define KS_HBS_CHAL 32

/* The controller's side: c2s, s2c and sid from its key pair and keysupd's
 * public key. 0, or -1 for a public key that gives no shared secret (a
 * low-order point): no session then. */
int ks_hbs_client_keys(uint8_t c2s[KS_HBS_KEY], uint8_t s2c[KS_HBS_KEY], uint8_t sid[KS_HBS_SID],
                       const uint8_t cpk[KS_HBS_PK], const uint8_t csk[KS_HBS_PK],
                       const uint8_t spk[KS_HBS_PK]);
/* keysupd's side of the same. */
int ks_hbs_server_keys(uint8_t c2s[KS_HBS_KEY], uint8_t s2c[KS_HBS_KEY], uint8_t sid[KS_HBS_SID],
                       const uint8_t spk[KS_HBS_PK], const uint8_t ssk[KS_HBS_PK],
                       const uint8_t cpk[KS_HBS_PK]);

void ks_hbs_req_mac(uint8_t mac[KS_HBS_MAC], const uint8_t c2s[KS_HBS_KEY],
                    const uint8_t sid[KS_HBS_SID], uint64_t controller_id, uint64_t counter,
                    uint64_t elapsed_ms, const char *method, const char *path, const uint8_t *body, size_t len);
void ks_hbs_ans_mac(uint8_t mac[KS_HBS_MAC], const uint8_t s2c[KS_HBS_KEY],
                    const uint8_t sid[KS_HBS_SID], uint64_t controller_id, uint64_t counter,
                    const uint8_t challenge[KS_HBS_CHAL], uint16_t status, const char *method,
                    const char *path, const uint8_t *body, size_t len);
/* 1 when the MACs are equal (constant time). */
int ks_hbs_mac_eq(const uint8_t a[KS_HBS_MAC], const uint8_t b[KS_HBS_MAC]);

#endif
