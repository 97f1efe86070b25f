/*
 * sup_hbsess.h - keysupd's heartbeat sessions (issue 13; docs/protocol.md,
 * "Heartbeat session"): one signed heartbeat establishes a session, the
 * steady heartbeats that follow are authenticated by a MAC under its key
 * and a strictly increasing counter instead of an Ed25519 signature over a
 * nonce, and their answers by a MAC instead of a signature.
 *
 * Held in memory only: a bounded open-addressed table keyed by controller
 * id (one session per controller; a new one replaces the old), each
 * session expiring ttl seconds after it was opened. A keysupd restart, or
 * another keysupd of a PostgreSQL cluster, does not know it: the agent is
 * answered 401 KSE-122 and opens a new one with a signed heartbeat. That
 * is neither a replay nor a lost link.
 *
 * A session belongs to one controller id AND one device key (its key id):
 * a re-provisioned device key never inherits it. Revocation: the caller
 * checks the device cache before every MAC'd heartbeat (api_hbsess.c).
 * Keys are wiped when a session is replaced, expires, or the table is freed.
 */
#ifndef KEYSUP_SUP_HBSESS_H
#define KEYSUP_SUP_HBSESS_H

#include <stddef.h>
#include <stdint.h>

#include "ks_hbmac.h"

#define SUP_HBSESS_TTL 3600u       /* seconds a session lives */
#define SUP_HBSESS_SLOTS 32768u    /* table size (power of two), 128 bytes each */
/* The longest a MAC'd heartbeat may have been held on the way, seconds: as
 * long as a signed request's nonce lives (nonce_ttl's default). */
#define SUP_HBSESS_LAG 60u

typedef struct sup_hbsess sup_hbsess;

typedef struct sup_hbsess_stats {
    uint64_t opened, mac_ok, unknown, bad_mac, replays, full, stale;
    uint64_t live; /* slots held (an expired session until its slot is reused) */
} sup_hbsess_stats;

enum {
    SUP_HBS_OK = 0,
    SUP_HBS_UNKNOWN = 1, /* no such session: expired, replaced, restarted, other key */
    SUP_HBS_BADMAC = 2,  /* forged or altered */
    SUP_HBS_REPLAY = 3,  /* counter not above the last one taken */
    SUP_HBS_STALE = 4,   /* genuine, but held on the way longer than SUP_HBSESS_LAG */
};

/* slots: a power of two; ttl in seconds. NULL when out of memory. */
sup_hbsess *sup_hbsess_new(uint32_t slots, uint32_t ttl);
void sup_hbsess_free(sup_hbsess *t);

/*
 * Opens (or replaces) controller id's session with the controller's public
 * key cpk: makes keysupd's ephemeral key pair, derives the keys, wipes the
 * secret half. spk and sid go into the signed answer. 0, or -1: no room
 * (every probed slot holds a live session of another controller) or cpk
 * unusable; the controller keeps signing its heartbeats then.
 */
/* `now` everywhere here: monotonic seconds (api_hbsess.c), never the wall clock. */
int sup_hbsess_open(sup_hbsess *t, int64_t id, const uint8_t key_id[16],
                    const uint8_t cpk[KS_HBS_PK], uint64_t now, uint8_t spk[KS_HBS_PK],
                    uint8_t sid[KS_HBS_SID]);

/* Before the body: SUP_HBS_OK when the session is live and counter is above
 * the last one taken; UNKNOWN (counted) or REPLAY otherwise. Takes nothing. */
int sup_hbsess_peek(sup_hbsess *t, int64_t id, const uint8_t key_id[16],
                    const uint8_t sid[KS_HBS_SID], uint64_t counter, uint64_t now);

/* With the body: checks mac (ks_hbs_req_mac) and takes counter (strictly
 * above the last one taken, checked again after the MAC). elapsed_ms is the
 * controller's time since the last answer it took: a request that arrives
 * more than SUP_HBSESS_LAG seconds later than that says (now minus the last
 * request taken, or the opening) is STALE, its counter taken all the same. */
int sup_hbsess_check(sup_hbsess *t, int64_t id, const uint8_t key_id[16],
                     const uint8_t sid[KS_HBS_SID], uint64_t counter, uint64_t elapsed_ms,
                     uint64_t now,
                     const char *method, const char *path, const uint8_t *body, size_t len,
                     const uint8_t mac[KS_HBS_MAC]);

/* The answer's MAC (ks_hbs_ans_mac) under the session sid of id. 0, or -1
 * when the session is gone (the answer then carries no MAC, which the
 * controller refuses). */
int sup_hbsess_answer(sup_hbsess *t, int64_t id, const uint8_t sid[KS_HBS_SID], uint64_t counter,
                      const uint8_t challenge[KS_HBS_CHAL], uint16_t status, const char *method,
                      const char *path, const uint8_t *body, size_t len, uint8_t mac[KS_HBS_MAC]);

void sup_hbsess_stats_get(sup_hbsess *t, sup_hbsess_stats *out);

#endif
