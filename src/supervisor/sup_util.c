/*
 * sup_util.c - clock, hex, query-to-JSON, logging, roles and tokens:
 * the small helpers every part of keysupd shares.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sodium.h>

#include "sup_guard.h"
#include "sup.h"
#include "sup_dbhold.h"

void sup_path(const sup_ctx *s, const char *file, char *out, size_t n)
{
    if (file[0] == '/')
        snprintf(out, n, "%s", file);
    else
        snprintf(out, n, "%s/%s", s->data_dir, file);
}

uint64_t sup_now(void)
{
    return (uint64_t)time(NULL);
}

uint64_t sup_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ----- query rows as JSON ----- */

static int row_json(void *ctx, int ncol, const sup_dbv *cols, const char *const *names)
{
    json_t *arr = ctx, *o = json_object();
    for (int c = 0; c < ncol; c++) {
        json_t *v;
        switch (cols[c].type) {
        case KS_DBV_INT:
            v = json_integer(cols[c].i);
            break;
        case KS_DBV_TEXT:
            v = json_stringn(cols[c].p, cols[c].n);
            break;
        case KS_DBV_BLOB: {
            char *h = malloc(2 * cols[c].n + 1);
            if (!h) { v = json_null(); break; }
            ks_hex(h, cols[c].p, cols[c].n);
            v = json_string(h);
            free(h);
            break;
        }
        default:
            v = json_null();
            break;
        }
        json_object_set_new(o, names[c], v ? v : json_null());
    }
    json_array_append_new(arr, o);
    return 0;
}

json_t *sup_db_rows_json(sup_db *db, const char *sql, const sup_dbv *p, int n, int *rc)
{
    json_t *arr = json_array();
    int r = sup_db_exec(db, sql, p, n, row_json, arr);
    if (rc)
        *rc = r;
    if (r) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ----- logging ----- */

static int log_level = KS_LOG_INFO;

void sup_log_set_level(int level)
{
    log_level = level;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sup_log(int level, const char *event, const char *fmt, ...)
{
    char line[2048], raw[1024], ts[32];
    struct tm tm;
    time_t t = time(NULL);
    va_list ap;
    int n;

    static const char *const journal_prio[] = {"<3>", "<4>", "<6>", "<7>"};
    int lv = level < 0 ? 0 : level > 3 ? 3 : level;

    if (level > log_level)
        return;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* Under systemd (JOURNAL_STREAM set) a "<N>" prefix gives each line its
     * journal priority (sd-daemon(3)), so `journalctl -p warning` works. */
    n = snprintf(line, sizeof line, "%s%s keysupd %s event=%s ",
                 getenv("JOURNAL_STREAM") ? journal_prio[lv] : "", ts, level_names[lv], event);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* Values come from clients: no control character (a newline would
     * forge a line of its own) and no invalid UTF-8 reaches the log. */
    sup_esc(line + n, sizeof line - (size_t)n - 1, raw, strlen(raw));
    /* One fputs per line: stdio locks the stream, so lines never interleave. */
    strcat(line, "\n");
    fputs(line, stderr);
}

/* ----- roles and tokens ----- */

const char *sup_role_name(int role)
{
    switch (role) {
    case KS_ROLE_AUDITOR: return "auditor";
    case KS_ROLE_OPERATOR: return "operator";
    case KS_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

int sup_role_from_name(const char *s)
{
    if (!s) return KS_ROLE_NONE;
    if (strcmp(s, "auditor") == 0) return KS_ROLE_AUDITOR;
    if (strcmp(s, "operator") == 0) return KS_ROLE_OPERATOR;
    if (strcmp(s, "admin") == 0) return KS_ROLE_ADMIN;
    return KS_ROLE_NONE;
}

void sup_token_hash(const ks_crypto *c, const char *text, uint8_t hash[KS_HASH_SIZE])
{
    ks_iov iov[2] = {{"keysup-token-v1", 15}, {text, strlen(text)}};
    c->hash(c->ctx, hash, iov, 2);
}

void sup_token_new(const ks_crypto *c, char text[80], uint8_t hash[KS_HASH_SIZE])
{
    uint8_t r[32];
    randombytes_buf(r, sizeof r);
    memcpy(text, "kst_", 4);
    ks_hex(text + 4, r, sizeof r);
    sodium_memzero(r, sizeof r);
    sup_token_hash(c, text, hash);
}

/* ----- audit ----- */

void sup_audit(sup_ctx *s, int locked, const char *actor, const char *action, const char *target,
              const char *result, const char *code, const char *detail)
{
    char ea[192], et[768], ed[1024];
    sup_dbv p[7];
    int rc;
    /* Stored escaped: every audit value is printable, valid UTF-8 (a JSON
     * string in GET /v1/audit, never null because of a bad byte). */
    p[0] = sup_dbv_int((int64_t)sup_now());
    p[1] = sup_dbv_text(sup_esc(ea, sizeof ea, actor ? actor : "-", strlen(actor ? actor : "-")));
    p[2] = sup_dbv_text(action);
    p[3] = sup_dbv_text(target ? sup_esc(et, sizeof et, target, strlen(target)) : NULL);
    p[4] = sup_dbv_text(result);
    p[5] = sup_dbv_text(code);
    p[6] = sup_dbv_text(detail ? sup_esc(ed, sizeof ed, detail, strlen(detail)) : NULL);
    if (!locked)
        pthread_mutex_lock(&s->lock);
    rc = sup_db_exec(s->db, "INSERT INTO audit(ts, actor, action, target, result, code, detail)"
                           " VALUES (?,?,?,?,?,?,?)", p, 7, NULL, NULL);
    atomic_fetch_add(&s->metrics.audit_records, 1);
    {
        /* Inside a transaction a change's line waits for its end
         * (sup_dbhold.c): a change whose commit fails is not logged as
         * done. A refusal is a fact whatever the commit: logged at once. */
        char who[1024], what[1024], ok[1024], nc[1100];
        int level = strcmp(result, "ok") == 0 ? KS_LOG_INFO : KS_LOG_WARN;
        snprintf(who, sizeof who, "actor=%s target=%s", actor ? actor : "-", target ? target : "-");
        snprintf(what, sizeof what, "%s%s%s%s%s%s", result, code ? " code=" : "", code ? code : "",
                 detail ? " detail=\"" : "", detail ? detail : "", detail ? "\"" : "");
        snprintf(ok, sizeof ok, "%s result=%s", who, what);
        snprintf(nc, sizeof nc, "%s result=not_committed was=%s", who, what);
        if (level != KS_LOG_INFO || !sup_db_hold_line(s->db, level, action, ok, nc))
            sup_log(level, action, "%s", ok);
    }
    if (rc)
        sup_log(KS_LOG_ERROR, "audit.write", "error=\"%s\"", sup_db_errmsg(s->db));
    if (!locked)
        pthread_mutex_unlock(&s->lock);
}
