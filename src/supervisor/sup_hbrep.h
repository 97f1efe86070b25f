/*
 * sup_hbrep.h - the last full health report of each controller, held in
 * memory so a steady heartbeat can leave its report out when nothing but
 * its clocks changed (issue 13; docs/protocol.md, "The report only when it
 * changed").
 *
 * Why: at 1,000 controllers keysupd parsed some 2.2 KB of JSON per
 * heartbeat (jansson was 14 % of its CPU) to learn, almost every time,
 * what the last heartbeat said. A MAC'd heartbeat whose report is
 * unchanged now carries only the fields that move every time (its clocks)
 * and "report_hash", the hash the agent computed over everything else.
 * keysupd completes it from the report it holds under that hash: the same
 * tree the full report would have parsed into, so everything downstream
 * (soft state, restore checks, the diagnosis) sees the same report.
 *
 * The hash is the agent's word about its own report, taken only under the
 * session MAC (or a device signature): a controller that lies about it can
 * only misreport itself, which it could do with a full report too. keysupd
 * never recomputes it, so the agent's JSON encoding is not part of the
 * protocol.
 *
 * Held in memory only: after a restart, on another keysupd of a cluster,
 * or beyond `max` controllers, a short report cannot be completed and the
 * heartbeat is answered 409 KSE-123; the agent sends the full report at
 * once and keeps sending it until an answer says "report_held".
 */
#ifndef KEYSUP_SUP_HBREP_H
#define KEYSUP_SUP_HBREP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SUP_HBREP_MAX 100000      /* controllers whose report is held, at most */
#define SUP_HBREP_HASH 32         /* BLAKE2b-256 */

typedef struct sup_hbrep sup_hbrep;

typedef struct sup_hbrep_stats {
    uint64_t held;                /* controllers with a report held now */
    uint64_t full;                /* full reports taken with a hash (held or not) */
    uint64_t elided;              /* short reports completed */
    uint64_t needed;              /* short reports refused: none held, or another hash */
    uint64_t in_place;            /* of the elided, completed in the held tree itself */
} sup_hbrep_stats;

/* NULL when out of memory. */
sup_hbrep *sup_hbrep_new(size_t max);
void sup_hbrep_free(sup_hbrep *t);

/* 1 when body is a short report ("report_elided": true). */
int sup_hbrep_is_short(json_t *body);

/*
 * Holds report (a reference is taken) for controller id under its
 * "report_hash" (64 hex). 1 held, with the hex hash into held_hex; 0 not
 * held (no or a malformed hash, the table full: the agent keeps sending
 * full reports); -1 out of memory.
 */
int sup_hbrep_hold(sup_hbrep *t, int64_t id, json_t *report, char held_hex[2 * SUP_HBREP_HASH + 1]);

/*
 * The full report a short body stands for: an object with the held
 * report's members, those of body put over them ("report_elided" left
 * out). NULL when no report is held for id under body's "report_hash" or
 * out of memory (*needed = 1 only in the first case, and when body
 * replaces other members than the short bodies completed in place before
 * it: sup_hbrep.c). The report may be the held tree itself, completed in
 * place when nobody else held it: read it, never change it, and drop the
 * reference when done. *text (malloc'd)
 * gets the same report as text for the health column: body_text (the body
 * as sent, which body was parsed from) with the held report's other
 * members appended, so keysupd prints no report per heartbeat (the
 * members' text is made once per held report). The text keeps
 * "report_elided", which nothing reads. text NULL: no text is made
 * (keysupd's heartbeat stores the short body beside the whole report
 * instead, sup_health.h).
 */
json_t *sup_hbrep_complete(sup_hbrep *t, int64_t id, json_t *body, const char *body_text,
                           int *needed, char **text);

/* A consistent copy of the counters; zeros for NULL. */
void sup_hbrep_stats_get(sup_hbrep *t, sup_hbrep_stats *out);

#endif
