/*
 * sup_diag_engine.c - when diagnosis runs: on every heartbeat (the hook
 * keysupd calls after storing the report), on every command
 * acknowledgement, and on a periodic sweep that notices what no heartbeat
 * can report (a controller that stopped sending them: KSE-100) and closes
 * refusal incidents that went quiet.
 *
 * The engine remembers, per controller, the previous report's refusal
 * counts (cumulative in a report; what is new is the difference), when
 * the controller fell behind the published version, and the heartbeat
 * interval as observed (controllers may be configured apart from the
 * supervisor's default). This memory is rebuilt from the next reports
 * after a restart; the incidents themselves live in the database.
 *
 * Locking: the engine's own mutex serialises evaluations (heartbeats arrive
 * on several HTTP threads); inside it, s->lock guards the database, and one
 * evaluation is one transaction.
 *
 * Size: over 500 lines because the per-controller memory, the heartbeat
 * queue's judging and the sweep share one lock discipline (e->m, then
 * s->lock) that is easier to check in one file; the rules are in
 * sup_diag_rules.c, the facts in sup_diag_facts.c, and the on-demand
 * answer in sup_diag_report.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup_api.h"
#include "sup_diag.h"
#include "sup_licence.h"
#include "sup_hbq.h"
#include "sup_devcache.h"

/* Policy refusals of one code in the last policy_window (issue 16): one
 * refused void is the policy working, five in ten minutes are worth a look.
 * Heartbeats add (time, fresh count); a full list folds into its newest. */
#define POL_SLOTS 16
typedef struct pol_hist {
    int code;
    int n;
    int64_t ms[POL_SLOTS], cnt[POL_SLOTS];
} pol_hist;
#define POL_CODES 8

typedef struct ctrl_mem {
    int64_t id;
    sup_diag_prev prev;       /* the previous report's refusal counts */
    int has_prev;
    int64_t prev_ms;
    int64_t behind_since_ms;
    int64_t last_ms;          /* last heartbeat, precise */
    uint32_t interval_ms;     /* observed, smoothed */
    char inst[2][17];         /* the current agent instance and the one it replaced */
    int64_t clone_ms, clone_first_ms; /* two instances alternating (KSE-730) */
    pol_hist pol[POL_CODES];  /* policy refusals by code, within policy_window */
} ctrl_mem;

struct sup_diag_engine {
    sup_diag_cfg cfg;
    pthread_mutex_t m;
    pthread_cond_t cv;
    pthread_t sweeper;
    int running, stop;
    ctrl_mem *mem;
    size_t nmem, capmem;
    uint32_t *ix;             /* open addressing over mem by id: index + 1, 0 empty */
    sup_hbq *q;               /* heartbeats waiting to be judged (sup_hbq.h) */
    size_t icap;              /* 2 * capmem: a fleet of 10,000 looks up in O(1) */
    int64_t started_ms;       /* silence before this is the supervisor's, not the link's */
};

static sup_diag_engine *engine_of(sup_ctx *s)
{
    return s->hooks.on_heartbeat ? (sup_diag_engine *)s->hooks.ctx : NULL;
}

const sup_diag_cfg *sup_diag_config(sup_ctx *s)
{
    sup_diag_engine *e = engine_of(s);
    return e ? &e->cfg : NULL;
}

static uint32_t env_u32(const char *name, uint32_t dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long x;
    if (!v || !*v)
        return dflt;
    x = strtoul(v, &end, 10);
    return *end || x > UINT32_MAX ? dflt : (uint32_t)x;
}

void sup_diag_cfg_init(sup_diag_cfg *c, const sup_ctx *s)
{
    /* The config file sets the policy (its defaults where it says nothing:
     * sup_open); KEYSUP_DIAG_* override it (tests). */
    const sup_config *d = &s->cfg;
    c->interval_ms = (d->heartbeat_interval ? d->heartbeat_interval : 5) * 1000u;
    c->missed = env_u32("KEYSUP_DIAG_MISSED", d->diag_missed);
    c->clock_tolerance = env_u32("KEYSUP_DIAG_CLOCK_TOLERANCE", d->clock_tolerance);
    c->quiet = env_u32("KEYSUP_DIAG_QUIET", d->diag_quiet);
    c->recent = env_u32("KEYSUP_DIAG_RECENT", d->diag_recent);
    c->behind = env_u32("KEYSUP_DIAG_BEHIND", d->diag_behind);
    c->escalate_window = env_u32("KEYSUP_DIAG_ESCALATE_WINDOW", d->escalate_window);
    c->max_repairs = env_u32("KEYSUP_DIAG_MAX_REPAIRS", d->max_repairs);
    c->policy_threshold = env_u32("KEYSUP_DIAG_POLICY_THRESHOLD", d->policy_threshold);
    c->policy_window = env_u32("KEYSUP_DIAG_POLICY_WINDOW", d->policy_window);
    c->proto_min = (int)env_u32("KEYSUP_DIAG_PROTOCOL_MIN", d->protocol_min);
    c->proto_max = (int)env_u32("KEYSUP_DIAG_PROTOCOL_MAX", d->protocol_max);
    c->wear_days = env_u32("KEYSUP_DIAG_WEAR_DAYS", SUP_DIAG_WEAR_DAYS);
    if (!c->missed)
        c->missed = 1;
    if (!c->policy_threshold)
        c->policy_threshold = 1;
}

static size_t mem_hash(int64_t id, size_t icap)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 20) & (icap - 1);
}

static ctrl_mem *mem_get(sup_diag_engine *e, int64_t id)
{
    size_t h;
    if (e->nmem == e->capmem) {
        size_t nc = e->capmem ? e->capmem * 2 : 16;
        ctrl_mem *n = realloc(e->mem, nc * sizeof *n);
        uint32_t *ix;
        if (!n)
            return NULL;
        e->mem = n;
        if (!(ix = calloc(2 * nc, sizeof *ix)))
            return NULL;
        free(e->ix);
        e->ix = ix;
        e->icap = 2 * nc;
        e->capmem = nc;
        for (size_t i = 0; i < e->nmem; i++) {
            for (h = mem_hash(e->mem[i].id, e->icap); e->ix[h]; h = (h + 1) & (e->icap - 1))
                ;
            e->ix[h] = (uint32_t)(i + 1);
        }
    }
    for (h = mem_hash(id, e->icap); e->ix[h]; h = (h + 1) & (e->icap - 1))
        if (e->mem[e->ix[h] - 1].id == id)
            return &e->mem[e->ix[h] - 1];
    e->ix[h] = (uint32_t)(e->nmem + 1);
    memset(&e->mem[e->nmem], 0, sizeof e->mem[0]);
    e->mem[e->nmem].id = id;
    return &e->mem[e->nmem++];
}

/*
 * Sets each policy refusal's window count from the controller's memory;
 * record (on a heartbeat) first adds this report's fresh ones at now.
 */
static void policy_window(const sup_diag_engine *e, ctrl_mem *m, sup_diag_facts *f, int64_t now,
                          int record)
{
    int64_t since = now - (int64_t)e->cfg.policy_window * 1000;
    for (int i = 0; i < f->nref; i++) {
        sup_diag_refusal *r = &f->ref[i];
        pol_hist *h = NULL;
        int k, j;
        if (!sup_diag_is_policy_refusal(r->code))
            continue;
        for (k = 0; k < POL_CODES && !h; k++)
            if (m->pol[k].code == r->code)
                h = &m->pol[k];
        for (k = 0; k < POL_CODES && !h; k++)
            if (!m->pol[k].code) {
                h = &m->pol[k];
                h->code = r->code;
            }
        if (!h) {
            r->window = -1;
            continue;
        }
        for (k = 0, j = 0; k < h->n; k++)
            if (h->ms[k] >= since) {
                h->ms[j] = h->ms[k];
                h->cnt[j++] = h->cnt[k];
            }
        h->n = j;
        if (record && r->fresh > 0) {
            if (h->n == POL_SLOTS) {
                h->cnt[h->n - 1] += r->fresh;
                h->ms[h->n - 1] = now;
            } else {
                h->ms[h->n] = now;
                h->cnt[h->n++] = r->fresh;
            }
        }
        r->window = 0;
        for (k = 0; k < h->n; k++)
            r->window += h->cnt[k];
    }
}

/* Fills the per-controller memory into the facts. */
static void facts_from_mem(const sup_diag_engine *e, sup_diag_facts *f, const ctrl_mem *m)
{
    /* A controller cannot have missed heartbeats while we were not running. */
    if (f->last_seen_ms && f->last_seen_ms < e->started_ms)
        f->last_seen_ms = e->started_ms;
    if (!m)
        return;
    if (m->last_ms && m->last_ms > f->last_seen_ms - 1000) {
        f->last_seen_ms = m->last_ms;
        f->report_ms = m->last_ms;
    }
    f->interval_ms = m->interval_ms;
    f->behind_since_ms = m->behind_since_ms;
    f->prev_report_ms = m->prev_ms;
    f->clone_ms = m->clone_ms;
    f->clone_first_ms = m->clone_first_ms;
    memcpy(f->clone_inst, m->inst, sizeof f->clone_inst);
}

/*
 * Two agents under one id (issue 17 row 2): each agent start draws a random
 * instance id. A restart replaces it for good; an instance that comes back
 * after another replaced it is a second agent with the same device key.
 */
static void track_instance(ctrl_mem *m, json_t *report, int64_t now)
{
    const char *inst = json_string_value(json_object_get(report, "instance"));
    if (!inst || strlen(inst) != 16 || strcmp(inst, m->inst[0]) == 0)
        return;
    if (m->inst[1][0] && strcmp(inst, m->inst[1]) == 0) {
        if (!m->clone_first_ms || now - m->clone_ms > 3600000)
            m->clone_first_ms = now;
        m->clone_ms = now;
    }
    memcpy(m->inst[1], m->inst[0], sizeof m->inst[1]);
    snprintf(m->inst[0], sizeof m->inst[0], "%s", inst);
}

static void commit(sup_ctx *s, int64_t ctrl_id)
{
    if (sup_db_commit(s->db) != KS_DB_OK) {
        sup_log(KS_LOG_ERROR, "diagnosis.commit", "controller=%lld error=\"%s\"",
               (long long)ctrl_id, sup_db_errmsg(s->db));
        sup_db_rollback(s->db);
    }
}

/* Judges f inside the caller's transaction. */
static void judge(sup_ctx *s, sup_diag_engine *e, sup_diag_facts *f)
{
    sup_findings fs;
    sup_diag_walk(&e->cfg, f, &fs);
    /* A failed statement is logged by sup_incident.c with its step; the
     * batch's commit (commit()) rolls back what the engine refuses, and the
     * next heartbeat judges the controller again. */
    (void)sup_incident_apply(s, &e->cfg, f, &fs);
}


/* Judges one heartbeat's report at `now`, standing for `reports`
 * heartbeats (the queue merges a controller's waiting reports, sup_hbq.h);
 * e->m and s->lock held, inside the caller's transaction. */
static void hb_judge(sup_ctx *s, sup_diag_engine *e, int64_t ctrl_id, json_t *report, int64_t now,
                     uint32_t reports, const sup_devinfo *di)
{
    sup_diag_facts f;
    ctrl_mem *m;
    json_t *av;

    if (di ? sup_diag_load_known(s, ctrl_id, di->scope, &f) != 0
           : sup_diag_load_meta(s, ctrl_id, &f) != 0)
        goto out;
    json_decref(f.report);
    f.report = json_incref(report);
    m = mem_get(e, ctrl_id);
    if (m) {
        /* The estimate starts from the interval the controller declares
         * (its --heartbeat), else the configured one, and never drops below
         * the declared one: a restart 0.4 s after the first heartbeat is one
         * short gap, not the rhythm (issue 17 row 10: it raised a false
         * KSE-100 "3 missed" on a new controller). */
        json_t *hb = json_object_get(report, "heartbeat_interval");
        uint32_t declared = json_is_integer(hb) && json_integer_value(hb) > 0 &&
                                    json_integer_value(hb) <= 3600
                                ? (uint32_t)json_integer_value(hb) * 1000u : 0;
        if (!m->interval_ms)
            m->interval_ms = declared ? declared : e->cfg.interval_ms;
        if (m->last_ms) {
            /* merged reports: the mean gap since the last judged one */
            int64_t gap = (now - m->last_ms) / (reports ? reports : 1);
            if (gap >= 100 && gap <= 10 * (int64_t)e->cfg.interval_ms)
                m->interval_ms = (uint32_t)((3 * (int64_t)m->interval_ms + gap) / 4);
        }
        if (declared && m->interval_ms < declared)
            m->interval_ms = declared;
        av = json_object_get(report, "applied_version");
        if (json_is_integer(av) && (uint64_t)json_integer_value(av) < f.published_version) {
            if (!m->behind_since_ms)
                m->behind_since_ms = now;
        } else {
            m->behind_since_ms = 0;
        }
        track_instance(m, report, now);
        f.prev_report_ms = m->prev_ms;
        f.interval_ms = m->interval_ms;
        f.behind_since_ms = m->behind_since_ms;
        f.clone_ms = m->clone_ms;
        f.clone_first_ms = m->clone_first_ms;
        memcpy(f.clone_inst, m->inst, sizeof f.clone_inst);
    }
    f.now_ms = now;
    f.last_seen_ms = now;
    f.report_ms = now;
    sup_diag_refusals_prev(&f, m && m->has_prev ? &m->prev : NULL, 2 * (int64_t)e->cfg.interval_ms);
    if (m)
        policy_window(e, m, &f, now, 1);
    judge(s, e, &f);
    if (m) {
        /* Only the refusal counts are kept, not the report: the tree is
         * freed once judged (the queue and the soft batch hold no more). */
        sup_diag_prev_free(&m->prev);
        m->has_prev = sup_diag_prev_from(&m->prev, report) == 0;
        m->prev_ms = now;
        m->last_ms = now;
    }
out:
    json_decref(f.report);
}

/* Heartbeats judged per transaction; the locks are released between
 * batches (as in the sweep) so on-demand diagnosis and acks get in. */
#define HB_BATCH 64

static void hb_batch(void *ctx, sup_hbq_item *it, size_t n)
{
    sup_ctx *s = ctx;
    sup_diag_engine *e = s->hooks.ctx;
    sup_devinfo di[HB_BATCH];
    int known[HB_BATCH];
    for (size_t i = 0; i < n; i += HB_BATCH) {
        /* The controller rows from the device cache, before the locks (it
         * takes s->lock itself on a miss; in a cluster it reads the
         * database, sup_devcache.h): a cached one costs no query. */
        for (size_t k = i; k < n && k < i + HB_BATCH; k++)
            known[k - i] = sup_devcache_get(s, it[k].ctrl_id, &di[k - i]) == 1;
        pthread_mutex_lock(&e->m);
        pthread_mutex_lock(&s->lock);
        int tx = sup_db_begin(s->db) == KS_DB_OK;
        for (size_t k = i; tx && k < n && k < i + HB_BATCH; k++)
            hb_judge(s, e, it[k].ctrl_id, it[k].report, it[k].at_ms, it[k].reports,
                     known[k - i] ? &di[k - i] : NULL);
        if (tx)
            commit(s, it[i].ctrl_id);
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_unlock(&e->m);
    }
}

static void on_heartbeat(void *ctx, sup_ctx *s, int64_t ctrl_id, json_t *report)
{
    sup_diag_engine *e = ctx;
    int64_t now = sup_diag_now_ms();
    if (e->q && sup_hbq_push(e->q, ctrl_id, report, now) == 0)
        return; /* judged by the worker, many per transaction */
    pthread_mutex_lock(&e->m);
    pthread_mutex_lock(&s->lock);
    if (sup_db_begin(s->db) == KS_DB_OK) {
        hb_judge(s, e, ctrl_id, report, now, 1, NULL);
        commit(s, ctrl_id);
    }
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&e->m);
}

void sup_diag_queue_stats(sup_ctx *s, sup_hbq_stats *out)
{
    sup_diag_engine *e = engine_of(s);
    sup_hbq_get_stats(e ? e->q : NULL, out);
}

static void on_ack(void *ctx, sup_ctx *s, int64_t ctrl_id, int64_t command_id, const char *result)
{
    sup_diag_engine *e = ctx;
    pthread_mutex_lock(&e->m);
    pthread_mutex_lock(&s->lock);
    sup_incident_command_ack(s, ctrl_id, command_id, result);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&e->m);
}

/* Controllers judged per transaction in a sweep; the locks are released
 * between batches so heartbeats go on. One commit (one fsync) per
 * controller held the database lock for seconds when thousands went silent
 * at once (issue 13: keysup-sim at 10,000 controllers). */
#define SWEEP_BATCH 64

/* One sweep: every enrolled controller, on its last report, with no new
 * refusals (those only come with heartbeats). */
static void sweep(sup_ctx *s, sup_diag_engine *e)
{
    json_t *ids, *r;
    size_t i;
    int64_t now = sup_diag_now_ms(), last = 0;
    int in_tx = 0, n = 0;
    pthread_mutex_lock(&e->m);
    pthread_mutex_lock(&s->lock);
    ids = sup_db_rows_json(s->db, "SELECT id FROM controllers WHERE device_pk IS NOT NULL AND"
                          " last_seen IS NOT NULL", NULL, 0, NULL);
    json_array_foreach(ids, i, r) {
        sup_diag_facts f;
        int64_t id = json_integer_value(json_object_get(r, "id"));
        ctrl_mem *m = mem_get(e, id);
        /* Heard from within the KSE-100 limit (missed intervals): its own
         * heartbeats judge it, with the time then. The sweep is for the
         * silent ones; judging every controller every half interval held
         * the lock for seconds at 10,000 controllers (issue 13). */
        if (m && m->last_ms && now - m->last_ms < (int64_t)m->interval_ms * e->cfg.missed)
            continue;
        if (sup_diag_load(s, id, &f) != 0)
            continue;
        facts_from_mem(e, &f, m);
        sup_diag_refusals(&f, f.report, 0); /* counts equal: nothing fresh */
        if (!in_tx)
            in_tx = sup_db_begin(s->db) == KS_DB_OK;
        if (in_tx)
            judge(s, e, &f);
        json_decref(f.report);
        last = id;
        if (in_tx && ++n % SWEEP_BATCH == 0) {
            commit(s, id);
            in_tx = 0;
            pthread_mutex_unlock(&s->lock);
            pthread_mutex_unlock(&e->m);
            /* a mutex is not fair: without a pause the sweep takes it
             * straight back and the heartbeats waiting for it starve */
            struct timespec pause = {0, 2000000L};
            nanosleep(&pause, NULL);
            pthread_mutex_lock(&e->m);
            pthread_mutex_lock(&s->lock);
        }
    }
    if (in_tx)
        commit(s, last);
    json_decref(ids);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&e->m);
}

static void *sweeper(void *arg)
{
    sup_ctx *s = arg;
    sup_diag_engine *e = s->hooks.ctx;
    /* Half the shortest interval seen keeps KSE-100 within half an
     * interval of the third missed heartbeat. */
    for (;;) {
        struct timespec ts;
        uint32_t iv = e->cfg.interval_ms;
        pthread_mutex_lock(&e->m);
        for (size_t i = 0; i < e->nmem; i++)
            if (e->mem[i].interval_ms && e->mem[i].interval_ms < iv)
                iv = e->mem[i].interval_ms;
        iv = iv / 2 < 100 ? 100 : iv / 2;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += iv / 1000;
        ts.tv_nsec += (long)(iv % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!e->stop)
            pthread_cond_timedwait(&e->cv, &e->m, &ts);
        if (e->stop) {
            pthread_mutex_unlock(&e->m);
            return NULL;
        }
        pthread_mutex_unlock(&e->m);
        sweep(s, e);
        sup_licence_sweep(s); /* KSE-801 expiry warnings */
    }
}

int sup_diag_start(sup_ctx *s)
{
    sup_diag_engine *e = calloc(1, sizeof *e);
    if (!e)
        return KS_E_INVAL;
    sup_diag_cfg_init(&e->cfg, s);
    e->started_ms = sup_diag_now_ms();
    pthread_mutex_init(&e->m, NULL);
    pthread_cond_init(&e->cv, NULL);
    s->hooks.ctx = e;
    s->hooks.on_command_ack = on_ack;
    s->hooks.on_heartbeat = on_heartbeat;
    if (pthread_create(&e->sweeper, NULL, sweeper, s) == 0)
        e->running = 1;
    e->q = sup_hbq_start(hb_batch, s); /* NULL: heartbeats are judged inline */
    sup_log(KS_LOG_INFO, "diagnosis.start", "interval_ms=%u missed=%u clock_tolerance=%u quiet=%u"
           " escalate_window=%u max_repairs=%u", e->cfg.interval_ms, e->cfg.missed,
           e->cfg.clock_tolerance, e->cfg.quiet, e->cfg.escalate_window, e->cfg.max_repairs);
    return KS_OK;
}

void sup_diag_stop(sup_ctx *s)
{
    sup_diag_engine *e = engine_of(s);
    if (!e)
        return;
    sup_hbq_stop(e->q); /* judges what is queued first */
    e->q = NULL;
    pthread_mutex_lock(&e->m);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->m);
    if (e->running)
        pthread_join(e->sweeper, NULL);
    s->hooks.on_heartbeat = NULL;
    s->hooks.on_command_ack = NULL;
    s->hooks.ctx = NULL;
    for (size_t i = 0; i < e->nmem; i++)
        sup_diag_prev_free(&e->mem[i].prev);
    free(e->mem);
    free(e->ix);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->m);
    free(e);
}

/* ----- the on-demand diagnosis (the answer: sup_diag_report.c) ----- */

json_t *sup_diag_report(sup_ctx *s, int64_t ctrl_id, int *status)
{
    sup_diag_engine *e = engine_of(s);
    sup_diag_cfg local;
    const sup_diag_cfg *cfg;
    sup_diag_facts f;
    sup_findings fs;
    json_t *out = NULL;

    if (!e)
        sup_diag_cfg_init(&local, s);
    if (e)
        pthread_mutex_lock(&e->m);
    cfg = e ? &e->cfg : &local;
    pthread_mutex_lock(&s->lock);
    if (sup_diag_load(s, ctrl_id, &f) != 0) {
        *status = 404;
        goto out;
    }
    if (e)
        facts_from_mem(e, &f, mem_get(e, ctrl_id));
    sup_diag_refusals(&f, NULL, (int64_t)cfg->recent * 1000);
    if (e && mem_get(e, ctrl_id))
        policy_window(e, mem_get(e, ctrl_id), &f, f.now_ms, 0);
    sup_diag_walk(cfg, &f, &fs);
    out = sup_diag_report_json(s, ctrl_id, &f, &fs);
    *status = 200;
    json_decref(f.report);
out:
    pthread_mutex_unlock(&s->lock);
    if (e)
        pthread_mutex_unlock(&e->m);
    return out;
}
