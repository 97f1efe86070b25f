/*
 * keysupd_main.c - `keysupd --data DIR [--listen HOST:PORT] [--config FILE]
 * [--passphrase-file F] [--port-file F]`.
 *
 * The key file passphrase comes from --passphrase-file (first line) or
 * $KEYSUP_PASSPHRASE, never from argv. SIGTERM/SIGINT stop it cleanly; any
 * acknowledged change is already committed, so kill -9 loses nothing that
 * was answered.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "sup_api.h"
#include "sup_cluster.h"
#include "sup_diag.h"
#include "sup_guard.h"
#include "sup_http_tls.h"
#include "sup_initcmd.h"
#include "ks_sdnotify.h"
#include "sup.h"


static const char usage[] =
    "usage: keysupd --data DIR [--listen HOST:PORT] [--config FILE]\n"
    "               [--passphrase-file FILE] [--port-file FILE]\n"
    "               [--tls-cert FILE --tls-key FILE]\n"
    "       keysupd openapi   (prints the API's OpenAPI 3 description)\n"
    "       keysupd init --data DIR ...   (keysupd init --help)\n"
    "       keysupd backup --data DIR --out BACKUP_DIR   (online; keysupd backup --help)\n"
    "       keysupd restore --data DIR --from BACKUP_DIR (keysupd stopped)\n\n"
    "The keysup supervisor daemon. DIR is made by `keysupd init --data DIR`.\n"
    "The signing key passphrase is the first line of --passphrase-file, else\n"
    "$KEYSUP_PASSPHRASE. --listen overrides the config file (port 0 picks a free\n"
    "port; --port-file receives the port once listening; [::]:8750 for IPv6).\n"
    "--tls-cert/--tls-key override tls_cert/tls_key: HTTPS; SIGHUP reloads the\n"
    "pair. Plain HTTP only on loopback unless allow_plain_http = yes.\n"
    "See docs/supervisor.md.\n";

static int read_pass(const char *file, char **pass, size_t *len)
{
    const char *env = getenv("KEYSUP_PASSPHRASE");
    *pass = NULL;
    *len = 0;
    if (file) {
        FILE *f = fopen(file, "r");
        char buf[1024];
        if (!f) {
            fprintf(stderr, "keysupd: %s: %s\n", file, strerror(errno));
            return -1;
        }
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        *pass = strdup(buf);
        sodium_memzero(buf, sizeof buf);
    } else if (env) {
        *pass = strdup(env);
        /* The copy is ours now: wipe the variable in place, or it stays in
         * /proc/PID/environ (and any child's environment) while we run. */
        sodium_memzero((char *)env, strlen(env));
        unsetenv("KEYSUP_PASSPHRASE");
    } else {
        return 0;
    }
    if (!*pass)
        return -1;
    *len = strlen(*pass);
    return 0;
}

/* The route table as OpenAPI 3 (docs/openapi.json is this output). */
static int print_openapi(void)
{
    json_t *doc = sup_openapi();
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    int ok = text && printf("%s\n", text) > 0 && fflush(stdout) == 0;
    free(text);
    json_decref(doc);
    if (!ok)
        fprintf(stderr, "keysupd: cannot print the OpenAPI description\n");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *listen = NULL, *config = NULL, *passfile = NULL, *portfile = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    char err[512], *pass = NULL;
    size_t passlen = 0;
    sup_ctx s;
    sigset_t sigs;
    int rc, ret = 1, lockfd = -1, sig = 0;

    if (argc == 2 && strcmp(argv[1], "openapi") == 0)
        return print_openapi();
    if (argc > 1 && strcmp(argv[1], "init") == 0)
        return sup_init_main(argc - 1, argv + 1); /* setup, then exit: no daemon */
    if (argc > 1 && strcmp(argv[1], "backup") == 0)
        return sup_backup_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "restore") == 0)
        return sup_restore_main(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("keysupd %s\n", KS_VERSION_STRING);
            return 0;
        }
        if (strcmp(argv[i], "--data") == 0) dst = &data;
        else if (strcmp(argv[i], "--listen") == 0) dst = &listen;
        else if (strcmp(argv[i], "--config") == 0) dst = &config;
        else if (strcmp(argv[i], "--passphrase-file") == 0) dst = &passfile;
        else if (strcmp(argv[i], "--port-file") == 0) dst = &portfile;
        else if (strcmp(argv[i], "--tls-cert") == 0) dst = &tls_cert;
        else if (strcmp(argv[i], "--tls-key") == 0) dst = &tls_key;
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "keysupd: %s '%s'\n%s", dst ? "missing value for" : "unknown option",
                    argv[i], usage);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!data) {
        fprintf(stderr, "keysupd: --data DIR is required\n%s", usage);
        return 2;
    }
    if (sodium_init() < 0 || read_pass(passfile, &pass, &passlen))
        return 1;
    /* One keysupd per data directory, held until exit (a missing directory
     * is reported by sup_open below). */
    rc = sup_datadir_lock(data, &lockfd, err, sizeof err);
    if (rc != KS_OK && rc != KS_E_NOTFOUND) {
        fprintf(stderr, "keysupd: %s\n", err);
        if (pass) {
            sodium_memzero(pass, passlen);
            free(pass);
        }
        return 1;
    }
    rc = sup_open(&s, data, config, pass, passlen, err, sizeof err);
    if (pass) {
        sodium_memzero(pass, passlen);
        free(pass);
    }
    if (rc) {
        fprintf(stderr, "keysupd: %s\n", err);
        sup_close(&s);
        if (lockfd >= 0)
            close(lockfd);
        return 1;
    }
    if (listen) {
        if (strlen(listen) >= sizeof s.cfg.listen) {
            fprintf(stderr, "keysupd: --listen too long\n");
            goto cleanup;
        }
        snprintf(s.cfg.listen, sizeof s.cfg.listen, "%s", listen);
    }
    if (tls_cert || tls_key) {
        if ((tls_cert && strlen(tls_cert) >= sizeof s.cfg.tls_cert) ||
            (tls_key && strlen(tls_key) >= sizeof s.cfg.tls_key)) {
            fprintf(stderr, "keysupd: --tls-cert/--tls-key too long\n");
            goto cleanup;
        }
        if (tls_cert)
            snprintf(s.cfg.tls_cert, sizeof s.cfg.tls_cert, "%s", tls_cert);
        if (tls_key)
            snprintf(s.cfg.tls_key, sizeof s.cfg.tls_key, "%s", tls_key);
    }
    /* SIGTERM, SIGINT and SIGHUP stay blocked in every thread (the threads
     * start below and inherit the mask) and are taken by sigwait in the
     * loop at the end: a stop sent right after READY=1 is never lost in the
     * gap between testing a flag and pause(), nor handled by a thread the
     * main loop does not hear from. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Several keysupd on one PostgreSQL database: the publish lease first. */
    if (sup_cluster_start(&s, err, sizeof err) != KS_OK) {
        fprintf(stderr, "keysupd: %s\n", err);
        goto cleanup;
    }
    if (sup_pub_start(&s) != KS_OK) {
        fprintf(stderr, "keysupd: cannot start the publisher\n");
        goto cleanup;
    }
    /* Diagnosis hooks before the first heartbeat can arrive. */
    if (sup_diag_start(&s) != KS_OK) {
        fprintf(stderr, "keysupd: cannot start diagnosis\n");
        goto cleanup;
    }
    if (sup_http_start(&s, err, sizeof err) != KS_OK) {
        fprintf(stderr, "keysupd: %s\n", err);
        goto cleanup;
    }
    sup_log(KS_LOG_INFO, "daemon.start", "listen=%s port=%u data=%s key_seq=%lld threads=%u",
           s.cfg.listen, s.port, s.data_dir, (long long)s.key_seq, sup_config_threads(&s.cfg));
    if (portfile) {
        char tmp[PATH_MAX + 8];
        FILE *f;
        snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", s.port) < 0 || fclose(f) != 0 || rename(tmp, portfile) != 0) {
            fprintf(stderr, "keysupd: %s: cannot write the port\n", portfile);
            goto cleanup;
        }
    }
    /* Type=notify: ready once listening (and the port file written). */
    if (ks_sd_notify("READY=1") != 0)
        sup_log(KS_LOG_WARN, "daemon.notify", "error=\"cannot reach NOTIFY_SOCKET\"");
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        /* A new certificate for new handshakes; a bad one keeps the old. */
        ks_sd_notify("RELOADING=1");
        (void)sup_http_tls_reload(&s, config, tls_cert, tls_key);
        ks_sd_notify("READY=1");
    }
    ks_sd_notify("STOPPING=1");
    sup_log(KS_LOG_INFO, "daemon.stop", "signal=%s",
           sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "other");
    ret = 0;
cleanup:
    sup_http_stop(&s);
    sup_diag_stop(&s);
    sup_cluster_stop(&s); /* before the publisher: the thread kicks it */
    sup_pub_stop(&s);
    sup_cluster_free(&s);
    sup_close(&s);
    if (lockfd >= 0)
        close(lockfd);
    return ret;
}
