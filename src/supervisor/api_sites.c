/*
 * api_sites.c - GET /v1/site-incidents[?open=1]: incident storms folded
 * per site (KSE-120 SITE_UNREACHABLE, sup_site_fold.c), each with the
 * controllers and their KSE-100 incidents under it.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "sup_api.h"
#include "sup_site_fold.h"

static void site_incidents(sup_req *rq, sup_resp *rs)
{
    const char *open = api_query(rq, "open");
    json_t *items;
    int rc;
    pthread_mutex_lock(&rq->s->lock);
    items = sup_site_incidents_json(rq->s, open && strcmp(open, "0") != 0, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc ? rc : KS_DB_ERR);
        return;
    }
    api_json(rs, 200, json_pack("{s:o}", "items", items));
}

const sup_route sup_routes_sites[] = {
    {"GET", "/v1/site-incidents", KS_ROLE_AUDITOR, site_incidents},
    {NULL, NULL, 0, NULL},
};
