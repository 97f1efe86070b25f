/*
 * sup_import_db.c - the database half of bulk import and export
 * (sup_import.h). One prepared INSERT for every row of a batch: preparing a
 * statement per row cost more than the insert itself at a million keys.
 * Runs inside the caller's transaction with s->lock held.
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_csvcell.h"
#include "ks_hex.h"
#include "sup_import.h"


static int same_text(sqlite3_stmt *st, int col, const char *want)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (sqlite3_column_type(st, col) == SQLITE_NULL || !t)
        return want == NULL || !*want;
    return want && strcmp((const char *)t, want) == 0;
}

/* The stored key of r differs: name the first field that does. */
static void conflict(sup_import *im, sqlite3_stmt *sel, const sup_imp_row *r)
{
    const char *what = NULL;
    int64_t holder = sqlite3_column_type(sel, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(sel, 0);
    if (holder != r->holder_id)
        what = "holder_id";
    else if (!same_text(sel, 1, sup_import_label(im, r)))
        what = "label";
    else if ((uint64_t)sqlite3_column_int64(sel, 2) != r->privileges)
        what = "privileges";
    else if ((uint64_t)sqlite3_column_int64(sel, 3) != r->scope)
        what = "scope";
    else if ((uint64_t)sqlite3_column_int64(sel, 4) != r->valid_from)
        what = "valid_from";
    else if ((uint64_t)sqlite3_column_int64(sel, 5) != r->valid_until)
        what = "valid_until";
    /* A state in the file stricter than the stored one is a change (made with
     * the key verbs); a laxer one is not applied: the registry's suspension
     * or revocation stands, and an old export re-run stays a no-op. */
    else if (r->has_state && r->state > sqlite3_column_int64(sel, 6))
        what = "state";
    if (what)
        sup_import_fail(im, r->line, "key already enrolled with a different %s (change it with"
                        " the key verbs, not by import)", what);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Marks each distinct scope of the inserted rows dirty once. */
static int mark_scopes(sup_ctx *s, uint32_t *sc, size_t n)
{
    int rc = KS_DB_OK;
    qsort(sc, n, sizeof *sc, cmp_u32);
    for (size_t i = 0; i < n && rc == KS_DB_OK; i++)
        if (i == 0 || sc[i] != sc[i - 1])
            rc = sup_pub_mark(s, sc[i]);
    return rc;
}

/* Page cache for one import: the key_id and public_key indexes of a million
 * keys are ~80 MB, written at random; with SQLite's default 2 MB cache each
 * insert evicts and re-reads index pages (25x slower at a million keys). */
#define IMPORT_CACHE_KIB 262144

int sup_import_cache(void *handle, int64_t kib)
{
    char sql[64];
    int64_t old = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(handle, "PRAGMA cache_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        old = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld", (long long)kib);
    sqlite3_exec(handle, sql, NULL, NULL, NULL);
    return (int)old;
}

int sup_import_commit(sup_ctx *s, sup_import *im, uint64_t now)
{
    sqlite3 *h = sup_db_sqlite_handle(s->db);
    sqlite3_stmt *ins = NULL, *sel = NULL, *hol = NULL;
    uint32_t *scopes = NULL;
    int64_t last_holder = 0;
    size_t nsc = 0;
    int rc, old_cache;

    im->imported = im->unchanged = 0;
    if (!h)
        return KS_DB_ERR;
    old_cache = sup_import_cache(h, -IMPORT_CACHE_KIB);
    rc = sup_db_sqlite_rc(sqlite3_prepare_v2(h, "INSERT INTO keys(key_id, public_key, holder_id, label,"
                                     " privileges, valid_from, valid_until, state, scope,"
                                     " form_factor, key_format, created_at, updated_at)"
                                     " VALUES (?,?,?,?,?,?,?,?,?,1,1,?,?) ON CONFLICT DO NOTHING",
                                  -1, &ins, NULL));
    if (!rc)
        rc = sup_db_sqlite_rc(sqlite3_prepare_v2(h, "SELECT holder_id, label, privileges, scope, valid_from,"
                                         " valid_until, state FROM keys WHERE key_id = ?", -1, &sel, NULL));
    if (!rc)
        rc = sup_db_sqlite_rc(sqlite3_prepare_v2(h, "SELECT 1 FROM holders WHERE id = ?", -1, &hol, NULL));
    scopes = im->n ? malloc(im->n * sizeof *scopes) : NULL;
    if (im->n && !scopes && !rc)
        rc = KS_DB_ERR;
    for (size_t i = 0; i < im->n && rc == KS_DB_OK; i++) {
        const sup_imp_row *r = &im->rows[i];
        const char *label = sup_import_label(im, r);
        if (r->holder_id && r->holder_id != last_holder) {
            sqlite3_reset(hol);
            sqlite3_bind_int64(hol, 1, r->holder_id);
            if (sqlite3_step(hol) != SQLITE_ROW) {
                sup_import_fail(im, r->line, "no holder %lld (create it first: keysup holder"
                                " create)", (long long)r->holder_id);
                continue;
            }
            last_holder = r->holder_id;
        }
        sqlite3_reset(ins);
        sqlite3_bind_blob(ins, 1, r->key_id, KS_KEYID_SIZE, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 2, r->public_key, KS_PUBKEY_SIZE, SQLITE_STATIC);
        if (r->holder_id)
            sqlite3_bind_int64(ins, 3, r->holder_id);
        else
            sqlite3_bind_null(ins, 3);
        if (label)
            sqlite3_bind_text(ins, 4, label, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 4);
        sqlite3_bind_int64(ins, 5, (int64_t)r->privileges);
        sqlite3_bind_int64(ins, 6, (int64_t)r->valid_from);
        sqlite3_bind_int64(ins, 7, (int64_t)r->valid_until);
        sqlite3_bind_int64(ins, 8, r->state);
        sqlite3_bind_int64(ins, 9, r->scope);
        sqlite3_bind_int64(ins, 10, (int64_t)now);
        sqlite3_bind_int64(ins, 11, (int64_t)now);
        rc = sup_db_sqlite_rc(sqlite3_step(ins));
        if (rc)
            break;
        if (sqlite3_changes(h) == 1) {
            im->imported++;
            scopes[nsc++] = r->scope;
            continue;
        }
        /* Present already: the same key is a no-op, a different one is refused. */
        sqlite3_reset(sel);
        sqlite3_bind_blob(sel, 1, r->key_id, KS_KEYID_SIZE, SQLITE_STATIC);
        if (sqlite3_step(sel) != SQLITE_ROW) {
            rc = KS_DB_ERR;
            break;
        }
        size_t before = im->nerr_total;
        conflict(im, sel, r);
        if (im->nerr_total == before)
            im->unchanged++;
    }
    if (rc == KS_DB_OK && im->nerr_total) {
        sup_import_sort_errors(im);
        rc = 1;
    }
    if (rc == KS_DB_OK && nsc)
        rc = mark_scopes(s, scopes, nsc);
    free(scopes);
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_finalize(hol);
    sup_import_cache(h, old_cache); /* pages beyond it are released */
    return rc;
}

/* ----- export ----- */

typedef struct obuf {
    char *p;
    size_t n, cap;
    int oom;
} obuf;

static void put(obuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        char *p;
        while (nc < b->n + n + 1)
            nc *= 2;
        p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(obuf *b, const char *s) { put(b, s, strlen(s)); }

static void privs_text(char *out, size_t cap, uint64_t bits)
{
    size_t used = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < 64; i++) {
        const char *n;
        char tmp[8];
        if (!(bits & (1ull << i)))
            continue;
        n = ks_priv_name(1ull << i);
        if (!n) {
            snprintf(tmp, sizeof tmp, "BIT%u", i);
            n = tmp;
        }
        used += (size_t)snprintf(out + used, cap > used ? cap - used : 0, "%s%s", used ? "|" : "", n);
    }
}

/* A CSV field: quoted when it holds a comma or a quote; line breaks (which
 * the line-based reader cannot take) become spaces; a formula start gets an
 * apostrophe (sup_csvcell.h), which the import takes off again. */
static void csv_field(obuf *b, const char *t)
{
    int q = sup_csv_needs_quote(t, strlen(t));
    if (!strpbrk(t, ",\"\r\n")) {
        if (q)
            put(b, "'", 1);
        puts_(b, t);
        return;
    }
    put(b, "\"", 1);
    if (q) /* inside the quotes: the cell's text starts with it */
        put(b, "'", 1);
    for (; *t; t++) {
        char c = *t == '\r' || *t == '\n' ? ' ' : *t;
        if (c == '"')
            put(b, "\"", 1);
        put(b, &c, 1);
    }
    put(b, "\"", 1);
}

int sup_export_keys(sup_ctx *s, int jsonl, char **out, size_t *len)
{
    sqlite3 *h = sup_db_sqlite_handle(s->db);
    sqlite3_stmt *st = NULL;
    obuf b = {NULL, 0, 0, 0};
    int rc, step;

    *out = NULL;
    *len = 0;
    if (!h)
        return KS_DB_ERR;
    rc = sup_db_sqlite_rc(sqlite3_prepare_v2(h, "SELECT public_key, holder_id, label, privileges, scope,"
                                     " valid_from, valid_until, state FROM keys ORDER BY id", -1, &st,
                                  NULL));
    if (rc)
        return rc;
    if (!jsonl)
        puts_(&b, SUP_EXPORT_CSV_HEADER);
    else
        put(&b, "", 0);
    while ((step = sqlite3_step(st)) == SQLITE_ROW && !b.oom) {
        char pk[2 * KS_PUBKEY_SIZE + 1], pv[1024], line[256];
        const char *label = (const char *)sqlite3_column_text(st, 2);
        int64_t holder = sqlite3_column_int64(st, 1);
        if (sqlite3_column_bytes(st, 0) != KS_PUBKEY_SIZE)
            continue;
        ks_hex(pk, sqlite3_column_blob(st, 0), KS_PUBKEY_SIZE);
        privs_text(pv, sizeof pv, (uint64_t)sqlite3_column_int64(st, 3));
        int64_t state = sqlite3_column_int64(st, 7);
        const char *sn = state == KS_STATE_REVOKED ? "revoked"
                         : state == KS_STATE_SUSPENDED ? "suspended" : "active";
        if (jsonl) {
            json_t *o = json_pack("{s:s,s:o,s:o,s:s,s:I,s:I,s:I,s:s}", "public_key", pk,
                                  "holder_id", holder ? json_integer(holder) : json_null(),
                                  "label", label ? json_string(label) : json_null(),
                                  "privileges", pv, "scope",
                                  (json_int_t)sqlite3_column_int64(st, 4), "valid_from",
                                  (json_int_t)sqlite3_column_int64(st, 5), "valid_until",
                                  (json_int_t)sqlite3_column_int64(st, 6), "state", sn);
            char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
            if (!t) {
                b.oom = 1;
                break;
            }
            puts_(&b, t);
            put(&b, "\n", 1);
            free(t);
            continue;
        }
        puts_(&b, pk);
        put(&b, ",", 1);
        if (holder) {
            snprintf(line, sizeof line, "%lld", (long long)holder);
            puts_(&b, line);
        }
        put(&b, ",", 1);
        if (label)
            csv_field(&b, label);
        put(&b, ",", 1);
        puts_(&b, pv); /* can be longer than line: 64 names */
        snprintf(line, sizeof line, ",%lld,%lld,%lld,%s\n", (long long)sqlite3_column_int64(st, 4),
                 (long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6), sn);
        puts_(&b, line);
    }
    if (!b.oom && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = sup_db_sqlite_rc(step) ? sup_db_sqlite_rc(step) : KS_DB_ERR;
    sqlite3_finalize(st);
    if (b.oom) {
        free(b.p);
        return KS_E_NOSPC;
    }
    if (rc) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *len = b.n;
    return KS_OK;
}
