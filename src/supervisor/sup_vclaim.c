/*
 * sup_vclaim.c - is a controller's claim "I hold version V with root R of
 * history H" true? (sup_restore.h, docs/supervisor.md "Backup and restore")
 *
 * Restore detection believes controllers: a version above the one published
 * moves the version floor to it and draws a new history. A claim is only
 * worth that when the controller shows the snapshot header this supervisor
 * signed for it (the heartbeat's applied_header): a unit whose key was
 * stolen, or whose flash reports garbage, could otherwise push the floor to
 * 2^64-1, wrap the next version to 0 and leave every controller refusing
 * every later snapshot as a rollback, revocations included. The header is
 * checked against every key in supervisor_keys (a controller may hold a
 * version signed before a rotation); expiry does not matter, as an old
 * header proves as well what was signed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "ks_hex.h"
#include "sup_restore.h"
#include "sup_diag.h"

typedef struct signer_find {
    const ks_crypto *c;
    uint8_t want[KS_KEYID_SIZE];
    ks_trust t;
    int found;
} signer_find;

static int signer_cb(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    signer_find *f = ctx;
    uint8_t id[KS_KEYID_SIZE];
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_BLOB || c[0].n != KS_PUBKEY_SIZE)
        return 0;
    ks_key_id(f->c, id, c[0].p);
    if (memcmp(id, f->want, KS_KEYID_SIZE) == 0 && ks_trust_add(&f->t, f->c, c[0].p) == KS_OK)
        f->found = 1;
    return f->found; /* found: no further rows */
}

int sup_vclaim_check(sup_ctx *s, const char *hdr_hex, uint32_t scope, uint64_t av,
                     const uint8_t *root, int has_hist, uint32_t hist)
{
    uint8_t raw[KS_SNAP_HEADER_SIZE];
    ks_snap_header h;
    ks_policy pol;
    signer_find f;

    if (!hdr_hex || strlen(hdr_hex) != 2 * KS_SNAP_HEADER_SIZE ||
        ks_unhex(raw, sizeof raw, hdr_hex) != 0 || ks_snap_header_decode(&h, raw, NULL) != KS_OK)
        return 0;
    /* The header must be the one claimed, for this controller's scope. */
    if (h.version != av || h.scope != scope || !root || memcmp(h.root, root, KS_HASH_SIZE) != 0 ||
        (has_hist && h.history != hist))
        return 0;
    memset(&f, 0, sizeof f);
    f.c = &s->crypto;
    memcpy(f.want, h.signer_id, KS_KEYID_SIZE);
    ks_trust_init(&f.t);
    if (sup_db_exec(s->db, "SELECT public_key FROM supervisor_keys ORDER BY seq DESC", NULL, 0,
                    signer_cb, &f) != KS_DB_OK || !f.found)
        return 0;
    memset(&pol, 0, sizeof pol);
    pol.trust = &f.t; /* now 0: no expiry check, no applied version */
    return ks_snap_header_check(&s->crypto, raw, &pol, NULL) == KS_OK;
}
