/*
 * sup_guard.h - keysupd's defences against a hostile network (docs/supervisor.md,
 * "Limits"): escaping of logged values, request-target checks, per-client
 * rate limits, sampling of anonymous refusals, absolute per-request
 * deadlines, audit retention and the one-daemon-per-data-directory lock.
 *
 * Each part lives in its own file: sup_esc.c (escaping, target checks),
 * sup_guard.c (connections, deadlines, rate limits, refusal sampling, the
 * guard thread), sup_retention.c (audit pruning), sup_lock.c (the lock).
 */
#ifndef KEYSUP_KS_GUARD_H
#define KEYSUP_KS_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "sup.h"

/* ----- escaping (sup_esc.c) ----- */

/*
 * Copies src[0..n) to dst (cap bytes, always NUL-terminated) so that no
 * control character can reach a log line or an audit row: \n \r \t and \\
 * become two-character escapes, other C0 bytes, DEL, C1 controls, U+2028/
 * U+2029 and every byte that is not part of valid UTF-8 become \xNN. Valid
 * UTF-8 text passes unchanged. Truncates (at a character boundary) with
 * "..." when dst is too small. Returns dst.
 */
char *sup_esc(char *dst, size_t cap, const char *src, size_t n);

/*
 * Checks a raw request target (as the client sent it, before percent-
 * decoding). 0 when it is acceptable; else -1 with a one-line reason in why:
 * a NUL (%00), another control character, or bytes that are not valid UTF-8
 * after decoding.
 */
int sup_target_check(const char *raw, char *why, size_t whylen);

/* ----- per-client limits and connection deadlines (sup_guard.c) ----- */

typedef struct sup_guard sup_guard;

/* A client address as a table key (IPv4 mapped into IPv6) and as text. */
typedef struct sup_client {
    uint8_t ip[16];
    uint32_t tag;    /* non-zero hash of ip (nonce owner) */
    char text[64];
} sup_client;
struct sockaddr;
void sup_client_from(sup_client *c, const struct sockaddr *sa);

sup_guard *sup_guard_new(sup_ctx *s);
/* Starts the guard thread (deadlines every 200 ms, audit retention and
 * refusal summaries every minute). */
int sup_guard_start(sup_guard *g);
void sup_guard_free(sup_guard *g); /* stops the thread */

/* Connection registry: a socket opens (fd), its request moves through
 * phases (0 header, 1 body and handler, 2 answering; back to 0 when done),
 * it closes. The guard shuts down a socket whose header or body phase
 * overran its absolute deadline, however slowly bytes trickle in. */
void *sup_guard_conn_open(sup_guard *g, int fd);
void sup_guard_conn_phase(sup_guard *g, void *conn, int phase);
void sup_guard_conn_close(sup_guard *g, void *conn);
/* 1 when a connection whose current phase began at `start` (usec, monotonic)
 * has overrun it at `now`: phase 0 after hdr_us, phase 1 after body_us, phase 2
 * never. A start after `now` (it was stamped while the caller read the clock)
 * is never overdue. */
int sup_guard_overdue(uint64_t now, uint64_t start, int phase, uint64_t hdr_us, uint64_t body_us);

/* Token buckets per client address. */
enum sup_guard_bucket { KS_BUCKET_NONCE = 0, KS_BUCKET_ENROLL = 1 };
/* 1 when the client may go on (takes one token when take != 0), 0 when the
 * bucket is empty; *retry gets the seconds until the next token. */
int sup_guard_allow(sup_guard *g, const sup_client *c, int bucket, int take, uint32_t *retry);

/*
 * An anonymous refusal (401, 429 or a 400 for a bad request target): counted
 * always; written to the audit for the first audit_sample refusals of a
 * client per minute, then summarised in one row per client and minute
 * ("auth.denied.summary"). locked: the caller holds s->lock.
 */
void sup_guard_refusal(sup_guard *g, int locked, const sup_client *c, const char *action,
                      const char *target, const char *code, const char *detail);

/* Prometheus text of the guard's gauges (malloc'd; NULL on failure). */
char *sup_guard_metrics(sup_guard *g);

/* ----- audit retention (sup_retention.c) ----- */

/* Deletes audit rows older than audit_retention_days and beyond the newest
 * audit_retention_rows (0 = no limit). Takes the lock in batches. Returns
 * the rows deleted (negative on a database error). */
int64_t sup_audit_prune(sup_ctx *s);

/* ----- one daemon per data directory (sup_lock.c) ----- */

/*
 * Takes an exclusive lock on DIR/keysupd.lock (fcntl, held until the
 * process exits) and writes this pid into it. When another process holds
 * it, err names that process's pid and KS_E_INVAL is returned (KS_E_NOTFOUND
 * when DIR does not exist, KS_E_IO for other errors). *fd receives the descriptor to keep
 * open.
 */
int sup_datadir_lock(const char *dir, int *fd, char *err, size_t errlen);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new
 * soft limit. */
uint64_t sup_raise_nofile(void);

#endif
