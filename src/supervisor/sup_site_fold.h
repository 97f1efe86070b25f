/*
 * sup_site_fold.h - incident storms fold (issue 13 item 4): when site_fold
 * or more controllers of one site have KSE-100 COMM_LOST open at once, the
 * site is unreachable (KSE-120 SITE_UNREACHABLE), one site incident holds
 * those controllers' incidents, and one page goes out for it instead of one
 * per controller. Controllers that go offline later join it silently; it
 * resolves (one page) when none of its controllers is offline any more.
 *
 * Tables site_incidents and site_incident_members are made on first use.
 * Called from sup_incident.c with s->lock held, inside its transaction.
 */
#ifndef KEYSUP_SUP_SITE_FOLD_H
#define KEYSUP_SUP_SITE_FOLD_H

#include "sup.h"

/* A KSE-100 incident opened for ctrl: 1 when it was folded into a site
 * incident (the caller sends no page of its own), 0 to page as usual. */
int sup_site_fold_open(sup_ctx *s, int64_t ctrl, int64_t incident, int64_t now_ms);

/* A KSE-100 incident resolved: 1 when it belonged to a site incident (no
 * page of its own; the site incident resolves with the last of them). */
int sup_site_fold_resolved(sup_ctx *s, int64_t incident, int64_t now_ms);

/* The site incidents (open_only: only open ones), newest first, each with
 * its controllers, as GET /v1/site-incidents answers them. */
json_t *sup_site_incidents_json(sup_ctx *s, int open_only, int *rc);

#endif
