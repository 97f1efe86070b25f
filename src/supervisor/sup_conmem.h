/*
 * sup_conmem.h - console sessions on the monotonic clock, and failed
 * sign-ins of unknown names (sup_conmem.c). s->lock held for every call.
 */
#ifndef KEYSUP_SUP_CONMEM_H
#define KEYSUP_SUP_CONMEM_H

#include "sup_console.h"

/* Seconds on CLOCK_MONOTONIC. */
uint64_t sup_conmem_mono(void);
void sup_conmem_free(sup_ctx *s);

/*
 * 1 when the session whose cookie hashes to h has expired (idle longer
 * than console_idle, or older than console_session_max) on the monotonic
 * clock, else 0 and its last use is now. created_at/last_used are the
 * table's wall-clock columns, read only when this process has not seen the
 * session yet.
 */
int sup_conmem_session(sup_ctx *s, const uint8_t h[KS_HASH_SIZE], int64_t created_at,
                       int64_t last_used, int64_t wall_now, uint64_t mono_now);
void sup_conmem_session_end(sup_ctx *s, const uint8_t h[KS_HASH_SIZE]);
/* The wall-clock time the session ends (for display), 0 when not seen here. */
uint64_t sup_conmem_session_expires(sup_ctx *s, const uint8_t h[KS_HASH_SIZE], uint64_t wall_now,
                                    uint64_t mono_now);

/* A name that is no operator: is it locked (out filled), and count a failure. */
int sup_conmem_ghost_locked(sup_ctx *s, const char *name, uint64_t now, sup_signin *out);
void sup_conmem_ghost_fail(sup_ctx *s, const char *name, uint64_t now, sup_signin *out);

#endif
