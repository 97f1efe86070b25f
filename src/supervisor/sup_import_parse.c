/*
 * sup_import_parse.c - reads an import file (CSV or JSON lines, see
 * sup_import.h) into validated rows, naming every bad line. No database:
 * everything that can be judged from the file alone is judged here.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup_csvcell.h"
#include "ks_hex.h"
#include "sup_import.h"

enum { F_PK, F_HOLDER, F_LABEL, F_PRIVS, F_SCOPE, F_FROM, F_UNTIL, F_STATE, F_N };
static const char *const fnames[F_N] = {"public_key", "holder_id", "label", "privileges",
                                        "scope", "valid_from", "valid_until", "state"};

/* A key state by name (the export writes these), or -1. */
static int state_of(const char *s, size_t n)
{
    static const char *const names[] = {"active", "suspended", "revoked"};
    for (int i = 0; i < 3; i++)
        if (n == strlen(names[i]) && memcmp(s, names[i], n) == 0)
            return i == 0 ? KS_STATE_ACTIVE : i == 1 ? KS_STATE_SUSPENDED : KS_STATE_REVOKED;
    return -1;
}

#define MAX_LABEL 200
#define MAX_COLS 16

void sup_import_free(sup_import *im)
{
    free(im->rows);
    free(im->labels);
    free(im->err);
    memset(im, 0, sizeof *im);
}

const char *sup_import_label(const sup_import *im, const sup_imp_row *r)
{
    return r->label_off == UINT32_MAX ? NULL : im->labels + r->label_off;
}

void sup_import_fail(sup_import *im, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    im->nerr_total++;
    if (im->nerr >= SUP_IMP_MAX_ERRORS)
        return;
    if (!im->err) {
        im->err = calloc(SUP_IMP_MAX_ERRORS, sizeof *im->err);
        if (!im->err)
            return;
    }
    im->err[im->nerr].line = line;
    va_start(ap, fmt);
    vsnprintf(im->err[im->nerr].reason, sizeof im->err[0].reason, fmt, ap);
    va_end(ap);
    im->nerr++;
}

/* A decimal in [0, max]; the whole field. */
static int dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (max - (uint64_t)(s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int nib(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* 2n hex digits (not NUL-terminated) into n bytes. */
static int unhex_n(uint8_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Privilege names separated by '|', ' ' or ';'. */
static int privs(const char *s, size_t n, uint64_t *out, char *bad, size_t badn)
{
    size_t i = 0;
    *out = 0;
    while (i < n) {
        size_t j = i;
        uint64_t b;
        while (j < n && s[j] != '|' && s[j] != ' ' && s[j] != ';')
            j++;
        if (j > i) {
            uint64_t bit;
            b = ks_priv_from_name(s + i, j - i);
            /* BITn: a bit without a name, as the API and the export write it */
            if (!b && j - i > 3 && (s[i] == 'B' || s[i] == 'b') && (s[i + 1] == 'I' || s[i + 1] == 'i') &&
                (s[i + 2] == 'T' || s[i + 2] == 't') && dec(s + i + 3, j - i - 3, 63, &bit) == 0)
                b = 1ull << bit;
            if (!b) {
                snprintf(bad, badn, "%.*s", (int)(j - i > 40 ? 40 : j - i), s + i);
                return -1;
            }
            *out |= b;
        }
        i = j + 1;
    }
    return 0;
}

static int label_add(sup_import *im, const char *s, size_t n, uint32_t *off)
{
    if (im->labels_len + n + 1 > im->labels_cap) {
        size_t nc = im->labels_cap ? im->labels_cap : 4096;
        char *p;
        while (nc < im->labels_len + n + 1)
            nc *= 2;
        if (nc > UINT32_MAX)
            return KS_E_NOSPC;
        p = realloc(im->labels, nc);
        if (!p)
            return KS_E_NOSPC;
        im->labels = p;
        im->labels_cap = nc;
    }
    memcpy(im->labels + im->labels_len, s, n);
    im->labels[im->labels_len + n] = '\0';
    *off = (uint32_t)im->labels_len;
    im->labels_len += n + 1;
    return KS_OK;
}

/*
 * One row from its fields (f[i] NULL: absent). Bad fields are reported
 * one by one; a row with any bad field is not kept.
 */
static int row_add(const ks_crypto *cr, sup_import *im, uint32_t line, const char *const *f,
                   const size_t *fl)
{
    sup_imp_row r;
    size_t before = im->nerr_total;
    uint64_t v;
    char bad[48];

    memset(&r, 0, sizeof r);
    r.line = line;
    r.label_off = UINT32_MAX;
    if (!f[F_PK] || fl[F_PK] == 0)
        sup_import_fail(im, line, "public_key is missing");
    else if (fl[F_PK] != 2 * KS_PUBKEY_SIZE || unhex_n(r.public_key, f[F_PK], KS_PUBKEY_SIZE))
        sup_import_fail(im, line, "public_key must be %d hex digits", 2 * KS_PUBKEY_SIZE);
    if (f[F_HOLDER] && fl[F_HOLDER]) {
        if (dec(f[F_HOLDER], fl[F_HOLDER], INT64_MAX, &v) || v == 0)
            sup_import_fail(im, line, "holder_id must be a positive number");
        else
            r.holder_id = (int64_t)v;
    }
    if (f[F_PRIVS] && privs(f[F_PRIVS], fl[F_PRIVS], &r.privileges, bad, sizeof bad))
        sup_import_fail(im, line, "unknown privilege '%s'", bad);
    if (f[F_SCOPE] && fl[F_SCOPE]) {
        if (dec(f[F_SCOPE], fl[F_SCOPE], UINT32_MAX, &v))
            sup_import_fail(im, line, "scope must be a number from 0 to %u", UINT32_MAX);
        else
            r.scope = (uint32_t)v;
    }
    if (f[F_FROM] && fl[F_FROM] && dec(f[F_FROM], fl[F_FROM], INT64_MAX, &r.valid_from))
        sup_import_fail(im, line, "valid_from must be unix seconds");
    if (f[F_UNTIL] && fl[F_UNTIL] && dec(f[F_UNTIL], fl[F_UNTIL], INT64_MAX, &r.valid_until))
        sup_import_fail(im, line, "valid_until must be unix seconds (0 = never)");
    if (r.valid_until && r.valid_until <= r.valid_from)
        sup_import_fail(im, line, "valid_until must be after valid_from (or 0)");
    if (f[F_STATE] && fl[F_STATE]) {
        int st = state_of(f[F_STATE], fl[F_STATE]);
        if (st < 0)
            sup_import_fail(im, line, "state must be active, suspended or revoked, not '%.*s'",
                            (int)(fl[F_STATE] > 20 ? 20 : fl[F_STATE]), f[F_STATE]);
        else {
            r.state = (uint8_t)st;
            r.has_state = 1;
        }
    }
    if (f[F_LABEL] && fl[F_LABEL] > MAX_LABEL)
        sup_import_fail(im, line, "label longer than %d bytes", MAX_LABEL);
    else if (f[F_LABEL] && memchr(f[F_LABEL], 0, fl[F_LABEL]))
        sup_import_fail(im, line, "label contains a NUL byte");
    if (im->nerr_total != before)
        return KS_OK;
    if (f[F_LABEL] && fl[F_LABEL] && label_add(im, f[F_LABEL], fl[F_LABEL], &r.label_off))
        return KS_E_NOSPC;
    ks_key_id(cr, r.key_id, r.public_key);
    if (im->n == im->cap) {
        size_t nc = im->cap ? im->cap * 2 : 1024;
        sup_imp_row *p = realloc(im->rows, nc * sizeof *p);
        if (!p)
            return KS_E_NOSPC;
        im->rows = p;
        im->cap = nc;
    }
    im->rows[im->n++] = r;
    return KS_OK;
}

/* ----- CSV ----- */

/*
 * Splits one line into fields, unquoting into buf (room for len bytes).
 * Returns the field count, or -1 (reason in why) for a malformed line.
 */
static int csv_split(const char *s, size_t len, char *buf, const char **f, size_t *fl,
                     const char **why)
{
    size_t i = 0, o = 0;
    int n = 0;
    for (;;) {
        if (n == MAX_COLS) {
            *why = "more than 16 fields";
            return -1;
        }
        f[n] = buf + o;
        if (i < len && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    *why = "unterminated quoted field";
                    return -1;
                }
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        buf[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                buf[o++] = s[i++];
            }
            if (i < len && s[i] != ',') {
                *why = "text after a closing quote";
                return -1;
            }
        } else {
            while (i < len && s[i] != ',')
                buf[o++] = s[i++];
        }
        fl[n] = (size_t)(buf + o - f[n]);
        n++;
        if (i >= len)
            return n;
        i++; /* the comma */
    }
}

static int csv_header(sup_import *im, const char *const *f, const size_t *fl, int n, int *map)
{
    int have_pk = 0;
    for (int i = 0; i < n; i++) {
        map[i] = -1;
        for (int k = 0; k < F_N; k++)
            if (fl[i] == strlen(fnames[k]) && memcmp(f[i], fnames[k], fl[i]) == 0)
                map[i] = k;
        if (fl[i] == 6 && memcmp(f[i], "holder", 6) == 0)
            map[i] = F_HOLDER;
        if (map[i] < 0) {
            sup_import_fail(im, 1, "unknown column '%.*s' (columns: public_key, holder_id, label,"
                            " privileges, scope, valid_from, valid_until, state)",
                            (int)(fl[i] > 40 ? 40 : fl[i]), f[i]);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (map[j] == map[i]) {
                sup_import_fail(im, 1, "column '%s' appears twice", fnames[map[i]]);
                return -1;
            }
        have_pk |= map[i] == F_PK;
    }
    if (!have_pk) {
        sup_import_fail(im, 1, "the header has no public_key column");
        return -1;
    }
    return 0;
}

static int csv_line(const ks_crypto *cr, sup_import *im, uint32_t line, const char *s, size_t len,
                    char *buf, int *map, int *ncols)
{
    const char *f[MAX_COLS], *v[F_N] = {NULL};
    size_t fl[MAX_COLS], vl[F_N] = {0};
    const char *why = NULL;
    int n = csv_split(s, len, buf, f, fl, &why);
    if (n < 0) {
        sup_import_fail(im, line, "%s", why);
        return KS_OK;
    }
    if (*ncols == 0) {
        if (csv_header(im, f, fl, n, map) == 0)
            *ncols = n;
        else
            *ncols = -1; /* no rows are read without a good header */
        return KS_OK;
    }
    if (*ncols < 0)
        return KS_OK;
    if (n != *ncols) {
        sup_import_fail(im, line, "%d fields where the header has %d", n, *ncols);
        return KS_OK;
    }
    for (int i = 0; i < n; i++) {
        v[map[i]] = f[i];
        vl[map[i]] = fl[i];
    }
    /* The export's formula escape comes off (sup_csvcell.h). */
    if (v[F_LABEL] && sup_csv_quoted(v[F_LABEL], vl[F_LABEL])) {
        v[F_LABEL]++;
        vl[F_LABEL]--;
    }
    return row_add(cr, im, line, v, vl);
}

/* ----- JSON lines ----- */

static int jsonl_line(const ks_crypto *cr, sup_import *im, uint32_t line, const char *s,
                      size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je), *x;
    const char *v[F_N] = {NULL};
    size_t vl[F_N] = {0};
    char num[F_N][24], pbuf[1024];
    const char *key;
    size_t before = im->nerr_total;
    int rc = KS_OK;

    if (!o || !json_is_object(o)) {
        sup_import_fail(im, line, "not a JSON object%s%s", o ? "" : ": ", o ? "" : je.text);
        goto cleanup;
    }
    json_object_foreach(o, key, x) {
        int k = -1;
        for (int i = 0; i < F_N; i++)
            if (strcmp(key, fnames[i]) == 0)
                k = i;
        if (strcmp(key, "holder") == 0)
            k = F_HOLDER;
        if (k < 0) {
            sup_import_fail(im, line, "unknown field '%.40s'", key);
            continue;
        }
        if (json_is_null(x))
            continue;
        if (json_is_string(x)) {
            v[k] = json_string_value(x);
            vl[k] = json_string_length(x);
        } else if (json_is_integer(x) && json_integer_value(x) >= 0 && k != F_PK && k != F_LABEL) {
            snprintf(num[k], sizeof num[k], "%lld", (long long)json_integer_value(x));
            v[k] = num[k];
            vl[k] = strlen(num[k]);
        } else if (json_is_array(x) && k == F_PRIVS) {
            size_t i, used = 0;
            json_t *e;
            pbuf[0] = '\0';
            json_array_foreach(x, i, e) {
                const char *pn = json_string_value(e);
                if (!pn || used + strlen(pn) + 2 > sizeof pbuf) {
                    sup_import_fail(im, line, "privileges: element %zu must be a name", i);
                    goto cleanup;
                }
                used += (size_t)snprintf(pbuf + used, sizeof pbuf - used, "%s%s", used ? "|" : "", pn);
            }
            v[k] = pbuf;
            vl[k] = used;
        } else {
            sup_import_fail(im, line, "field '%s' has the wrong type", fnames[k]);
        }
    }
    if (im->nerr_total == before)
        rc = row_add(cr, im, line, v, vl);
cleanup:
    json_decref(o);
    return rc;
}

/* ----- the file ----- */

static int cmp_key(const void *a, const void *b)
{
    return memcmp(((const sup_imp_row *)a)->key_id, ((const sup_imp_row *)b)->key_id,
                  KS_KEYID_SIZE);
}

static int cmp_err(const void *a, const void *b)
{
    uint32_t x = ((const sup_imp_err *)a)->line, y = ((const sup_imp_err *)b)->line;
    return x < y ? -1 : x > y;
}

int sup_import_parse(const ks_crypto *cr, const char *text, size_t len, sup_import *im)
{
    size_t i = 0, maxline = 0;
    uint32_t line = 0;
    int map[MAX_COLS], ncols = 0, rc = KS_OK;
    char *buf = NULL;

    memset(im, 0, sizeof *im);
    /* The format is the first byte that is neither blank nor in a comment. */
    while (i < len) {
        if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n') {
            i++;
        } else if (text[i] == '#') {
            const char *nl = memchr(text + i, '\n', len - i);
            i = nl ? (size_t)(nl - text) + 1 : len;
        } else {
            break;
        }
    }
    im->jsonl = i < len && text[i] == '{';
    i = 0;
    while (i < len && rc == KS_OK) {
        const char *s = text + i, *e = memchr(s, '\n', len - i);
        size_t n = e ? (size_t)(e - s) : len - i;
        i += n + 1;
        line++;
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 0 || s[0] == '#')
            continue;
        if (im->jsonl) {
            rc = jsonl_line(cr, im, line, s, n);
            continue;
        }
        if (n > maxline) {
            char *nb = realloc(buf, n + 1);
            if (!nb) {
                rc = KS_E_NOSPC;
                break;
            }
            buf = nb;
            maxline = n;
        }
        rc = csv_line(cr, im, line, s, n, buf, map, &ncols);
    }
    free(buf);
    if (rc)
        return rc;
    if (!im->jsonl && ncols == 0)
        sup_import_fail(im, line ? line : 1, "no header line (public_key,holder_id,...)");
    /* Sorted by key id: duplicates are neighbours, and the inserts walk the
     * key_id index in order instead of at random. */
    if (im->n)
        qsort(im->rows, im->n, sizeof *im->rows, cmp_key);
    /* A repeat is reported on its later line and dropped, so the registry
     * check does not report it a second time. */
    if (im->n) {
        size_t keep = 1;
        for (size_t k = 1; k < im->n; k++) {
            sup_imp_row *prev = &im->rows[keep - 1], *r = &im->rows[k];
            if (memcmp(r->key_id, prev->key_id, KS_KEYID_SIZE) != 0) {
                im->rows[keep++] = *r;
                continue;
            }
            if (r->line < prev->line) {
                sup_imp_row t = *prev;
                *prev = *r;
                *r = t;
            }
            sup_import_fail(im, r->line, "public_key repeats line %u", prev->line);
        }
        im->n = keep;
    }
    sup_import_sort_errors(im);
    return KS_OK;
}

void sup_import_sort_errors(sup_import *im)
{
    if (im->nerr > 1)
        qsort(im->err, im->nerr, sizeof *im->err, cmp_err);
}
