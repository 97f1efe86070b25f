/*
 * sup_pubstore.c - the publisher's tables: reading records and changes,
 * committing versions, retention, checkpoints and rebuilding old versions
 * (contract in sup_pubstore.h). Lock held throughout; no hashing here.
 */
#include "sup_pubstore.h"

#include <stdlib.h>
#include <string.h>

sup_pimg *sup_pimg_new(size_t len)
{
    sup_pimg *i = malloc(sizeof *i + len);
    if (!i)
        return NULL;
    atomic_init(&i->ref, 1);
    i->len = len;
    i->version = 0;
    return i;
}

sup_pimg *sup_pimg_ref(sup_pimg *i)
{
    if (i)
        atomic_fetch_add(&i->ref, 1);
    return i;
}

void sup_pimg_unref(sup_pimg *i)
{
    if (i && atomic_fetch_sub(&i->ref, 1) == 1)
        free(i);
}

int sup_ps_max_seq(sup_ctx *s, int64_t *seq)
{
    *seq = 0;
    return sup_db_int(s->db, "SELECT COALESCE(MAX(seq), 0) FROM key_changes", NULL, 0, seq) < 0
               ? KS_E_IO
               : KS_OK;
}

/* The record columns, in the order encode_row expects (key_id first). */
#define REC_COLS                                                                               \
    "k.public_key, k.privileges, k.valid_from, k.valid_until, k.counter_floor, k.holder_id,"  \
    " k.scope, k.key_format, k.state, k.form_factor"

static void encode_row(const sup_dbv *c, uint8_t out[KS_RECORD_SIZE])
{
    ks_record r;
    memset(&r, 0, sizeof r);
    memcpy(r.key_id, c[0].p, KS_KEYID_SIZE);
    memcpy(r.public_key, c[1].p, KS_PUBKEY_SIZE);
    r.privileges = (uint64_t)c[2].i;
    r.valid_from = (uint64_t)c[3].i;
    r.valid_until = (uint64_t)c[4].i;
    r.counter_floor = (uint64_t)c[5].i;
    r.holder_id = c[6].type == KS_DBV_INT ? (uint64_t)c[6].i : 0;
    r.scope = (uint32_t)c[7].i;
    r.key_format = (uint8_t)c[8].i;
    r.state = (uint8_t)c[9].i;
    r.form_factor = (uint8_t)c[10].i;
    r.record_version = KS_RECORD_VERSION;
    r.algorithm = KS_ALG_ED25519;
    ks_record_encode(&r, out);
}

typedef struct all_ctx {
    uint8_t *b;
    uint32_t n, cap;
    int oom;
} all_ctx;

static int all_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    all_ctx *a = ctx;
    (void)names;
    if (ncol < 11 || c[0].n != KS_KEYID_SIZE || c[1].n != KS_PUBKEY_SIZE)
        return 0; /* cannot happen: the schema constrains both */
    if (a->n == a->cap) {
        uint32_t nc = a->cap ? a->cap * 2 : 1024;
        uint8_t *nb = realloc(a->b, (size_t)nc * KS_RECORD_SIZE);
        if (!nb) {
            a->oom = 1;
            return 1;
        }
        a->b = nb;
        a->cap = nc;
    }
    encode_row(c, a->b + (size_t)a->n * KS_RECORD_SIZE);
    a->n++;
    return 0;
}

int sup_ps_read_all(sup_ctx *s, uint32_t scope, uint8_t **recs, uint32_t *n)
{
    all_ctx a = {NULL, 0, 0, 0};
    sup_dbv q[2] = {sup_dbv_int(scope), sup_dbv_int(scope)};
    /* `+scope` keeps SQLite off the scope index: a straight table scan. */
    int rc = sup_db_exec(s->db, "SELECT k.key_id, " REC_COLS " FROM keys k"
                               " WHERE +k.scope = 0 OR +k.scope = ?", q, 1, all_row, &a);
    if (rc || a.oom) {
        free(a.b);
        return a.oom ? KS_E_NOSPC : KS_E_IO;
    }
    *recs = a.b;
    *n = a.n;
    return KS_OK;
}

typedef struct chg_ctx {
    sup_pchanges *c;
    uint32_t scope;
    size_t limit;
    int rc;
} chg_ctx;

static int chg_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    chg_ctx *x = ctx;
    sup_pchange *e;
    (void)names;
    if (ncol < 11 || c[0].n != KS_KEYID_SIZE)
        return 0;
    if (x->c->n >= x->limit) {
        x->rc = KS_E_NOSPC;
        return 1;
    }
    if (!(e = sup_pch_add(x->c))) {
        x->rc = KS_E_NOSPC;
        return 1;
    }
    memcpy(e->key_id, c[0].p, KS_KEYID_SIZE);
    /* Gone (deleted) or in another scope now: absent from this snapshot. */
    e->has_after = c[1].type == KS_DBV_BLOB && c[1].n == KS_PUBKEY_SIZE &&
                   (c[7].i == 0 || (uint32_t)c[7].i == x->scope);
    if (e->has_after)
        encode_row(c, e->after);
    return 0;
}

int sup_ps_read_changes(sup_ctx *s, uint32_t scope, int64_t from, int64_t to, size_t limit,
                       sup_pchanges *c)
{
    chg_ctx x = {c, scope, limit, KS_OK};
    sup_dbv q[3] = {sup_dbv_int(from), sup_dbv_int(to), sup_dbv_int(scope)};
    int64_t rows = 0;
    int rc;
    /* Count first: a rowid range scan, where the DISTINCT ... ORDER BY below
     * would sort every logged row before the limit could stop it (seconds
     * after a bulk load). Rows >= keys, so this only errs towards full. */
    if (sup_db_int(s->db, "SELECT COUNT(*) FROM key_changes WHERE seq > ? AND seq <= ?"
                         " AND (scope = 0 OR scope = ?)", q, 3, &rows) < 0)
        return KS_E_IO;
    if ((uint64_t)rows > limit)
        return KS_E_NOSPC;
    rc = sup_db_exec(s->db, "SELECT c.key_id, " REC_COLS " FROM (SELECT DISTINCT key_id"
                               " FROM key_changes WHERE seq > ? AND seq <= ?"
                               " AND (scope = 0 OR scope = ?)) c"
                               " LEFT JOIN keys k ON k.key_id = c.key_id ORDER BY c.key_id",
                        q, 3, chg_row, &x);
    if (x.rc)
        return x.rc;
    return rc ? KS_E_IO : KS_OK;
}

/* Newest full image version <= v, or 0. */
static int newest_full(sup_ctx *s, uint32_t scope, uint64_t v, uint64_t *full)
{
    int64_t f = 0;
    sup_dbv p[2] = {sup_dbv_int(scope), sup_dbv_int((int64_t)v)};
    if (sup_db_int(s->db, "SELECT COALESCE(MAX(version), 0) FROM snapshots"
                         " WHERE scope = ? AND version <= ?", p, 2, &f) < 0)
        return KS_E_IO;
    *full = (uint64_t)f;
    return KS_OK;
}

/* Retention, inside the commit transaction: everything below the newest
 * full image at or below the oldest retained version goes. */
static int retain(sup_ctx *s, uint32_t scope, uint64_t cur, uint32_t keep)
{
    uint64_t lo = cur >= keep ? cur - keep + 1 : 1, f0 = 0;
    int rc = newest_full(s, scope, lo, &f0);
    if (!rc && f0 == 0) {
        /* No full image that old: keep from the oldest one there is. */
        int64_t m = 0;
        sup_dbv p = sup_dbv_int(scope);
        rc = sup_db_int(s->db, "SELECT COALESCE(MIN(version), 0) FROM snapshots WHERE scope = ?",
                       &p, 1, &m) < 0 ? KS_E_IO : KS_OK;
        f0 = (uint64_t)m;
    }
    if (!rc && f0 > 0) {
        sup_dbv p[2] = {sup_dbv_int(scope), sup_dbv_int((int64_t)f0)};
        rc = sup_db_exec(s->db, "DELETE FROM snapshots WHERE scope = ? AND version < ?", p, 2,
                        NULL, NULL);
        if (!rc)
            rc = sup_db_exec(s->db, "DELETE FROM snapshot_versions WHERE scope = ? AND version < ?",
                            p, 2, NULL, NULL);
    }
    return rc ? KS_E_IO : KS_OK;
}

/*
 * Drops key_changes rows nobody needs: a scope's own rows up to its new
 * watermark (only it reads them), and scope-0 rows up to the lowest
 * watermark any published scope has (every scope reads those). Scopes
 * without a recorded watermark rebuild in full and need none.
 */
static int prune(sup_ctx *s, uint32_t scope, int64_t seq)
{
    int64_t low = 0;
    sup_dbv p[2] = {sup_dbv_int(scope), sup_dbv_int(seq)};
    int rc = KS_OK;
    if (scope != 0)
        rc = sup_db_exec(s->db, "DELETE FROM key_changes WHERE scope = ? AND seq <= ?", p, 2,
                        NULL, NULL);
    if (!rc && sup_db_int(s->db, "SELECT COALESCE(MIN(v.change_seq), 0) FROM scopes s JOIN"
                                " snapshot_versions v ON v.scope = s.scope AND"
                                " v.version = s.version", NULL, 0, &low) < 0)
        rc = KS_DB_ERR;
    if (!rc && low > 0) {
        sup_dbv q = sup_dbv_int(low);
        rc = sup_db_exec(s->db, "DELETE FROM key_changes WHERE scope = 0 AND seq <= ?", &q, 1,
                        NULL, NULL);
    }
    return rc ? KS_E_IO : KS_OK;
}

int sup_ps_commit(sup_ctx *s, const sup_ps_version *v)
{
    const ks_snap_header *h = v->h;
    sup_dbv ver[6] = {sup_dbv_int(v->scope), sup_dbv_int((int64_t)h->version),
                     sup_dbv_int((int64_t)h->created_at), sup_dbv_int(v->change_seq),
                     sup_dbv_blob(v->hdr_raw, KS_SNAP_HEADER_SIZE),
                     v->image ? sup_dbv_null() : sup_dbv_blob(v->step, v->step_len)};
    sup_dbv up[5] = {sup_dbv_int((int64_t)h->version), sup_dbv_blob(h->root, KS_HASH_SIZE),
                    sup_dbv_int((int64_t)h->created_at), sup_dbv_int(v->dirty_seen),
                    sup_dbv_int(v->scope)};
    int rc = sup_db_begin(s->db), in_tx = rc == 0;

    if (!rc && v->image) {
        sup_dbv ins[4] = {sup_dbv_int(v->scope), sup_dbv_int((int64_t)h->version),
                         sup_dbv_int((int64_t)h->created_at),
                         sup_dbv_blob(v->image->data, v->image->len)};
        rc = sup_db_exec(s->db, "INSERT INTO snapshots(scope, version, created_at, data)"
                               " VALUES (?,?,?,?)", ins, 4, NULL, NULL);
    }
    if (!rc)
        rc = sup_db_exec(s->db, "INSERT INTO snapshot_versions(scope, version, created_at,"
                               " change_seq, header, step) VALUES (?,?,?,?,?,?)", ver, 6, NULL,
                        NULL);
    if (!rc)
        rc = sup_db_exec(s->db, "UPDATE scopes SET version = ?, root = ?, published_at = ?,"
                               " dirty = dirty - ? WHERE scope = ?", up, 5, NULL, NULL);
    if (!rc)
        rc = retain(s, v->scope, h->version, v->retain ? v->retain : 1);
    if (!rc)
        rc = prune(s, v->scope, v->change_seq);
    if (!rc)
        rc = sup_db_commit(s->db);
    if (!rc)
        in_tx = 0;
    else
        sup_log(KS_LOG_ERROR, "publish.store", "scope=%u error=\"%s\"", v->scope,
               sup_db_errmsg(s->db));
    if (in_tx)
        sup_db_rollback(s->db);
    return rc ? KS_E_IO : KS_OK;
}

int sup_ps_checkpoint(sup_ctx *s, uint32_t scope, const sup_pimg *im)
{
    ks_snap_header h;
    int rc;
    if (ks_snap_header_decode(&h, im->data, NULL) != KS_OK)
        return KS_E_INVAL;
    {
        sup_dbv ins[4] = {sup_dbv_int(scope), sup_dbv_int((int64_t)h.version),
                         sup_dbv_int((int64_t)h.created_at), sup_dbv_blob(im->data, im->len)};
        /* Its own statement is its own transaction: the image is there or not. */
        rc = sup_db_exec(s->db, "INSERT INTO snapshots(scope, version, created_at, data)"
                               " VALUES (?,?,?,?)", ins, 4, NULL, NULL);
    }
    return rc ? KS_E_IO : KS_OK;
}

typedef struct step_ctx {
    sup_pchanges *c;
    uint64_t next;   /* version expected next */
    uint64_t keys;
    int rc;
    int64_t seq;     /* change_seq of the last row */
    uint8_t hdr[KS_SNAP_HEADER_SIZE];
    int have_hdr;
    int count_only;
} step_ctx;

/* Rows (version, change_seq, header, step) in ascending version order. */
static int step_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    step_ctx *x = ctx;
    (void)names;
    if (ncol < 4 || (uint64_t)c[0].i != x->next || c[3].type != KS_DBV_BLOB) {
        x->rc = KS_E_NOTFOUND; /* a gap, or a full rebuild in between */
        return 1;
    }
    x->next++;
    x->seq = c[1].i;
    if (c[2].type == KS_DBV_BLOB && c[2].n == KS_SNAP_HEADER_SIZE) {
        memcpy(x->hdr, c[2].p, KS_SNAP_HEADER_SIZE);
        x->have_hdr = 1;
    }
    if (x->count_only) {
        x->keys += c[3].n / (KS_KEYID_SIZE + 1 + KS_RECORD_SIZE);
        return 0;
    }
    if ((x->rc = sup_pch_step_decode(x->c, c[3].p, c[3].n)) != 0)
        return 1;
    return 0;
}

/* Walks steps from+1..to into x (decoding them unless count_only). */
static int walk_steps(sup_ctx *s, uint32_t scope, uint64_t from, uint64_t to, step_ctx *x)
{
    sup_dbv p[3] = {sup_dbv_int(scope), sup_dbv_int((int64_t)from), sup_dbv_int((int64_t)to)};
    int rc;
    x->next = from + 1;
    x->rc = KS_OK;
    if (to <= from)
        return KS_OK;
    rc = sup_db_exec(s->db, "SELECT version, change_seq, header, step FROM snapshot_versions"
                           " WHERE scope = ? AND version > ? AND version <= ? ORDER BY version",
                    p, 3, step_row, x);
    if (rc)
        return KS_E_IO;
    if (x->rc)
        return x->rc;
    return x->next == to + 1 ? KS_OK : KS_E_NOTFOUND;
}

int sup_ps_chain(sup_ctx *s, uint32_t scope, uint64_t version, uint64_t *full, uint64_t *steps,
                uint64_t *keys)
{
    step_ctx x;
    int rc = newest_full(s, scope, version, full);
    memset(&x, 0, sizeof x);
    x.count_only = 1;
    if (!rc && *full > 0)
        rc = walk_steps(s, scope, *full, version, &x);
    *steps = *full ? version - *full : version;
    *keys = x.keys;
    return rc;
}

typedef struct img_ctx {
    sup_pimg *im;
} img_ctx;

static int img_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    img_ctx *x = ctx;
    (void)names;
    if (ncol < 1 || c[0].type != KS_DBV_BLOB || c[0].n < KS_SNAP_HEADER_SIZE ||
        (c[0].n - KS_SNAP_HEADER_SIZE) % KS_RECORD_SIZE != 0)
        return 1;
    if ((x->im = sup_pimg_new(c[0].n)) != NULL)
        memcpy(x->im->data, c[0].p, c[0].n);
    return 1;
}

static int64_t version_seq(sup_ctx *s, uint32_t scope, uint64_t version)
{
    int64_t seq = -1;
    sup_dbv p[2] = {sup_dbv_int(scope), sup_dbv_int((int64_t)version)};
    if (sup_db_int(s->db, "SELECT change_seq FROM snapshot_versions WHERE scope = ?"
                         " AND version = ?", p, 2, &seq) != KS_DB_OK)
        return -1;
    return seq;
}

int sup_ps_materialize(sup_ctx *s, uint32_t scope, uint64_t version, sup_pimg **out,
                      int64_t *change_seq)
{
    uint64_t full = 0;
    img_ctx ic = {NULL};
    sup_pchanges c = {NULL, 0, 0};
    sup_pimg *im = NULL;
    step_ctx x;
    int rc;

    *out = NULL;
    memset(&x, 0, sizeof x);
    x.c = &c;
    if ((rc = newest_full(s, scope, version, &full)) != 0)
        goto cleanup;
    rc = KS_E_NOTFOUND;
    if (full == 0)
        goto cleanup;
    {
        sup_dbv p[2] = {sup_dbv_int(scope), sup_dbv_int((int64_t)full)};
        sup_db_exec(s->db, "SELECT data FROM snapshots WHERE scope = ? AND version = ?", p, 2,
                   img_row, &ic);
    }
    if (!ic.im)
        goto cleanup;
    if (full == version) {
        *change_seq = version_seq(s, scope, version);
        im = ic.im;
        ic.im = NULL;
        rc = KS_OK;
        goto cleanup;
    }
    if ((rc = walk_steps(s, scope, full, version, &x)) != 0 || !x.have_hdr)
        goto cleanup;
    /* Collapse first so the chain costs one pass over the image, not one per step. */
    sup_pch_collapse(&c);
    {
        uint32_t n = sup_pimg_count(ic.im);
        int64_t got;
        rc = KS_E_NOSPC;
        if (!(im = sup_pimg_new(KS_SNAP_HEADER_SIZE + ((size_t)n + c.n) * KS_RECORD_SIZE)))
            goto cleanup;
        got = sup_pch_apply(ic.im->data + KS_SNAP_HEADER_SIZE, n, &c,
                           im->data + KS_SNAP_HEADER_SIZE, (uint32_t)(n + c.n));
        if (got < 0) {
            rc = (int)got;
            goto cleanup;
        }
        im->len = KS_SNAP_HEADER_SIZE + (size_t)got * KS_RECORD_SIZE;
        memcpy(im->data, x.hdr, KS_SNAP_HEADER_SIZE);
    }
    *change_seq = x.seq;
    rc = KS_OK;
cleanup:
    if (rc) {
        sup_pimg_unref(im);
        im = NULL;
    }
    if (im)
        im->version = version;
    *out = im;
    sup_pimg_unref(ic.im);
    sup_pch_free(&c);
    return rc;
}

typedef struct hdr_ctx {
    uint8_t h[KS_SNAP_HEADER_SIZE];
    int found;
} hdr_ctx;

static int hdr_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    hdr_ctx *x = ctx;
    (void)names;
    if (ncol >= 1 && c[0].type == KS_DBV_BLOB && c[0].n >= KS_SNAP_HEADER_SIZE) {
        memcpy(x->h, c[0].p, KS_SNAP_HEADER_SIZE);
        x->found = 1;
    }
    return 1;
}

int sup_ps_changes_between(sup_ctx *s, uint32_t scope, uint64_t since, uint64_t to,
                          sup_pchanges *c, ks_snap_header *since_hdr)
{
    hdr_ctx hx;
    step_ctx x;
    sup_dbv p[2] = {sup_dbv_int(scope), sup_dbv_int((int64_t)since)};
    int rc;

    memset(&hx, 0, sizeof hx);
    sup_db_exec(s->db, "SELECT header FROM snapshot_versions WHERE scope = ? AND version = ?", p,
               2, hdr_row, &hx);
    if (!hx.found ||
        ks_snap_header_decode(since_hdr, hx.h, NULL) != KS_OK || since_hdr->version != since)
        return KS_E_NOTFOUND;
    memset(&x, 0, sizeof x);
    x.c = c;
    if ((rc = walk_steps(s, scope, since, to, &x)) != 0)
        return rc;
    return sup_pch_collapse(c);
}

/*
 * Migration 4. The triggers log every write to keys in the writer's own
 * transaction, whoever the writer is, so the publisher can never miss a
 * change (a change is durable exactly when its log row is). An update logs
 * the old key id and scope too when either changed, so the key leaves the
 * old scope's snapshot. (A PostgreSQL backend needs the same triggers as
 * plpgsql functions.) AUTOINCREMENT: seq must never be reused once pruned
 * rows emptied the table, or a new change could fall below a watermark.
 */
const char sup_publish_schema[] =
    "CREATE TABLE key_changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, key_id BLOB NOT NULL,"
    " scope INTEGER NOT NULL);"
    "CREATE TRIGGER key_changes_ins AFTER INSERT ON keys BEGIN"
    " INSERT INTO key_changes(key_id, scope) VALUES (NEW.key_id, NEW.scope); END;"
    "CREATE TRIGGER key_changes_upd AFTER UPDATE ON keys BEGIN"
    " INSERT INTO key_changes(key_id, scope) VALUES (NEW.key_id, NEW.scope); END;"
    "CREATE TRIGGER key_changes_move AFTER UPDATE OF key_id, scope ON keys"
    " WHEN OLD.key_id IS NOT NEW.key_id OR OLD.scope IS NOT NEW.scope BEGIN"
    " INSERT INTO key_changes(key_id, scope) VALUES (OLD.key_id, OLD.scope); END;"
    "CREATE TRIGGER key_changes_del AFTER DELETE ON keys BEGIN"
    " INSERT INTO key_changes(key_id, scope) VALUES (OLD.key_id, OLD.scope); END;"
    "CREATE TABLE snapshot_versions(scope INTEGER NOT NULL, version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, change_seq INTEGER NOT NULL, header BLOB NOT NULL,"
    " step BLOB, PRIMARY KEY(scope, version));";
