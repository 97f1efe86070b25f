/*
 * ctl_socket.c - the local control socket: one JSON object per line in,
 * one JSON object per line out, served beside the sync thread. What each
 * request does is the operations table (ctl_ops.c, and the fault hooks in
 * ctl_fault.c); docs/controller.md lists every request.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_ops.h"

#define MAX_CLIENTS 16
#define LINE_MAX_BYTES 65536

/* ----- the poll loop ----- */

typedef struct client {
    int fd;
    char *buf;
    size_t len;
} client;

static int listen_unix(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        close(fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    chmod(path, 0660);
    return fd;
}

static void answer(ctl_agent *a, client *c, const char *line, size_t n)
{
    json_error_t je;
    json_t *req = json_loadb(line, n, 0, &je), *out;
    if (!req || !json_is_object(req))
        out = ctl_fail("BAD_REQUEST", "not a JSON object: %s", req ? "" : je.text);
    else
        out = ctl_handle(a, req);
    json_decref(req);
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (s) {
        size_t len = strlen(s);
        s[len] = '\n';
        ssize_t w = write(c->fd, s, len + 1);
        (void)w;
        free(s);
    }
}

static void drop(client *c)
{
    close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
    c->len = 0;
}

static void on_readable(ctl_agent *a, client *c)
{
    char tmp[4096];
    ssize_t n = read(c->fd, tmp, sizeof tmp);
    if (n <= 0) {
        drop(c);
        return;
    }
    if (c->len + (size_t)n > LINE_MAX_BYTES) {
        drop(c);
        return;
    }
    char *nb = realloc(c->buf, c->len + (size_t)n);
    if (!nb) {
        drop(c);
        return;
    }
    c->buf = nb;
    memcpy(c->buf + c->len, tmp, (size_t)n);
    c->len += (size_t)n;
    char *nl;
    while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
        size_t line = (size_t)(nl - c->buf);
        answer(a, c, c->buf, line);
        if (!a->flash.powered) {
            fprintf(stderr, "keysup-controller: power cut (fault hook): dying mid-write\n");
            _exit(99);
        }
        memmove(c->buf, nl + 1, c->len - line - 1);
        c->len -= line + 1;
    }
}

int ctl_serve(ctl_agent *a)
{
    client cl[MAX_CLIENTS];
    struct pollfd pfd[MAX_CLIENTS + 1];
    int lfd = listen_unix(a->o.socket_path);
    if (lfd < 0) {
        fprintf(stderr, "keysup-controller: cannot listen on %s: %s\n", a->o.socket_path,
                strerror(errno));
        return KS_E_IO;
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        cl[i].fd = -1, cl[i].buf = NULL, cl[i].len = 0;
    /* The heartbeat runs in its own thread (ctl_thread.c): this loop only
     * decides, and never waits on the network. */
    int terr = ctl_sync_start(a);
    if (terr) {
        fprintf(stderr, "keysup-controller: cannot start the sync thread: %s\n", strerror(terr));
        close(lfd);
        return KS_E_IO;
    }
    while (!a->stop) {
        ctl_lock(a);
        ctl_link_watch(a);
        ctl_unlock(a);
        int n = 0;
        pfd[n].fd = lfd;
        pfd[n++].events = POLLIN;
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (cl[i].fd >= 0) {
                pfd[n].fd = cl[i].fd;
                pfd[n++].events = POLLIN;
            }
        int r = poll(pfd, (nfds_t)n, 200);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        for (int k = 1; k < n; k++)
            if (pfd[k].revents)
                for (int i = 0; i < MAX_CLIENTS; i++)
                    if (cl[i].fd == pfd[k].fd) {
                        ctl_lock(a);
                        on_readable(a, &cl[i]);
                        ctl_unlock(a);
                    }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            int placed = 0;
            for (int i = 0; fd >= 0 && i < MAX_CLIENTS && !placed; i++)
                if (cl[i].fd < 0) {
                    cl[i].fd = fd;
                    placed = 1;
                }
            if (fd >= 0 && !placed)
                close(fd);
        }
    }
    ctl_sync_stop(a);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (cl[i].fd >= 0)
            drop(&cl[i]);
    close(lfd);
    unlink(a->o.socket_path);
    return KS_OK;
}
