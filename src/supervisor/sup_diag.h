/*
 * sup_diag.h - diagnosis of the Key Supervisor Error (docs/diagnosis.md).
 *
 * Three layers, one file each:
 *   sup_diag_rules.c   pure: from the facts about one controller (its health
 *                     report, the previous one, what the supervisor
 *                     published, its last contact) to findings, walked in
 *                     the technician's order, each marked root cause or
 *                     symptom of one. No database, no clock: testable.
 *   sup_diag_facts.c   gathers those facts from the registry.
 *   sup_incident.c     incidents: open, update, link actions, verify and
 *                     resolve, escalate; MTTD/MTTR.
 *   sup_diag_repair.c  auto-repair: queue the remediation command, audited.
 *   sup_diag_engine.c  the hooks keysupd calls (heartbeat, command ack), the
 *                     periodic sweep (missed heartbeats, quiet incidents).
 *   api_diag.c        /v1/controllers/{id}/diagnosis, /v1/incidents...
 *
 * Times are unix milliseconds (int64) throughout this layer: MTTD and MTTR
 * are measured against one-second heartbeats, so seconds are too coarse.
 */
#ifndef KEYSUP_KS_DIAG_H
#define KEYSUP_KS_DIAG_H

#include "ks_kse.h"
#include "sup.h"

/* A KSE number (301) by its one name, the core's enum ks_err
 * (KS_E_STORE_CORRUPT = -301): SUP_KSE(STORE_CORRUPT). Diagnosis and
 * incidents store and compare the positive number; writing it through the
 * enum keeps one spelling of every code (test_kse checks the enum, the name
 * table and the catalogue agree). */
#define SUP_KSE(sym) (-(KS_E_##sym))
/* The code's text, "KSE-740", into the char array buf (an error code, an
 * audit column); the value is buf. */
#define SUP_KSE_TEXT(buf, sym) (snprintf((buf), sizeof(buf), "KSE-%03d", SUP_KSE(sym)), (buf))

/* ----- policy ----- */

typedef struct sup_diag_cfg {
    uint32_t interval_ms;       /* heartbeat interval the controllers were told */
    uint32_t missed;            /* heartbeats missed before KSE-100 (3) */
    uint32_t clock_tolerance;   /* seconds between a controller's trusted time and ours (300) */
    uint32_t quiet;             /* seconds without a new refusal that close a refusal incident */
    uint32_t recent;            /* seconds of refusals an on-demand diagnosis looks back (900) */
    uint32_t behind;            /* heartbeats a controller may lag the published version (5) */
    uint32_t escalate_window;   /* seconds: a repeat of a repaired fault inside it escalates */
    uint32_t max_repairs;       /* automatic attempts per incident before steps only (3) */
    uint32_t policy_threshold;  /* policy refusals of one code within policy_window that
                                 * open an incident (5); fewer are evidence only */
    uint32_t policy_window;     /* seconds (600) */
    int proto_min, proto_max;   /* device protocol versions this supervisor speaks */
    uint32_t wear_days;         /* projected flash life (days) under which KSE-310 warns (365) */
} sup_diag_cfg;

/* KSE-310: warn while the flash has under a year of projected life left. */
#define SUP_DIAG_WEAR_DAYS 365u

/* s's configured policy, then KEYSUP_DIAG_* environment overrides
 * (docs/diagnosis.md). s is required. */
void sup_diag_cfg_init(sup_diag_cfg *c, const sup_ctx *s);

/* ----- facts ----- */

#define KS_DIAG_MAX_REFUSALS 32

typedef struct sup_diag_refusal {
    int code;                   /* 202 */
    int64_t count;              /* cumulative since the controller started */
    int64_t fresh;              /* new since the previous report (or in the recent window) */
    int64_t first_ms, last_ms;  /* as reported (second resolution) */
    int64_t window;             /* of this code within cfg.policy_window, fresh ones included
                                 * (-1: unknown, then fresh counts instead) */
} sup_diag_refusal;

typedef struct sup_diag_facts {
    int64_t ctrl_id;
    char name[101];
    int enrolled;
    uint32_t scope;
    int64_t now_ms;
    int64_t last_seen_ms;       /* 0: never */
    int64_t shed_ms;            /* this supervisor last shed a request (503 KSE-121; 0: never) */
    uint32_t interval_ms;       /* this controller's heartbeat interval as observed */
    uint64_t published_version;
    char published_root[2 * KS_HASH_SIZE + 1];
    uint32_t history;           /* this supervisor's snapshot history id (sup_restore.c) */
    json_t *report;             /* last health report (borrowed; NULL: none yet) */
    int64_t report_ms;          /* when it arrived */
    int64_t prev_report_ms;     /* when the one before arrived (0: unknown) */
    int64_t behind_since_ms;    /* first report behind the published version (0: in step) */
    int64_t clone_ms;           /* last time two agent instances alternated (KSE-730; 0: never) */
    int64_t clone_first_ms;     /* first time they did */
    char clone_inst[2][17];     /* the two instance ids */
    sup_diag_refusal ref[KS_DIAG_MAX_REFUSALS];
    int nref;
} sup_diag_facts;

/* ----- findings ----- */

typedef struct sup_finding {
    int code;                   /* KSE number */
    const ks_kse *kse;
    int root;                   /* 1: a root cause; 0: a symptom of `cause` */
    int cause;                  /* the root cause's code, for symptoms */
    int64_t first_ms;           /* first evidence */
    int64_t count;              /* refusals counted as evidence (0: a state) */
    int64_t last_ms;            /* the latest of those refusals */
    int refusal;                /* 1: found from refusals, not from a state */
    int no_auto;                /* 1: this instance is not for the automatic repair */
    int evidence_only;          /* 1: a refusal that is the policy working (root = 0,
                                 * cause = 0): shown, no incident, the controller stays ok */
    char evidence[400];         /* for the person at the terminal */
} sup_finding;

#define KS_DIAG_MAX_FINDINGS 32

typedef struct sup_findings {
    sup_finding f[KS_DIAG_MAX_FINDINGS];
    int n;
    int comm_lost;              /* the rest is as of the last report */
} sup_findings;

/*
 * The walk: fills out with every active condition, in area order
 * (communication, store, trust, sync, clock, protocol, lockout, profile,
 * key, hardware, licence), and marks symptoms: refusals explained by an
 * active root cause (KEY_UNKNOWN under DESYNC, STORE_CORRUPT, SYNC_STALE;
 * KEY_EXPIRED under a clock fault; attack-like refusals under LOCKOUT) are
 * attached to it instead of opening incidents of their own. Policy
 * refusals no root cause explains are evidence only, unless their window
 * count reaches cfg.policy_threshold. Only refusals with fresh > 0 count.
 */
void sup_diag_walk(const sup_diag_cfg *cfg, const sup_diag_facts *facts, sup_findings *out);

/* 1 when refusal_code is the policy working (NOT_SUPERVISOR, SEAL_ENGAGED,
 * KEY_REVOKED...): evidence below cfg.policy_threshold, not an incident.
 * Attack-like codes (SIGNATURE_INVALID, CLONE_SUSPECTED, LOCKOUT) are not. */
int sup_diag_is_policy_refusal(int code);

/* 1 when an active root cause `root` explains refusals with refusal_code. */
int sup_diag_explains(int root, int refusal_code);

/* 1 when code is a refusal-type condition (a decision refused), 0 for a
 * device state (store, clock, sync, link...). */
int sup_diag_is_refusal_code(int code);

/* ----- engine (sup_diag_engine.c) ----- */

typedef struct sup_diag_engine sup_diag_engine;

/* Creates the engine, registers the hooks and starts the sweep thread. */
int sup_diag_start(sup_ctx *s);
void sup_diag_stop(sup_ctx *s);
/* The running engine's policy (NULL before start). */
const sup_diag_cfg *sup_diag_config(sup_ctx *s);
/* The heartbeat queue's depth and superseded count (sup_hbq.h), for
 * /metrics; zeros when heartbeats are judged inline. */
struct sup_hbq_stats;
void sup_diag_queue_stats(sup_ctx *s, struct sup_hbq_stats *out);

/*
 * An on-demand diagnosis of one controller as JSON: every area in order
 * with ok/problem, findings with evidence, root cause or symptom, the
 * incident that tracks it and the numbered steps. Refusals of the last
 * cfg.recent seconds count. NULL with *status 404 for an unknown id.
 */
json_t *sup_diag_report(sup_ctx *s, int64_t ctrl_id, int *status);
/* The answer itself (sup_diag_report.c), from the controller's facts and
 * the walk's findings (history it drops, and policy refusals an open
 * incident tracks become root causes: fs is edited). Lock held. */
json_t *sup_diag_report_json(sup_ctx *s, int64_t ctrl_id, const sup_diag_facts *f,
                             sup_findings *fs);

/* ----- facts (sup_diag_facts.c) ----- */

/* Loads the controller row and last report; lock held. 1 when no such
 * controller. The caller owns facts->report (json_decref). */
int sup_diag_load(sup_ctx *s, int64_t ctrl_id, sup_diag_facts *f);
/* The same without the stored report (a heartbeat brings its own): no
 * JSON parse of the last one under the lock. */
int sup_diag_load_meta(sup_ctx *s, int64_t ctrl_id, sup_diag_facts *f);
/* The same for an enrolled controller of scope whose device the caller
 * took from the device cache (sup_devcache.h): no database read (issue 13:
 * the heartbeat's judging read the row per heartbeat). f->name stays "". */
int sup_diag_load_known(sup_ctx *s, int64_t ctrl_id, uint32_t scope, sup_diag_facts *f);
/* Fills f->ref from the report: fresh = count - prev count (prev may be
 * NULL: then refusals whose last time is within `window_ms` count). */
void sup_diag_refusals(sup_diag_facts *f, json_t *prev, int64_t window_ms);
/* What of a previous report the refusal differences need: the count of each
 * refusal code (its first entry), so the engine keeps this per controller
 * and not the whole report (issue 13: some 15 KB of jansson tree each). */
typedef struct sup_diag_prev {
    size_t n;
    struct sup_diag_prev_ent {
        int code;
        int64_t count; /* >= 0 */
    } *e;              /* malloc'd; NULL when n is 0 */
} sup_diag_prev;
/* Fills p from report (p->e malloc'd); -1 out of memory (p empty). */
int sup_diag_prev_from(sup_diag_prev *p, json_t *report);
void sup_diag_prev_free(sup_diag_prev *p);
/* sup_diag_refusals with the previous report kept as p (NULL: none). */
void sup_diag_refusals_prev(sup_diag_facts *f, const sup_diag_prev *p, int64_t window_ms);
/* Key id (hex) of the controller's latest uploaded refusal with code, or
 * "" when none is uploaded yet. Lock held. */
void sup_diag_refusal_key(sup_ctx *s, int64_t ctrl_id, int code, char out[33]);
/* 1 when the controller uploaded a granted decision by key key_hex or by
 * another key of the same holder after its latest refusal with code. Lock held. */
int sup_diag_granted_since(sup_ctx *s, int64_t ctrl_id, const char *key_hex, int code);

/* ----- incidents (sup_incident.c) ----- */

/* Columns of the incidents table, also the JSON fields of an incident. */
#define KS_INCIDENT_COLS "id, controller_id, code, symbol, state, title, first_evidence_ms," \
    " detected_ms, resolved_ms, updated_ms, key_id, evidence, symptoms, repair, repairs," \
    " escalated_from, resolution, last_refusal_ms"

/* The migration that creates the incident tables (sup_db_migrate.c). */
extern const char sup_incident_schema[];

/*
 * Applies one evaluation of a controller: opens incidents for new root
 * causes (escalating a repeat of a repaired fault), updates the open ones,
 * queues automatic repairs, links operator commands, and resolves what is
 * gone and verified. Lock held, inside a transaction: KS_DB_OK, or KS_DB_ERR
 * when a statement failed (logged) and the caller must roll back.
 */
int sup_incident_apply(sup_ctx *s, const sup_diag_cfg *cfg, const sup_diag_facts *f,
                       const sup_findings *fs);
/* A command acknowledgement: recorded on every incident it is linked to. Lock held. */
void sup_incident_command_ack(sup_ctx *s, int64_t ctrl_id, int64_t command_id, const char *result);
/* Closes an incident by an operator (note says what was done). Lock held.
 * 0, 1 when no such open incident, or a KS_DB_* error. */
int sup_incident_resolve_manual(sup_ctx *s, int64_t id, const char *actor, const char *note);
/* Adds an action row. Lock held. KS_DB_OK or the (logged) KS_DB_* error. */
int sup_incident_action(sup_ctx *s, int64_t incident, const char *actor, const char *action,
                        int64_t command_id, const char *detail);
/* One incident as JSON with its actions, MTTD/MTTR and steps. Lock held. */
json_t *sup_incident_json(sup_ctx *s, int64_t id);
/* Adds mttd_ms/mttr_ms, steps, auto_repair to an incident row. */
void sup_incident_decorate(json_t *row, int64_t ctrl_id);
/* Per-code aggregates. Lock held. */
json_t *sup_incident_stats(sup_ctx *s);
/* Prometheus lines for open incidents by code (malloc'd). Lock held. */
char *sup_incident_metrics(sup_ctx *s);

/* ----- repair (sup_diag_repair.c) ----- */

/* The remediation command that repairs code automatically, or NULL. */
const char *sup_diag_repair_command(int code);
/*
 * Queues cmd for the controller unless one is already pending (then that
 * one is reused); audits it. Returns the command id or a negative error.
 * Lock held.
 */
int64_t sup_diag_queue(sup_ctx *s, int64_t ctrl_id, const char *cmd, int code, int64_t incident);
/* The catalogue's steps for code with CTRL/KEY replaced (JSON array). */
json_t *sup_diag_steps(int code, int64_t ctrl_id, const char *key_hex);

/* Wall clock in unix milliseconds. */
int64_t sup_diag_now_ms(void);

#endif
