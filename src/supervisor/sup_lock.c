/*
 * sup_lock.c - one keysupd per data directory.
 *
 * Two daemons on one database used to share the port (SO_REUSEPORT) and
 * split the controllers' requests between two nonce tables: false replays
 * and false incidents. keysupd now takes an exclusive fcntl lock on
 * DIR/keysupd.lock for its whole life. fcntl (not flock) because F_GETLK
 * names the holder's pid, which the error shows; the kernel drops the lock
 * when the process dies, so a crash never leaves a stale lock behind.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sup_guard.h"

#define LOCK_NAME "keysupd.lock"

int sup_datadir_lock(const char *dir, int *fd_out, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], pid[32];
    struct flock fl;
    int fd, n;

    *fd_out = -1;
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open the lock file: %s", path, strerror(errno));
        return errno == ENOENT ? KS_E_NOTFOUND : KS_E_IO;
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        struct flock q;
        memset(&q, 0, sizeof q);
        q.l_type = F_WRLCK;
        q.l_whence = SEEK_SET;
        if ((e == EAGAIN || e == EACCES) && fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
            snprintf(err, errlen, "data directory %s is in use by another keysupd (pid %ld, lock"
                     " %s); stop it first, one keysupd per data directory", dir, (long)q.l_pid,
                     path);
        else
            snprintf(err, errlen, "%s: cannot lock: %s", path, strerror(e));
        close(fd);
        return e == EAGAIN || e == EACCES ? KS_E_INVAL : KS_E_IO;
    }
    /* The pid in the file is for people; the lock is what counts. */
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        sup_log(KS_LOG_WARN, "daemon.lock", "path=%s cannot write the pid: %s", path,
               strerror(errno));
    *fd_out = fd;
    return KS_OK;
}
