/*
 * sup_dbhold.h - audit log lines held until their transaction ends
 * (sup_dbhold.c). The database lock (sup_ctx.lock) is held for every call.
 */
#ifndef KEYSUP_SUP_DBHOLD_H
#define KEYSUP_SUP_DBHOLD_H

#include "sup_db.h"

/* Inside a transaction: keeps the line (ok_text if it commits, nc_text if
 * not) and returns 1; outside one, or when the held lines are at their
 * bound, returns 0 and the caller logs at once. */
int sup_db_hold_line(sup_db *db, int level, const char *event, const char *ok_text,
                     const char *nc_text);

#endif
