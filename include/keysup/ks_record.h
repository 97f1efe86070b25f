/*
 * ks_record.h - the credential record: one enrolled key, 128 bytes on the
 * wire and on flash, little-endian. docs/formats.md has the byte layout.
 */
#ifndef KEYSUP_KS_RECORD_H
#define KEYSUP_KS_RECORD_H

#include "ks_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KS_RECORD_SIZE 128
#define KS_RECORD_VERSION 1
#define KS_ALG_ED25519 1

/* Privilege bits. Bits 16..63 are free for integrator-defined privileges. */
enum ks_priv {
    KS_PRIV_OPERATOR = 1u << 0,
    KS_PRIV_SUPERVISOR = 1u << 1,
    KS_PRIV_ADMIN = 1u << 2,
    KS_PRIV_CALIBRATE = 1u << 3,
    KS_PRIV_REFUND = 1u << 4,
    KS_PRIV_VOID = 1u << 5,
    KS_PRIV_Z_REPORT = 1u << 6,
    KS_PRIV_OVERRIDE = 1u << 7,
    KS_PRIV_FIRMWARE = 1u << 8,
    KS_PRIV_PRICE = 1u << 9,
    KS_PRIV_PARAMETER = 1u << 10,
    KS_PRIV_USER_MGMT = 1u << 11
};
#define KS_PRIV_KNOWN_COUNT 12

enum ks_key_state {
    KS_STATE_ACTIVE = 0,
    KS_STATE_SUSPENDED = 1,
    KS_STATE_REVOKED = 2
};

enum ks_form_factor {
    KS_FORM_SOFTWARE = 0,
    KS_FORM_USB = 1,
    KS_FORM_NFC = 2,
    KS_FORM_PHYSICAL = 3,
    KS_FORM_PKCS11 = 4
};

/* Scope 0 means "every scope": the key is valid on every controller. */
#define KS_SCOPE_ALL 0u
/* valid_until 0 means "no end". */
#define KS_NO_EXPIRY 0u

typedef struct ks_record {
    uint8_t key_id[KS_KEYID_SIZE];
    uint8_t public_key[KS_PUBKEY_SIZE];
    uint64_t privileges;     /* enum ks_priv bits */
    uint64_t valid_from;     /* unix seconds, inclusive */
    uint64_t valid_until;    /* unix seconds, exclusive; KS_NO_EXPIRY for none */
    uint64_t counter_floor;  /* last use counter the supervisor has seen */
    uint64_t holder_id;      /* supervisor's holder row id */
    uint32_t scope;          /* KS_SCOPE_ALL or a scope id */
    uint32_t flags;          /* reserved for integrators; carried as is */
    uint8_t record_version;  /* KS_RECORD_VERSION */
    uint8_t key_format;      /* key-format version the key was enrolled with */
    uint8_t algorithm;       /* KS_ALG_ED25519 */
    uint8_t state;           /* enum ks_key_state */
    uint8_t form_factor;     /* enum ks_form_factor */
} ks_record;

void ks_record_encode(const ks_record *r, uint8_t out[KS_RECORD_SIZE]);
/*
 * Decodes and validates structure: version, algorithm, state, form factor
 * in range, reserved bytes zero, valid_until after valid_from (or 0).
 * Returns KS_OK or KS_E_FORMAT with d->offset inside the record.
 */
int ks_record_decode(ks_record *r, const uint8_t in[KS_RECORD_SIZE], ks_diag *d);

/* Name of one privilege bit ("SUPERVISOR"), or NULL for an unnamed bit. */
const char *ks_priv_name(uint64_t bit);
/* Bit for a name, case-insensitive; 0 if unknown. */
uint64_t ks_priv_from_name(const char *name, size_t len);
const char *ks_state_name(uint8_t state);
/* The one form-factor name table (records, the CLI, the supervisor API):
 * "software", "usb", "nfc", "physical", "pkcs11"; NULL for an unknown form. */
const char *ks_form_name(uint8_t form);
/* The form of a name, or -1 when it names none. */
int ks_form_from_name(const char *name);

/*
 * A source of records sorted by key id, read one at a time. The core reads
 * snapshots through it so that records may live in RAM, in memory-mapped
 * flash, or behind a HAL read. read() returns KS_OK or a negative error.
 */
typedef struct ks_recsrc {
    void *ctx;
    uint32_t count;
    int (*read)(void *ctx, uint32_t index, uint8_t out[KS_RECORD_SIZE]);
    /* Optional: direct pointer to all records when they are in memory. */
    const uint8_t *mem;
} ks_recsrc;

/* Wraps `count` encoded records that lie contiguously in memory. */
void ks_recsrc_mem(ks_recsrc *s, const uint8_t *records, uint32_t count);
/* Reads record i; uses mem when set. */
int ks_recsrc_get(const ks_recsrc *s, uint32_t i, uint8_t out[KS_RECORD_SIZE]);
/*
 * Binary search for key_id. On a hit *index is its position and the return
 * is KS_OK; on a miss *index is where it would go and the return is
 * KS_E_NOTFOUND. Other negative values are read errors.
 */
int ks_recsrc_find(const ks_recsrc *s, const uint8_t key_id[KS_KEYID_SIZE],
                   uint32_t *index);

#ifdef __cplusplus
}
#endif
#endif
