/*
 * sim_main.c - keysup-sim: options, the fleet, the worker threads, the
 * progress line and the summary (docs/sim.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ks_hex.h"
#include "ks_keyfile.h"
#include "sim.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: keysup-sim --supervisor URL (--admin-token FILE | --tokens FILE)\n"
        "                  [--controllers N] [--scopes N] [--heartbeat S] [--threads N]\n"
        "                  [--key FILE]... [--keys-per-second R] [--fault KIND=SHARE]...\n"
        "                  [--fault-at S] [--offline-for S] [--drift S] [--duration S]\n"
        "                  [--watch-key KEYID] [--status FILE] [--log FILE]\n"
        "                  [--enroll-rate N] [--connections N] [--prefix NAME]\n"
        "                  [--flash-sectors N] [--fetch-nonce] [--push]\n"
        "                  [--json]\n\n"
        "Runs N simulated controllers in this process against keysupd at URL. Each has\n"
        "its own store on an emulated flash in RAM and the agent's own sync steps;\n"
        "they enrol with real provisioning tokens (read from --tokens, one a line, or\n"
        "made here with an operator token) and speak the signed device protocol.\n\n"
        "  --fault KIND=SHARE  corrupt, drift, offline, oldproto or lockout, for a share\n"
        "                      (0..1) of the fleet, --fault-at S after the fleet enrolled\n"
        "                      (default 5); offline lasts --offline-for S (default 20),\n"
        "                      drift moves the RTC by --drift S (default 3600); lockout\n"
        "                      needs a --key\n"
        "  --key FILE          a holder key file (no passphrase) to present; up to 16\n"
        "  --watch-key KEYID   note when each controller stops accepting this key\n"
        "  --duration S        run S seconds after the fleet enrolled (0: until SIGTERM)\n"
        "  --status FILE       progress as JSON, rewritten every second\n"
        "  --log FILE          the agents' own log lines (default: discarded)\n"
        "  --connections N     kept-alive connections to keysupd at most (default 64;\n"
        "                      keysupd's max_connections_per_ip must allow them)\n"
        "  --fetch-nonce       fetch a nonce before every heartbeat, as agents did before\n"
        "                      the answer carried the next one (two requests, not one)\n"
        "  --push              hold a watch between heartbeats (the push path); each\n"
        "                      controller then holds one connection more\n"
        "  --watch-fetch       with --push: fetch the delta after a watch's answer instead\n"
        "                      of taking it from the answer (the path before, to compare)\n"
        "Progress goes to stderr once a second; the summary to stdout (--json: JSON).\n");
}

static int parse_fault(sim_opts *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    for (int k = 1; k < SIM_F_KINDS; k++)
        if (strlen(sim_fault_name(k)) == (size_t)(eq - arg) &&
            strncmp(arg, sim_fault_name(k), (size_t)(eq - arg)) == 0) {
            char *end;
            double v = strtod(eq + 1, &end);
            if (*end || v < 0 || v > 1)
                return -1;
            o->share[k] = v;
            return 0;
        }
    return -1;
}

static int num(const char *name, const char *arg, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi) {
        fprintf(stderr, "keysup-sim: --%s must be a number from %u to %u\n", name, lo, hi);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int parse(sim_opts *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"supervisor", 1, NULL, 'u'}, {"tokens", 1, NULL, 't'},     {"admin-token", 1, NULL, 'a'},
        {"controllers", 1, NULL, 'n'}, {"scopes", 1, NULL, 's'},    {"heartbeat", 1, NULL, 'b'},
        {"threads", 1, NULL, 'T'},    {"key", 1, NULL, 'k'},        {"keys-per-second", 1, NULL, 'r'},
        {"fault", 1, NULL, 'f'},      {"fault-at", 1, NULL, 'F'},   {"offline-for", 1, NULL, 'o'},
        {"drift", 1, NULL, 'D'},      {"duration", 1, NULL, 'd'},   {"watch-key", 1, NULL, 'w'},
        {"status", 1, NULL, 'S'},     {"log", 1, NULL, 'l'},        {"enroll-rate", 1, NULL, 'e'},
        {"prefix", 1, NULL, 'p'},     {"connections", 1, NULL, 'c'},     {"flash-sectors", 1, NULL, 'x'}, {"json", 0, NULL, 'j'},
        {"fetch-nonce", 0, NULL, 'N'},
        {"push", 0, NULL, 'P'},       {"watch-fetch", 0, NULL, 'W'},
        {"help", 0, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'u': o->url = optarg; break;
        case 't': o->tokens_path = optarg; break;
        case 'a': o->admin_path = optarg; break;
        case 'n': if (num("controllers", optarg, 1, 100000, &o->controllers)) return -1; break;
        case 's': if (num("scopes", optarg, 1, 10000, &o->scopes)) return -1; break;
        case 'b': if (num("heartbeat", optarg, 1, 3600, &o->heartbeat)) return -1; break;
        case 'T': if (num("threads", optarg, 1, 64, &o->threads)) return -1; break;
        case 'F': if (num("fault-at", optarg, 0, 86400, &o->fault_at)) return -1; break;
        case 'o': if (num("offline-for", optarg, 1, 86400, &o->offline_for)) return -1; break;
        case 'c': if (num("connections", optarg, 1, 1000000, &o->connections)) return -1; break;
        case 'e': if (num("enroll-rate", optarg, 1, 1000000, &o->enroll_rate)) return -1; break;
        case 'x': if (num("flash-sectors", optarg, 16, 4096, &o->flash_sectors)) return -1; break;
        case 'D': o->drift = atoi(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'r': o->keys_per_s = atof(optarg); break;
        case 'w': o->watch_hex = optarg; break;
        case 'S': o->status_path = optarg; break;
        case 'l': o->log_path = optarg; break;
        case 'p': o->prefix = optarg; break;
        case 'j': o->json = 1; break;
        case 'N': o->fetch_nonce = 1; break;
        case 'W': o->watch_fetch = 1; break;
        case 'P': o->push = 1; break;
        case 'f':
            if (parse_fault(o, optarg)) {
                fprintf(stderr, "keysup-sim: --fault KIND=SHARE, KIND one of corrupt, drift, "
                                "offline, oldproto, lockout; SHARE from 0 to 1\n");
                return -1;
            }
            break;
        case 'k': {
            ks_diag d = {0};
            if (o->nkeys >= SIM_KEYS_MAX) {
                fprintf(stderr, "keysup-sim: at most %d --key files\n", SIM_KEYS_MAX);
                return -1;
            }
            sim_key *k = &o->keys[o->nkeys];
            int err = ks_keyfile_load(optarg, NULL, 0, k->pk, k->sk, &d);
            if (err) {
                fprintf(stderr, "keysup-sim: %s: %s (%s)\n", optarg, ks_strerror(err),
                        d.what ? d.what : "key file");
                return -1;
            }
            o->nkeys++;
            break;
        }
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc || !o->url || (!o->tokens_path == !o->admin_path)) {
        usage(stderr);
        return -1;
    }
    if (o->share[SIM_F_LOCKOUT] > 0 && !o->nkeys) {
        fprintf(stderr, "keysup-sim: --fault lockout needs a --key the controllers hold\n");
        return -1;
    }
    return 0;
}

/* Ed25519 verifies per second on one core, for ~0.5 s: the bound a
 * heartbeat rate is held against is this times the cores (each heartbeat
 * costs keysupd one verify). Measured in the same run as the fleet. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Verifies per wall second of one thread, and (per_cpu) per second of CPU
 * it actually got: on a shared machine the first is what the machine gave
 * us, the second is the core's own limit, which keysupd's CPU time is
 * compared with (bench/sim_fleet.sh). */
static double verify_rate(double *per_cpu)
{
    uint8_t pk[32], sk[64], sig[64], msg[113];
    uint64_t n = 0, t0;
    double c0;
    randombytes_buf(msg, sizeof msg);
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    t0 = sim_mono_ms();
    c0 = cpu_s();
    while (sim_mono_ms() - t0 < 500) {
        for (int i = 0; i < 64; i++)
            n += crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0;
    }
    sodium_memzero(sk, sizeof sk);
    *per_cpu = cpu_s() > c0 ? (double)n / (cpu_s() - c0) : 0;
    return (double)n * 1000.0 / (double)(sim_mono_ms() - t0);
}

/* The faults take disjoint slices of the fleet, in order of kind. */
static void assign_faults(sim *s)
{
    unsigned next = 0, n = s->o.controllers;
    for (int k = 1; k < SIM_F_KINDS; k++) {
        unsigned want = (unsigned)(s->o.share[k] * n + 0.5);
        for (unsigned i = 0; i < want && next < n; i++)
            s->ctl[next++]->fault = k;
    }
}

/* The agents log to stderr and print their enrolment to stdout: both go
 * to --log; the sim keeps its own copies of the two. */
static int redirect(sim *s)
{
    int o = dup(1), e = dup(2);
    int fd = open(s->o.log_path ? s->o.log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (o < 0 || e < 0 || fd < 0 || !(s->out = fdopen(o, "w")) || !(s->err = fdopen(e, "w")))
        return -1;
    if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        return -1;
    close(fd);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return 0;
}

static int make_fleet(sim *s)
{
    unsigned n = s->o.controllers, t = s->o.threads;
    s->ctl = calloc(n, sizeof *s->ctl);
    s->w = calloc(t, sizeof *s->w);
    if (!s->ctl || !s->w)
        return -1;
    for (unsigned k = 0; k < t; k++) {
        sim_worker *w = &s->w[k];
        w->sim = s;
        w->id = k;
        w->ctl = calloc(n / t + 1, sizeof *w->ctl);
        w->heap = calloc(n / t + 1, sizeof *w->heap);
        w->ready = calloc(n / t + 1, sizeof *w->ready);
        w->multi = curl_multi_init();
        if (!w->ctl || !w->heap || !w->ready || !w->multi || pthread_mutex_init(&w->mu, NULL))
            return -1;
        /* Kept open for reuse (keep-alive), and at most this many: keysupd
         * limits connections per address (max_connections_per_ip) and the
         * whole fleet comes from one here; more requests wait in curl. */
        long conns = (long)(s->o.connections / t ? s->o.connections / t : 1);
        if (s->o.push) /* a held watch each, besides the shared ones */
            conns += (long)(n / t + 1);
        curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, conns);
        curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);
    }
    for (unsigned i = 0; i < n; i++) {
        sim_ctl *c = calloc(1, sizeof *c);
        if (!(s->ctl[i] = c))
            return -1;
        c->idx = i;
        c->heap_pos = -1;
        c->w = &s->w[i % t];
        c->w->ctl[c->w->n++] = c;
        /* a small store (layout 2, as the agent formats it: at 48 sectors a
         * pool of 26 pages of 31 keys), a short audit ring */
        ctl_opts o = {.flash_sectors = s->o.flash_sectors, .supervisor = s->o.url,
                      .heartbeat = s->o.heartbeat, .protocol = CTL_PROTOCOL,
                      .identity_path = "", .fault_hooks = 1, /* the sim injects faults */
                      .meta_sectors = 4, .meta_blocks = 2, .audit_sectors = 8,
                      .overlay_sectors = 4, .counters = 32};
        int err = ctl_open_mem(&c->a, &o);
        if (err) {
            fprintf(s->err, "keysup-sim: controller %u: cannot format its store: %s\n", i,
                    ks_strerror(err));
            return -1;
        }
        c->a.io = sim_io;
        c->a.io_ctx = c;
        c->a.fetch_nonce = s->o.fetch_nonce;
        c->a.watch_fetch = s->o.watch_fetch;
    }
    assign_faults(s);
    return 0;
}

static void free_fleet(sim *s)
{
    for (unsigned i = 0; s->ctl && i < s->o.controllers; i++) {
        sim_ctl *c = s->ctl[i];
        if (!c)
            continue;
        sim_fiber_free(c);
        ctl_close(&c->a);
        sodium_memzero(c->token, sizeof c->token);
        free(c);
    }
    for (unsigned k = 0; s->w && k < s->o.threads; k++) {
        if (s->w[k].multi)
            curl_multi_cleanup(s->w[k].multi);
        free(s->w[k].ctl);
        free(s->w[k].heap);
        free(s->w[k].ready);
    }
    free(s->ctl);
    free(s->w);
    sodium_memzero(s->o.keys, sizeof s->o.keys);
}

int main(int argc, char **argv)
{
    static sim s; /* large: the key table */
    int rc = 1;
    unsigned started = 0;
    s.o.controllers = 10;
    s.o.scopes = 1;
    s.o.heartbeat = 5;
    s.o.threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    s.o.enroll_rate = 200;
    s.o.connections = 64;
    s.o.fault_at = 5;
    s.o.offline_for = 20;
    s.o.drift = 3600;
    s.o.prefix = "sim";
    s.o.flash_sectors = 48;
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    if (parse(&s.o, argc, argv))
        return 2;
    if (s.o.threads > s.o.controllers)
        s.o.threads = s.o.controllers;
    if (s.o.watch_hex && (strlen(s.o.watch_hex) != 2 * KS_KEYID_SIZE ||
                          ks_unhex(s.watch_id, KS_KEYID_SIZE, s.o.watch_hex))) {
        fprintf(stderr, "keysup-sim: --watch-key wants the %d hex digits of a key id\n",
                2 * KS_KEYID_SIZE);
        return 2;
    }
    s.watch = s.o.watch_hex != NULL;
    s.verify_per_s = verify_rate(&s.verify_per_cpu_s); /* before the fleet loads the machine */
    s.cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (redirect(&s)) {
        perror("keysup-sim: redirecting the agents' output");
        return 1;
    }
    {
        /* Every controller may hold a connection (--push): descriptors
         * up to the hard limit, as keysupd takes them (sup_raise_nofile). */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                fprintf(s.err, "keysup-sim: cannot raise the descriptor limit\n");
        }
    }
    if (make_fleet(&s) || sim_tokens(&s))
        goto cleanup;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    s.start_ms = sim_mono_ms();
    for (; started < s.o.threads; started++)
        if (pthread_create(&s.w[started].th, NULL, sim_worker_main, &s.w[started]) != 0) {
            fprintf(s.err, "keysup-sim: cannot start worker thread %u\n", started);
            __atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
            break;
        }
    while (!got_signal && started == s.o.threads) {
        struct timespec ts = {0, 250000000L};
        nanosleep(&ts, NULL);
        uint64_t now = sim_mono_ms();
        unsigned done = __atomic_load_n(&s.enrolled, __ATOMIC_RELAXED) +
                        __atomic_load_n(&s.failed, __ATOMIC_RELAXED);
        if (!s.fleet_ms && done >= s.o.controllers) {
            /* the measurement window opens: the enrolment burst is over */
            for (unsigned k = 0; k < s.o.threads; k++) {
                pthread_mutex_lock(&s.w[k].mu);
                memset(&s.w[k].st, 0, sizeof s.w[k].st);
                pthread_mutex_unlock(&s.w[k].mu);
            }
            s.fleet_wall_ms = sim_wall_ms();
            __atomic_store_n(&s.fleet_ms, now, __ATOMIC_RELAXED);
        }
        static uint64_t last;
        if (now - last >= 1000) {
            last = now;
            sim_progress(&s, s.err);
            sim_status_file(&s);
        }
        if (s.fleet_ms && s.o.duration > 0 && now >= s.fleet_ms + (uint64_t)(s.o.duration * 1000))
            break;
    }
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
    /* A held watch (--push) ends within a second of its agent's stop flag
     * (ctl_http.c's progress callback), not at the end of its wait. */
    for (unsigned i = 0; i < s.o.controllers; i++)
        if (s.ctl[i])
            __atomic_store_n(&s.ctl[i]->a.stop, 1, __ATOMIC_RELAXED);
    for (unsigned k = 0; k < started; k++)
        pthread_join(s.w[k].th, NULL);
    sim_status_file(&s);
    sim_summary(&s);
    rc = __atomic_load_n(&s.failed, __ATOMIC_RELAXED) ? 3 : 0;
cleanup:
    free_fleet(&s);
    curl_global_cleanup();
    return rc;
}
