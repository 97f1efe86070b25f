/*
 * ks_keyfile.h - software key files: one Ed25519 secret on disk, sealed
 * with a passphrase (argon2id + XSalsa20-Poly1305 secretbox) or, when the
 * operator asks for it explicitly, stored in the clear (tests, demos).
 *
 * The file is a fixed 168 bytes, little-endian; docs/keyfile.md has the
 * byte layout. The public key is stored in the clear so a key can be shown
 * and pinned without its passphrase; loading the secret checks that the
 * seed really derives that public key.
 *
 * Secrets: every function wipes its own copies of the seed, the derived key
 * and the secret key on every exit path. Buffers the caller owns (sk out)
 * are the caller's to wipe.
 */
#ifndef KEYSUP_KS_KEYFILE_H
#define KEYSUP_KS_KEYFILE_H

#include <keysup/keysup.h>

#define KS_KEYFILE_SIZE 168
#define KS_KEYFILE_MAGIC "KSKF"
#define KS_KEYFILE_VERSION 1
#define KS_KEYFILE_SEED_SIZE 32

enum ks_keyfile_mode {
    KS_KEYFILE_PLAIN = 0,    /* seed in the clear */
    KS_KEYFILE_ARGON2ID = 1  /* seed in a secretbox under argon2id(passphrase) */
};

/*
 * Argon2id cost accepted when reading a file. A file states its own cost,
 * so without a cap a corrupt or hostile file could ask for terabytes of
 * memory or hours of work before the passphrase is even tried. The caps sit
 * above libsodium's SENSITIVE level (4 passes, 1 GiB).
 */
#define KS_KEYFILE_OPSLIMIT_MIN 1u
#define KS_KEYFILE_OPSLIMIT_MAX 10u
#define KS_KEYFILE_MEMLIMIT_MIN_KIB 8u          /* libsodium's minimum, 8 KiB */
#define KS_KEYFILE_MEMLIMIT_MAX_KIB 1048576u    /* 1 GiB */

/*
 * KS_E_PASSPHRASE (ks_base.h): the key file is sound but the passphrase does
 * not open it (diag what "keyfile.passphrase"), or it is encrypted and no
 * passphrase was given ("keyfile.passphrase_required"). Distinct from
 * KS_E_FORMAT, which always means the bytes themselves are damaged or not a
 * key file.
 */

/* Argon2id cost of a new file. */
typedef struct ks_kdf_cost {
    uint32_t opslimit;
    uint32_t memlimit_kib;
} ks_kdf_cost;

/* libsodium's INTERACTIVE / MODERATE / SENSITIVE levels. */
extern const ks_kdf_cost ks_kdf_interactive;
extern const ks_kdf_cost ks_kdf_moderate;
extern const ks_kdf_cost ks_kdf_sensitive;

/* What can be learnt from a key file without its passphrase. */
typedef struct ks_keyfile_info {
    uint8_t mode;            /* enum ks_keyfile_mode */
    uint32_t opslimit;       /* 0 for plain files */
    uint32_t memlimit_kib;   /* 0 for plain files */
    uint8_t public_key[KS_PUBKEY_SIZE];
} ks_keyfile_info;

/*
 * Encodes a key file for seed into out. pass == NULL makes a plain file
 * (cost ignored); otherwise the seed is sealed under argon2id(pass) with the
 * given cost, which must lie within the caps above (KS_E_INVAL otherwise).
 * Fresh random salt and nonce. KS_E_CRYPTO if argon2id fails (memory).
 */
int ks_keyfile_encode(uint8_t out[KS_KEYFILE_SIZE], const uint8_t seed[KS_KEYFILE_SEED_SIZE],
                      const char *pass, size_t passlen, const ks_kdf_cost *cost);

/*
 * Structure and integrity without the passphrase: size, magic, version,
 * checksum, mode, cost within the caps, unused fields zero and, for a plain
 * file, that the seed derives the stored public key. KS_OK or KS_E_FORMAT
 * (d->what / d->offset name the field).
 */
int ks_keyfile_inspect(const uint8_t *buf, size_t len, ks_keyfile_info *info, ks_diag *d);

/*
 * Full load: everything ks_keyfile_inspect checks, then (encrypted files)
 * argon2id + secretbox open, then that the seed derives the stored public
 * key. On success pk and sk (seed || pk, the layout ks_crypto.sign takes)
 * are filled; on failure sk is zeroed. Pure: no I/O, no globals, so it can
 * be fuzzed. pass is ignored for plain files.
 *   KS_E_FORMAT      damaged or not a key file
 *   KS_E_PASSPHRASE  wrong or missing passphrase
 *   KS_E_CRYPTO      argon2id could not run (memory)
 */
int ks_keyfile_parse(const uint8_t *buf, size_t len, const char *pass, size_t passlen,
                     uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE], ks_diag *d);

/*
 * Encodes and writes a key file atomically with mode 0600. replace == 0
 * refuses to overwrite an existing path (KS_E_IO, errno EEXIST).
 */
int ks_keyfile_write(const char *path, const uint8_t seed[KS_KEYFILE_SEED_SIZE],
                     const char *pass, size_t passlen, const ks_kdf_cost *cost, int replace);

/* Reads path (KS_E_IO with errno on OS errors) and runs ks_keyfile_parse. */
int ks_keyfile_load(const char *path, const char *pass, size_t passlen,
                    uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE], ks_diag *d);

/* Reads path and runs ks_keyfile_inspect. */
int ks_keyfile_load_info(const char *path, ks_keyfile_info *info, ks_diag *d);

#endif
