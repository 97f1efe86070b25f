/*
 * bench_tls.c - what TLS costs keysupd, in process, on loopback, in one run:
 *   1. signed device heartbeats (nonce GET + signed POST) over keep-alive
 *      connections, plain HTTP against HTTPS, rounds interleaved (plain,
 *      TLS, plain, TLS, ...) so the load of a shared machine hits both
 *      alike; medians; target ratio TLS / plain >= 0.7;
 *   2. full TLS handshakes per second: `openssl s_time -new` (a new TCP
 *      connection and a full handshake each, no resumption) against keysupd,
 *      and against `gnutls-serv` with the same certificate and GnuTLS, which
 *      does nothing but handshakes: the raw limit of this machine's TLS
 *      stack, measured in the same run, rounds interleaved.
 * usage: bench_tls [seconds=3] [threads=2] [rounds=3]
 * Needs openssl and gnutls-bin (scripts/deps.sh test) for part 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "bench_device.h"
#include "bench_util.h"
#include "sup_tlsgen.h"
#include "sup_http_tls.h"
#include "sup_tls.h"

static sup_ctx S;
static char base_url[64], cacert[PATH_MAX + 32];
static bench_dev dev = {base_url, NULL, {0}, 0};
static double run_seconds = 3;

static void *work(void *arg)
{
    bench_worker *w = arg; /* mode 0: signed heartbeats, keep-alive */
    char body[256];
    double end;
    CURL *c = bench_loop_open(body, run_seconds, &end);
    if (c)
        curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
    while (c && bench_now() < end) {
        if (bench_heartbeat(c, &dev, body, 0) == 0)
            w->ok++;
        else
            w->errors++;
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* (Re)starts the daemon plain or with the certificate; sets base_url. */
static int serve(int tls, const char *dir)
{
    char err[512];
    sup_http_stop(&S);
    S.cfg.tls_cert[0] = S.cfg.tls_key[0] = '\0';
    if (tls) {
        snprintf(S.cfg.tls_cert, sizeof S.cfg.tls_cert, "%s", SUP_TLS_CERT_NAME);
        snprintf(S.cfg.tls_key, sizeof S.cfg.tls_key, "%s", SUP_TLS_KEY_NAME);
    }
    if (sup_http_start(&S, err, sizeof err)) {
        fprintf(stderr, "bench_tls: %s\n", err);
        return -1;
    }
    snprintf(base_url, sizeof base_url, "%s://127.0.0.1:%u", tls ? "https" : "http", S.port);
    (void)dir;
    return 0;
}

/* Full handshakes per second by `openssl s_time -new` against port. */
static double s_time(unsigned port)
{
    char cmd[160], line[256];
    long n = -1, got;
    double t0 = bench_now(), el;
    FILE *p;
    snprintf(cmd, sizeof cmd, "openssl s_time -connect 127.0.0.1:%u -new -time %d 2>&1", port,
             (int)run_seconds);
    p = popen(cmd, "r");
    if (!p)
        return 0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "%ld connections in %*s real seconds", &got) == 1)
            n = got;
    pclose(p);
    el = bench_now() - t0;
    return n > 0 ? (double)n / el : 0;
}

static unsigned free_port(void)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port = 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* gnutls-serv on port with the pair; its pid, or -1. */
static pid_t raw_server(unsigned port, const char *cert, const char *key)
{
    char ps[16];
    pid_t pid;
    snprintf(ps, sizeof ps, "%u", port);
    fflush(stdout); /* or the child's freopen writes our buffer a second time */
    pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execlp("gnutls-serv", "gnutls-serv", "--x509certfile", cert, "--x509keyfile", key,
               "--priority", KS_TLS_PRIORITIES, "-p", ps, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 50; i++) {
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
        struct timespec ts = {0, 100000000};
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return pid;
        nanosleep(&ts, NULL);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

int main(int argc, char **argv)
{
    int threads = argc > 2 ? atoi(argv[2]) : 2, rounds = argc > 3 ? atoi(argv[3]) : 3;
    char dir[] = "/tmp/ks_bench_tls_XXXXXX", tok[80], err[512], cp[PATH_MAX], kp[PATH_MAX];
    double plain[9], tls[9], hs[9], raw[9];
    long e = 0;
    unsigned rport;
    pid_t rpid;

    if (argc > 1)
        run_seconds = atof(argv[1]);
    if (threads < 1 || threads > 16 || rounds < 1 || rounds > 9 || sodium_init() < 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (bench_sup_open(&S, dir, NULL, threads, tok, err, sizeof err)) {
        fprintf(stderr, "bench_tls: %s\n", err);
        return 1;
    }
    /* The certificate is read when serve() starts HTTPS, not by sup_open. */
    snprintf(cp, sizeof cp, "%s/%s", dir, SUP_TLS_CERT_NAME);
    snprintf(kp, sizeof kp, "%s/%s", dir, SUP_TLS_KEY_NAME);
    snprintf(cacert, sizeof cacert, "%s", cp);
    if (sup_tlsgen_selfsigned(cp, kp, NULL, 0, 0, 30, err, sizeof err)) {
        fprintf(stderr, "bench_tls: %s\n", err);
        return 1;
    }
    sup_log_set_level(KS_LOG_ERROR);
    S.cfg.sync_full = 0; /* the figure is the link, not the disk */
    if (sup_pub_start(&S))
        return 1;
    pthread_mutex_lock(&S.lock);
    sup_db_exec(S.db, "PRAGMA synchronous=NORMAL", NULL, 0, NULL, NULL);
    pthread_mutex_unlock(&S.lock);
    bench_sup_controller(&S, &dev);
    printf("keysupd on loopback, %d client threads, %d server threads, %d rounds of %.0f s,"
           " ECDSA P-256 certificate\n", threads, threads, rounds, run_seconds);
    for (int r = 0; r < rounds; r++) {
        if (serve(0, dir))
            return 1;
        plain[r] = bench_load(work, 0, threads, &e);
        if (serve(1, dir))
            return 1;
        tls[r] = bench_load(work, 0, threads, &e);
        if (plain[r] < 0 || tls[r] < 0) {
            fprintf(stderr, "bench_tls: cannot start the client threads\n");
            return 1;
        }
    }
    rport = free_port();
    rpid = raw_server(rport, cp, kp);
    for (int r = 0; r < rounds; r++) {
        hs[r] = s_time(S.port);
        raw[r] = rpid > 0 ? s_time(rport) : 0;
    }
    if (rpid > 0) {
        kill(rpid, SIGTERM);
        waitpid(rpid, NULL, 0);
    }
    sup_http_stop(&S);
    printf("rounds (plain / TLS / keysupd hs / raw hs):");
    for (int r = 0; r < rounds; r++)
        printf(" %.0f/%.0f/%.0f/%.0f", plain[r], tls[r], hs[r], raw[r]);
    printf("\n");
    {
        /* Each round's two figures were measured back to back: their ratio
         * is the least disturbed by the load of a shared machine. */
        double rr[9], rh[9], mrr, mrh;
        for (int r = 0; r < rounds; r++) {
            rr[r] = plain[r] > 0 ? tls[r] / plain[r] : 0;
            rh[r] = raw[r] > 0 ? hs[r] / raw[r] : 0;
        }
        mrr = bench_median(rr, (size_t)rounds);
        mrh = bench_median(rh, (size_t)rounds);
        double mp = bench_median(plain, (size_t)rounds), mt = bench_median(tls, (size_t)rounds);
        double mh = bench_median(hs, (size_t)rounds), mr = bench_median(raw, (size_t)rounds);
        printf("signed heartbeats, plain HTTP keep-alive: %8.0f hb/s (median)\n", mp);
        printf("signed heartbeats, TLS keep-alive:        %8.0f hb/s (median)\n", mt);
        printf("TLS / plain, median of round ratios:      %8.2f (target >= 0.7; errors %ld)\n",
               mrr, e);
        printf("full TLS handshakes, keysupd:             %8.0f /s (openssl s_time -new, median)\n",
               mh);
        if (mr > 0)
            printf("full TLS handshakes, gnutls-serv (limit): %8.0f /s  (median of round ratios"
                   " %.2f)\n", mr, mrh);
        else
            printf("gnutls-serv or openssl missing: no handshake limit (scripts/deps.sh test)\n");
    }
    sup_pub_stop(&S);
    sup_close(&S);
    sodium_memzero(tok, sizeof tok);
    bench_sup_remove("bench_tls", dir);
    return 0;
}
