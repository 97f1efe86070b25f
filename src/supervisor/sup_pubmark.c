/*
 * sup_pubmark.c - marking a scope for the publisher (sup_pub_mark, sup.h).
 *
 * Every change to keys or policies calls this inside its own transaction;
 * the publisher (sup_publish.c) reads the marks. It lives apart from the
 * publisher so that the parts that mark (the restore guard, clone
 * detection, the API) do not depend on it, and the publisher can depend on
 * them: the dependency runs one way.
 */
#include "sup.h"
#include "sup_cluster.h"

int sup_pub_mark(sup_ctx *s, uint32_t scope)
{
    sup_dbv p[2] = {sup_dbv_int(scope), sup_dbv_int(scope)};
    int rc;
    sup_cluster_notify(s, "dirty"); /* at the commit, wakes the publishing instance */
    if (scope == KS_SCOPE_ALL)
        return sup_db_exec(s->db, "UPDATE scopes SET dirty = dirty + 1", NULL, 0, NULL, NULL);
    rc = sup_db_exec(s->db, "INSERT INTO scopes(scope, dirty) SELECT ?, 0 WHERE NOT EXISTS"
                           " (SELECT 1 FROM scopes WHERE scope = ?)", p, 2, NULL, NULL);
    if (rc)
        return rc;
    return sup_db_exec(s->db, "UPDATE scopes SET dirty = dirty + 1 WHERE scope = ?", p, 1, NULL,
                      NULL);
}
