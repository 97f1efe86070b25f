/*
 * ctl_agent.h - keysup-controller: the core (store + auth engine) on Linux
 * over a file-backed flash, the system clock, and a local control socket
 * that plays the reader and the terminal; plus the sync client that keeps it
 * in step with keysupd.
 *
 * Two threads (docs/controller.md "Decisions never wait on the network"):
 * the control socket (decisions) and the sync thread (heartbeat, downloads,
 * audit upload). One mutex, a->mu, guards the store and the engine; the
 * sync thread holds it while it touches them and releases it around every
 * network wait (ctl_http.c), so a hung supervisor never delays a decision.
 */
#ifndef KEYSUP_CTL_AGENT_H
#define KEYSUP_CTL_AGENT_H

#include <keysup/keysup.h>
#include <keysup/ks_auth.h>
#include <keysup/ks_store.h>

#include <pthread.h>

#include "ks_flash_file.h"

#define CTL_SECTOR_SIZE 4096u
#define CTL_PROG_SIZE 16u
#define CTL_DEFAULT_SECTORS 1024u     /* 4 MiB: two areas of ~14,000 keys */
#define CTL_COUNTERS 256u        /* key use counters + lockout rows */
/* Metadata: a ring of 3 blocks of 16 sectors (docs/controller.md "Store
 * layout"): the 48 sectors the pair of 24 took, so the pool and the largest
 * database are unchanged, and a block that fails is passed over instead of
 * stopping every compaction (bench/bench_ctl_wear.c measured the cost:
 * 4-7 % more metadata erases than the pair). Images formatted as the pair
 * (CTL_META_SECTORS_PAIR a block) keep it: the geometry is read from the image. */
#define CTL_META_SECTORS 16u     /* per metadata block: the counter table fits with room to log */
#define CTL_META_BLOCKS 3u
#define CTL_META_SECTORS_PAIR 24u /* what agents before the ring formatted, two blocks */
#define CTL_AUDIT_SECTORS 64u    /* audit ring: ~1,000 decisions kept while offline */
#define CTL_BUF 8192u
#define CTL_INDEX 1024u          /* lookup index entries: one per 16 records at 4 MiB */
#define CTL_OVERLAY_SECTORS 16u  /* delta overlay: two halves of 32 KiB (docs/store.md) */
#define CTL_OVERLAY 256u         /* overlay entries held in RAM (227 fit one half) */
#define CTL_FLASH_ENDURANCE 10000u /* rated erase cycles per sector of the emulated part */
#define CTL_ACK_PERSIST_S 600u  /* audit acknowledgement on flash at most this often */
#define CTL_SESSIONS 16u
#define CTL_READERS 16u
#define CTL_PROTOCOL 1                 /* device protocol version this agent speaks */
#define CTL_FIRMWARE "keysup-controller/0.1.0"

/* Degraded policy when the database is older than max_offline (KSE-110). */
enum ctl_degraded {
    CTL_DEGRADED_PRIVILEGED = 0, /* ordinary access continues; privileged actions refused */
    CTL_DEGRADED_DENY_ALL = 1,   /* everything refused */
    CTL_DEGRADED_ALLOW = 2       /* keep deciding on the cached database */
};

/*
 * What the agent keeps in the store's settings blob (docs/controller.md):
 * identity and policy that must survive a power cycle.
 */
typedef struct ctl_settings {
    uint64_t controller_id;      /* the supervisor's id; 0 = not enrolled */
    uint32_t scope;
    uint8_t device_seed[32];     /* the device key's Ed25519 seed */
    uint8_t min_key_format;
    uint8_t degraded;            /* enum ctl_degraded */
    uint32_t max_offline;        /* seconds without a sync before KSE-110 */
    uint64_t last_sync;          /* unix seconds of the last applied sync */
    uint64_t unit_tag;           /* binds the store to this unit's identity file */
    /* TLS pins of the supervisor (ctl_tls.c): [0] current, [1] announced
     * next; bit i of tls_pins says pin i is set. Settings version 2. */
    uint8_t tls_pins;
    uint8_t tls_pin[2][32];
    /* Licence enforcement from the supervisor's signed answer (ctl_licence.c,
     * ks_auth_licence_policy). Settings version 3. */
    uint8_t lic_enforce;         /* feature bits 0..7 whose actions need the licence */
    uint32_t lic_grace;          /* seconds after expiry a licence still counts */
    /* Rollback guards (ctl_rollback.c, docs/security.md). Settings version 4. */
    uint64_t lic_seq;            /* the policy answer's sequence last applied */
    uint8_t lic_held;            /* enum ctl_lic_held: which licence file may be loaded */
    uint8_t lic_hash[16];        /* CTL_LIC_HELD_HASH: BLAKE2b of the licence taken last */
    uint8_t version;             /* the version the blob was read as (not written) */
} ctl_settings;

/* Which licence file a controller accepts at start, offline. */
enum ctl_lic_held {
    CTL_LIC_HELD_ANY = 0,  /* upgraded from settings < 4: whatever the engine accepts */
    CTL_LIC_HELD_HASH = 1, /* only the licence whose hash is lic_hash */
    CTL_LIC_HELD_NONE = 2  /* the supervisor took it away: no file until it serves one */
};

#define CTL_SETTINGS_VERSION 4
#define CTL_SETTINGS_SIZE 176
#define CTL_SETTINGS_SIZE_V2 144
#define CTL_SETTINGS_SIZE_V1 72

/* KSE conditions the agent tracks to report (recent refusals by code). */
#define CTL_REFUSAL_CODES 32

typedef struct ctl_refusals {
    int code[CTL_REFUSAL_CODES];
    uint32_t count[CTL_REFUSAL_CODES];
    uint64_t first[CTL_REFUSAL_CODES];
    uint64_t last[CTL_REFUSAL_CODES];
    int n;
} ctl_refusals;

typedef struct ctl_opts {
    const char *flash_path;
    uint32_t flash_sectors;
    const char *socket_path;
    const char *supervisor;      /* base URL, e.g. http://127.0.0.1:8750; or several, comma-separated */
    unsigned heartbeat;          /* seconds between heartbeats */
    int protocol;                /* protocol version reported (fault hook: old) */
    const char *identity_path;   /* --identity; NULL: the flash path + ".id" */
    int fault_hooks;             /* --enable-fault-hooks: the test-only ops (ctl_fault.c) */
    /* Store geometry; 0: the CTL_* defaults. keysup-sim makes them small so
     * 10,000 stores fit in RAM (sim/sim_ctl.c). */
    uint32_t meta_sectors, audit_sectors, overlay_sectors, counters;
    /* Metadata blocks a NEW store is formatted with (docs/controller.md
     * "Store layout"): 0 = CTL_META_BLOCKS, 2 = the pair older agents
     * formatted. An existing image keeps the count its SUPER names. */
    uint32_t meta_blocks;
    int watch;                   /* --watch: hold a watch between heartbeats (ctl_watch.c) */
} ctl_opts;

/*
 * The transport (ctl_http.c): runs one prepared curl easy request and
 * returns its CURLcode. NULL: curl_easy_perform, blocking (the agent's sync
 * thread). keysup-sim sets its own, which hands the request to its event
 * loop and resumes the controller when it completes (sim/sim_loop.c), so
 * both run the same protocol steps.
 */
typedef int (*ctl_io_fn)(void *io_ctx, void *curl_easy);

typedef struct ctl_agent {
    ctl_opts o;
    ctl_io_fn io;                /* NULL: blocking curl_easy_perform */
    void *io_ctx;
    void *curl;                  /* one easy handle kept for the agent's life: keep-alive */
    ks_crypto crypto;
    ks_flash_emu flash;
    ks_store store;
    ks_store_cfg scfg;
    ks_counter counters[CTL_COUNTERS];
    uint8_t buf[CTL_BUF];
    uint8_t index[CTL_INDEX][KS_KEYID_SIZE]; /* RAM index of key ids for lookups */
    ks_ovl_ent overlay[CTL_OVERLAY];         /* small deltas land here, not in a new area */
    uint32_t *erase_counts; /* layout 3's per-sector erase counts (heap: 4 bytes a sector) */
    uint32_t *vmap;         /* layout 4's overlay and map sector bindings (heap) */
    uint64_t *page_index;   /* the paged layouts' fence index, 24 bytes a sector (heap) */
    uint8_t *page_index_sectors; /* its map of the applied pages, a bit a sector (heap) */
    uint8_t *sector_map;  /* layout 2's page bitmap, one bit per sector (heap: up to 128 KiB) */
    ks_auth auth;
    int auth_ready;
    ks_auth_session sessions[CTL_SESSIONS];
    ks_auth_pending pending[CTL_READERS];
    ctl_settings set;
    uint8_t device_pk[32], device_sk[64];
    uint8_t ctrl_id16[KS_CTRL_ID_SIZE];   /* key id of the device key */

    /* the state the health report and `ctl status` show */
    int mount_err;               /* result of the last mount (KSE-301 etc.) */
    ks_diag damage;
    int seal_on;
    int comm_lost;               /* KSE-100 raised */
    uint64_t last_contact;       /* last answered heartbeat */
    uint64_t last_attempt;
    int last_sync_err;           /* last snapshot/delta refusal */
    int damage_reported;         /* KSE-301 logged for the current damage */
    ctl_refusals refusals;
    uint64_t uploaded;           /* audit records acknowledged by the supervisor */
    /* The acknowledgement on flash lags `uploaded` (ctl_sync.c): one
     * metadata slot per upload was most of a busy door's metadata wear
     * (bench_ctl_wear). Written at most every CTL_ACK_PERSIST_S, when a
     * quarter of the ring waits unwritten, and at a clean stop; a power cut
     * only makes the supervisor see some records again (duplicates, ignored). */
    uint64_t ack_saved_ms;       /* monotonic ms of the last one written */
    char entered_code[16];       /* one-time code typed at the controller (replace credential) */
    int64_t rc_command;          /* replace_credential offered by the supervisor (0: none) */
    uint8_t rc_pk[32];           /* the key it would pin; its fingerprint is in `ctl status` */
    int64_t rc_done;             /* the last one carried out (its acknowledgement may be lost) */
    int tls_mismatch;            /* KSE-720: the last TLS connection failed the pin */

    /* fault hooks (tests, simulator) */
    int64_t rtc_skew;            /* seconds added to the system clock */
    int rtc_reset;               /* RTC reads as its epoch */
    int link_down;               /* every request to the supervisor fails */
    size_t sup_index;            /* which --supervisor answered last (ctl_http.c) */

    /* the unit's identity, kept apart from the store (ctl_identity.c) */
    char id_path[1024];
    uint8_t unit_secret[32];
    const char *identity_state;  /* "ok", "created", "restored", "foreign_store_refused", "lost" */
    char identity_note[256];     /* what happened at start, for status and the report */
    uint8_t set_floor;           /* the oldest settings version this unit may read (the
                                  * identity file's byte 20; ctl_rollback.c) */
    uint8_t set_written;         /* this process has written settings version 4 */
    uint64_t instance;           /* random per process start: two agents under one id show */

    /* medium scrub (ctl_scrub.c) */
    uint32_t scrub_next;         /* next sector to read from the medium */
    uint32_t scrub_passes;       /* whole-medium passes completed */
    int medium_err;              /* KS_E_HARDWARE_FAULT while the medium cannot be read */
    uint32_t medium_sector;      /* where it could not be read */
    uint32_t medium_changes;     /* scrubs that found the medium changed under the agent */
    uint32_t medium_change_at;   /* flash byte of the last such change */

    /* threads (ctl_thread.c) */
    pthread_mutex_t mu;          /* the store, the engine and this struct */
    int threaded;                /* the sync thread runs: ctl_http releases mu while waiting */
    pthread_t sync_thread;
    uint64_t last_contact_ms;    /* monotonic ms of the last answered heartbeat; 0 = never */
    uint64_t started_ms;         /* monotonic ms at start */

    /* a supervisor database from another history, refused (ctl_restore.c) */
    struct {
        int active;
        uint64_t version;        /* the refused one */
        uint32_t history;
        uint8_t root[KS_HASH_SIZE];
        uint32_t lost;           /* keys it would grant that this store holds revoked/suspended */
        uint8_t keys[16][KS_KEYID_SIZE];
        uint8_t states[16];
    } restore;

    /* storms (ctl_resume.c): no download before busy_until_ms after a 503,
     * and a snapshot cut short kept for a Range resume */
    uint64_t busy_until_ms;
    /* The last answer was keysupd shedding load (503/429 with Retry-After,
     * KSE-121): set by every ctl_http; shed heartbeats counted since start. */
    uint32_t shed_retry_after;   /* 0: the last answer was not a shed */
    uint64_t shed_heartbeats;
    uint8_t *part;
    size_t part_len;
    char part_etag[64];

    /* One request per heartbeat (issue 13): the nonce the last heartbeat's
     * answer handed out, for the next heartbeat (ctl_http.c). Single use;
     * only for the supervisor (sup_index) that issued it, until next_nonce_ms
     * (monotonic). fetch_nonce: never use one, fetch a nonce every time as
     * agents before it did (keysup-sim --fetch-nonce). */
    int has_next_nonce, fetch_nonce;
    uint8_t next_nonce[32];
    size_t next_nonce_sup;
    uint64_t next_nonce_ms;
    uint64_t nonce_fallbacks;    /* carried nonces refused: fetched and sent again */
    /* The heartbeat session (ctl_hbsess.c; docs/protocol.md): keys agreed
     * in one signed heartbeat, then steady heartbeats MAC'd with a counter.
     * Not with fetch_nonce (an older agent's behaviour). */
    struct ctl_hbsess {
        int live, pending;       /* keys usable / an offer awaits its answer */
        uint8_t esk[32], epk[32]; /* the offer's ephemeral key pair */
        uint8_t sid[16], c2s[32], s2c[32];
        uint64_t counter;        /* of the last MAC'd request */
        uint64_t until_ms;       /* monotonic: re-open after this */
        uint64_t answer_ms;      /* monotonic: the last answer taken (or the opening) */
        size_t sup;              /* the supervisor (sup_index) holding it */
        uint32_t skip;           /* heartbeats without an offer (keysupd took none) */
        uint64_t opened, used, fallbacks; /* counters (keysup-sim's summary) */
    } hbs;
    /* The report only when it changed (ctl_hbrep.c; docs/protocol.md):
     * keysupd holds the report hashed held_hash when held is set (its
     * verified answer said so). */
    struct ctl_hbrep {
        int held, sent;          /* sent: 0 no hash, 1 a full report with one, 2 a short one */
        uint8_t held_hash[32], sent_hash[32];
        uint64_t full, elided, needed; /* counters (keysup-sim's summary) */
    } hbrep;
    /* the push path (ctl_watch.c): the wait of the watch in flight (its
     * request deadline, ctl_http.c), and no watch before this mono ms */
    uint32_t hold_s;
    uint64_t watch_after_ms;
    uint64_t watch_wakes;        /* watches answered "changed" */
    uint64_t watch_carried;      /* of those, answered with the delta itself */
    int watch_fetch;             /* never ask for the delta in the answer (keysup-sim
                                  * --watch-fetch: the path before it, to compare) */
    /* CPU (this thread's, ns) of the push path's steps that do not wait on
     * the network: checking a signed watch answer, and a delta's verify and
     * apply (docs/BENCHMARKS.md, fifth session of issue 13) */
    uint64_t cpu_answer_ns, cpu_apply_ns, n_answer, n_apply;

    int stop;
} ctl_agent;

/* ----- ctl_agent.c ----- */

/* Opens (or creates) the flash file and mounts or formats the store. */
int ctl_open(ctl_agent *a, const ctl_opts *o, int create);
/* The same on an erased flash in RAM only (no file, no identity file of its
 * own unless o->identity_path is set): keysup-sim's controllers. */
int ctl_open_mem(ctl_agent *a, const ctl_opts *o);
void ctl_close(ctl_agent *a);
/* Formats the store (layout 4 with the metadata ring of CTL_META_BLOCKS, or
 * the opts' geometry; KS_STORE_TEST_LAYOUT=1, 2 or 3: that layout with the
 * metadata pair, and KS_STORE_TEST_META=KxM: K blocks of M sectors, as older
 * agents wrote, for the tests that prove old images keep working). Sets
 * a->scfg to the geometry it formatted, for the remounts after it. */
int ctl_store_format(ctl_agent *a, const ks_trust *trust);
/* Starts the auth engine once the controller is enrolled. */
int ctl_start_engine(ctl_agent *a);
int ctl_settings_load(ctl_agent *a);
int ctl_settings_save(ctl_agent *a);
/* Derives the device key and its 16-byte controller id from the seed. */
void ctl_device_key(ctl_agent *a);
/* Writes the audit acknowledgement the supervisor gave (a->uploaded) to
 * flash if it is ahead of the store's; force = 0 only when it is due. */
void ctl_audit_ack_save(ctl_agent *a, int force);
/* Records a refusal for the health report. */
void ctl_note_refusal(ctl_agent *a, int err, uint64_t now);
/* Current system time as the controller's RTC sees it (with fault hooks). */
uint64_t ctl_rtc(const ctl_agent *a);
/* The agent's time (ctl_time.c): trusted time once a time token anchored
 * the engine's clock, the RTC before. *trusted (may be NULL): 1 when the
 * engine judges the clock good. */
uint64_t ctl_now(ctl_agent *a, int *trusted);
/* 1 when the database is older than max_offline. */
int ctl_stale(ctl_agent *a, uint64_t now);

/* ----- ctl_hal.c ----- */

void ctl_hal(ctl_agent *a, ks_auth_hal *hal);

/* ----- ctl_socket.c: the local control socket ----- */

int ctl_serve(ctl_agent *a);

/* ----- ctl_ops.c: what the socket does (the operations table) ----- */

/* Handles one request object; returns the answer (caller frees). */
struct json_t;
struct json_t *ctl_handle(ctl_agent *a, struct json_t *req);
/* The status object (`ctl status`, and the base of the health report). */
struct json_t *ctl_status_json(ctl_agent *a);

/* ----- ctl_thread.c: the sync thread beside the decision path ----- */

uint64_t ctl_mono_ms(void);
/* Starts the sync thread (a->o.supervisor set); 0 or an errno. */
int ctl_sync_start(ctl_agent *a);
/* Asks it to stop and joins it (waits at most one request deadline). */
void ctl_sync_stop(ctl_agent *a);
void ctl_lock(ctl_agent *a);
void ctl_unlock(ctl_agent *a);
/* Seconds one request to the supervisor may take: connect plus answer
 * (derived from the heartbeat, docs/controller.md). */
unsigned ctl_request_deadline(const ctl_agent *a);
/* Raises KSE-100 once no answer came for 3 heartbeats plus one request
 * deadline, counted from the last answer, even while a request hangs.
 * Caller holds the lock. */
void ctl_link_watch(ctl_agent *a);

/* ----- ctl_identity.c: the unit's identity file ----- */

/* Binds the mounted (or failed) store to the unit's identity file at start.
 * mount_err: the result of mounting; the store may be reformatted. */
int ctl_identity_bind(ctl_agent *a, int mount_err, const ks_diag *damage);
/* Writes the identity file from a->set, the unit secret and the store's trust. */
int ctl_identity_save(ctl_agent *a);
/* At enrolment: a fresh unit secret, the tag into a->set. */
void ctl_identity_new(ctl_agent *a);
/* Keeps the file's supervisor pins in step with the store's (rotation). */
void ctl_identity_sync(ctl_agent *a);
/* A flash image whose size is wrong (truncated): set aside, start erased. */
int ctl_identity_medium_resized(ctl_agent *a, const char *path, uint64_t have, uint64_t want);

/* ----- ctl_scrub.c: reading the medium itself, a slice per heartbeat ----- */

#define CTL_SCRUB_BEATS 8u       /* the whole medium is read within this many heartbeats */
#define CTL_SCRUB_MIN 64u        /* sectors per heartbeat at least (256 KiB) */
uint32_t ctl_scrub_slice(const ctl_agent *a);
/* Reads the next slice of the flash file and takes any sector that differs
 * from what the agent wrote. 1: something changed (the integrity scan must
 * judge it); 0: the same; KS_E_HARDWARE_FAULT: the medium cannot be read.
 * Caller holds the lock; it is released while reading. */
int ctl_scrub_tick(ctl_agent *a);

/* ----- ctl_restore.c: a restored supervisor (issue 17 row 9) ----- */

/* Before an automatic full download is installed: KS_OK to go on, or
 * KS_E_SUPERVISOR_RESTORED (recorded for the report) to keep our database. */
int ctl_restore_guard(ctl_agent *a, const uint8_t *img, size_t len);
/* 1: (version, root) is the database already refused; do not fetch it again. */
int ctl_restore_skip(ctl_agent *a, uint64_t version, const uint8_t *root);
/* Adds applied_history and, while a database is refused, "restore". */
void ctl_restore_report(ctl_agent *a, struct json_t *o);

struct ctl_http_resp;

/* ----- ctl_resume.c: downloads in a storm (issue 13) ----- */

/* 1 while a 503 told us to wait (no download is tried). */
int ctl_busy(ctl_agent *a);
/* A 503 answer r: waits its Retry-After plus random jitter up to as long
 * again before the next download. */
void ctl_busy_note(ctl_agent *a, const struct ctl_http_resp *r);
/* A heartbeat keysupd shed (a->shed_retry_after set): the supervisor
 * answered, so the link is up; counted and logged, never KSE-100. */
void ctl_shed_heartbeat(ctl_agent *a);
/* GET /v1/device/snapshot, resuming a cut one with Range/If-Range. 0 with
 * the whole image in r (status 200), the answer's status otherwise (503:
 * backed off), or -1 when the supervisor could not be reached. */
int ctl_snapshot_fetch(ctl_agent *a, struct ctl_http_resp *r);
void ctl_resume_drop(ctl_agent *a);

/* ----- ctl_sync.c: the supervisor link ----- */

int ctl_enroll(ctl_agent *a, const char *url, const char *token);
/* One heartbeat: report, run commands, fetch and apply updates, upload audit. */
int ctl_heartbeat(ctl_agent *a);
/* Brings the store to `published` (root may be NULL) the way a heartbeat's
 * answer does: a delta, or a full download when one is needed. */
void ctl_sync_to(ctl_agent *a, uint64_t published, const uint8_t *root);
/* Applies a delta that arrived in a watch's answer exactly as a fetched one
 * (the publisher's signature and chain; a rotation followed; a refusal
 * noted for the health report). KS_OK or the store's refusal. */
int ctl_sync_delta_bytes(ctl_agent *a, const uint8_t *buf, size_t len);
/* This thread's CPU time in ns (the push path's step costs above). */
uint64_t ctl_thread_cpu_ns(void);
/*
 * ctl_watch.c, the push path: one signed watch held at most wait_s seconds.
 * 1: the scope published a newer version and the store was synced to it;
 * 0: nothing new; KS_E_SUPERVISOR_BUSY: refused (503), keep to the
 * heartbeat; KS_E_COMM_LOST: no answer; an answer error when not authentic.
 * A failed watch is never link loss (no KSE-100): the heartbeat judges that.
 */
int ctl_watch(ctl_agent *a, uint32_t wait_s);
/* Holds watches until mono ms `until` (or a->stop); without a->o.watch, or
 * after a refusal, sleeps instead. Called without a->mu held. */
void ctl_watch_until(ctl_agent *a, uint64_t until);

#endif
