/*
 * ks_keyfile.c - see ks_keyfile.h and docs/keyfile.md.
 */
#include "ks_keyfile.h"
#include "ks_fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* Field offsets; docs/keyfile.md is the prose version of this table. */
#define OFF_MAGIC 0
#define OFF_VERSION 4
#define OFF_MODE 6
#define OFF_RESERVED 7
#define OFF_OPSLIMIT 8
#define OFF_MEMLIMIT 12
#define OFF_SALT 16
#define OFF_NONCE 32
#define OFF_PUBKEY 56
#define OFF_SEALED 88
#define OFF_CHECKSUM 136

#define SALT_SIZE 16
#define NONCE_SIZE 24
#define SEALED_SIZE 48
#define CHECKSUM_SIZE 32

/* The layout above is hard-wired to libsodium's sizes: fail the build, not
 * the field, if a libsodium ever changed them. */
_Static_assert(SALT_SIZE == crypto_pwhash_argon2id_SALTBYTES, "salt size");
_Static_assert(NONCE_SIZE == crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(SEALED_SIZE == crypto_secretbox_MACBYTES + KS_KEYFILE_SEED_SIZE, "sealed size");
_Static_assert(OFF_CHECKSUM + CHECKSUM_SIZE == KS_KEYFILE_SIZE, "key file size");

const ks_kdf_cost ks_kdf_interactive = {2u, 65536u};     /* 64 MiB */
const ks_kdf_cost ks_kdf_moderate = {3u, 262144u};       /* 256 MiB */
const ks_kdf_cost ks_kdf_sensitive = {4u, 1048576u};     /* 1 GiB */

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/*
 * The checksum tells damage apart from a wrong passphrase: without it a
 * flipped bit in the salt or the sealed seed would surface as "wrong
 * passphrase" and send the operator hunting for a password that was right.
 * It is not a security control (anyone can recompute it); authenticity of
 * the secret comes from the secretbox MAC and the seed/public key match.
 */
static void checksum(uint8_t out[CHECKSUM_SIZE], const uint8_t *buf)
{
    crypto_generichash_blake2b(out, CHECKSUM_SIZE, buf, OFF_CHECKSUM, NULL, 0);
}

static int cost_ok(uint32_t ops, uint32_t mem_kib)
{
    return ops >= KS_KEYFILE_OPSLIMIT_MIN && ops <= KS_KEYFILE_OPSLIMIT_MAX &&
           mem_kib >= KS_KEYFILE_MEMLIMIT_MIN_KIB && mem_kib <= KS_KEYFILE_MEMLIMIT_MAX_KIB;
}

static int derive(uint8_t key[crypto_secretbox_KEYBYTES], const char *pass, size_t passlen,
                  const uint8_t salt[SALT_SIZE], uint32_t ops, uint32_t mem_kib)
{
    if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, pass, passlen, salt, ops,
                      (size_t)mem_kib * 1024u, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return KS_E_CRYPTO;
    return KS_OK;
}

int ks_keyfile_encode(uint8_t out[KS_KEYFILE_SIZE], const uint8_t seed[KS_KEYFILE_SEED_SIZE],
                      const char *pass, size_t passlen, const ks_kdf_cost *cost)
{
    uint8_t pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE], key[crypto_secretbox_KEYBYTES];
    int ret;

    if (sodium_init() < 0)
        return KS_E_CRYPTO;
    memset(out, 0, KS_KEYFILE_SIZE);
    memcpy(out + OFF_MAGIC, KS_KEYFILE_MAGIC, 4);
    ks_st16(out + OFF_VERSION, KS_KEYFILE_VERSION);
    crypto_sign_seed_keypair(pk, sk, seed);
    memcpy(out + OFF_PUBKEY, pk, KS_PUBKEY_SIZE);

    if (!pass) {
        out[OFF_MODE] = KS_KEYFILE_PLAIN;
        memcpy(out + OFF_SEALED, seed, KS_KEYFILE_SEED_SIZE);
    } else {
        if (!cost || !cost_ok(cost->opslimit, cost->memlimit_kib)) {
            ret = KS_E_INVAL;
            goto cleanup;
        }
        out[OFF_MODE] = KS_KEYFILE_ARGON2ID;
        ks_st32(out + OFF_OPSLIMIT, cost->opslimit);
        ks_st32(out + OFF_MEMLIMIT, cost->memlimit_kib);
        randombytes_buf(out + OFF_SALT, SALT_SIZE);
        randombytes_buf(out + OFF_NONCE, NONCE_SIZE);
        ret = derive(key, pass, passlen, out + OFF_SALT, cost->opslimit, cost->memlimit_kib);
        if (ret)
            goto cleanup;
        crypto_secretbox_easy(out + OFF_SEALED, seed, KS_KEYFILE_SEED_SIZE,
                              out + OFF_NONCE, key);
    }
    checksum(out + OFF_CHECKSUM, out);
    ret = KS_OK;
cleanup:
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(key, sizeof key);
    if (ret)
        sodium_memzero(out, KS_KEYFILE_SIZE);
    return ret;
}

/* Shared checks for inspect and parse: everything but the secret. */
static int check_structure(const uint8_t *buf, size_t len, ks_keyfile_info *info, ks_diag *d)
{
    uint8_t sum[CHECKSUM_SIZE];

    if (len != KS_KEYFILE_SIZE)
        return ks_fail(d, KS_E_FORMAT, (uint32_t)(len < KS_KEYFILE_SIZE ? len : KS_KEYFILE_SIZE),
                       "keyfile.size");
    if (memcmp(buf + OFF_MAGIC, KS_KEYFILE_MAGIC, 4) != 0)
        return ks_fail(d, KS_E_FORMAT, OFF_MAGIC, "keyfile.magic");
    if (ks_ld16(buf + OFF_VERSION) != KS_KEYFILE_VERSION)
        return ks_fail(d, KS_E_FORMAT, OFF_VERSION, "keyfile.version");
    checksum(sum, buf);
    if (memcmp(sum, buf + OFF_CHECKSUM, CHECKSUM_SIZE) != 0)
        return ks_fail(d, KS_E_FORMAT, OFF_CHECKSUM, "keyfile.checksum");
    if (buf[OFF_RESERVED] != 0)
        return ks_fail(d, KS_E_FORMAT, OFF_RESERVED, "keyfile.reserved");

    info->mode = buf[OFF_MODE];
    info->opslimit = ks_ld32(buf + OFF_OPSLIMIT);
    info->memlimit_kib = ks_ld32(buf + OFF_MEMLIMIT);
    memcpy(info->public_key, buf + OFF_PUBKEY, KS_PUBKEY_SIZE);

    switch (info->mode) {
    case KS_KEYFILE_PLAIN:
        /* Unused fields must be zero so that a plain file has exactly one
         * encoding and no byte of it goes unchecked. */
        if (info->opslimit != 0)
            return ks_fail(d, KS_E_FORMAT, OFF_OPSLIMIT, "keyfile.opslimit");
        if (info->memlimit_kib != 0)
            return ks_fail(d, KS_E_FORMAT, OFF_MEMLIMIT, "keyfile.memlimit");
        if (!all_zero(buf + OFF_SALT, SALT_SIZE))
            return ks_fail(d, KS_E_FORMAT, OFF_SALT, "keyfile.salt");
        if (!all_zero(buf + OFF_NONCE, NONCE_SIZE))
            return ks_fail(d, KS_E_FORMAT, OFF_NONCE, "keyfile.nonce");
        if (!all_zero(buf + OFF_SEALED + KS_KEYFILE_SEED_SIZE, SEALED_SIZE - KS_KEYFILE_SEED_SIZE))
            return ks_fail(d, KS_E_FORMAT, OFF_SEALED + KS_KEYFILE_SEED_SIZE, "keyfile.padding");
        break;
    case KS_KEYFILE_ARGON2ID:
        if (info->opslimit < KS_KEYFILE_OPSLIMIT_MIN || info->opslimit > KS_KEYFILE_OPSLIMIT_MAX)
            return ks_fail(d, KS_E_FORMAT, OFF_OPSLIMIT, "keyfile.opslimit");
        if (info->memlimit_kib < KS_KEYFILE_MEMLIMIT_MIN_KIB ||
            info->memlimit_kib > KS_KEYFILE_MEMLIMIT_MAX_KIB)
            return ks_fail(d, KS_E_FORMAT, OFF_MEMLIMIT, "keyfile.memlimit");
        break;
    default:
        return ks_fail(d, KS_E_FORMAT, OFF_MODE, "keyfile.mode");
    }
    return KS_OK;
}

/* Seed -> key pair, and the pair must be the one the file claims. */
static int open_seed(const uint8_t *buf, const uint8_t seed[KS_KEYFILE_SEED_SIZE],
                     uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE], ks_diag *d)
{
    crypto_sign_seed_keypair(pk, sk, seed);
    if (sodium_memcmp(pk, buf + OFF_PUBKEY, KS_PUBKEY_SIZE) != 0) {
        sodium_memzero(sk, KS_SECKEY_SIZE);
        return ks_fail(d, KS_E_FORMAT, OFF_PUBKEY, "keyfile.public_key");
    }
    return KS_OK;
}

int ks_keyfile_inspect(const uint8_t *buf, size_t len, ks_keyfile_info *info, ks_diag *d)
{
    uint8_t pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE];
    int ret;

    if (sodium_init() < 0)
        return ks_fail(d, KS_E_CRYPTO, 0, "keyfile.sodium_init");
    ret = check_structure(buf, len, info, d);
    if (ret == KS_OK && info->mode == KS_KEYFILE_PLAIN)
        ret = open_seed(buf, buf + OFF_SEALED, pk, sk, d);
    sodium_memzero(sk, sizeof sk);
    return ret;
}

int ks_keyfile_parse(const uint8_t *buf, size_t len, const char *pass, size_t passlen,
                     uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE], ks_diag *d)
{
    uint8_t seed[KS_KEYFILE_SEED_SIZE], key[crypto_secretbox_KEYBYTES];
    ks_keyfile_info info;
    int ret;

    sodium_memzero(sk, KS_SECKEY_SIZE);
    if (sodium_init() < 0) {
        ret = ks_fail(d, KS_E_CRYPTO, 0, "keyfile.sodium_init");
        goto cleanup;
    }
    ret = check_structure(buf, len, &info, d);
    if (ret)
        goto cleanup;
    if (info.mode == KS_KEYFILE_PLAIN) {
        memcpy(seed, buf + OFF_SEALED, KS_KEYFILE_SEED_SIZE);
    } else {
        if (!pass) {
            ret = ks_fail(d, KS_E_PASSPHRASE, 0, "keyfile.passphrase_required");
            goto cleanup;
        }
        ret = derive(key, pass, passlen, buf + OFF_SALT, info.opslimit, info.memlimit_kib);
        if (ret) {
            ks_fail(d, ret, OFF_OPSLIMIT, "keyfile.argon2id");
            goto cleanup;
        }
        /* The checksum already vouched for the bytes, so a failing MAC
         * here means the key, i.e. the passphrase, is wrong. */
        if (crypto_secretbox_open_easy(seed, buf + OFF_SEALED, SEALED_SIZE,
                                       buf + OFF_NONCE, key) != 0) {
            ret = ks_fail(d, KS_E_PASSPHRASE, OFF_SEALED, "keyfile.passphrase");
            goto cleanup;
        }
    }
    ret = open_seed(buf, seed, pk, sk, d);
cleanup:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(key, sizeof key);
    if (ret)
        sodium_memzero(sk, KS_SECKEY_SIZE);
    return ret;
}

int ks_keyfile_write(const char *path, const uint8_t seed[KS_KEYFILE_SEED_SIZE],
                     const char *pass, size_t passlen, const ks_kdf_cost *cost, int replace)
{
    uint8_t buf[KS_KEYFILE_SIZE];
    int ret;

    ret = ks_keyfile_encode(buf, seed, pass, passlen, cost);
    if (ret)
        goto cleanup;
    ret = ks_file_write_atomic(path, buf, sizeof buf, 0600, replace);
cleanup:
    /* A plain file holds the seed itself; do not leave it on the stack. */
    sodium_memzero(buf, sizeof buf);
    return ret;
}

/* Key files are tiny; anything much larger is the wrong file. */
#define KEYFILE_READ_MAX 4096

int ks_keyfile_load(const char *path, const char *pass, size_t passlen,
                    uint8_t pk[KS_PUBKEY_SIZE], uint8_t sk[KS_SECKEY_SIZE], ks_diag *d)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int ret;

    sodium_memzero(sk, KS_SECKEY_SIZE);
    ret = ks_file_read(path, KEYFILE_READ_MAX, &buf, &len);
    if (ret == KS_E_NOSPC)
        return ks_fail(d, KS_E_FORMAT, KEYFILE_READ_MAX, "keyfile.size");
    if (ret)
        return ks_fail(d, ret, 0, "keyfile.read");
    ret = ks_keyfile_parse(buf, len, pass, passlen, pk, sk, d);
    sodium_memzero(buf, len);
    free(buf);
    return ret;
}

int ks_keyfile_load_info(const char *path, ks_keyfile_info *info, ks_diag *d)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int ret;

    ret = ks_file_read(path, KEYFILE_READ_MAX, &buf, &len);
    if (ret == KS_E_NOSPC)
        return ks_fail(d, KS_E_FORMAT, KEYFILE_READ_MAX, "keyfile.size");
    if (ret)
        return ks_fail(d, ret, 0, "keyfile.read");
    ret = ks_keyfile_inspect(buf, len, info, d);
    sodium_memzero(buf, len);
    free(buf);
    return ret;
}
