/*
 * sup_import.h - bulk key import and export (issue 13, docs/api.md
 * "Bulk import"): the file formats, their parser and the one-transaction
 * commit.
 *
 * Two formats, told apart by the first byte outside blanks and # comment
 * lines ('{' = JSON lines):
 *   CSV         a header line naming the columns (any order), then one key
 *               per line; fields may be "quoted" ("" inside quotes is one ");
 *   JSON lines  one object per line with the same field names.
 * Fields: public_key (64 hex, required), holder_id (an existing holder or
 * empty), label, privileges (names separated by '|' or ' '; in JSON an
 * array or such a string), scope, valid_from, valid_until (unix seconds;
 * valid_from defaults to 0 so a re-import compares equal, valid_until 0 =
 * never), state (active, suspended or revoked; active when absent: the
 * export writes it, so that moving keys to another supervisor keeps every
 * revocation). Blank lines and lines starting with '#' are skipped.
 *
 * The whole file is parsed and validated before the database is touched;
 * every bad row is reported with its line number and reason, and then
 * nothing is imported. A key already enrolled with the same attributes is
 * "unchanged" (a re-run is a no-op); with different ones it is a bad row.
 */
#ifndef KEYSUP_SUP_IMPORT_H
#define KEYSUP_SUP_IMPORT_H

#include "sup.h"

typedef struct sup_imp_row {
    uint32_t line;
    uint8_t public_key[KS_PUBKEY_SIZE];
    uint8_t key_id[KS_KEYID_SIZE];
    int64_t holder_id;          /* 0: none */
    uint32_t label_off;         /* into the batch's label arena; UINT32_MAX: none */
    uint64_t privileges;
    uint32_t scope;
    uint64_t valid_from, valid_until;
    uint8_t state;              /* KS_STATE_*; active when the file says none */
    uint8_t has_state;
} sup_imp_row;

typedef struct sup_imp_err {
    uint32_t line;
    char reason[160];
} sup_imp_err;

/* Reported errors are capped; nerr_total keeps counting past the cap. */
#define SUP_IMP_MAX_ERRORS 1000

typedef struct sup_import {
    sup_imp_row *rows;
    size_t n, cap;
    char *labels;               /* NUL-separated labels */
    size_t labels_len, labels_cap;
    sup_imp_err *err;
    size_t nerr, nerr_total;
    int jsonl;                  /* the format found */
    /* results of sup_import_commit */
    size_t imported, unchanged;
} sup_import;

void sup_import_free(sup_import *im);
/* The label of a row (NULL when none). */
const char *sup_import_label(const sup_import *im, const sup_imp_row *r);
/* Adds a reason for line (printf-style). */
void sup_import_fail(sup_import *im, uint32_t line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Orders the reported errors by line. */
void sup_import_sort_errors(sup_import *im);

/*
 * Parses and validates text (len bytes, need not be NUL-terminated): rows
 * and errors in im (zeroed first). Duplicate public keys in the file are
 * errors too. KS_OK when the text was read (check im->nerr_total), or
 * KS_E_NOSPC when out of memory.
 */
int sup_import_parse(const ks_crypto *cr, const char *text, size_t len, sup_import *im);

/*
 * Within the caller's transaction (s->lock held): checks holders and
 * existing keys, inserts the new rows, marks the touched scopes dirty.
 * Returns KS_DB_OK with im->imported/unchanged set; 1 when rows were bad
 * (in im->err; the caller rolls back); or a database error.
 */
int sup_import_commit(sup_ctx *s, sup_import *im, uint64_t now);

/* Sets the page cache of an SQLite handle (PRAGMA cache_size: negative =
 * KiB) and returns the previous setting; the import raises it for its
 * transaction (bench_import gives the raw baseline the same). */
int sup_import_cache(void *handle, int64_t kib);

/* One exported key in the import format: a CSV line (after the header
 * SUP_EXPORT_CSV_HEADER) or a JSON line, appended to out. */
#define SUP_EXPORT_CSV_HEADER "public_key,holder_id,label,privileges,scope,valid_from,valid_until,state\n"

/*
 * The whole registry's keys in format (0 CSV, 1 JSON lines), malloc'd, NUL
 * terminated, lock held. KS_OK or KS_E_NOSPC / a database error.
 */
int sup_export_keys(sup_ctx *s, int jsonl, char **out, size_t *len);

#endif
