/*
 * ks_auth_int.h - internal: what the authentication engine's files share.
 */
#ifndef KEYSUP_KS_AUTH_INT_H
#define KEYSUP_KS_AUTH_INT_H

#include <keysup/ks_auth.h>
#include <keysup/ks_store.h>

#include "ks_sign.h"

/* Domain-separation labels (16 bytes each, never NUL-terminated on the wire). */
#define KS_LABEL_RESPONSE "KEYSUP-RESPONSE1"
#define KS_LABEL_TIMETOKEN "KEYSUP-TIMETOKN1"
#define KS_LABEL_LICENCE "KEYSUP-LICENCE01"
#define KS_LABEL_CHALLENGE "KEYSUP-CHALLENG1"
#define KS_LABEL_AUDIT "KEYSUP-AUDITREC1"

/* Every signed wire structure signs its first 64 bytes... */
#define KS_AUTH_SIGNED_SIZE 64
/* ...except a version 2 licence, which signs its first 96. */
#define KS_LICENCE_V2_SIGNED 96

/* Challenges reserved per write of the persisted challenge counter. */
#define KS_AUTH_CHAL_BLOCK 256u
/* Persist the highest trusted time at most this often (flash wear). */
#define KS_AUTH_GOOD_PERIOD 3600u
/* The monotonic tick must have advanced this much to judge the RTC stopped. */
#define KS_AUTH_STOP_WINDOW 10u
/* Shortest interval between tokens that feeds the drift estimate. */
#define KS_AUTH_DRIFT_MIN_INTERVAL 600u
/* STATE row flags. */
#define KS_AUTH_STATE_PENDING 1u

/* Outcome of a decision being written to the audit ring. */
typedef struct ks_auth_ev {
    uint8_t event;
    uint16_t action;
    int err;
    uint64_t time;
    const uint8_t *key_id;   /* may be NULL */
    const uint8_t *reader;   /* may be NULL */
    uint64_t detail;
    uint32_t session;
} ks_auth_ev;

/* ks_auth_audit.c */
int ks__auth_audit(ks_auth *a, const ks_auth_ev *ev, uint64_t *seq);
int ks__auth_audit_load(ks_auth *a);

/* ks_auth_state.c: the engine's STATE and CLOCK rows, their only owner */
int ks__auth_state_save(ks_auth *a);
int ks__auth_state_load(ks_auth *a);
int ks__auth_clock_save(ks_auth *a);
int ks__auth_time_load(ks_auth *a);

/* ks_auth_rows.c: room in the counter table */
/* 1 when the row holds a live lock at now. */
int ks__auth_row_locked(const ks_counter *c, uint64_t now);
/* The eviction victim (copied out), or 0 when every row is live. */
int ks__auth_pick_victim(ks_auth *a, uint64_t now, ks_counter *out);
/* Puts a row, evicting the least recently used quiet row when the table is full. */
int ks__auth_put_evict(ks_auth *a, const ks_counter *c, uint64_t now);

/* ks_auth_lockout.c */
/* KS_E_LOCKOUT when (kind, id) is locked at now. */
int ks__auth_locked(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE], uint64_t now);
/* Counts a failure; KS_E_LOCKOUT when the table is full of live rows (fail closed). */
int ks__auth_fail(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE], uint64_t now,
                  uint16_t action);
/* The highest use counter seen for a key (0 when none). */
uint64_t ks__auth_counter_seen(ks_auth *a, const uint8_t key_id[KS_KEYID_SIZE]);
/* Success: stores the new use counter, clears the key's failures and the reader's row. */
int ks__auth_success(ks_auth *a, const uint8_t key_id[KS_KEYID_SIZE],
                     const uint8_t reader[KS_READER_ID_SIZE], uint64_t use_counter, uint64_t now);

/* ks_auth_session.c */
int ks__auth_session_open(ks_auth *a, const ks_record *r, const uint8_t reader[KS_READER_ID_SIZE],
                          uint64_t now, uint32_t *handle);
ks_auth_session *ks__auth_session_find(ks_auth *a, uint32_t handle);
void ks__auth_session_sweep(ks_auth *a, uint64_t now);

/* ks_auth_gates.c */
/* The gates after authentication: licence, seal, pending transaction. */
int ks__auth_gates(ks_auth *a, const ks_action_def *def, const char **what);
/* Effects of a grant: pending transaction set or cleared. */
int ks__auth_grant_effects(ks_auth *a, const ks_action_def *def, uint64_t now);

/* ks_auth_wire.c */
void ks__challenge_derive(const ks_crypto *c, uint8_t out[KS_CHALLENGE_SIZE],
                          const uint8_t ctrl[KS_CTRL_ID_SIZE],
                          const uint8_t reader[KS_READER_ID_SIZE], uint16_t action,
                          uint64_t time, uint64_t counter, const uint8_t nonce[KS_NONCE_SIZE]);

static inline int ks__is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Constant-time comparison: 0 when equal. */
static inline int ks__ct_cmp(const uint8_t *x, const uint8_t *y, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= (uint8_t)(x[i] ^ y[i]);
    return acc != 0;
}

#endif
