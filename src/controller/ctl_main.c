/*
 * ctl_main.c - `keysup-controller run|enroll|ctl`.
 */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_agent.h"
#include "ks_sdnotify.h"

static ctl_agent agent; /* one per process; large (flash buffers), so not on the stack */

static volatile sig_atomic_t stop_signal; /* which signal stopped us, for the log */

static void on_signal(int sig)
{
    stop_signal = sig;
    agent.stop = 1;
}

static const char usage[] =
    "usage: keysup-controller run    --flash FILE --socket PATH [--supervisor URL]\n"
    "                                [--heartbeat SECONDS] [--sectors N] [--protocol N]\n"
    "                                [--identity FILE] [--enable-fault-hooks] [--watch]\n"
    "       keysup-controller enroll --flash FILE --supervisor URL --token TOKEN [--sectors N]\n"
    "                                [--identity FILE]\n"
    "       keysup-controller ctl    --socket PATH [--json] status|help\n"
    "       keysup-controller ctl    --socket PATH seal on|off\n"
    "       keysup-controller ctl    --socket PATH txn-done\n"
    "       keysup-controller ctl    --socket PATH code ONE-TIME-CODE\n"
    "       keysup-controller ctl    --socket PATH fault KIND [VALUE]\n"
    "       keysup-controller ctl    --socket PATH send JSON\n\n"
    "run      runs the controller: the store on the flash file, the auth engine, the\n"
    "         control socket (the reader and terminal), and, with --supervisor, the\n"
    "         heartbeat and sync with keysupd. --watch also holds a watch between\n"
    "         heartbeats, so a revocation arrives within a round trip (the push path).\n"
    "enroll   creates the device key, enrols with a one-time provisioning token,\n"
    "         pins the supervisor's key and stores all of it in flash and in the\n"
    "         unit's identity file (--identity, default FILE.id, mode 0600), which\n"
    "         gives the unit its identity back when the store is damaged and\n"
    "         refuses a store copied from another unit.\n"
    "ctl      talks to a running controller. Faults (tests and simulator; only\n"
    "         when the agent runs with --enable-fault-hooks, never in production):\n"
    "         corrupt_sector | skew_clock SECONDS | rtc_reset true|false |\n"
    "         drop_link true|false | protocol N | power_cut WRITES | max_offline SECONDS |\n"
    "         wear_pool SECTORS\n"
    "See docs/controller.md.\n";

typedef struct args {
    const char *flash, *socket, *supervisor, *token, *identity;
    unsigned heartbeat, sectors;
    int protocol;
    int json;
    int fault_hooks;
    int watch;
    int rest;
} args;

/* An unsigned decimal in [lo, hi], the whole string: "abc", "5x" or "" are
 * refused instead of becoming 0 (a heartbeat of 0 would spin). */
static int parse_uint(const char *opt, const char *v, unsigned long lo, unsigned long hi,
                      unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (!*v || *v == '-' || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "keysup-controller: --%s: '%s' is not a number from %lu to %lu\n", opt, v,
                lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int nonempty(const char *opt, const char *v)
{
    if (*v)
        return 0;
    fprintf(stderr, "keysup-controller: --%s: must not be empty\n", opt);
    return -1;
}

/* Options come before the ctl verb ("+": stop at the first operand), so
 * `ctl ... fault skew_clock -30` keeps its negative value. */
static int parse(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"flash", required_argument, NULL, 'f'},     {"socket", required_argument, NULL, 's'},
        {"supervisor", required_argument, NULL, 'u'}, {"token", required_argument, NULL, 't'},
        {"heartbeat", required_argument, NULL, 'b'},  {"sectors", required_argument, NULL, 'n'},
        {"protocol", required_argument, NULL, 'p'},   {"json", no_argument, NULL, 'j'},
        {"identity", required_argument, NULL, 'i'},  {"help", no_argument, NULL, 'h'},
        {"enable-fault-hooks", no_argument, NULL, 'F'}, {"watch", no_argument, NULL, 'W'},
        {NULL, 0, NULL, 0},
    };
    unsigned long x;
    int c;
    memset(a, 0, sizeof *a);
    opterr = 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': if (nonempty("flash", optarg)) return -1; a->flash = optarg; break;
        case 's': if (nonempty("socket", optarg)) return -1; a->socket = optarg; break;
        case 'u': if (nonempty("supervisor", optarg)) return -1; a->supervisor = optarg; break;
        case 't': if (nonempty("token", optarg)) return -1; a->token = optarg; break;
        case 'i': if (nonempty("identity", optarg)) return -1; a->identity = optarg; break;
        case 'b':
            if (parse_uint("heartbeat", optarg, 1, 86400, &x)) return -1;
            a->heartbeat = (unsigned)x;
            break;
        case 'n':
            if (parse_uint("sectors", optarg, 1, 1u << 20, &x)) return -1;
            a->sectors = (unsigned)x;
            break;
        case 'p':
            if (parse_uint("protocol", optarg, 0, 255, &x)) return -1;
            a->protocol = (int)x;
            break;
        case 'j': a->json = 1; break;
        case 'F': a->fault_hooks = 1; break;
        case 'W': a->watch = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        case ':':
            fprintf(stderr, "keysup-controller: %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "keysup-controller: unknown option %s (see keysup-controller --help)\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    a->rest = optind;
    return 0;
}

static const char *str_or(json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

static void when(char *out, size_t n, json_int_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char z[8];
    if (t <= 0 || !localtime_r(&tt, &tm)) {
        snprintf(out, n, "never");
        return;
    }
    /* For the technician: local time with its offset (--json keeps seconds). */
    strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    if (strftime(z, sizeof z, "%z", &tm) == 5)
        snprintf(out + strlen(out), n - strlen(out), "%.3s:%.2s", z, z + 3);
}

/* `ctl status` for a person: one line per thing a technician checks. */
static void print_status(json_t *o)
{
    char t1[32], t2[32];
    json_t *st = json_object_get(o, "store"), *ck = json_object_get(o, "clock"), *e;
    size_t i;
    printf("controller:   %lld (scope %lld)%s, %s, protocol %lld\n",
           (long long)json_integer_value(json_object_get(o, "controller_id")),
           (long long)json_integer_value(json_object_get(o, "scope")),
           json_is_true(json_object_get(o, "enrolled")) ? "" : " NOT ENROLLED",
           str_or(o, "firmware", "?"), (long long)json_integer_value(json_object_get(o, "protocol")));
    if (json_is_integer(json_object_get(o, "applied_version"))) {
        when(t1, sizeof t1, json_integer_value(json_object_get(o, "expires_at")));
        printf("database:     version %lld, %lld keys, root %.16s..., expires %s\n",
               (long long)json_integer_value(json_object_get(o, "applied_version")),
               (long long)json_integer_value(json_object_get(o, "record_count")),
               str_or(o, "applied_root", "?"), t1);
    } else {
        printf("database:     none applied (a full download is needed)\n");
    }
    when(t1, sizeof t1, json_integer_value(json_object_get(o, "last_sync")));
    when(t2, sizeof t2, json_integer_value(json_object_get(o, "last_contact")));
    printf("last sync:    %s   last contact: %s\n", t1, t2);
    printf("conditions:   ");
    if (json_array_size(json_object_get(o, "conditions")) == 0)
        printf("none");
    json_array_foreach(json_object_get(o, "conditions"), i, e)
        printf("%s%s", i ? ", " : "", json_string_value(e));
    printf("\n");
    if (json_is_string(json_object_get(st, "code")))
        printf("store:        %s at byte %lld (%s); full download %s\n", str_or(st, "code", ""),
               (long long)json_integer_value(json_object_get(st, "damage_offset")),
               str_or(st, "damage_what", "?"),
               json_is_true(json_object_get(st, "need_full")) ? "requested" : "not needed");
    else
        printf("store:        ok, %lld audit records waiting for upload\n",
               (long long)json_integer_value(json_object_get(st, "audit_pending")));
    when(t1, sizeof t1, json_integer_value(json_object_get(ck, "trusted")));
    printf("clock:        %s (offset %+lld s, drift %lld ppm, %s)%s%s\n", t1,
           (long long)json_integer_value(json_object_get(ck, "offset")),
           (long long)json_integer_value(json_object_get(ck, "drift_ppm")),
           json_is_true(json_object_get(ck, "anchored")) ? "anchored to the supervisor" : "not yet anchored",
           json_is_string(json_object_get(ck, "code")) ? " " : "",
           str_or(ck, "code", ""));
    printf("supervisor:   ");
    if (json_array_size(json_object_get(o, "supervisor_keys")) == 0)
        printf("no key pinned");
    json_array_foreach(json_object_get(o, "supervisor_keys"), i, e)
        printf("%skey %s", i ? ", " : "", json_string_value(e));
    printf("\n");
    if (json_is_object(json_object_get(o, "replace_credential"))) {
        json_t *rc = json_object_get(o, "replace_credential");
        printf("REPLACE SUPERVISOR CREDENTIAL (command %lld): new key %s\n"
               "              %s\n",
               (long long)json_integer_value(json_object_get(rc, "command")),
               str_or(rc, "new_key_fingerprint", "?"),
               json_is_true(json_object_get(rc, "code_entered"))
                   ? "code entered; checked at the next heartbeat"
                   : "compare this fingerprint with the one the operator reads out, then "
                     "type the one-time code: keysup-controller ctl --socket PATH code NNNNNNNN");
    }
    {
        json_t *t = json_object_get(o, "tls");
        printf("tls pin:      %s%s%s%s\n", str_or(t, "pin", json_is_true(json_object_get(t, "https"))
                                                            ? "none (CA-verified)" : "none (plain HTTP)"),
               json_is_string(json_object_get(t, "next_pin")) ? ", next " : "",
               str_or(t, "next_pin", ""),
               json_is_true(json_object_get(t, "pin_mismatch"))
                   ? "  MISMATCH: the server's key is not pinned (KSE-720)" : "");
    }
    printf("seal switch:  %s\n", json_is_true(json_object_get(o, "seal_on")) ? "ON (calibration blocked)" : "off");
    printf("pending txn:  %s\n", json_is_true(json_object_get(o, "pending_transaction"))
                                     ? "yes (other actions refused: KSE-505)" : "no");
    printf("lockouts:     ");
    if (json_array_size(json_object_get(o, "lockouts")) == 0)
        printf("none");
    json_array_foreach(json_object_get(o, "lockouts"), i, e) {
        json_t *u = json_object_get(e, "locked_until");
        when(t1, sizeof t1, json_integer_value(u));
        printf("%s%s %s until %s", i ? "; " : "", str_or(e, "kind", "?"), str_or(e, "id", "?"),
               json_is_string(u) ? "an administrator unlocks it" : t1);
    }
    printf("\n");
    printf("refusals:     ");
    if (json_array_size(json_object_get(o, "refusals")) == 0)
        printf("none");
    json_array_foreach(json_object_get(o, "refusals"), i, e)
        printf("%s%s %s x%lld", i ? ", " : "", str_or(e, "code", "?"), str_or(e, "symbol", ""),
               (long long)json_integer_value(json_object_get(e, "count")));
    printf("\n");
}

/* `ctl help` for a person: the operations the socket serves and, on an agent
 * run with --enable-fault-hooks, the fault kinds (--json: the answer as is). */
static void print_help(json_t *o)
{
    size_t i;
    json_t *e;
    printf("operations of this controller's socket (the keysup-controller ctl verbs and\n"
           "`keysup key present` use them; `ctl send JSON` sends one as is):\n");
    json_array_foreach(json_object_get(o, "ops"), i, e) {
        char name[96];
        snprintf(name, sizeof name, "%s %s", str_or(e, "op", "?"), str_or(e, "args", ""));
        /* A long argument list gets its own line, the text under it. */
        printf("  %-24s%s %s%s\n", name, strlen(name) > 24 ? "\n                          " : "",
               str_or(e, "help", ""),
               json_is_true(json_object_get(e, "needs_enrolment")) ? " (enrolled units)" : "");
    }
    if (!json_is_true(json_object_get(o, "fault_hooks"))) {
        printf("fault hooks: off (the agent runs without --enable-fault-hooks)\n");
        return;
    }
    printf("fault kinds (ctl fault KIND [VALUE]; test agents only):\n");
    json_array_foreach(json_object_get(o, "fault_kinds"), i, e)
        printf("  %-14s %s\n", str_or(e, "kind", "?"), str_or(e, "value", ""));
}

static int send_line(const char *path, const char *line, int human_status, int as_json)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "keysup-controller: cannot connect to %s: %s (is the controller running?)\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 3;
    }
    size_t n = strlen(line);
    if (write(fd, line, n) != (ssize_t)n || write(fd, "\n", 1) != 1) {
        close(fd);
        return 3;
    }
    char buf[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)r;
        if (memchr(buf, '\n', got))
            break;
    }
    close(fd);
    buf[got] = '\0';
    json_error_t je;
    json_t *o = json_loads(buf, 0, &je);
    if (!o) {
        fprintf(stderr, "keysup-controller: bad answer: %s\n", buf);
        return 4;
    }
    json_t *err = json_object_get(o, "error");
    int rc = err ? 1 : 0;
    if (rc && !as_json) {
        /* A refusal for a person: one line on stderr, not a JSON dump. */
        const char *code = json_is_string(err) ? json_string_value(err)
                                               : str_or(err, "code", "ERROR");
        const char *msg = json_is_object(err) ? str_or(err, "message", "")
                                              : str_or(o, "message", "");
        fprintf(stderr, "keysup-controller: %s%s%s\n", code, *msg ? ": " : "", msg);
    } else if (human_status && !rc && json_is_array(json_object_get(o, "ops"))) {
        print_help(o);
    } else if (human_status && !rc) {
        print_status(o);
    } else if (!as_json && !rc && json_is_true(json_object_get(o, "ok")) &&
               json_object_size(o) <= 2) {
        printf("ok\n");
    } else {
        char *pretty = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(pretty);
        free(pretty);
    }
    json_decref(o);
    return rc;
}

static int cmd_ctl(int argc, char **argv, const args *a)
{
    if (!a->socket || a->rest >= argc) {
        fprintf(stderr, "keysup-controller: ctl: %s\n",
                !a->socket ? "--socket PATH is required (the path given to `run --socket`)"
                           : "missing verb (status, help, seal, txn-done, code, fault, send)");
        fputs(usage, stderr);
        return 2;
    }
    const char *verb = argv[a->rest];
    const char *v1 = a->rest + 1 < argc ? argv[a->rest + 1] : NULL;
    const char *v2 = a->rest + 2 < argc ? argv[a->rest + 2] : NULL;
    /* Every request is built with jansson, so any argument (a code with a
     * quote, a fault value) is escaped; `send` passes the caller's own line. */
    json_t *req = NULL;
    if (strcmp(verb, "status") == 0 || strcmp(verb, "help") == 0)
        req = json_pack("{s:s}", "op", verb);
    else if (strcmp(verb, "seal") == 0 && v1 && (strcmp(v1, "on") == 0 || strcmp(v1, "off") == 0))
        req = json_pack("{s:s,s:b}", "op", "seal", "on", strcmp(v1, "on") == 0);
    else if (strcmp(verb, "txn-done") == 0)
        req = json_pack("{s:s}", "op", "txn_done");
    else if (strcmp(verb, "fault") == 0 && v1) {
        /* VALUE is JSON (a number, true, false); anything else goes as a string. */
        json_t *val = v2 ? json_loads(v2, JSON_DECODE_ANY, NULL) : json_true();
        req = json_pack("{s:s,s:s,s:o}", "op", "fault", "kind", v1, "value",
                        val ? val : json_string(v2));
    } else if (strcmp(verb, "code") == 0 && v1)
        req = json_pack("{s:s,s:s}", "op", "enter_code", "code", v1);
    else if (strcmp(verb, "send") == 0 && v1)
        return send_line(a->socket, v1, 0, 1);
    else {
        fprintf(stderr, "keysup-controller: ctl: %s '%s'\n",
                v1 || !(strcmp(verb, "seal") == 0 || strcmp(verb, "fault") == 0 ||
                        strcmp(verb, "code") == 0 || strcmp(verb, "send") == 0)
                    ? "unknown verb or value in" : "missing value for", verb);
        fputs(usage, stderr);
        return 2;
    }
    char *line = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!line) {
        fprintf(stderr, "keysup-controller: %s: bad arguments\n", verb);
        return 2;
    }
    int rc = send_line(a->socket, line,
                       (strcmp(verb, "status") == 0 || strcmp(verb, "help") == 0) && !a->json,
                       a->json);
    free(line);
    return rc;
}

int main(int argc, char **argv)
{
    args a;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("keysup-controller %s\n", KS_VERSION_STRING);
        return 0;
    }
    if (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "enroll") != 0 &&
        strcmp(argv[1], "ctl") != 0) {
        fprintf(stderr, "keysup-controller: unknown command '%s' (run, enroll, ctl; see --help)\n",
                argv[1]);
        return 2;
    }
    if (parse(argc, argv, &a))
        return 2;
    if (strcmp(argv[1], "ctl") == 0)
        return cmd_ctl(argc, argv, &a);
    if (a.rest < argc) {
        fprintf(stderr, "keysup-controller: %s: unexpected argument '%s'\n", argv[1], argv[a.rest]);
        return 2;
    }

    int enroll = strcmp(argv[1], "enroll") == 0;
    if ((!enroll && strcmp(argv[1], "run") != 0) || !a.flash || (enroll && (!a.supervisor || !a.token)) ||
        (!enroll && !a.socket)) {
        fprintf(stderr, "keysup-controller: %s needs %s\n", argv[1],
                enroll ? "--flash FILE, --supervisor URL and --token TOKEN"
                       : "--flash FILE and --socket PATH");
        fputs(usage, stderr);
        return 2;
    }
    ctl_opts o = {a.flash, a.sectors, a.socket, a.supervisor, a.heartbeat, a.protocol, a.identity,
                  a.fault_hooks, 0, 0, 0, 0, 0, a.watch};
    int err = ctl_open(&agent, &o, enroll);
    if (err) {
        fprintf(stderr, "keysup-controller: cannot open the store on %s: %s (%s)\n", a.flash,
                ks_err_name(err), ks_strerror(err));
        return 3;
    }
    if (enroll) {
        err = ctl_enroll(&agent, a.supervisor, a.token);
        ctl_close(&agent);
        return err ? 1 : 0;
    }
    if (agent.set.controller_id && (err = ctl_start_engine(&agent)) != 0)
        fprintf(stderr, "keysup-controller: auth engine: %s (%s)\n", ks_err_name(err), ks_strerror(err));
    if (!agent.set.controller_id)
        fprintf(stderr, "keysup-controller: not enrolled: decisions are refused until "
                        "`keysup-controller enroll` runs\n");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "keysup-controller: serving %s%s%s%s\n", a.socket,
            a.supervisor ? ", supervisor " : "", a.supervisor ? a.supervisor : "",
            a.fault_hooks ? " (fault hooks ON: a test agent)" : "");
    /* Type=notify: the store is mounted and the socket about to be served. */
    if (ks_sd_notify("READY=1") != 0)
        fprintf(stderr, "keysup-controller: cannot reach NOTIFY_SOCKET\n");
    err = ctl_serve(&agent);
    ks_sd_notify("STOPPING=1");
    if (stop_signal)
        fprintf(stderr, "keysup-controller: stopping on %s\n",
                stop_signal == SIGTERM ? "SIGTERM" : stop_signal == SIGINT ? "SIGINT" : "a signal");
    ctl_close(&agent);
    return err ? 1 : 0;
}
