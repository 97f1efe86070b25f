/*
 * ks_base.h - error codes, diagnostics and the crypto ops table shared by
 * every module of libkeysup.
 *
 * Contract for the whole core (src/core/):
 *   - no malloc, no OS calls, no global mutable state: every function works
 *     on memory the caller owns;
 *   - functions that can fail return an int: 0 (KS_OK) or a negative code
 *     from enum ks_err; functions that cannot fail return void;
 *   - a Key Supervisor Error condition is returned as the negative of its
 *     KSE number (KSE-700 -> -700), so `-err` is the code an operator sees.
 */
#ifndef KEYSUP_KS_BASE_H
#define KEYSUP_KS_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ks_err {
    KS_OK = 0,
    KS_E_INVAL = -1,      /* the caller passed an impossible argument */
    KS_E_FORMAT = -2,     /* malformed bytes: magic, version, size, order, reserved */
    KS_E_SIGNATURE = -3,  /* an Ed25519 signature does not verify */
    KS_E_ROOT = -4,       /* records do not hash to the signed Merkle root */
    KS_E_BASE = -5,       /* a delta does not fit the database it is applied to */
    KS_E_NOSPC = -6,      /* a caller-supplied buffer or device is too small */
    KS_E_IO = -7,         /* the HAL reported a failure */
    KS_E_NOTFOUND = -8,   /* lookup miss (not an error for every caller) */
    KS_E_CHAIN = -9,      /* rotation chain longer than KS_ROTATION_CHAIN_MAX */
    KS_E_CRYPTO = -10,    /* the crypto backend failed or lacks an operation */
    KS_E_PASSPHRASE = -50, /* host only: a key file's passphrase is wrong or missing */

    /* Key Supervisor Error conditions (see docs/errors.md). */
    KS_E_COMM_LOST = -100,
    KS_E_SYNC_STALE = -110,
    KS_E_SITE_UNREACHABLE = -120,  /* supervisor only: a site's controllers went offline together */
    KS_E_SUPERVISOR_BUSY = -121,   /* the supervisor shed the request: retry after the pause */
    KS_E_HB_SESSION_UNKNOWN = -122, /* keysupd holds no such heartbeat session: re-open it */
    KS_E_HB_REPORT_NEEDED = -123, /* keysupd holds no report to complete a short heartbeat */
    KS_E_KEY_ABSENT = -200,
    KS_E_KEY_UNREADABLE = -201,
    KS_E_KEY_UNKNOWN = -202,
    KS_E_KEY_REVOKED = -203,
    KS_E_KEY_EXPIRED = -204,
    KS_E_SIGNATURE_INVALID = -205,
    KS_E_CLONE_SUSPECTED = -206,
    /* Keys held in a PKCS#11 token (host side: the key's reader, keysupd's HSM). */
    KS_E_TOKEN_ABSENT = -207,
    KS_E_TOKEN_PIN_WRONG = -208,
    KS_E_TOKEN_PIN_LOCKED = -209,
    KS_E_TOKEN_KEY_MISSING = -210,
    KS_E_TOKEN_KEY_TYPE = -211,
    KS_E_TOKEN_REMOVED = -212,
    KS_E_TOKEN_MODULE = -213,
    KS_E_KEY_CLONED = -214,  /* supervisor only: counters contradict across controllers */
    KS_E_DESYNC = -300,
    KS_E_STORE_CORRUPT = -301,
    KS_E_MEMORY_LOST = -302,
    KS_E_STALE_DENIED = -303, /* key changed since the (older) database in use: refused */
    KS_E_SUPERVISOR_RESTORED = -304, /* supervisor's records went back: not adopted */
    KS_E_FLASH_WEAR = -310,   /* flash projected to reach its rated erase cycles soon */
    KS_E_FLASH_RETIRED = -311, /* flash sectors failed and were retired: spare being used */
    KS_E_PROTOCOL_MISMATCH = -400,
    KS_E_FIRMWARE_INCOMPATIBLE = -401,
    KS_E_LOCKOUT = -500,
    KS_E_SESSION_EXPIRED = -501,
    KS_E_NOT_SUPERVISOR = -502,
    KS_E_PRIVILEGE_REQUIRED = -503,
    KS_E_SEAL_ENGAGED = -504,
    KS_E_PENDING_TRANSACTION = -505,
    KS_E_CLOCK_SKEW = -600,
    KS_E_RTC_FAILURE = -601,
    KS_E_SUPERVISOR_UNTRUSTED = -700,
    KS_E_ROLLBACK = -701,
    KS_E_SNAPSHOT_EXPIRED = -702,
    KS_E_ANSWER_NOT_AUTHENTIC = -710,
    KS_E_VERSION_CLAIM_UNPROVED = -711, /* supervisor only: a controller claims an unsigned version */
    KS_E_TLS_PIN_MISMATCH = -720,
    KS_E_IDENTITY_CLONED = -730,
    KS_E_DATABASE_UNREACHABLE = -760,
    KS_E_SIGNING_KEY_NOT_FOLLOWED = -761,
    KS_E_OPERATOR_LOCKED = -740,
    KS_E_CONSOLE_SESSION_EXPIRED = -741,
    KS_E_CSRF_REJECTED = -742,
    KS_E_BAD_CREDENTIALS = -743,
    KS_E_IMPORT_INVALID = -750,    /* supervisor only: a key file has bad rows */
    KS_E_IMPORT_CONFLICT = -751,   /* supervisor only: a file's key is enrolled otherwise */
    KS_E_LICENCE_INVALID = -800,
    KS_E_LICENCE_EXPIRING = -801, /* supervisor: a licence is inside its warning window */
    KS_E_LICENCE_POLICY_OLD = -802, /* controller: a licence policy older than the one applied */
    KS_E_LICENCE_REPLACED = -803, /* controller: a licence file it no longer holds, put back */
    KS_E_HARDWARE_FAULT = -900
};
/* KSE-800's name before the licence names were spelled one way ("licence",
 * the noun, as everywhere else): kept so that code written against it still
 * builds. New code uses KS_E_LICENCE_INVALID. */
#define KS_E_LICENSE_INVALID KS_E_LICENCE_INVALID

/* Short stable name of an error ("FORMAT", "SUPERVISOR_UNTRUSTED", ...). */
const char *ks_err_name(int err);
/* One-line English description of an error. Never NULL. */
const char *ks_strerror(int err);
/* KSE number of an error (700 for KS_E_SUPERVISOR_UNTRUSTED), 0 if it has none. */
int ks_err_kse(int err);

/*
 * Where a refusal came from. Parsers and verifiers fill it when the caller
 * passes one (it may be NULL): `what` names the field or check (a static
 * string, e.g. "snapshot.header.magic"), `offset` is the byte offset in the
 * input the problem was found at (or 0 when it is not about one place).
 */
typedef struct ks_diag {
    int err;
    uint32_t offset;
    const char *what;
} ks_diag;

/* Records err/offset/what in d (if non-NULL) and returns err. */
int ks_fail(ks_diag *d, int err, uint32_t offset, const char *what);

/* ----- crypto ops: the only way the core reaches cryptography ----- */

typedef struct ks_iov {
    const void *p;
    size_t n;
} ks_iov;

/*
 * The caller's crypto backend. hash and verify are required; sign may be
 * NULL on a verify-only device (then signing functions return KS_E_CRYPTO).
 *   hash:   BLAKE2b with a 32-byte output over the concatenation of iov[0..n)
 *   verify: Ed25519 (RFC 8032, strict: canonical S, exactly 64-byte sig);
 *           returns 0 when valid, non-zero otherwise
 *   sign:   Ed25519 with a 64-byte secret (32-byte seed then public key);
 *           returns 0 on success
 */
typedef struct ks_crypto {
    void *ctx;
    void (*hash)(void *ctx, uint8_t out[32], const ks_iov *iov, size_t n);
    int (*verify)(void *ctx, const uint8_t sig[64], const uint8_t *msg,
                  size_t len, const uint8_t pk[32]);
    int (*sign)(void *ctx, uint8_t sig[64], const uint8_t *msg, size_t len,
                const uint8_t sk[64]);
} ks_crypto;

#define KS_KEYID_SIZE 16
#define KS_PUBKEY_SIZE 32
#define KS_SECKEY_SIZE 64
#define KS_SIG_SIZE 64
#define KS_HASH_SIZE 32

/* key id = first 16 bytes of BLAKE2b-256(public key). */
void ks_key_id(const ks_crypto *c, uint8_t id[KS_KEYID_SIZE],
               const uint8_t pk[KS_PUBKEY_SIZE]);

/* Overwrites n bytes in a way the compiler may not elide. */
void ks_wipe(void *p, size_t n);

/* Little-endian load/store helpers used by every on-flash and wire format. */
static inline uint16_t ks_ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t ks_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t ks_ld64(const uint8_t *p)
{
    return (uint64_t)ks_ld32(p) | ((uint64_t)ks_ld32(p + 4) << 32);
}
static inline void ks_st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void ks_st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void ks_st64(uint8_t *p, uint64_t v) { ks_st32(p, (uint32_t)v); ks_st32(p + 4, (uint32_t)(v >> 32)); }

#ifdef __cplusplus
}
#endif
#endif
