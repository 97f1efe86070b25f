/*
 * shim_failwrite.c - an LD_PRELOAD shim for the fault tests: while the file
 * KS_FAILWRITE_TRIGGER exists, pwrite() and write() to a file whose path
 * ends in KS_FAILWRITE_SUFFIX fail with errno KS_FAILWRITE_ERRNO (default
 * ENOSPC), as a full or failing disk would. Nothing else is touched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int failing(int fd)
{
    const char *trig = getenv("KS_FAILWRITE_TRIGGER");
    const char *suf = getenv("KS_FAILWRITE_SUFFIX");
    char link[64], path[PATH_MAX];
    ssize_t n;
    size_t sl;
    if (!trig || !suf || access(trig, F_OK) != 0)
        return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    sl = strlen(suf);
    if ((size_t)n < sl || strcmp(path + n - sl, suf) != 0)
        return 0;
    errno = getenv("KS_FAILWRITE_ERRNO") ? atoi(getenv("KS_FAILWRITE_ERRNO")) : ENOSPC;
    return 1;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (failing(fd))
        return -1;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pwrite");
    return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (failing(fd))
        return -1;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "write");
    return real(fd, buf, n);
}
