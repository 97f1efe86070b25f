/*
 * sim.h - keysup-sim: N simulated controllers in one process against a real
 * keysupd (issue 13, docs/sim.md).
 *
 * Each simulated controller is a real ctl_agent (src/controller, linked as
 * keysup_ctl): its own store on an emulated flash in RAM, its own auth
 * engine, and the agent's own sync steps (ctl_enroll, ctl_heartbeat). Only
 * the I/O differs: the agent blocks in curl_easy_perform on its sync
 * thread; here each controller runs on a small fiber (sim_fiber.c) and its
 * requests go to one curl multi handle per worker thread (sim_loop.c), so
 * 10,000 controllers fit on two cores.
 */
#ifndef KEYSUP_SIM_H
#define KEYSUP_SIM_H

#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <ucontext.h>

#include <curl/curl.h>

#include "ctl_agent.h"

enum sim_fault {
    SIM_F_NONE = 0,
    SIM_F_CORRUPT,   /* a bit flipped in an applied record: KSE-301, full download */
    SIM_F_DRIFT,     /* the RTC jumps --drift seconds: the clock checks (KSE-600) */
    SIM_F_OFFLINE,   /* the link cut for --offline-for seconds: KSE-100 */
    SIM_F_OLDPROTO,  /* reports device protocol 0: KSE-401 */
    SIM_F_LOCKOUT,   /* wrong answers with a known key until it is locked: KSE-500 */
    SIM_F_KINDS
};

#define SIM_KEYS_MAX 16
#define SIM_LAT_BUCKETS 20000u   /* 0.5 ms each: 0..10 s, then one overflow bucket */

typedef struct sim_key {
    uint8_t pk[32], sk[64];
} sim_key;

typedef struct sim_opts {
    const char *url;
    const char *tokens_path;      /* --tokens FILE: one provisioning token a line */
    const char *admin_path;       /* --admin-token FILE: the sim adds the controllers itself */
    const char *prefix;           /* names of controllers it adds */
    unsigned controllers, scopes, heartbeat, threads, enroll_rate;
    unsigned connections;         /* open connections to keysupd at most (all workers) */
    double keys_per_s;            /* presentations per second across the fleet */
    double share[SIM_F_KINDS];    /* share of the fleet per fault */
    unsigned fault_at;            /* seconds after the fleet is enrolled */
    unsigned offline_for;
    int drift;
    double duration;              /* seconds after the fleet is enrolled; 0: until a signal */
    int json;
    const char *watch_hex;        /* --watch-key: note when each controller refuses it */
    int push;                     /* --push: hold a watch between heartbeats (sim_watch.c) */
    const char *status_path;      /* progress JSON, rewritten every second */
    const char *log_path;         /* the agents' own log lines (default /dev/null) */
    unsigned flash_sectors;
    int fetch_nonce;              /* --fetch-nonce: ignore the heartbeat answer's next nonce */
    int watch_fetch;              /* --watch-fetch: no delta in the watch's answer */
    sim_key keys[SIM_KEYS_MAX];
    unsigned nkeys;
} sim_opts;

struct sim_worker;

typedef struct sim_ctl {
    ctl_agent a;
    struct sim_worker *w;
    unsigned idx;
    int fault;                   /* enum sim_fault */
    int fault_done;
    char token[200];

    /* the fiber (sim_fiber.c) */
    ucontext_t uc;
    void *stack;
    size_t stack_size;
    int live;                    /* started and not returned */
    uint64_t wake_ms;            /* when a sleeping fiber is due */
    int heap_pos;                /* in the worker's timer heap; -1: not sleeping */
    int in_io;                   /* a request of it is in the multi handle */
    CURLcode io_rc;

    /* what it saw */
    int enrolled, failed;
    uint64_t hb_ok, hb_err, presented, granted;
    uint64_t watch_ms;           /* unix ms it first refused the watched key; 0: not yet */
    uint64_t push_refused;       /* watches refused (503): back to the heartbeat alone */
    uint64_t ver;                /* applied version and root after its last heartbeat */
    uint8_t root[KS_HASH_SIZE];  /* (copied under w->mu for the progress thread) */
} sim_ctl;

typedef struct sim_stats {
    uint64_t hb_ok, hb_err, presented, granted;
    uint32_t lat[SIM_LAT_BUCKETS + 1];
} sim_stats;

typedef struct sim_worker {
    struct sim *sim;
    unsigned id;
    pthread_t th;
    CURLM *multi;
    sim_ctl **ctl;
    unsigned n, live;
    sim_ctl **heap;              /* sleeping fibers by wake_ms */
    unsigned heap_n;
    sim_ctl **ready;             /* fibers whose request completed */
    unsigned ready_n;
    ucontext_t sched;
    const void *sched_bottom;    /* the worker's own stack, for ASan's fiber switches */
    size_t sched_size;
    void *fake;
    sim_ctl *cur;
    pthread_mutex_t mu;          /* guards st (read by the progress thread) */
    sim_stats st;
    /* curl's sockets on epoll (sim_loop.c): a held watch per controller
     * makes thousands of transfers, and curl_multi_perform/poll walk them all */
    int epfd;
    int curl_timer;              /* curl asked for a timeout at curl_due */
    uint64_t curl_due;
} sim_worker;

typedef struct sim {
    sim_opts o;
    sim_ctl **ctl;
    sim_worker *w;
    FILE *out, *err;             /* the sim's own stdout/stderr (the agents' go to the log) */
    uint8_t watch_id[KS_KEYID_SIZE];
    int watch;
    uint64_t start_ms, fleet_ms; /* monotonic: start; the whole fleet enrolled (0: not yet) */
    uint64_t fleet_wall_ms;
    unsigned enrolled, failed;   /* atomics */
    int stop;                    /* atomic: finish and return */
    double verify_per_s;         /* Ed25519 verifies/s on one core, this run */
    double verify_per_cpu_s;     /* the same per second of CPU it got (sim_main.c) */
    unsigned cores;
} sim;

/* ----- sim_fiber.c ----- */
int sim_fiber_init(sim_ctl *c, size_t stack_size, void (*fn)(void));
void sim_fiber_free(sim_ctl *c);
/* Scheduler side: runs c until it yields or returns. */
void sim_fiber_resume(sim_worker *w, sim_ctl *c);
/* Fiber side: back to the scheduler. */
void sim_fiber_yield(sim_worker *w);
/* First thing a fiber does (ASan bookkeeping). */
void sim_fiber_started(sim_worker *w);
/* Last thing a fiber does before it returns. */
void sim_fiber_exiting(sim_worker *w);

/* ----- sim_loop.c ----- */
uint64_t sim_mono_ms(void);
uint64_t sim_wall_ms(void);
/* The ctl_io_fn: hands the request to the worker's multi handle. */
int sim_io(void *ctx, void *easy);
/* Sleeps the current fiber until mono ms `when` (returns at once on stop). */
void sim_sleep_until(sim_ctl *c, uint64_t when);
int sim_stopping(const sim *s);
void *sim_worker_main(void *p);

/* ----- sim_ctl.c: one simulated controller's life ----- */
void sim_ctl_body(sim_ctl *c);
const char *sim_fault_name(int f);

/* ----- sim_watch.c: the push path (--push) ----- */
/* Holds watches until mono ms `until` (sleeps without --push); after(c)
 * runs when one brought a new version. */
void sim_watch_until(sim_ctl *c, uint64_t until, void (*after)(sim_ctl *c));

/* ----- sim_admin.c: provisioning tokens ----- */
/* Fills each controller's token: from --tokens, or by adding them with the
 * admin token. 0 or -1 (message on s->err). */
int sim_tokens(sim *s);

/* ----- sim_report.c ----- */
void sim_stats_sum(sim *s, sim_stats *t);
double sim_lat_pct(const sim_stats *t, double p);
void sim_progress(sim *s, FILE *f);
void sim_status_file(sim *s);
void sim_summary(sim *s);

#endif
