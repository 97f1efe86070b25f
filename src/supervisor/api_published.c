/*
 * api_published.c - GET /v1/snapshots/{scope}: a scope's published, signed
 * snapshot for an auditor (a read-only token, no device key), byte for byte
 * what that scope's controllers download. With it and the supervisor's
 * public key (GET /v1/supervisor) anyone can check offline what was signed:
 * `keysup snapshot verify FILE --trust KEY` (docs/audit.md). It is served
 * like the device download (api_snapshot.c: the shared image, Range/ETag and
 * the max_downloads limit), so an auditor's fetch costs no copy either.
 */
#include "sup_api.h"
#include "sup_pubstore.h"

typedef struct pub_in {
    uint64_t scope;
} pub_in;

static const sup_field pub_fields[] = {
    SUP_P_INT("scope", pub_in, scope, "the scope whose published snapshot is wanted"),
    SUP_END};
static const sup_schema pub_schema = {sizeof(pub_in), SUP_BODY_NONE, pub_fields};

static void published_snapshot(sup_req *rq, sup_resp *rs)
{
    uint64_t scope = ((const pub_in *)rq->in)->scope;
    sup_pimg *im;

    if (scope > UINT32_MAX) {
        api_error(rs, 400, "BAD_REQUEST", "field 'scope' must be at most %u", UINT32_MAX);
        return;
    }
    /* An unknown scope is a 404 here, not the device route's "retry shortly"
     * 503: nothing will be published for it until a controller is added. */
    im = sup_pub_image(rq->s, (uint32_t)scope);
    if (!im) {
        api_error(rs, 404, "NOT_FOUND", "nothing published for scope %llu (a scope is published "
                  "once it has a controller)", (unsigned long long)scope);
        return;
    }
    sup_pimg_unref(im);
    rq->ctrl_scope = (uint32_t)scope;
    api_snapshot_serve(rq, rs);
}

const sup_api_route sup_routes_published[] = {
    {"GET", "/v1/snapshots/*", KS_ROLE_AUDITOR, published_snapshot, &pub_schema,
     "a scope's published signed snapshot (binary), to verify offline"},
    {.method = NULL},
};
