/*
 * sup_proxyaddr.h - the address a console sign-in counts as, behind a
 * reverse proxy the operator named (console_trusted_proxy; sup_proxyaddr.c).
 */
#ifndef KEYSUP_SUP_PROXYADDR_H
#define KEYSUP_SUP_PROXYADDR_H

#include "sup_api.h"
#include "sup_guard.h"

/* rq->client, unless the peer is the trusted proxy and sent
 * X-Forwarded-For: then buf, filled with that header's last hop. A
 * trusted proxy's request without a usable header stays the proxy's. */
const sup_client *sup_console_client(sup_req *rq, sup_client *buf);
/* The last address of an X-Forwarded-For value into c (as sup_client_from
 * gives it); -1 when it is no IPv4 or IPv6 address. For the unit test. */
int sup_proxyaddr_last_hop(const char *xff, sup_client *c);

#endif
