/*
 * sup_keyfollow.h - a signing-key rotation made on one keysupd reaches the
 * other instances on the same PostgreSQL database (docs/supervisor.md,
 * "PostgreSQL and several keysupd").
 *
 * The rotating instance stores the new key's seed wrapped under a key that
 * only holders of the previous signing key can derive (sup_keyfollow.c);
 * every other instance unwraps it, checks it against the registered public
 * key, seals it into its own data directory and signs with it from then on.
 */
#ifndef KEYSUP_SUP_KEYFOLLOW_H
#define KEYSUP_SUP_KEYFOLLOW_H

#include "sup.h"

/* nonce (24) || secretbox of the 32-byte seed (48) */
#define SUP_KEYWRAP_SIZE 72

/* The cluster table of wrapped seeds (sup_cluster.c creates it). */
#define SUP_KEYWRAP_TABLE_SQL                                                              \
    "CREATE TABLE IF NOT EXISTS cluster_keys(seq BIGINT PRIMARY KEY, wrapped BYTEA NOT NULL)"

/*
 * Stores seed (the new key of rotation seq, public key npk) wrapped under
 * the active key in s->sk, inside the caller's transaction, s->lock held.
 * A no-op without a cluster (SQLite: one instance). 0 or a KS_DB error.
 */
int sup_keyfollow_store(sup_ctx *s, int64_t seq, const uint8_t npk[KS_PUBKEY_SIZE],
                        const uint8_t seed[32]);

/*
 * Takes every key rotated in since s->key_seq, in order: from this data
 * directory's key file when present, else unwrapped from the database
 * (and then sealed into the data directory, as the current key is), or
 * from its token. Call without s->lock. KS_OK when current (or nothing
 * rotated); else an error, logged once per key with KSE-761, and the
 * instance still holds the older key.
 */
int sup_keyfollow(sup_ctx *s);

#endif
