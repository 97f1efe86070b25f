/*
 * sup.h - the supervisor daemon's shared context and the contracts
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

#include "sup_db.h"
#include "ks_hex.h"
#include "sup_metrics.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ----- config (docs/supervisor.md) ----- */

typedef struct sup_config {
    char listen[128];            /* host:port */
    char key_file[PATH_MAX];     /* active signing key file (relative to data dir) */
    uint32_t max_body;           /* request body limit in bytes (413 above) */
    uint32_t threads;            /* HTTP worker threads; 0: sup_config_threads */
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
    /* TLS (docs/supervisor.md, sup_http_tls.c); paths relative to the data dir */
    char tls_cert[PATH_MAX];     /* PEM certificate (chain); empty: plain HTTP */
    char tls_key[PATH_MAX];      /* PEM private key of that certificate */
    /* signing key in a PKCS#11 token (sup_signer.c, docs/keys-hardware.md) */
    char signing_key[PATH_MAX];  /* "pkcs11:..." URI to adopt, or empty */
    char signing_key_pin_file[PATH_MAX]; /* its PIN (relative to the data dir) */
    int allow_plain_http;        /* plain HTTP on a non-loopback address */
    char database[1024];         /* empty: DIR/keysup.db; postgresql://... (sup_db_pg.c) */
    /* operator console (docs/console.md, sup_console_config.c) */
    struct sup_console_cfg {
        char web_dir[PATH_MAX];  /* static files; empty: installed, else source tree */
        uint32_t idle;           /* seconds a session may sit unused */
        uint32_t session_max;    /* seconds a session lives at most */
        uint32_t deny;           /* failed sign-ins from one source that lock it out */
        uint32_t deny_global;    /* failed sign-ins from all sources that lock an operator */
        uint32_t fail_interval;  /* seconds in which those failures count */
        uint32_t unlock_time;    /* seconds the lock lasts */
        /* console_trusted_proxy: a sign-in from this address (IPv4-mapped
         * or IPv6) counts as X-Forwarded-For's last hop (sup_proxyaddr.c) */
        uint8_t trusted_proxy[16];
        int trusted_proxy_set;
    } console;
    /* fleet scale (issue 13; docs/operations.md, "Storms") */
    uint32_t import_max_body;    /* bytes of one POST /v1/keys:batch file */
    uint32_t max_downloads;      /* snapshot downloads sent at once (503 above) */
    uint32_t max_inflight;       /* requests being handled at once (503 above) */
    uint32_t retry_after;        /* seconds a shed request is told to wait (base) */
    uint32_t site_fold;          /* controllers of one site offline together that
                                  * fold into one site incident (KSE-120); 0 = never */
    int clone_policy;            /* KSE-214: SUP_CLONE_ALERT or _SUSPEND (sup_clone.h) */
    uint32_t watch_max;          /* watches held at once (503 KSE-121 above; sup_watch.h) */
    uint32_t watch_hold;         /* seconds a watch is held at most */
} sup_config;

/* keysupd.conf's value rules, shared with the other .conf files in DATA:
 * blanks trimmed in place; a decimal in [lo, hi], the whole string. */
char *sup_config_trim(char *s);
int sup_config_uint(const char *v, uint64_t lo, uint64_t hi, uint64_t *out);
void sup_config_defaults(sup_config *c);
/* The HTTP worker threads to run: cfg threads, or for 0 a count from the cores. */
uint32_t sup_config_threads(const sup_config *c);
/* Reads `key = value` lines; unknown keys and bad values are errors
 * (message in err naming the line). Missing file: err set, KS_E_IO. */
int sup_config_load(sup_config *c, const char *path, char *err, size_t errlen);
/* Writes a commented config file with c's values. */
int sup_config_write(const sup_config *c, const char *path);

/* ----- logging: one line per event ----- */

enum { KS_LOG_ERROR = 0, KS_LOG_WARN = 1, KS_LOG_INFO = 2, KS_LOG_DEBUG = 3 };
void sup_log_set_level(int level);
/* "2024-05-01T10:00:00Z keysupd info event=key.enrol k=v ..."; fmt gives
 * the k=v part. Thread-safe (one write per line). */
void sup_log(int level, const char *event, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ----- metrics ----- */

typedef struct sup_metrics {
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
    sup_hist request_seconds, publish_seconds; /* latency histograms (sup_metrics.c) */
} sup_metrics;

/* ----- the daemon ----- */

typedef struct sup_publisher sup_publisher;
typedef struct sup_nonces sup_nonces;
typedef struct sup_ctx sup_ctx;
typedef struct sup_conmem sup_conmem;
typedef struct sup_srclock sup_srclock;

/*
 * Hooks later parts (the diagnosis engine) attach to. Called without the
 * lock held, after the event is stored. May be NULL.
 */
typedef struct sup_hooks {
    void *ctx;
    void (*on_heartbeat)(void *ctx, sup_ctx *s, int64_t controller_id, json_t *report);
    void (*on_command_ack)(void *ctx, sup_ctx *s, int64_t controller_id, int64_t command_id,
                           const char *result);
} sup_hooks;

struct sup_ctx {
    char data_dir[PATH_MAX];
    sup_config cfg;
    ks_crypto crypto;
    pthread_mutex_t lock;        /* db and signing key */
    sup_db *db;
    uint8_t sk[KS_SECKEY_SIZE];  /* active supervisor signing key (a token's: sup_signer.h) */
    struct sup_signer *signer;   /* tokens holding signing keys (sup_signer.c) */
    struct sup_conmem *conmem;   /* console sessions' monotonic times, unknown names' failures */
    struct sup_srclock *srclock; /* console sign-in locks per source (sup_srclock.c) */
    uint8_t pk[KS_PUBKEY_SIZE];
    int64_t key_seq;
    char *pass;                  /* key file passphrase, kept to seal rotated keys */
    size_t passlen;
    sup_publisher *pub;
    sup_nonces *nonces;
    sup_metrics metrics;
    struct sup_webhook *webhook; /* incident webhook, started on first use (sup_webhook.c) */
    sup_hooks hooks;
    void *http;                  /* struct MHD_Daemon * */
    struct sup_guard *guard;      /* limits, deadlines, refusal sampling (sup_guard.h) */
    uint16_t port;               /* bound port */
    struct sup_tls *tls;          /* certificate in use when serving HTTPS (sup_tls.h) */
    uint32_t history;            /* snapshot history id; atomic (sup_restore.c) */
    uint64_t version_floor;      /* versions never at or below; atomic (sup_restore.c) */
    uint64_t claim_audit_at;     /* last KSE-711 audit row, seconds; 0 at sup_open; lock */
    struct sup_cluster *cluster; /* several keysupd on PostgreSQL (sup_cluster.h); NULL: one */
    struct sup_soft *soft;       /* heartbeat soft state, batched (sup_soft.h) */
    struct sup_devcache *devcache; /* device keys outside the lock (sup_devcache.h) */
    struct sup_keyview *keyview; /* the answer signer's key copy (sup_keyview.h) */
    struct sup_watch *watch;     /* held watches, the push path (sup_watch.h) */
    struct sup_hbsess *hbsess;   /* heartbeat sessions (sup_hbsess.h) */
    struct sup_hbrep *hbrep;     /* the last full report of each controller (sup_hbrep.h) */
};

/* Paths inside a data directory. */
#define KS_SUP_DB_NAME "keysup.db"
#define KS_SUP_CONF_NAME "keysupd.conf"
#define KS_SUP_KEY_NAME "supervisor-1.key"

/* A file named in the config or the database: absolute as given, else
 * relative to the data directory (key files, TLS pair, keysupd.conf). */
void sup_path(const sup_ctx *s, const char *file, char *out, size_t n);

/*
 * Opens the data directory: config (cfg_path or DIR/keysupd.conf), database
 * (migrated), signing key (pass/passlen may be NULL/0 for a plain key file).
 * err gets a one-line reason on failure. sup_close undoes it.
 */
int sup_open(sup_ctx *s, const char *data_dir, const char *cfg_path, const char *pass,
                size_t passlen, char *err, size_t errlen);
void sup_close(sup_ctx *s);

/*
 * Creates a data directory (mode 0700): config, migrated database, an
 * encrypted signing key and the first admin token, which is written to
 * token_out (the only copy; the database keeps its hash). Refuses a
 * directory that already holds a database.
 */
int sup_init(const char *data_dir, const char *pass, size_t passlen, int kdf_fast,
                char token_out[80], uint8_t pk_out[KS_PUBKEY_SIZE], char *err, size_t errlen);
/* sup_init with the database named: NULL or "" for DIR/keysup.db, else a
 * postgresql:// URL written to keysupd.conf (`keysup init --db`). */
int sup_init_db(const char *data_dir, const char *db_url, const char *pass, size_t passlen,
                int kdf_fast, char token_out[80], uint8_t pk_out[KS_PUBKEY_SIZE], char *err,
                size_t errlen);

/* ----- tokens (operator bearer tokens) ----- */

enum sup_role { KS_ROLE_NONE = 0, KS_ROLE_AUDITOR = 1, KS_ROLE_OPERATOR = 2, KS_ROLE_ADMIN = 3 };
const char *sup_role_name(int role);
int sup_role_from_name(const char *s);

/* New random token text "kst_<64 hex>" and its stored hash. */
void sup_token_new(const ks_crypto *c, char text[80], uint8_t hash[KS_HASH_SIZE]);
void sup_token_hash(const ks_crypto *c, const char *text, uint8_t hash[KS_HASH_SIZE]);

/* ----- audit ----- */

/* Appends an audit row; takes the lock itself unless locked != 0. */
void sup_audit(sup_ctx *s, int locked, const char *actor, const char *action, const char *target,
              const char *result, const char *code, const char *detail);

/* ----- publisher ----- */

int sup_pub_start(sup_ctx *s);
void sup_pub_stop(sup_ctx *s);
/* Marks scope dirty (KS_SCOPE_ALL marks every scope) and wakes the
 * publisher. Call with the lock held, inside the change's transaction. */
int sup_pub_mark(sup_ctx *s, uint32_t scope);
void sup_pub_kick(sup_ctx *s);
/* Publishes every dirty scope now (the thread's body; also used by the
 * benchmark). Returns the number of scopes published or a negative error. */
int sup_pub_run_once(sup_ctx *s);
/* Current version/root of a scope (0 when never published). */
uint64_t sup_pub_version(sup_ctx *s, uint32_t scope, uint8_t root[KS_HASH_SIZE]);
/* Copy of the current snapshot image of a scope (malloc'd; free it). */
int sup_pub_snapshot(sup_ctx *s, uint32_t scope, uint8_t **buf, size_t *len, uint64_t *version);
/* A delta from version `since` to the current one (malloc'd). KS_E_NOTFOUND
 * when since is not retained (full download needed). */
int sup_pub_delta(sup_ctx *s, uint32_t scope, uint64_t since, uint8_t **buf, size_t *len,
                 uint64_t *version);
/* The delta the publisher cached for `since` -> current (the one every
 * controller of the scope at `since` is sent), copied when it is at most
 * `max` bytes; KS_E_NOTFOUND when none is cached for since (nothing built). */
int sup_pub_delta_cached(sup_ctx *s, uint32_t scope, uint64_t since, size_t max, uint8_t **buf,
                         size_t *len, uint64_t *version);

/* ----- signing key ----- */

/* Loads the active key named by the supervisor_keys table. Lock held. */
int sup_sigkey_load(sup_ctx *s, char *err, size_t errlen);
/* Rotates: new key file, rotation record signed by old+new, all scopes
 * republished by the new key. Takes the lock. */
int sup_sigkey_rotate(sup_ctx *s, int64_t *new_seq, char *err, size_t errlen);
/* Concatenated rotation records in order (malloc'd; *len may be 0). Lock held. */
int sup_sigkey_chain(sup_ctx *s, uint8_t **buf, size_t *len);

/* ----- device nonces ----- */

sup_nonces *sup_nonces_new(uint32_t ttl, uint32_t cap);
void sup_nonces_free(sup_nonces *n);
void sup_nonces_issue(sup_nonces *n, const ks_crypto *c, uint8_t out[32], uint64_t now);
/* 1 when nonce was issued, unexpired and not used before (it is consumed),
 * else 0. */
int sup_nonces_consume(sup_nonces *n, const uint8_t nonce[32], uint64_t now);
/* Issues a nonce tagged with owner (non-zero: a client address tag); -1
 * when the table has no room that is free, expired or owner's own. */
int sup_nonces_issue_for(sup_nonces *n, uint32_t owner, uint8_t out[32], uint64_t now);
/* The same for a nonce made by the caller (sup_cluster.c). */
int sup_nonces_put_for(sup_nonces *n, uint32_t owner, const uint8_t nonce[32], uint64_t now);
/* 1 when nonce is issued and unexpired (not consumed): checked before a
 * signed request's body is read. */
int sup_nonces_live(sup_nonces *n, const uint8_t nonce[32], uint64_t now);
/* Nonces bound to one controller (dev > 0), handed out in a heartbeat's
 * answer: only dev may spend them; the _dev checks take the requesting
 * controller (0: none). foreign: 1 when nonce was not issued by this process
 * (a restart came between), so its refusal is no replay. sup_nonce.c. */
int sup_nonces_issue_dev(sup_nonces *n, uint32_t owner, int64_t dev, uint8_t out[32],
                         uint64_t now);
int sup_nonces_put_dev(sup_nonces *n, uint32_t owner, int64_t dev, const uint8_t nonce[32],
                       uint64_t now);
int sup_nonces_live_dev(sup_nonces *n, const uint8_t nonce[32], uint64_t now, int64_t dev);
int sup_nonces_consume_dev(sup_nonces *n, const uint8_t nonce[32], uint64_t now, int64_t dev);
int sup_nonces_foreign(const sup_nonces *n, const uint8_t nonce[32]);

/* ----- HTTP ----- */

int sup_http_start(sup_ctx *s, char *err, size_t errlen);
void sup_http_stop(sup_ctx *s);

/* ----- small helpers ----- */

uint64_t sup_now(void);
uint64_t sup_now_usec(void);
/* JSON rows of a query: one object per row; BLOB columns become hex. */
json_t *sup_db_rows_json(sup_db *db, const char *sql, const sup_dbv *p, int n, int *rc);

#endif
