/*
 * ks_auth.h - the controller's authentication engine: the offline decision
 * a controller makes when someone presents a key for an action.
 *
 * What it does, in one place (docs/auth.md has every byte and rule):
 *   - challenge-response: the controller issues a 32-byte challenge bound to
 *     its id, the reader, the action, its trusted time, a persisted
 *     challenge counter and fresh randomness; the key answers with its use
 *     counter and an Ed25519 signature (ks_response_make);
 *   - the decision, checks in a fixed order, every refusal a KSE code;
 *   - the privileged-action catalogue (ks_action_find), the seal switch and
 *     the pending-transaction block;
 *   - supervisor sessions and two-supervisor actions;
 *   - lockout per key and per reader, persisted in the store's counter table;
 *   - trusted time: the RTC corrected by supervisor-signed time tokens;
 *   - the feature licence;
 *   - a hash-chained audit record of every decision in the store's ring.
 *
 * Memory: the caller owns the ks_auth context, the session and pending
 * tables (ks_auth_cfg) and the mounted ks_store; nothing is allocated.
 * No function is reentrant on one context.
 */
#ifndef KEYSUP_KS_AUTH_H
#define KEYSUP_KS_AUTH_H

#include "ks_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KS_CTRL_ID_SIZE 16
#define KS_READER_ID_SIZE 16
#define KS_CHALLENGE_SIZE 32
#define KS_NONCE_SIZE 16

/* ----- wire formats (docs/auth.md) ----- */

#define KS_RESPONSE_MAGIC "KSRP"
#define KS_RESPONSE_VERSION 1
#define KS_RESPONSE_SIZE 128

/* A key's answer to a challenge. */
typedef struct ks_response {
    uint8_t key_id[KS_KEYID_SIZE];
    uint8_t challenge[KS_CHALLENGE_SIZE];
    uint64_t use_counter;
    uint8_t signature[KS_SIG_SIZE];
} ks_response;

/*
 * The key's side: answers challenge with the key's use counter, signed with
 * sk (seed || pk, as ks_crypto.sign takes it). Fills out.
 */
int ks_response_make(const ks_crypto *c, const uint8_t challenge[KS_CHALLENGE_SIZE],
                     uint64_t use_counter, const uint8_t pk[KS_PUBKEY_SIZE],
                     const uint8_t sk[KS_SECKEY_SIZE], uint8_t out[KS_RESPONSE_SIZE]);
/* Structure only (size, magic, version, reserved). KS_E_FORMAT otherwise. */
int ks_response_decode(ks_response *r, const uint8_t *in, size_t len, ks_diag *d);
/* Signature of an encoded response against pk: 0 when valid. */
int ks_response_verify(const ks_crypto *c, const uint8_t in[KS_RESPONSE_SIZE],
                       const uint8_t pk[KS_PUBKEY_SIZE]);

#define KS_TIME_TOKEN_MAGIC "KSTT"
#define KS_TIME_TOKEN_VERSION 1
#define KS_TIME_TOKEN_SIZE 128

/* The supervisor's signed statement "it is `time` now" for one controller. */
typedef struct ks_time_token {
    uint8_t controller_id[KS_CTRL_ID_SIZE];
    uint64_t time;                      /* unix seconds */
    uint8_t nonce[KS_NONCE_SIZE];       /* from ks_auth_time_request, or zero */
    uint8_t signer_id[KS_KEYID_SIZE];   /* filled by ks_time_token_make */
    uint8_t signature[KS_SIG_SIZE];
} ks_time_token;

/* Signs t with the supervisor key sk (fills signer id and signature) into out. */
int ks_time_token_make(const ks_crypto *c, ks_time_token *t, const uint8_t sk[KS_SECKEY_SIZE],
                       uint8_t out[KS_TIME_TOKEN_SIZE]);
int ks_time_token_decode(ks_time_token *t, const uint8_t *in, size_t len, ks_diag *d);

#define KS_LICENCE_MAGIC "KSLC"
#define KS_LICENCE_VERSION 1
#define KS_LICENCE_SIZE 128        /* version 1 */
#define KS_LICENCE_VERSION_BOUND 2 /* version 2: a serial, optionally bound to a key */
#define KS_LICENCE_SIZE_V2 160
#define KS_LICENCE_MAX 160

/* Feature bits of a licence. Bits 8..63 are free for integrators. */
enum ks_feature {
    KS_FEAT_BASE = 1u << 0,      /* the controller may run at all */
    KS_FEAT_FIRMWARE = 1u << 1,  /* firmware updates through keysup */
    KS_FEAT_CALIBRATION = 1u << 2,
    KS_FEAT_TWO_MAN = 1u << 3
};
/* "base", "firmware", "calibration", "two_man" for bits 0..3; NULL else. */
const char *ks_feature_name(unsigned bit);

typedef struct ks_licence {
    uint8_t version;                    /* 1 or 2 (filled by decode and make) */
    uint8_t controller_id[KS_CTRL_ID_SIZE];
    uint64_t features;
    uint64_t issued_at;
    uint64_t expires_at;                /* unix seconds, exclusive; 0 = never */
    uint8_t signer_id[KS_KEYID_SIZE];
    uint8_t signature[KS_SIG_SIZE];
    /* version 2 only (zero in version 1) */
    uint64_t serial;                    /* the supervisor's licence id */
    uint32_t bound_window;              /* seconds a presentation of bound_key counts; 0 unbound */
    uint8_t bound_key[KS_KEYID_SIZE];   /* key id of the dongle/token; zero when unbound */
} ks_licence;

/* Version 1, 128 bytes (no serial, never bound). */
int ks_licence_make(const ks_crypto *c, ks_licence *l, const uint8_t sk[KS_SECKEY_SIZE],
                    uint8_t out[KS_LICENCE_SIZE]);
/* Version 2, 160 bytes: serial, bound_key and bound_window as given (both
 * zero: unbound; a bound key needs a window of at least 1 s). */
int ks_licence_make_v2(const ks_crypto *c, ks_licence *l, const uint8_t sk[KS_SECKEY_SIZE],
                       uint8_t out[KS_LICENCE_SIZE_V2]);
/* Either version, told apart by its length and version byte. */
int ks_licence_decode(ks_licence *l, const uint8_t *in, size_t len, ks_diag *d);
/* 1 when l is bound to a key (version 2 with a non-zero bound_key). */
int ks_licence_bound(const ks_licence *l);

/* ----- the privileged-action catalogue ----- */

enum ks_action_id {
    KS_ACT_NONE = 0,
    KS_ACT_ACCESS = 1,          /* ordinary door access (operator) */
    KS_ACT_DOOR_OVERRIDE = 2,
    KS_ACT_VOID = 3,
    KS_ACT_REFUND = 4,
    KS_ACT_PRICE_OVERRIDE = 5,
    KS_ACT_Z_REPORT = 6,
    KS_ACT_CAL_C01 = 7,
    KS_ACT_CAL_C02 = 8,
    KS_ACT_CAL_C03 = 9,
    KS_ACT_CAL_C04 = 10,
    KS_ACT_CAL_C05 = 11,
    KS_ACT_CAL_C06 = 12,
    KS_ACT_CAL_C07 = 13,
    KS_ACT_PARAMETER = 14,
    KS_ACT_FIRMWARE = 15,
    KS_ACT_USER_MGMT = 16,
    KS_ACT_CLEAR_PENDING = 17,  /* clear pending transactions */
    KS_ACT_SESSION = 18,        /* supervisor sign-on: opens a session only */
    KS_ACT_UNLOCK = 19,         /* administrator lockout reset */
    KS_ACT_COUNT = 20
};

/* ks_action_def.flags */
#define KS_ACT_F_TWO_SUPERVISORS 1u  /* two different supervisor keys, one-shot */
#define KS_ACT_F_SEALED 2u           /* refused while the seal switch is ON (KSE-504) */
#define KS_ACT_F_TRANSACTION 4u      /* leaves a pending transaction until ks_auth_txn_done */
#define KS_ACT_F_WHILE_PENDING 8u    /* allowed while a transaction is pending */

typedef struct ks_action_def {
    uint16_t id;                 /* enum ks_action_id */
    const char *name;            /* stable lower-case name: "z_report", "cal_c03" */
    uint64_t privileges;         /* every bit is required (KS_PRIV_*) */
    uint32_t flags;              /* KS_ACT_F_* */
    uint32_t session_timeout;    /* seconds after sign-on a session may still
                                    authorise it; 0 = fresh key every time */
    uint64_t feature;            /* licence feature bit required, 0 none */
} ks_action_def;

/* The entry for an action id, or NULL. */
const ks_action_def *ks_action_find(uint16_t id);
/* The entry for a name (case-insensitive), or NULL. */
const ks_action_def *ks_action_by_name(const char *name, size_t len);
/* Entry i (0 <= i < KS_ACT_COUNT - 1), in id order. */
const ks_action_def *ks_action_at(uint32_t i);
/* 1 when the action needs a supervisor key (its privileges hold SUPERVISOR). */
int ks_action_needs_supervisor(const ks_action_def *a);

/* ----- the audit record (KS_AUDIT_PAYLOAD bytes in the store's ring) ----- */

#define KS_AUDIT_VERSION 1

enum ks_audit_event {
    KS_EV_DECISION = 1,      /* a decision: err 0 granted, else the refusal */
    KS_EV_FIRST_OF_TWO = 2,  /* first supervisor of a two-supervisor action accepted */
    KS_EV_LOCKED = 3,        /* a key or reader was locked out; detail = locked_until */
    KS_EV_UNLOCK = 4,        /* administrator unlock; key_id = who, reader = what */
    KS_EV_TIME = 5,          /* time token applied; detail = new time, err -600 if it corrected a skew */
    KS_EV_SESSION_END = 6,   /* session closed or expired; detail = handle */
    KS_EV_TXN_DONE = 7,      /* pending transaction finished */
    KS_EV_CHAIN_START = 8    /* first record after the previous one became unreadable */
};

typedef struct ks_audit_rec {
    uint8_t version;
    uint8_t event;           /* enum ks_audit_event */
    uint16_t action;
    int32_t err;             /* 0 or a negative ks_err (KSE number = -err) */
    uint64_t time;           /* the engine's trusted time (best effort when the clock is bad) */
    uint8_t key_id[KS_KEYID_SIZE];
    uint8_t reader[KS_READER_ID_SIZE];
    uint64_t detail;         /* use counter, locked_until, new time, store sequence... */
    uint64_t index;          /* position in the chain: 1, 2, ... */
    uint8_t prev[KS_HASH_SIZE];  /* chain hash of the previous record; zero at a start */
    uint32_t session;        /* session handle involved, 0 none */
    uint32_t clock;          /* KS_CLOCK_* flags at the time */
} ks_audit_rec;

void ks_audit_encode(const ks_audit_rec *r, uint8_t out[KS_AUDIT_PAYLOAD]);
int ks_audit_decode(ks_audit_rec *r, const uint8_t in[KS_AUDIT_PAYLOAD], ks_diag *d);
/* Chain hash of one encoded record: H(label || record). */
void ks_audit_hash(const ks_crypto *c, uint8_t out[KS_HASH_SIZE],
                   const uint8_t rec[KS_AUDIT_PAYLOAD]);
/*
 * Verifies n consecutive records (n * KS_AUDIT_PAYLOAD bytes): each one's
 * prev is the chain hash of the one before and its index one more, except
 * at a KS_EV_CHAIN_START record (index 1, prev zero). prev (may be NULL)
 * is the chain hash the first record must carry; head (may be NULL) the
 * chain hash the last record must have, which catches an altered or cut
 * tail. KS_OK, KS_E_FORMAT (a record is malformed) or KS_E_ROOT (chain
 * broken: a record was removed, inserted or altered); *bad (may be NULL)
 * gets the index of the first record that does not fit.
 */
int ks_audit_verify(const ks_crypto *c, const uint8_t *recs, size_t n,
                    const uint8_t prev[KS_HASH_SIZE], const uint8_t head[KS_HASH_SIZE],
                    size_t *bad);

/* ----- the engine ----- */

/* Trusted-time flags (ks_time_status.flags, ks_audit_rec.clock). */
#define KS_CLOCK_ANCHORED 1u   /* a time token has been applied */
#define KS_CLOCK_DRIFT 2u      /* a drift estimate exists */
#define KS_CLOCK_SKEW 4u       /* off by more than the tolerance: KSE-600 */
#define KS_CLOCK_RTC_FAIL 8u   /* RTC reset, stopped, went back or failed: KSE-601 */

/* RTC readings below this (2020-01-01) are an RTC that lost its time. */
#define KS_AUTH_EPOCH_MIN 1577836800u

/* Counter-table kinds the engine uses beside KS_COUNTER_KEY/READER. */
#define KS_COUNTER_AUTH_STATE 2  /* id = controller id: challenge counter, pending txn */
#define KS_COUNTER_AUTH_CLOCK 3  /* id = controller id: time anchor and drift */

/*
 * The hardware the engine needs besides flash and crypto. rtc and rng are
 * required; seal and mono may be NULL (no seal switch; no stopped-RTC check).
 *   rtc:  the real-time clock in unix seconds; negative when it is not
 *         running or cannot be read (battery);
 *   rng:  fills n bytes from a cryptographic RNG; 0 on success;
 *   seal: 1 when the seal switch is ON, 0 when OFF;
 *   mono: seconds since boot from a monotonic tick that never stops.
 */
typedef struct ks_auth_hal {
    void *ctx;
    int (*rtc)(void *ctx, uint64_t *unix_s);
    int (*rng)(void *ctx, uint8_t *buf, size_t n);
    int (*seal)(void *ctx);
    int (*mono)(void *ctx, uint64_t *s);
} ks_auth_hal;

/* One open supervisor session (a row of the caller's table). */
typedef struct ks_auth_session {
    uint32_t handle;                    /* 0: free row */
    uint8_t key_id[KS_KEYID_SIZE];
    uint8_t reader[KS_READER_ID_SIZE];
    uint64_t privileges;
    uint64_t opened_at;
} ks_auth_session;

/* One outstanding challenge per reader (a row of the caller's table). */
typedef struct ks_auth_pending {
    int used;
    uint8_t reader[KS_READER_ID_SIZE];
    uint16_t action;
    int has_challenge;
    uint8_t challenge[KS_CHALLENGE_SIZE];
    uint64_t issued_at;
    int has_first;                      /* first of two supervisors accepted */
    uint8_t first[KS_KEYID_SIZE];
    uint64_t first_at;
} ks_auth_pending;

typedef struct ks_auth_cfg {
    uint8_t controller_id[KS_CTRL_ID_SIZE];
    uint32_t scope;              /* this controller's scope; keys with KS_SCOPE_ALL or it pass */
    uint8_t min_key_format;      /* KSE-400 below it */

    /* lockout (pam_faillock's deny / fail_interval / unlock_time) */
    uint32_t deny;               /* failures in the window that lock; >= 1 */
    uint32_t fail_interval;      /* the window, seconds */
    uint32_t unlock_time;        /* first lock length, seconds; 0 = administrator only */
    uint32_t max_backoff;        /* cap of the doubling lock length, seconds */

    /* time */
    uint32_t clock_tolerance;    /* seconds of error before KSE-600 */
    uint32_t validity_skew;      /* seconds of slack on valid_from/valid_until, at most the tolerance */
    uint32_t challenge_ttl;      /* seconds a challenge stays answerable */
    uint32_t session_max;        /* absolute session cap, seconds */
    uint32_t two_man_window;     /* seconds the second supervisor has after the first */

    ks_auth_session *sessions;   /* caller's table, session_cap rows */
    uint32_t session_cap;
    ks_auth_pending *pending;    /* caller's table, pending_cap rows (one per reader) */
    uint32_t pending_cap;

    const ks_crypto *crypto;     /* hash and verify */
    ks_store *store;             /* mounted */
    ks_auth_hal hal;
} ks_auth_cfg;

/*
 * Fills cfg with the defaults: deny 3, fail_interval 900, unlock_time 600,
 * max_backoff 86400, clock_tolerance 300, validity_skew 60, challenge_ttl
 * 30, session_max 900, two_man_window 120, min_key_format 1, scope all.
 * Tables, crypto, store, hal and controller id are left zero.
 */
void ks_auth_cfg_default(ks_auth_cfg *cfg);

typedef struct ks_auth {
    ks_auth_cfg cfg;
    int ready;

    /* challenge counter: persisted high-water mark reserved in blocks */
    uint64_t chal_ctr, chal_reserved;

    /* pending transaction (persisted in the STATE row) */
    uint16_t pending_action;
    uint64_t pending_since;

    /* trusted time */
    unsigned clock;              /* KS_CLOCK_* */
    uint64_t anchor_rtc, anchor_time;  /* raw RTC and token time at the last token */
    int32_t drift_ppm;           /* RTC rate error, parts per million (+ fast) */
    uint64_t last_good;          /* highest trusted time seen */
    uint64_t last_good_saved;    /* last_good as persisted */
    int64_t last_error;          /* token time minus our time at the last token */
    uint8_t time_nonce[KS_NONCE_SIZE];
    int time_nonce_set;
    uint64_t mono_ref, rtc_ref;        /* rate check reference */
    uint64_t mono_changed, rtc_last;   /* stopped check: tick when the RTC last moved */
    int mono_ref_set;

    /* licence (verified copy) */
    int has_licence;
    ks_licence licence;
    /* licence enforcement (ks_auth_licence_policy): feature bits whose
     * actions need the licence, and seconds of grace after its expiry */
    uint64_t lic_enforce;
    uint32_t lic_grace;
    /* the bound key's last authentic presentation (RAM only: a power cut
     * means the dongle is presented again) */
    int lic_seen;
    uint8_t lic_seen_key[KS_KEYID_SIZE];
    uint64_t lic_seen_at;        /* monotonic seconds when hal.mono exists, else trusted time */
    /* the last licence refusal of an action, for the health report */
    const char *lic_refused_what;
    uint64_t lic_refused_feature;
    uint64_t lic_refused_at;

    /* audit chain */
    uint64_t audit_index;
    uint8_t audit_prev[KS_HASH_SIZE];
} ks_auth;

/*
 * Starts the engine on a mounted store: checks cfg, loads the persisted
 * challenge counter, pending transaction, time anchor, and the audit chain
 * head (writing a KS_EV_CHAIN_START record when the newest record cannot be
 * read back). KS_E_INVAL for an impossible cfg; store errors as they come.
 */
int ks_auth_init(ks_auth *a, const ks_auth_cfg *cfg);

/* ks_auth_respond's flags. */
#define KS_AUTH_F_SESSION 1u   /* on a granted supervisor decision, open a session */

/* ks_auth_respond's positive return: first of two supervisors accepted. */
#define KS_AUTH_SECOND 1

typedef struct ks_auth_result {
    int err;                     /* the return value */
    uint16_t action;
    int key_known;               /* record below is filled */
    ks_record record;            /* the presented key's credential */
    uint32_t session;            /* session opened (or used), 0 none */
    uint64_t time;               /* trusted time of the decision */
    uint64_t audit_seq;          /* store sequence of the audit record, 0 if none */
    const char *what;            /* the check that refused ("auth.scope"), or NULL */
} ks_auth_result;

/*
 * Issues the challenge for `action` at `reader` (replacing any earlier one
 * for that reader). KS_E_LOCKOUT when the reader is locked out (audited);
 * KS_E_INVAL for an unknown action; rng/store errors.
 */
int ks_auth_challenge(ks_auth *a, const uint8_t reader[KS_READER_ID_SIZE], uint16_t action,
                      uint8_t challenge[KS_CHALLENGE_SIZE]);

/*
 * The decision on a key's response at `reader` for the action its challenge
 * was issued for. The challenge is consumed whatever the outcome. Checks,
 * in order (docs/auth.md):
 *   KSE-201 malformed response; KSE-500 reader or key locked out;
 *   KSE-202 key unknown; KSE-203 suspended or revoked; KSE-601/600 the
 *   clock cannot be trusted; KSE-204 outside validity (with the skew);
 *   KSE-400 key format below the minimum; KSE-202 out of scope;
 *   KSE-205 challenge not the one pending here (replayed, re-bound,
 *   expired) or signature invalid; KSE-206 use counter not above the last
 *   seen; KSE-502 key lacks the action's privileges; KSE-503 the same
 *   supervisor twice for a two-supervisor action; KSE-800 licence;
 *   KSE-504 seal switch ON; KSE-505 a transaction is pending.
 * Returns KS_OK (granted), KS_AUTH_SECOND (first supervisor of two
 * accepted: issue a new challenge for the second), or the refusal. Every
 * outcome is audited; res (may be NULL) gets the details.
 */
int ks_auth_respond(ks_auth *a, const uint8_t reader[KS_READER_ID_SIZE], const uint8_t *resp,
                    size_t len, unsigned flags, ks_auth_result *res);

/*
 * An action under an open session (session 0: none). KSE-503 when no
 * session, the session belongs to another reader, the action needs a fresh
 * key (session_timeout 0) or two supervisors; KSE-501 when the session
 * expired or was closed; then KSE-502, 800, 504, 505 as above. Audited.
 */
int ks_auth_session_action(ks_auth *a, uint32_t session, const uint8_t reader[KS_READER_ID_SIZE],
                           uint16_t action, ks_auth_result *res);
/* Closes a session (audited). KS_E_NOTFOUND when it is not open. */
int ks_auth_session_close(ks_auth *a, uint32_t session);

/* 1 while a transaction (an interrupted Z-report) is pending. */
int ks_auth_txn_pending(const ks_auth *a);
/* The granted transactional action finished: clears the pending flag (audited). */
int ks_auth_txn_done(ks_auth *a);

/*
 * Lockout state of (kind, id): KS_OK with *locked_until (0 none, UINT64_MAX
 * administrator only) and *fails. KS_E_NOTFOUND when no row exists.
 */
int ks_auth_lock_status(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE],
                        uint64_t *locked_until, uint32_t *fails);
/*
 * Administrator unlock of (kind, id) by `by` (an admin key id or a
 * supervisor command id): clears fails and back-off, keeps a key's use
 * counter; audited KS_EV_UNLOCK. KS_E_NOTFOUND when no row exists.
 */
int ks_auth_admin_unlock(ks_auth *a, uint8_t kind, const uint8_t id[KS_KEYID_SIZE],
                         const uint8_t by[KS_KEYID_SIZE]);

/* ----- trusted time ----- */

typedef struct ks_time_status {
    unsigned flags;              /* KS_CLOCK_* */
    uint64_t now;                /* best-effort trusted time */
    uint64_t rtc;                /* raw RTC (0 when unreadable) */
    int64_t offset;              /* trusted minus raw, from the last token */
    int32_t drift_ppm;
    int64_t last_error;          /* correction the last token made, seconds */
    uint64_t uncertainty;        /* estimated error bound now, seconds */
} ks_time_status;

/*
 * The trusted time. KS_OK with *now; KS_E_RTC_FAILURE (RTC unreadable,
 * reset to before KS_AUTH_EPOCH_MIN or before the anchor, gone back past
 * the last trusted time, or stopped against the monotonic tick) or
 * KS_E_CLOCK_SKEW (told it is off, or its estimated drift since the last
 * token exceeds the tolerance); *now is then the best estimate, for lockout
 * arithmetic only. A failure latches until the next time token.
 */
int ks_auth_now(ks_auth *a, uint64_t *now);
/*
 * ks_auth_now is these two steps, kept apart so that a caller that only
 * wants to know the time writes nothing: ks_auth_time_read judges the
 * clock and returns the trusted time (RAM only, same results as
 * ks_auth_now); ks_auth_time_persist writes the highest trusted time to
 * the store's STATE row when it is KS_AUTH_GOOD_PERIOD (an hour) past the
 * persisted one, else does nothing. ks_auth_now persists only after a good
 * reading; a failed persist weakens only the went-back check.
 */
int ks_auth_time_read(ks_auth *a, uint64_t *now);
int ks_auth_time_persist(ks_auth *a);
void ks_auth_time_status(ks_auth *a, ks_time_status *out);
/* A fresh nonce the next time token must carry (binds it to this request). */
int ks_auth_time_request(ks_auth *a, uint8_t nonce[KS_NONCE_SIZE]);
/*
 * Applies a supervisor time token: structure (KS_E_FORMAT), controller id
 * (KS_E_INVAL), signer pinned in the store's trust (KSE-700), signature
 * (KS_E_SIGNATURE), freshness (KS_E_ROLLBACK: time not after the last
 * token's, or the nonce differs from an outstanding request). Then
 * re-anchors the clock, updates the drift estimate, clears the clock
 * failure flags, persists, and audits (err -600 when it corrected more than
 * the tolerance).
 */
int ks_auth_time_apply(ks_auth *a, const uint8_t *tok, size_t len, ks_diag *d);
/*
 * An unsigned reference time (e.g. from the supervisor's heartbeat answer).
 * It can only take trust away: more than the tolerance from our time marks
 * the clock KSE-600 until a signed token comes. Returns the clock state.
 */
int ks_auth_time_hint(ks_auth *a, uint64_t ref);

/* ----- licence ----- */

/*
 * Verifies and keeps a licence: structure, bound to this controller, signer
 * pinned, signature, not expired. Any failure is KSE-800 (d says which) and
 * forgets the previous licence.
 */
int ks_auth_set_licence(ks_auth *a, const uint8_t *lic, size_t len, ks_diag *d);
/* KS_OK when the kept licence covers every bit of feature now; else KSE-800. */
int ks_auth_licence_check(ks_auth *a, uint64_t feature);
/*
 * The same with the reason (docs/licences.md "Enforcement"): *what (may be
 * NULL) gets "licence.none" (no licence kept), "licence.feature" (it lacks
 * a bit), "licence.expired" (past expires_at plus the grace),
 * "licence.dongle" (bound to a key not presented within its window) or
 * "licence.clock" (it expires, and the engine's clock cannot be trusted:
 * the clock's own code, KSE-600/601, is returned so the fix names it).
 */
int ks_auth_licence_gate(ks_auth *a, uint64_t feature, const char **what);
/*
 * The rollout rule: an action's licence feature is checked only for the
 * bits in enforce (from the supervisor's signed settings; 0, the default,
 * checks none, so a fleet without licences keeps working). grace: seconds
 * after expires_at a licence still counts.
 */
void ks_auth_licence_policy(ks_auth *a, uint64_t enforce, uint32_t grace);
/* Records an authentic presentation of key_id (signature and counter
 * good): counts for a licence bound to that key. Called by the decision. */
void ks_auth_licence_seen(ks_auth *a, const uint8_t key_id[KS_KEYID_SIZE]);

/* Chain hash of the newest audit record (for the health report). */
void ks_auth_audit_head(const ks_auth *a, uint8_t out[KS_HASH_SIZE], uint64_t *index);

#ifdef __cplusplus
}
#endif
#endif
