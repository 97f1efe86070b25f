/*
 * ks_sup.h - the supervisor daemon's shared context and the contracts
 * between its parts (config, logging, signing key, registry, publisher,
 * nonces, metrics, HTTP). Each part lives in its own file.
 *
 * Threads: libmicrohttpd runs handlers on a pool of threads; the publisher
 * runs on its own thread. `lock` serialises every use of the database
 * handle and of the signing key; nothing slow (hashing a million records,
 * signing) runs while holding it.
 */
#ifndef KEYSUP_KS_SUP_H
#define KEYSUP_KS_SUP_H

#include <jansson.h>
#include <keysup/keysup.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "ks_db.h"
#include "ks_hex.h"
#include "ks_metrics.h"
#include "ks_webhook.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ----- config (docs/supervisor.md) ----- */

typedef struct ks_sup_config {
    char listen[128];            /* host:port */
    char key_file[PATH_MAX];     /* active signing key file (relative to data dir) */
    uint32_t max_body;           /* request body limit in bytes (413 above) */
    uint32_t threads;            /* HTTP worker threads */
    uint64_t snapshot_ttl;       /* seconds from created_at to expires_at */
    uint32_t snapshot_retain;    /* published versions kept per scope for deltas */
    uint32_t heartbeat_interval; /* seconds, told to controllers */
    uint32_t nonce_ttl;          /* seconds a device nonce stays usable */
    uint32_t provision_ttl;      /* seconds a provisioning token stays usable */
    int sync_full;               /* SQLite synchronous=FULL */
    int log_level;               /* 0 error, 1 warn, 2 info, 3 debug */
    /* diagnosis policy (docs/diagnosis.md); KEYSUP_DIAG_* variables override */
    uint32_t diag_missed;        /* missed heartbeats before KSE-100 */
    uint32_t clock_tolerance;    /* seconds of clock error before KSE-600 */
    uint32_t diag_quiet;         /* quiet seconds that close a refusal incident */
    uint32_t diag_recent;        /* seconds of refusals an on-demand diagnosis reads */
    uint32_t diag_behind;        /* intervals a controller may lag the published version */
    uint32_t escalate_window;    /* seconds in which a repaired fault's return escalates */
    uint32_t max_repairs;        /* automatic repair attempts per incident */
    uint32_t policy_threshold;   /* policy refusals of one code in the window that open an incident */
    uint32_t policy_window;      /* seconds of that window */
    uint32_t protocol_min, protocol_max; /* device protocol versions spoken */
    /* limits against a hostile network (docs/supervisor.md, "Limits") */
    uint32_t max_connections;    /* open client connections in total */
    uint32_t max_conn_per_ip;    /* open connections per client address */
    uint32_t header_timeout;     /* seconds to send a complete request header */
    uint32_t body_timeout;       /* seconds from the header until the answer starts */
    uint32_t nonce_rate, nonce_burst; /* anonymous nonces per client: per second, burst */
    uint32_t enroll_per_minute;  /* enrolment attempts per client per minute (and burst) */
    uint32_t audit_sample;       /* anonymous refusals audited one by one per client/minute */
    uint32_t audit_retention_days; /* 0 = keep */
    uint32_t audit_retention_rows; /* 0 = no limit */
    /* TLS (docs/supervisor.md, ks_http_tls.c); paths relative to the data dir */
    char tls_cert[PATH_MAX];     /* PEM certificate (chain); empty: plain HTTP */
    char tls_key[PATH_MAX];      /* PEM private key of that certificate */
    int allow_plain_http;        /* plain HTTP on a non-loopback address */
} ks_sup_config;

/* keysupd.conf's value rules, shared with the other .conf files in DATA:
 * blanks trimmed in place; a decimal in [lo, hi], the whole string. */
char *ks_config_trim(char *s);
int ks_config_uint(const char *v, uint64_t lo, uint64_t hi, uint64_t *out);
void ks_config_defaults(ks_sup_config *c);
/* Reads `key = value` lines; unknown keys and bad values are errors
 * (message in err naming the line). Missing file: err set, KS_E_IO. */
int ks_config_load(ks_sup_config *c, const char *path, char *err, size_t errlen);
/* Writes a commented config file with c's values. */
int ks_config_write(const ks_sup_config *c, const char *path);

/* ----- logging: one line per event ----- */

enum { KS_LOG_ERROR = 0, KS_LOG_WARN = 1, KS_LOG_INFO = 2, KS_LOG_DEBUG = 3 };
void ks_log_set_level(int level);
/* "2024-05-01T10:00:00Z keysupd info event=key.enrol k=v ..."; fmt gives
 * the k=v part. Thread-safe (one write per line). */
void ks_log(int level, const char *event, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ----- metrics ----- */

typedef struct ks_metrics {
    atomic_ullong http_requests;
    atomic_ullong http_2xx, http_4xx, http_5xx;
    atomic_ullong http_413;
    atomic_ullong auth_failures;
    atomic_ullong device_replays;
    atomic_ullong heartbeats;
    atomic_ullong snapshots_served, deltas_served;
    atomic_ullong audit_records;
    atomic_ullong publishes;
    atomic_ullong publish_usec_total;
    atomic_ullong publish_usec_last;
    atomic_ullong request_usec_total;
    ks_hist request_seconds, publish_seconds; /* latency histograms (ks_metrics.c) */
} ks_metrics;

/* ----- the daemon ----- */

typedef struct ks_publisher ks_publisher;
typedef struct ks_nonces ks_nonces;
typedef struct ks_sup ks_sup;

/*
 * Hooks later parts (the diagnosis engine) attach to. Called without the
 * lock held, after the event is stored. May be NULL.
 */
typedef struct ks_sup_hooks {
    void *ctx;
    void (*on_heartbeat)(void *ctx, ks_sup *s, int64_t controller_id, json_t *report);
    void (*on_command_ack)(void *ctx, ks_sup *s, int64_t controller_id, int64_t command_id,
                           const char *result);
} ks_sup_hooks;

struct ks_sup {
    char data_dir[PATH_MAX];
    ks_sup_config cfg;
    ks_crypto crypto;
    pthread_mutex_t lock;        /* db and signing key */
    ks_db *db;
    uint8_t sk[KS_SECKEY_SIZE];  /* active supervisor signing key */
    uint8_t pk[KS_PUBKEY_SIZE];
    int64_t key_seq;
    char *pass;                  /* key file passphrase, kept to seal rotated keys */
    size_t passlen;
    ks_publisher *pub;
    ks_nonces *nonces;
    ks_metrics metrics;
    struct ks_webhook *webhook; /* incident webhook, started on first use (ks_webhook.c) */
    ks_sup_hooks hooks;
    void *http;                  /* struct MHD_Daemon * */
    struct ks_guard *guard;      /* limits, deadlines, refusal sampling (ks_guard.h) */
    uint16_t port;               /* bound port */
    struct ks_tls *tls;          /* certificate in use when serving HTTPS (ks_tls.h) */
    uint32_t history;            /* snapshot history id; atomic (ks_restore.c) */
    uint64_t version_floor;      /* versions never at or below; atomic (ks_restore.c) */
};

/* Paths inside a data directory. */
#define KS_SUP_DB_NAME "keysup.db"
#define KS_SUP_CONF_NAME "keysupd.conf"
#define KS_SUP_KEY_NAME "supervisor-1.key"

/* A file named in the config or the database: absolute as given, else
 * relative to the data directory (key files, TLS pair, keysupd.conf). */
void ks_sup_path(const ks_sup *s, const char *file, char *out, size_t n);

/*
 * Opens the data directory: config (cfg_path or DIR/keysupd.conf), database
 * (migrated), signing key (pass/passlen may be NULL/0 for a plain key file).
 * err gets a one-line reason on failure. ks_sup_close undoes it.
 */
int ks_sup_open(ks_sup *s, const char *data_dir, const char *cfg_path, const char *pass,
                size_t passlen, char *err, size_t errlen);
void ks_sup_close(ks_sup *s);

/*
 * Creates a data directory (mode 0700): config, migrated database, an
 * encrypted signing key and the first admin token, which is written to
 * token_out (the only copy; the database keeps its hash). Refuses a
 * directory that already holds a database.
 */
int ks_sup_init(const char *data_dir, const char *pass, size_t passlen, int kdf_fast,
                char token_out[80], uint8_t pk_out[KS_PUBKEY_SIZE], char *err, size_t errlen);

/* ----- tokens (operator bearer tokens) ----- */

enum ks_role { KS_ROLE_NONE = 0, KS_ROLE_AUDITOR = 1, KS_ROLE_OPERATOR = 2, KS_ROLE_ADMIN = 3 };
const char *ks_role_name(int role);
int ks_role_from_name(const char *s);

/* New random token text "kst_<64 hex>" and its stored hash. */
void ks_token_new(const ks_crypto *c, char text[80], uint8_t hash[KS_HASH_SIZE]);
void ks_token_hash(const ks_crypto *c, const char *text, uint8_t hash[KS_HASH_SIZE]);

/* ----- audit ----- */

/* Appends an audit row; takes the lock itself unless locked != 0. */
void ks_audit(ks_sup *s, int locked, const char *actor, const char *action, const char *target,
              const char *result, const char *code, const char *detail);

/* ----- publisher ----- */

int ks_pub_start(ks_sup *s);
void ks_pub_stop(ks_sup *s);
/* Marks scope dirty (KS_SCOPE_ALL marks every scope) and wakes the
 * publisher. Call with the lock held, inside the change's transaction. */
int ks_pub_mark(ks_sup *s, uint32_t scope);
void ks_pub_kick(ks_sup *s);
/* Publishes every dirty scope now (the thread's body; also used by the
 * benchmark). Returns the number of scopes published or a negative error. */
int ks_pub_run_once(ks_sup *s);
/* Current version/root of a scope (0 when never published). */
uint64_t ks_pub_version(ks_sup *s, uint32_t scope, uint8_t root[KS_HASH_SIZE]);
/* Copy of the current snapshot image of a scope (malloc'd; free it). */
int ks_pub_snapshot(ks_sup *s, uint32_t scope, uint8_t **buf, size_t *len, uint64_t *version);
/* A delta from version `since` to the current one (malloc'd). KS_E_NOTFOUND
 * when since is not retained (full download needed). */
int ks_pub_delta(ks_sup *s, uint32_t scope, uint64_t since, uint8_t **buf, size_t *len,
                 uint64_t *version);

/* ----- signing key ----- */

/* Loads the active key named by the supervisor_keys table. Lock held. */
int ks_sigkey_load(ks_sup *s, char *err, size_t errlen);
/* Rotates: new key file, rotation record signed by old+new, all scopes
 * republished by the new key. Takes the lock. */
int ks_sigkey_rotate(ks_sup *s, int64_t *new_seq, char *err, size_t errlen);
/* Concatenated rotation records in order (malloc'd; *len may be 0). Lock held. */
int ks_sigkey_chain(ks_sup *s, uint8_t **buf, size_t *len);

/* ----- device nonces ----- */

ks_nonces *ks_nonces_new(uint32_t ttl, uint32_t cap);
void ks_nonces_free(ks_nonces *n);
void ks_nonces_issue(ks_nonces *n, const ks_crypto *c, uint8_t out[32], uint64_t now);
/* 1 when nonce was issued, unexpired and not used before (it is consumed),
 * else 0. */
int ks_nonces_consume(ks_nonces *n, const uint8_t nonce[32], uint64_t now);
/* Issues a nonce tagged with owner (non-zero: a client address tag); -1
 * when the table has no room that is free, expired or owner's own. */
int ks_nonces_issue_for(ks_nonces *n, uint32_t owner, uint8_t out[32], uint64_t now);
/* 1 when nonce is issued and unexpired (not consumed): checked before a
 * signed request's body is read. */
int ks_nonces_live(ks_nonces *n, const uint8_t nonce[32], uint64_t now);

/* ----- HTTP ----- */

int ks_http_start(ks_sup *s, char *err, size_t errlen);
void ks_http_stop(ks_sup *s);

/* ----- small helpers ----- */

uint64_t ks_now(void);
uint64_t ks_now_usec(void);
/* JSON rows of a query: one object per row; BLOB columns become hex. */
json_t *ks_db_rows_json(ks_db *db, const char *sql, const ks_dbv *p, int n, int *rc);

#endif
