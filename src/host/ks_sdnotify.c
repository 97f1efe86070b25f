/*
 * ks_sdnotify.c - the sd_notify protocol (one datagram on the AF_UNIX
 * socket named by $NOTIFY_SOCKET; a leading '@' is the abstract namespace),
 * so the units can be Type=notify without linking libsystemd.
 */
#define _POSIX_C_SOURCE 200809L
#include "ks_sdnotify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ks_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t plen;
    socklen_t alen;
    ssize_t sent;
    int fd;

    if (!path || !*path)
        return 0; /* not under a service manager: nothing to tell */
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof sa.sun_path)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, alen);
    close(fd);
    return sent == (ssize_t)strlen(state) ? 0 : -1;
}
