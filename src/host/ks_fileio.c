/*
 * ks_fileio.c - see ks_fileio.h.
 */
#define _XOPEN_SOURCE 700
#include "ks_fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ks_file_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    int ret = KS_E_IO, fd = -1, saved = 0;
    uint8_t *p = NULL;
    size_t have = 0, cap = 0;
    struct stat st;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto cleanup;
    if (fstat(fd, &st) != 0)
        goto cleanup;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto cleanup;
    }
    /* The size from fstat is a hint (pipes report 0): read until EOF. */
    cap = S_ISREG(st.st_mode) && (size_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
    p = malloc(cap);
    if (!p)
        goto cleanup;
    for (;;) {
        ssize_t n;
        if (have == cap) {
            size_t ncap = cap * 2;
            uint8_t *np;
            if (cap > max) {
                errno = EFBIG;
                ret = KS_E_NOSPC;
                goto cleanup;
            }
            np = realloc(p, ncap);
            if (!np)
                goto cleanup;
            p = np;
            cap = ncap;
        }
        n = read(fd, p + have, cap - have);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto cleanup;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    if (have > max) {
        errno = EFBIG;
        ret = KS_E_NOSPC;
        goto cleanup;
    }
    *buf = p;
    *len = have;
    p = NULL;
    ret = KS_OK;
cleanup:
    saved = errno;
    free(p);
    if (fd >= 0)
        close(fd);
    errno = saved;
    return ret;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes the rename/link itself durable; best effort on odd filesystems. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    int fd;

    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/*
 * An existing target that is not a regular file (/dev/stdout, /dev/null, a
 * FIFO) is written in place: renaming a temporary file over it would
 * replace the device node itself, for every other process on the machine.
 * There is nothing to make atomic about a stream.
 */
static int write_special(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return KS_E_IO;
    int rc = write_all(fd, buf, len) == 0 ? KS_OK : KS_E_IO;
    int e = errno;
    if (close(fd) != 0 && rc == KS_OK)
        rc = KS_E_IO;
    else
        errno = e;
    return rc;
}

int ks_file_write_atomic(const char *path, const void *buf, size_t len,
                         unsigned mode, int replace)
{
    int ret = KS_E_IO, fd = -1, saved = 0;
    size_t plen = strlen(path);
    char *tmp = NULL;
    struct stat st;

    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return replace ? write_special(path, buf, len) : (errno = EEXIST, KS_E_IO);

    tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    if (!tmp)
        goto cleanup;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    /* mkstemp creates the file 0600, so a secret is never readable by
     * others, not even for the moment before fchmod. */
    fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        tmp = NULL;
        goto cleanup;
    }
    if (fchmod(fd, (mode_t)mode) != 0)
        goto cleanup;
    if (write_all(fd, buf, len) != 0)
        goto cleanup;
    if (fsync(fd) != 0)
        goto cleanup;
    if (close(fd) != 0) {
        fd = -1;
        goto cleanup;
    }
    fd = -1;
    if (replace) {
        if (rename(tmp, path) != 0)
            goto cleanup;
    } else {
        if (link(tmp, path) != 0)
            goto cleanup;
        (void)unlink(tmp);
    }
    free(tmp);
    tmp = NULL;
    sync_parent(path);
    ret = KS_OK;
cleanup:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (tmp) {
        (void)unlink(tmp);
        free(tmp);
    }
    errno = saved;
    return ret;
}
