/*
 * ctl_licence.h - the controller's feature licence: kept beside the flash
 * image, fetched from the supervisor, verified by the engine (ctl_licence.c).
 */
#ifndef KEYSUP_CTL_LICENCE_H
#define KEYSUP_CTL_LICENCE_H

#include <jansson.h>

#include "ctl_agent.h"

/* From the sync thread after each heartbeat, under the agent lock: loads
 * the kept licence once, then fetches the supervisor's every few seconds. */
void ctl_licence_tick(ctl_agent *a);

/* {"state": "none"|"valid"|"refused", "code", "check", "features",
 * "issued_at", "expires_at"} for the status and the health report. */
json_t *ctl_licence_json(ctl_agent *a);

/* A decision just refused with KSE-800: adds "licence_features" (the
 * enforced features it needed) and "licence_id" (the licence held, when it
 * carries one) to the answer o, so the terminal names what to ask for. */
void ctl_licence_explain(ctl_agent *a, json_t *o);

#endif
