/*
 * sup_health.h - a controller's health report as stored: the whole report
 * in controllers.last_health, and the moving members of the last short
 * heartbeat in controllers.last_health_live (docs/supervisor.md, "What a
 * heartbeat makes durable").
 *
 * Why two columns: a short heartbeat (docs/protocol.md, "The report only
 * when it changed") changes only its clocks, last_contact, last_sync, store
 * and report_hash. Rewriting the ~2 KB whole report for each of them was
 * most of the soft-state flusher's work (issue 13). So the flusher writes
 * the whole report only when one arrived, and the short body's members
 * (~0.3 KB) beside it.
 *
 * Every reader goes through sup_health_merge, so what it sees is the report
 * a full heartbeat would have left: another keysupd on the same PostgreSQL
 * reads the same tree.
 */
#ifndef KEYSUP_SUP_HEALTH_H
#define KEYSUP_SUP_HEALTH_H

#include <stddef.h>

#include <jansson.h>

/* A short body's members put into report, but "report_elided" (the marker
 * that it is short): how a held report is completed (sup_hbrep.c) and how
 * a stored one is merged (below). 0, or -1 out of memory (the members set
 * so far stay set). */
int sup_health_lay(json_t *report, json_t *body);

/* The whole report full (full_len bytes) with the members of live (a short
 * body's text, live_len bytes; NULL: none) put over it, "report_elided"
 * left out as the completed report leaves it out (sup_hbrep.c). NULL when
 * full is NULL or not a JSON object. A live text that does not parse is
 * ignored: the whole report is still the controller's last word. */
json_t *sup_health_merge(const char *full, size_t full_len, const char *live, size_t live_len);

/* The same for NUL-terminated texts (either may be NULL). */
json_t *sup_health_merge_str(const char *full, const char *live);

#endif
