/*
 * sup_cluster.h - several keysupd on one PostgreSQL database (issue 14).
 *
 * Every instance serves the whole API. Exactly one publishes: the holder of
 * a session advisory lock on a connection of its own (the lease lives as
 * long as that connection, so a process killed with -9 drops it at once and
 * another instance takes it within CLUSTER_TRY_MS). LISTEN/NOTIFY on the same
 * connection wakes the publisher when any instance marks a scope dirty, and
 * the others when a version is published, so they reload it from the
 * database and serve it. Device nonces are verifiable by every instance
 * (a MAC with a secret kept in the database) and spent once in a shared
 * table. Without PostgreSQL none of this runs and everything is as before.
 */
#ifndef KEYSUP_SUP_CLUSTER_H
#define KEYSUP_SUP_CLUSTER_H

#include <stdint.h>

#include "sup.h"

/* Starts the lease/listen thread when the database is PostgreSQL (a no-op
 * returning KS_OK otherwise). err gets the reason on failure. */
int sup_cluster_start(sup_ctx *s, char *err, size_t errlen);
/* Ends the thread and the lease (no more publisher wake-ups); call before
 * sup_pub_stop. sup_cluster_free, after it, releases the rest. */
void sup_cluster_stop(sup_ctx *s);
void sup_cluster_free(sup_ctx *s);
/* 1 when this instance may publish: it holds the lease, or there is no
 * cluster (SQLite, tests, the benchmark). */
int sup_cluster_leader(sup_ctx *s);
/* The hook the thread calls to wake the publisher: on a NOTIFY from any
 * instance and when this one takes the lease. The publisher registers it
 * (sup_pub_start; NULL at sup_pub_stop), so the dependency runs one way,
 * publisher -> cluster. No-op without a cluster. */
void sup_cluster_on_wake(sup_ctx *s, void (*wake)(sup_ctx *s));
/* Queues a NOTIFY on the main connection: "dirty" inside a change's
 * transaction (delivered at its commit), "published" after a publish.
 * Lock held. No-op without a cluster. */
void sup_cluster_notify(sup_ctx *s, const char *what);

/* Device nonces through the cluster when there is one, else the local
 * table (sup_nonce.c) as before. issue: -1 when the client has no room.
 * issue_dev: bound to controller dev (a heartbeat answer's next nonce);
 * live and consume take the requesting controller, and refuse (without
 * spending) a nonce bound to another. foreign: 1 when the nonce cannot be
 * this process's (issued before a restart): its refusal is no replay. */
int sup_nonce_issue(sup_ctx *s, uint32_t owner, uint8_t out[32]);
int sup_nonce_issue_dev(sup_ctx *s, uint32_t owner, int64_t dev, uint8_t out[32]);
int sup_nonce_live(sup_ctx *s, const uint8_t nonce[32], int64_t dev);
int sup_nonce_consume(sup_ctx *s, const uint8_t nonce[32], int64_t dev);
int sup_nonce_foreign(sup_ctx *s, const uint8_t nonce[32]);

/* The publisher (sup_publish.c): reload every scope whose stored version
 * differs from the one served. Publisher thread (or before it starts). */
int sup_pub_refresh(sup_ctx *s);

#endif
