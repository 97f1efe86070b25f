/*
 * sup_srclock.h - the console sign-in lock per source address, and the
 * addresses each operator signed in from (sup_srclock.c). s->lock held for
 * every call; names are operator names as typed (known or not).
 */
#ifndef KEYSUP_SUP_SRCLOCK_H
#define KEYSUP_SUP_SRCLOCK_H

#include "sup_console.h"
#include "sup_guard.h"

void sup_srclock_free(sup_ctx *s);
/* The source a client counts as: its IPv4 address, or its IPv6 /64. */
void sup_srclock_source(const sup_client *c, uint8_t out[16]);
/* 1 (out filled) when name is locked for c's source. */
int sup_srclock_locked(sup_ctx *s, const char *name, const sup_client *c, uint64_t now,
                       sup_signin *out);
/* Counts a failure of name from c's source; locks it there at console_deny. */
void sup_srclock_fail(sup_ctx *s, const char *name, const sup_client *c, uint64_t now,
                      sup_signin *out);
/* A right password: clears c's count for name, and c's source becomes familiar. */
void sup_srclock_good(sup_ctx *s, const char *name, const sup_client *c, uint64_t now);
/* 1 when name signed in from c's source in this process's life. */
int sup_srclock_familiar(sup_ctx *s, const char *name, const sup_client *c);
/* Ends every per-source lock of name (`keysup operator unlock`, a new password). */
void sup_srclock_forget(sup_ctx *s, const char *name);

#endif
