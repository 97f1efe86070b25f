/*
 * sup_familiar.c - the console's familiar addresses, in the database.
 *
 * Why (field5): the global sign-in limit (console_deny_global) does not
 * bind the addresses an operator signed in from (sup_srclock.c). Those were
 * kept in each keysupd's memory only, so a restart forgot them, and of
 * several keysupd on one PostgreSQL only the one that took the sign-in knew
 * one: an attacker spread over many addresses could then lock the operator
 * out of their usual desk by tripping the global limit right after a
 * restart, or through the balancer's other instance. Each right password
 * now also writes (operator, source, seen) here, and the check reads it.
 *
 * Bounded: SUP_FAMILIAR_MAX sources per operator (the most recently seen
 * kept) and none older than SUP_FAMILIAR_DAYS days, trimmed at each write;
 * rows go with their operator (ON DELETE CASCADE). Only a right password
 * adds one, so an attacker cannot fill the table. The source is the
 * address as sup_srclock_source gives it (IPv6 as its /64).
 */
#include <string.h>

#include "sup_familiar.h"
#include "sup_srclock.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char sup_familiar_schema[] =
    "CREATE TABLE console_familiar(operator_id INTEGER NOT NULL"
    " REFERENCES operators(id) ON DELETE CASCADE, source BLOB NOT NULL,"
    " seen INTEGER NOT NULL, PRIMARY KEY (operator_id, source));";

static uint64_t oldest(uint64_t now)
{
    uint64_t age = (uint64_t)SUP_FAMILIAR_DAYS * 86400u;
    return now > age ? now - age : 0;
}

int sup_familiar_has(sup_ctx *s, int64_t op, const sup_client *c, uint64_t now)
{
    uint8_t ip[16];
    int64_t one = 0;
    sup_dbv p[3];
    if (!c)
        return 0;
    sup_srclock_source(c, ip);
    p[0] = sup_dbv_int(op);
    p[1] = sup_dbv_blob(ip, sizeof ip);
    p[2] = sup_dbv_int((int64_t)oldest(now));
    if (sup_db_int(s->db, "SELECT 1 FROM console_familiar WHERE operator_id = ? AND source = ?"
                          " AND seen >= ?", p, 3, &one) != KS_DB_OK)
        return 0;
    return one == 1;
}

int sup_familiar_note(sup_ctx *s, int64_t op, const sup_client *c, uint64_t now)
{
    uint8_t ip[16];
    sup_dbv p[3], t[3];
    int rc;
    if (!c)
        return KS_DB_OK;
    sup_srclock_source(c, ip);
    p[0] = sup_dbv_int(op);
    p[1] = sup_dbv_blob(ip, sizeof ip);
    p[2] = sup_dbv_int((int64_t)now);
    rc = sup_db_exec(s->db, "INSERT INTO console_familiar(operator_id, source, seen)"
                            " VALUES (?, ?, ?) ON CONFLICT (operator_id, source)"
                            " DO UPDATE SET seen = excluded.seen", p, 3, NULL, NULL);
    if (rc)
        return rc;
    t[0] = sup_dbv_int(op);
    t[1] = sup_dbv_int((int64_t)oldest(now));
    t[2] = sup_dbv_int(op);
    return sup_db_exec(s->db, "DELETE FROM console_familiar WHERE operator_id = ? AND (seen < ?"
                              " OR source NOT IN (SELECT source FROM console_familiar WHERE"
                              " operator_id = ? ORDER BY seen DESC, source LIMIT "
                              STR(SUP_FAMILIAR_MAX) "))", t, 3, NULL, NULL);
}
