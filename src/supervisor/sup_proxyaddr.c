/*
 * sup_proxyaddr.c - see sup_proxyaddr.h.
 *
 * Why (field5): behind a reverse proxy every console sign-in arrives from
 * the proxy's address, so the per-address lock (sup_srclock.c) became one
 * lock for everybody and "familiar addresses" one address for everybody.
 * X-Forwarded-For cannot simply be believed: any client can send one, and
 * would then pick the address it counts as. So it is read only when the
 * peer is the proxy the operator named (console_trusted_proxy, off by
 * default), and only its last hop: the address that proxy itself saw and
 * appended. Hops before it are the client's own words. Only the console's
 * sign-in uses it; device and API rate limits stay on the peer address.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "sup_proxyaddr.h"

int sup_proxyaddr_last_hop(const char *xff, sup_client *c)
{
    const char *p = strrchr(xff, ',');
    char a[INET6_ADDRSTRLEN + 2];
    size_t n;
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;

    p = p ? p + 1 : xff;
    while (*p == ' ' || *p == '\t')
        p++;
    n = strcspn(p, " \t");
    if (n == 0 || n >= sizeof a || p[n + strspn(p + n, " \t")] != '\0')
        return -1;
    memcpy(a, p, n);
    a[n] = '\0';
    memset(&s4, 0, sizeof s4);
    memset(&s6, 0, sizeof s6);
    if (inet_pton(AF_INET, a, &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        sup_client_from(c, (const struct sockaddr *)&s4);
        return 0;
    }
    if (inet_pton(AF_INET6, a, &s6.sin6_addr) == 1) {
        s6.sin6_family = AF_INET6;
        sup_client_from(c, (const struct sockaddr *)&s6);
        return 0;
    }
    return -1;
}

typedef struct last_xff {
    const char *v;
} last_xff;

static enum MHD_Result each(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    last_xff *l = cls;
    (void)kind;
    if (key && value && strcasecmp(key, "X-Forwarded-For") == 0)
        l->v = value; /* the proxy appends: its hop is in the last header */
    return MHD_YES;
}

const sup_client *sup_console_client(sup_req *rq, sup_client *buf)
{
    const sup_config *cfg = &rq->s->cfg;
    last_xff l = {NULL};
    if (!rq->client || !cfg->console.trusted_proxy_set ||
        memcmp(rq->client->ip, cfg->console.trusted_proxy, 16) != 0)
        return rq->client;
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, each, &l);
    if (!l.v || sup_proxyaddr_last_hop(l.v, buf) != 0) {
        sup_log(KS_LOG_WARN, "console.proxy", "peer=%s note=\"from the trusted proxy without a"
                " usable X-Forwarded-For: counted as the proxy's address\"", rq->client->text);
        return rq->client;
    }
    return buf;
}
