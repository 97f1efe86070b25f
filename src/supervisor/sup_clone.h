/*
 * sup_clone.h - clone detection across controllers (KSE-214, issue 11 item 3).
 *
 * Each controller keeps the highest use counter it has seen per key and
 * refuses one at or below it (KSE-206). A clone used at a *different*
 * controller passes that check, because each controller sees its own
 * counters grow. The supervisor sees every controller's signed audit upload
 * and compares the counters of the key's granted uses across controllers:
 * the rule is sup_clone_contradicts(), documented in docs/diagnosis.md
 * ("Clone detection across controllers").
 */
#ifndef SUP_CLONE_H
#define SUP_CLONE_H

#include <stdint.h>
#include <jansson.h>

typedef struct sup_ctx sup_ctx;

/* clone_policy in keysupd.conf */
enum { SUP_CLONE_ALERT = 0, SUP_CLONE_SUSPEND = 1 };

/* One use of a key at a controller, as its audit record reports it. */
typedef struct sup_key_use {
    int64_t ctrl;       /* controller id */
    int64_t counter;    /* the use counter the key signed (0 .. INT64_MAX) */
    int64_t time;       /* the controller's time of the decision, seconds */
    int trusted;        /* 1: that time was anchored and not flagged (KS_CLOCK_*) */
} sup_key_use;

/*
 * 1 when one genuine key cannot have produced both uses: at two different
 * controllers, either the same counter (a key never signs one counter
 * twice), or the use earlier in time by more than margin seconds carries
 * a counter above the later one's. margin covers the clocks' error: both
 * times must be trusted for the second case. 0 otherwise.
 */
int sup_clone_contradicts(const sup_key_use *a, const sup_key_use *b, uint32_t margin);

/* The margin the supervisor uses: two controllers' clocks can each be off
 * by clock_tolerance in opposite directions. */
uint32_t sup_clone_margin(uint32_t clock_tolerance);

/*
 * Reads one uploaded audit record: 1 with *u and key (32 hex digits) set
 * when it is a use whose counter the controller verified and spent (a
 * granted decision, or the first of two supervisors accepted); 0 for any
 * other record (refusals carry counters the controller may not have
 * verified, so they never count).
 */
int sup_clone_use_from_record(json_t *rec, int64_t ctrl, char key[33], sup_key_use *u);

/* "alert" or "suspend" into *policy; -1 for anything else. */
int sup_clone_policy_parse(const char *v, int *policy);
const char *sup_clone_policy_name(int policy);

/*
 * Called inside the audit upload's transaction (lock held) for each newly
 * accepted record: stores a use, compares it with the key's uses at other
 * controllers, and on a contradiction opens (or adds evidence to) the key's
 * KSE-214 incident and, under clone_policy = suspend, suspends the key and
 * marks its scope for publishing (*kick = 1: call sup_pub_kick after the
 * commit). 0, or a database error (the upload is then not acknowledged and
 * comes again).
 */
int sup_clone_observe(sup_ctx *s, int64_t ctrl, int64_t seq, json_t *rec, int *kick);

/* The migration that holds the uses (sup_db_migrate.c). */
extern const char sup_clone_schema[];

#endif
