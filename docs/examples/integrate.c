/*
 * integrate.c - a controller on libkeysup, the smallest whole one: the flash
 * HAL, the store, a signed snapshot installed, the auth engine, and two
 * decisions (one granted, one refused with its KSE code). docs/integrate.md
 * walks through it; CTest (integrate_example) builds and runs it, so the
 * guide's code cannot rot.
 *
 * On a microcontroller only the three marked parts change: the flash
 * callbacks (your NOR/NAND driver), the crypto ops table (your Ed25519 and
 * BLAKE2b), and the RTC/RNG. Here they are a RAM array, libsodium through
 * keysup's host port (src/host/ks_sodium.c) and the system clock.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>         /* randombytes_buf, for the example's RNG */

#include "keysup/keysup.h" /* the whole core API */
#include "ks_sodium.h"     /* host port: a ks_crypto on libsodium */

/* ---- 1. The flash HAL (include/keysup/ks_flash.h): a RAM "NOR chip". ---- */
#define SECTOR 4096u
#define SECTORS 16u
static uint8_t chip[SECTORS][SECTOR];

static int fl_read(void *ctx, uint32_t s, uint32_t off, void *buf, uint32_t len)
{
    (void)ctx;
    memcpy(buf, &chip[s][off], len);
    return 0;
}
static int fl_prog(void *ctx, uint32_t s, uint32_t off, const void *buf, uint32_t len)
{
    /* NOR programs only 1 -> 0: AND, as the hardware does. */
    (void)ctx;
    for (uint32_t i = 0; i < len; i++)
        chip[s][off + i] &= ((const uint8_t *)buf)[i];
    return 0;
}
static int fl_erase(void *ctx, uint32_t s)
{
    (void)ctx;
    memset(chip[s], 0xFF, SECTOR);
    return 0;
}
static int fl_sync(void *ctx)
{
    (void)ctx; /* a real driver waits for the chip's write-in-progress bit */
    return 0;
}

/* ---- 2. The auth HAL (ks_auth.h, ks_auth_hal): real-time clock and RNG. ---- */
static int hal_rtc(void *ctx, uint64_t *t)
{
    (void)ctx;
    *t = (uint64_t)time(NULL);
    return 0;
}
static int hal_rng(void *ctx, uint8_t *buf, size_t n)
{
    (void)ctx;
    randombytes_buf(buf, n); /* libsodium; on an MCU: the TRNG */
    return 0;
}

/* One credential record for a public key (what keysupd makes at enrolment). */
static void credential(const ks_crypto *c, const uint8_t pk[KS_PUBKEY_SIZE], uint64_t privs,
                       uint64_t now, uint8_t out[KS_RECORD_SIZE])
{
    ks_record r;
    memset(&r, 0, sizeof r);
    memcpy(r.public_key, pk, KS_PUBKEY_SIZE);
    ks_key_id(c, r.key_id, pk);
    r.privileges = privs;
    r.valid_from = now - 60;
    r.scope = 2;
    r.record_version = KS_RECORD_VERSION;
    r.key_format = 1;
    r.algorithm = KS_ALG_ED25519;
    ks_record_encode(&r, out);
}

int main(void)
{
    static ks_store st;                   /* the core allocates nothing: */
    static ks_counter counters[32];       /* every table is the caller's */
    static uint8_t work[4096];
    static ks_auth eng;
    static ks_auth_session sessions[4];
    static ks_auth_pending pending[4];
    static uint8_t snap[KS_SNAP_HEADER_SIZE + KS_RECORD_SIZE];
    const ks_flash flash = {NULL, SECTOR, SECTORS, 16, 0xFF, 0,
                            fl_read, fl_prog, fl_erase, fl_sync, NULL, NULL};
    const uint8_t reader[KS_READER_ID_SIZE] = "till-1";
    uint8_t sup_pk[32], sup_sk[64], maria_pk[32], maria_sk[64], eve_pk[32], eve_sk[64];
    uint8_t challenge[KS_CHALLENGE_SIZE], response[KS_RESPONSE_SIZE];
    uint64_t now = (uint64_t)time(NULL);
    ks_store_cfg scfg;
    ks_auth_cfg acfg;
    ks_auth_result res;
    ks_snap_header h;
    ks_recsrc src;
    ks_trust trust;
    ks_crypto c; /* ---- 3. crypto: hash, verify (and sign, for the key side here) ---- */
    int err;

    if (ks_sodium_crypto(&c) != KS_OK)
        return 1;
    ks_sodium_keypair(sup_pk, sup_sk);   /* the supervisor's signing key (keysupd's) */
    ks_sodium_keypair(maria_pk, maria_sk); /* maria's key: enrolled, SUPERVISOR + VOID */
    ks_sodium_keypair(eve_pk, eve_sk);   /* eve's key: never enrolled */

    /* Provisioning: format the store with the one supervisor key it trusts
     * (keysup-controller enroll pins it from the provisioning answer). */
    ks_trust_init(&trust);
    if (ks_trust_add(&trust, &c, sup_pk) != KS_OK)
        return 1;
    memset(&scfg, 0, sizeof scfg);
    scfg.flash = &flash;
    scfg.crypto = &c;
    scfg.counters = counters;
    scfg.counter_cap = 32;
    scfg.buf = work;
    scfg.buf_size = sizeof work;
    if ((err = ks_store_format(&st, &scfg, &trust)) != KS_OK) {
        fprintf(stderr, "format: %s (%s)\n", ks_err_name(err), ks_strerror(err));
        return 1;
    }
    /* At every boot after that: ks_store_mount(&st, &scfg, &diag) instead. */

    /* The snapshot keysupd signs and the controller downloads: here made in
     * place, with the supervisor's key. */
    credential(&c, maria_pk, KS_PRIV_SUPERVISOR | KS_PRIV_VOID, now, snap + KS_SNAP_HEADER_SIZE);
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.scope = 2;
    h.created_at = now - 10;
    h.expires_at = now + 7 * 86400;
    if (ks_snapshot_write(&c, &h, snap + KS_SNAP_HEADER_SIZE, 1, sup_sk, snap, sizeof snap)) {
        fprintf(stderr, "snapshot write failed\n");
        return 1;
    }
    /* Install: verified against the pinned key, written, read back, root
     * checked, then committed (power-fail safe; docs/store.md). */
    ks_recsrc_mem(&src, snap + KS_SNAP_HEADER_SIZE, 1);
    if ((err = ks_store_install(&st, snap, &src, now, NULL)) != KS_OK) {
        fprintf(stderr, "install: %s (%s)\n", ks_err_name(err), ks_strerror(err));
        return 1;
    }

    /* The auth engine on the mounted store. */
    ks_auth_cfg_default(&acfg);
    memcpy(acfg.controller_id, "example-ctrl-001", KS_CTRL_ID_SIZE);
    acfg.scope = 2;
    acfg.sessions = sessions;
    acfg.session_cap = 4;
    acfg.pending = pending;
    acfg.pending_cap = 4;
    acfg.crypto = &c;
    acfg.store = &st;
    acfg.hal.rtc = hal_rtc;
    acfg.hal.rng = hal_rng;
    if ((err = ks_auth_init(&eng, &acfg)) != KS_OK) {
        fprintf(stderr, "auth init: %s (%s)\n", ks_err_name(err), ks_strerror(err));
        return 1;
    }

    /* A key is presented at the till for "void": challenge, the key signs
     * (on a real key: the card, dongle or token), the engine decides. */
    if (ks_auth_challenge(&eng, reader, KS_ACT_VOID, challenge) != KS_OK ||
        ks_response_make(&c, challenge, 1, maria_pk, maria_sk, response) != KS_OK)
        return 1;
    err = ks_auth_respond(&eng, reader, response, sizeof response, 0, &res);
    printf("maria, void: %s\n", err == KS_OK ? "granted" : ks_err_name(err));
    if (err != KS_OK)
        return 1;

    /* An unknown key: refused, with the KSE code the technician looks up
     * (`keysup error KSE-202`); the refusal is in the audit ring too. */
    if (ks_auth_challenge(&eng, reader, KS_ACT_VOID, challenge) != KS_OK ||
        ks_response_make(&c, challenge, 1, eve_pk, eve_sk, response) != KS_OK)
        return 1;
    err = ks_auth_respond(&eng, reader, response, sizeof response, 0, &res);
    printf("eve, void: KSE-%d %s (%s)\n", -err, ks_err_name(err), res.what ? res.what : "-");
    if (err != KS_E_KEY_UNKNOWN)
        return 1;
    ks_wipe(sup_sk, sizeof sup_sk);
    ks_wipe(maria_sk, sizeof maria_sk);
    ks_wipe(eve_sk, sizeof eve_sk);
    return 0;
}
