/*
 * sup_familiar.h - the addresses each console operator signed in from,
 * kept in the database (field5; sup_familiar.c). s->lock held for every call.
 */
#ifndef KEYSUP_SUP_FAMILIAR_H
#define KEYSUP_SUP_FAMILIAR_H

#include "sup.h"
#include "sup_guard.h"

/* Migration 10 (sup_db_migrate.c). */
extern const char sup_familiar_schema[];

/* At most this many addresses per operator, none older than FAMILIAR_DAYS. */
#define SUP_FAMILIAR_MAX 16
#define SUP_FAMILIAR_DAYS 90

/* 1 when operator op signed in from c's source (an IPv4 address, an IPv6
 * /64) in the last SUP_FAMILIAR_DAYS days, on any keysupd of this
 * database; 0 when not or on a database error (the caller then treats the
 * address as new: the lock stays in force). */
int sup_familiar_has(sup_ctx *s, int64_t op, const sup_client *c, uint64_t now);
/* A right password from c: its source becomes (or stays) familiar; the
 * operator's oldest and expired entries go. KS_DB_OK or a database error. */
int sup_familiar_note(sup_ctx *s, int64_t op, const sup_client *c, uint64_t now);

#endif
