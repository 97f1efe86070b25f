/*
 * sup_dbhold.c - see sup_dbhold.h.
 *
 * Why (field5): with keysupd's disk full, `keysup key enrol` answered 500,
 * yet the log had already said `event=key.enrol ... result=ok`: sup_audit
 * logged the line when it wrote the audit row, inside the transaction, and
 * the COMMIT failed after. A log reader (a SIEM, an auditor grepping the
 * journal) saw a key enrolled that never was. Lines written inside a
 * transaction now wait for its end: a commit writes them as they were, a
 * failed commit or a rollback writes them with result=not_committed.
 * Bounded (HOLD_MAX bytes): past it, a line is written at once, as before.
 */
#include <stdlib.h>
#include <string.h>

#include "sup.h"
#include "sup_dbhold.h"

#define HOLD_MAX (1u << 20)

struct sup_db_held {
    char *buf; /* entries: level byte, event\0, ok_text\0, nc_text\0 */
    size_t len, cap;
};

int sup_db_hold_line(sup_db *db, int level, const char *event, const char *ok_text,
                     const char *nc_text)
{
    struct sup_db_held *h;
    size_t el = strlen(event) + 1, ol = strlen(ok_text) + 1, nl = strlen(nc_text) + 1;
    size_t need = 1 + el + ol + nl;
    if (!db || !db->in_tx)
        return 0;
    if (!db->held && (db->held = calloc(1, sizeof *db->held)) == NULL)
        return 0;
    h = db->held;
    if (h->len + need > HOLD_MAX)
        return 0;
    if (h->len + need > h->cap) {
        size_t cap = h->cap ? h->cap : 4096;
        char *nb;
        while (cap < h->len + need)
            cap *= 2;
        if (!(nb = realloc(h->buf, cap)))
            return 0;
        h->buf = nb;
        h->cap = cap;
    }
    h->buf[h->len] = (char)level;
    memcpy(h->buf + h->len + 1, event, el);
    memcpy(h->buf + h->len + 1 + el, ok_text, ol);
    memcpy(h->buf + h->len + 1 + el + ol, nc_text, nl);
    h->len += need;
    return 1;
}

/* Writes the held lines: as held if committed, else the not-committed text. */
static void release(sup_db *db, int committed)
{
    struct sup_db_held *h = db->held;
    size_t i = 0;
    if (!h)
        return;
    while (i < h->len) {
        int level = h->buf[i];
        const char *ev = h->buf + i + 1;
        const char *ok = ev + strlen(ev) + 1;
        const char *nc = ok + strlen(ok) + 1;
        sup_log(committed ? level : KS_LOG_ERROR, ev, "%s", committed ? ok : nc);
        i = (size_t)(nc + strlen(nc) + 1 - h->buf);
    }
    h->len = 0;
}

int sup_db_tx_begun(sup_db *db, int rc)
{
    /* A transaction left open (both its COMMIT and ROLLBACK failed, which
     * the backend ends at this begin): its lines were never committed. */
    if (db->in_tx)
        release(db, 0);
    db->in_tx = rc == KS_DB_OK;
    return rc;
}

int sup_db_tx_ended(sup_db *db, int rc, int commit)
{
    if (db->in_tx) {
        db->in_tx = 0;
        release(db, commit && rc == KS_DB_OK);
    }
    return rc;
}

void sup_db_held_free(sup_db *db)
{
    if (!db->held)
        return;
    release(db, 0);
    free(db->held->buf);
    free(db->held);
    db->held = NULL;
}
