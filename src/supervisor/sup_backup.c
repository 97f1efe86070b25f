/*
 * sup_backup.c - `keysup backup` and `keysup restore` (issue 14).
 *
 * A backup is a directory (mode 0700) holding what a supervisor is: the
 * data directory's files (keysupd.conf, the sealed supervisor-N.key files,
 * the TLS pair, webhook settings) and the registry: keysup.db made with
 * SQLite's online backup API (a consistent copy while keysupd runs and
 * writes), or keysup.pgdump made by pg_dump (custom format) when the
 * registry is in PostgreSQL. backup.json says which and when.
 *
 * Restore puts it back into a data directory. keysupd must be stopped: the
 * data directory lock (sup_lock.c) proves it for this one; for PostgreSQL the
 * publish lease must be free too (no instance running anywhere). The
 * database then goes back in time; the controllers, which hold newer
 * versions, tell the restarted supervisor so (sup_restore.c, KSE-304), and
 * the steps printed say what the operator does next.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "sup_backup.h"
#include "sup_db_pg.h"
#include "sup_guard.h"
#include "sup_pgurl.h"

#define PGDUMP_NAME "keysup.pgdump"
#define MANIFEST_NAME "backup.json"
#define LEASE_KEY 0x6b737570 /* sup_cluster.c's publish lease */

/* Files of a data directory that are not copied as files. */
static int skipped(const char *name)
{
    static const char *const skip[] = {KS_SUP_DB_NAME, KS_SUP_DB_NAME "-wal",
                                       KS_SUP_DB_NAME "-shm", KS_SUP_DB_NAME "-journal",
                                       "keysupd.lock", PGDUMP_NAME, MANIFEST_NAME, NULL};
    for (int i = 0; skip[i]; i++)
        if (strcmp(name, skip[i]) == 0)
            return 1;
    return name[0] == '.';
}

/* Copies src to dst (mode 0600) through dst.tmp, fsync, rename. */
static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 16], buf[65536];
    int in = -1, out = -1, rc = KS_E_IO;
    ssize_t n;

    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        goto cleanup;
    }
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    while ((n = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, (size_t)n) != n) {
            snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
            goto cleanup;
        }
    }
    if (n < 0 || fsync(out) != 0) {
        snprintf(err, errlen, "%s: %s", n < 0 ? src : tmp, strerror(errno));
        goto cleanup;
    }
    if (close(out) != 0) {
        out = -1;
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    out = -1;
    if (rename(tmp, dst) != 0) {
        snprintf(err, errlen, "%s: %s", dst, strerror(errno));
        goto cleanup;
    }
    rc = KS_OK;
cleanup:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc)
        unlink(tmp);
    return rc;
}

/* Every regular file of from (but the database) into to. */
static int copy_dir(const char *from, const char *to, int *count, char *err, size_t errlen)
{
    DIR *d = opendir(from);
    struct dirent *e;
    int rc = KS_OK;

    if (!d) {
        snprintf(err, errlen, "%s: %s", from, strerror(errno));
        return KS_E_IO;
    }
    while (!rc && (e = readdir(d)) != NULL) {
        char s[PATH_MAX + 300], t[PATH_MAX + 300];
        struct stat st;
        if (skipped(e->d_name))
            continue;
        snprintf(s, sizeof s, "%s/%s", from, e->d_name);
        if (lstat(s, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(t, sizeof t, "%s/%s", to, e->d_name);
        rc = copy_file(s, t, err, errlen);
        if (!rc)
            (*count)++;
    }
    closedir(d);
    return rc;
}

/* SQLite's online backup: a consistent copy while writers go on. */
static int sqlite_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    sqlite3 *a = NULL, *b = NULL;
    sqlite3_backup *bk;
    int rc = KS_E_IO, r;

    if (sqlite3_open_v2(src, &a, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_open_v2(dst, &b, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", a && sqlite3_errcode(a) ? src : dst,
                 sqlite3_errmsg(a && sqlite3_errcode(a) ? a : b));
        goto cleanup;
    }
    sqlite3_busy_timeout(a, 5000);
    bk = sqlite3_backup_init(b, "main", a, "main");
    if (!bk) {
        snprintf(err, errlen, "%s: %s", dst, sqlite3_errmsg(b));
        goto cleanup;
    }
    /* All pages in one step: a writer in between would restart a paged copy. */
    do {
        r = sqlite3_backup_step(bk, -1);
        if (r == SQLITE_BUSY || r == SQLITE_LOCKED)
            sqlite3_sleep(50);
    } while (r == SQLITE_OK || r == SQLITE_BUSY || r == SQLITE_LOCKED);
    sqlite3_backup_finish(bk);
    if (r != SQLITE_DONE) {
        snprintf(err, errlen, "backup of %s: %s", src, sqlite3_errstr(r));
        goto cleanup;
    }
    /* The copy is one file: no WAL left beside it. */
    if (sqlite3_exec(b, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", dst, sqlite3_errmsg(b));
        goto cleanup;
    }
    rc = KS_OK;
cleanup:
    sqlite3_close(a);
    sqlite3_close(b);
    return rc;
}

/* Runs KEYSUP_PG_BIN/tool (or tool from PATH) with args; 0 when it exited 0.
 * password (may be "") goes in the tool's PGPASSWORD, never in args. */
static int run_pg_tool(const char *tool, char *const args[], const char *password, char *err,
                       size_t errlen)
{
    const char *dir = getenv("KEYSUP_PG_BIN");
    char path[PATH_MAX];
    char *argv[16];
    int st, i;
    pid_t pid;

    snprintf(path, sizeof path, "%s%s%s", dir ? dir : "", dir ? "/" : "", tool);
    argv[0] = path;
    for (i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot start %s: %s", tool, strerror(errno));
        return KS_E_IO;
    }
    if (pid == 0) {
        /* the child of a one-threaded command: setenv is safe here */
        if (password[0] && setenv("PGPASSWORD", password, 1) != 0)
            _exit(127);
        execvp(path, argv);
        fprintf(stderr, "keysup: cannot run %s: %s (install postgresql-client, or set "
                "KEYSUP_PG_BIN)\n", path, strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "%s: %s", tool, strerror(errno));
            return KS_E_IO;
        }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s failed (exit %d); its message is above", tool,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return KS_E_IO;
    }
    return KS_OK;
}

static int load_conf(const char *data_dir, sup_config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    struct stat st;
    sup_config_defaults(cfg);
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_CONF_NAME);
    if (stat(path, &st) != 0)
        return KS_OK;
    return sup_config_load(cfg, path, err, errlen);
}

int sup_backup(const char *data_dir, const char *out_dir, sup_backup_info *info, char *err,
               size_t errlen)
{
    sup_config cfg;
    char path[PATH_MAX + 32], dst[PATH_MAX + 32];
    struct stat st;
    FILE *f;
    int rc;

    memset(info, 0, sizeof *info);
    rc = load_conf(data_dir, &cfg, err, errlen);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_KEY_NAME);
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s is not a supervisor data directory (no %s)", data_dir,
                 KS_SUP_KEY_NAME);
        return KS_E_NOTFOUND;
    }
    if (mkdir(out_dir, 0700) != 0) {
        snprintf(err, errlen, "%s: %s (a backup goes into a new directory)", out_dir,
                 strerror(errno));
        return errno == EEXIST ? KS_E_INVAL : KS_E_IO;
    }
    rc = copy_dir(data_dir, out_dir, &info->files, err, errlen);
    if (rc)
        return rc;
    if (cfg.database[0]) {
        char url[sizeof cfg.database], pw[256];
        char *args[] = {"--format=custom", "--no-owner", "-f", dst, "-d", url, NULL};
        snprintf(dst, sizeof dst, "%s/%s", out_dir, PGDUMP_NAME);
        info->postgresql = 1;
        if (sup_pgurl_split(cfg.database, url, sizeof url, pw, sizeof pw) != 0) {
            snprintf(err, errlen, "keysupd.conf: database is not a postgresql:// URL");
            return KS_E_INVAL;
        }
        rc = run_pg_tool("pg_dump", args, pw, err, errlen);
        sodium_memzero(pw, sizeof pw);
    } else {
        snprintf(path, sizeof path, "%s/%s", data_dir, KS_SUP_DB_NAME);
        snprintf(dst, sizeof dst, "%s/%s", out_dir, KS_SUP_DB_NAME);
        rc = sqlite_copy(path, dst, err, errlen);
    }
    if (rc)
        return rc;
    if (chmod(dst, 0600) != 0) {
        snprintf(err, errlen, "%s: %s", dst, strerror(errno));
        return KS_E_IO;
    }
    info->created_at = sup_now();
    snprintf(path, sizeof path, "%s/%s", out_dir, MANIFEST_NAME);
    f = fopen(path, "w");
    if (!f || fprintf(f, "{\"format\":\"keysup-backup-1\",\"created_at\":%llu,\"database\":\"%s\","
                         "\"files\":%d}\n", (unsigned long long)info->created_at,
                      info->postgresql ? "postgresql" : "sqlite", info->files) < 0 ||
        fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return KS_E_IO;
    }
    return KS_OK;
}

/* No keysupd may run on the database: the publish lease must be free. */
static int pg_quiet(const char *url, char *err, size_t errlen)
{
    sup_db *db = sup_db_open_pg(url, err, errlen);
    int64_t got = 0;
    char sql[64];
    if (!db)
        return KS_E_IO;
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%d)::int", LEASE_KEY);
    if (sup_db_int(db, sql, NULL, 0, &got) != KS_DB_OK || !got) {
        snprintf(err, errlen, "a keysupd is running on this PostgreSQL database (it holds the"
                 " publish lease): stop every keysupd first");
        sup_db_close(db);
        return KS_E_INVAL;
    }
    sup_db_close(db); /* ends the session: the lease is free again */
    return KS_OK;
}

int sup_restore_backup(const char *data_dir, const char *from, sup_backup_info *info, char *err,
                       size_t errlen)
{
    sup_config cfg;
    char path[PATH_MAX + 32], dst[PATH_MAX + 32];
    struct stat st;
    int rc, lockfd = -1;

    memset(info, 0, sizeof *info);
    snprintf(path, sizeof path, "%s/%s", from, MANIFEST_NAME);
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s is not a keysup backup (no %s)", from, MANIFEST_NAME);
        return KS_E_NOTFOUND;
    }
    rc = load_conf(from, &cfg, err, errlen);
    if (rc)
        return rc;
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", data_dir, strerror(errno));
        return KS_E_IO;
    }
    /* keysupd holds this lock for its whole life: refuse while it runs. */
    rc = sup_datadir_lock(data_dir, &lockfd, err, errlen);
    if (rc)
        return rc;
    if (cfg.database[0] && (rc = pg_quiet(cfg.database, err, errlen)) != KS_OK)
        goto cleanup;
    rc = copy_dir(from, data_dir, &info->files, err, errlen);
    if (rc)
        goto cleanup;
    if (cfg.database[0]) {
        char url[sizeof cfg.database], pw[256];
        char *args[] = {"--clean", "--if-exists", "--no-owner", "--single-transaction", "-d",
                        url, path, NULL};
        snprintf(path, sizeof path, "%s/%s", from, PGDUMP_NAME);
        info->postgresql = 1;
        if (sup_pgurl_split(cfg.database, url, sizeof url, pw, sizeof pw) != 0) {
            snprintf(err, errlen, "keysupd.conf: database is not a postgresql:// URL");
            rc = KS_E_INVAL;
            goto cleanup;
        }
        rc = run_pg_tool("pg_restore", args, pw, err, errlen);
        sodium_memzero(pw, sizeof pw);
    } else {
        static const char *const side[] = {"-wal", "-shm", "-journal"};
        snprintf(path, sizeof path, "%s/%s", from, KS_SUP_DB_NAME);
        snprintf(dst, sizeof dst, "%s/%s", data_dir, KS_SUP_DB_NAME);
        /* The old WAL belongs to the database being replaced. */
        for (int i = 0; i < 3; i++) {
            char sp[PATH_MAX + 48];
            snprintf(sp, sizeof sp, "%s%s", dst, side[i]);
            if (unlink(sp) != 0 && errno != ENOENT) {
                snprintf(err, errlen, "%s: %s", sp, strerror(errno));
                rc = KS_E_IO;
                goto cleanup;
            }
        }
        rc = copy_file(path, dst, err, errlen);
    }
cleanup:
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}
