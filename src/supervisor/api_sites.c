/*
 * api_sites.c - GET /v1/site-incidents[?open=1]: incident storms folded
 * per site (KSE-120 SITE_UNREACHABLE, sup_site_fold.c), each with the
 * controllers and their KSE-100 incidents under it.
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_api.h"
#include "sup_schema.h"
#include "sup_site_fold.h"

typedef struct sites_in {
    uint64_t open;
} sites_in;

static void site_incidents(sup_req *rq, sup_resp *rs)
{
    const sites_in *in = rq->in;
    json_t *items;
    int rc;
    pthread_mutex_lock(&rq->s->lock);
    items = sup_site_incidents_json(rq->s, in->open != 0, &rc);
    pthread_mutex_unlock(&rq->s->lock);
    if (!items) {
        api_db_error(rq, rs, rc ? rc : KS_DB_ERR);
        return;
    }
    api_json(rs, 200, json_pack("{s:o}", "items", items));
}

static const sup_field sites_fields[] = {
    SUP_Q_INT("open", 0, 1, 0, sites_in, open, "1: only the site incidents still open"),
    SUP_END,
};
static const sup_schema sites_schema = {sizeof(sites_in), SUP_BODY_NONE, sites_fields};

const sup_api_route sup_routes_sites[] = {
    {"GET", "/v1/site-incidents", KS_ROLE_AUDITOR, site_incidents, &sites_schema,
     "incident storms folded per site (KSE-120), the controllers under each"},
    {.method = NULL},
};
