/*
 * sup_hbrep.c - the held health reports (sup_hbrep.h says why).
 *
 * One mutex over an open-addressed table by controller id. It is held for
 * a lookup, a reference count and, at most, a few member replacements;
 * never for copying or printing a report.
 *
 * Completing in place (issue 13: json_copy of the held report and the
 * copy's free were 12 % of keysupd's CPU at 1,000 controllers). Every
 * reader of a held tree takes its reference under the mutex, here. So
 * while the table's is the only reference (refcount 1, read with acquire
 * order: jansson drops references with release order, so every earlier
 * reader has finished), nobody else can be reading it and nobody can start
 * to without this mutex. The short body's members are then put straight
 * into the held tree, under the mutex, and the caller gets a reference to
 * it: that tree is the completed report. When anyone else still holds it
 * (the diagnosis queue has not judged the last one yet, a concurrent
 * request) the tree is copied outside the lock as before, and the copy is
 * changed, never the shared tree.
 *
 * Once changed in place, the held tree no longer has the full report's own
 * values for those members, so it can only complete bodies that replace
 * exactly the same members (`work_keys`). The agent always sends the same
 * members under one hash (which of them are present is part of what it
 * hashes: ctl_hbrep.c); a body with another set is answered as if nothing
 * were held (409 KSE-123), and the full report that follows is held anew.
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_hbrep.h"
#include "sup_health.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ks_hex.h"

typedef struct ent {
    int64_t id;                   /* 0: an empty slot */
    uint8_t hash[SUP_HBREP_HASH];
    json_t *report;
    /* The report's members that short bodies with the key set `keys` do
     * not carry, as text: ",\"k\":v..." ("" when none). Made at the first
     * short body; dropped with the report. */
    char *keys, *rest;
    /* The members the held tree's own values were replaced with, by
     * completing in place ("k\n..." as `keys`); NULL while it is as
     * received. */
    char *work_keys;
} ent;

struct sup_hbrep {
    pthread_mutex_t mu;
    ent *e;
    size_t cap, used, max;        /* cap a power of two; used slots with an id */
    sup_hbrep_stats st;
};

sup_hbrep *sup_hbrep_new(size_t max)
{
    sup_hbrep *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void sup_hbrep_free(sup_hbrep *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++) {
        json_decref(t->e[i].report);
        free(t->e[i].keys);
        free(t->e[i].rest);
        free(t->e[i].work_keys);
    }
    free(t->e);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static size_t slot_of(int64_t id, size_t cap)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

/* id's slot, or the empty one it would take; cap > 0. */
static ent *find(const sup_hbrep *t, int64_t id)
{
    size_t h = slot_of(id, t->cap);
    while (t->e[h].id && t->e[h].id != id)
        h = (h + 1) & (t->cap - 1);
    return &t->e[h];
}

/* Room for one more id: the table stays at most half full. */
static int reserve(sup_hbrep *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    ent *old = t->e, *n;
    if (t->cap && 2 * (t->used + 1) <= t->cap)
        return 0;
    if (!(n = calloc(ncap, sizeof *n)))
        return -1;
    t->e = n;
    t->cap = ncap;
    for (size_t i = 0; old && i < ncap / 2; i++)
        if (old[i].id)
            *find(t, old[i].id) = old[i];
    free(old);
    return 0;
}

int sup_hbrep_is_short(json_t *body)
{
    return json_is_true(json_object_get(body, "report_elided"));
}

static int hash_of(json_t *o, uint8_t h[SUP_HBREP_HASH])
{
    const char *x = json_string_value(json_object_get(o, "report_hash"));
    return x && strlen(x) == 2 * SUP_HBREP_HASH && ks_unhex(h, SUP_HBREP_HASH, x) == 0 ? 0 : -1;
}

int sup_hbrep_hold(sup_hbrep *t, int64_t id, json_t *report, char held_hex[2 * SUP_HBREP_HASH + 1])
{
    uint8_t h[SUP_HBREP_HASH];
    json_t *old = NULL;
    ent *e;
    int rc = 0;
    if (!t || id <= 0 || !report || hash_of(report, h) != 0)
        return 0; /* an agent that does not hash: full reports, as before */
    pthread_mutex_lock(&t->mu);
    t->st.full++;
    e = t->cap ? find(t, id) : NULL;
    if (!e || !e->id) {
        if (t->st.held >= t->max)
            goto out; /* full: this controller keeps sending full reports */
        if (reserve(t) != 0) {
            rc = -1;
            goto out;
        }
        e = find(t, id);
        e->id = id;
        t->used++;
    }
    if (!e->report)
        t->st.held++; /* a new id (a held one is replaced) */
    old = e->report;
    e->report = json_incref(report);
    free(e->keys);
    free(e->rest);
    free(e->work_keys);
    e->keys = e->rest = e->work_keys = NULL;
    memcpy(e->hash, h, sizeof h);
    ks_hex(held_hex, h, sizeof h);
    rc = 1;
out:
    pthread_mutex_unlock(&t->mu);
    json_decref(old); /* outside the lock: a tree's free is not short */
    return rc;
}

/* body's member names, one per line: which of the held members it replaces. */
static char *keys_of(json_t *body)
{
    const char *k;
    json_t *v;
    size_t n = 1, at = 0;
    char *out;
    json_object_foreach(body, k, v)
        n += strlen(k) + 1;
    if (!(out = malloc(n)))
        return NULL;
    json_object_foreach(body, k, v) {
        size_t l = strlen(k);
        memcpy(out + at, k, l);
        out[at + l] = '\n';
        at += l + 1;
    }
    out[at] = '\0';
    return out;
}

/* held without body's members, as text after the opening brace: "" or
 * ",\"k\":v,..." (the closing brace dropped). */
static char *rest_of(json_t *held, json_t *body)
{
    json_t *c = json_copy(held), *v;
    const char *k;
    char *text, *out = NULL;
    size_t n;
    if (!c)
        return NULL;
    json_object_foreach(body, k, v)
        json_object_del(c, k);
    text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    if (!text)
        return NULL;
    n = strlen(text); /* "{...}" */
    if (n >= 2 && (out = malloc(n))) {
        if (n == 2) {
            out[0] = '\0';
        } else {
            out[0] = ',';
            memcpy(out + 1, text + 1, n - 2);
            out[n - 1] = '\0';
        }
    }
    free(text);
    return out;
}

/* body_text up to its closing brace, then rest, then the brace; NULL when
 * the text does not end an object or out of memory. */
static char *splice(const char *body_text, const char *rest)
{
    const char *end = strrchr(body_text, '}');
    size_t bl, rl = strlen(rest);
    char *out;
    if (!end)
        return NULL;
    bl = (size_t)(end - body_text);
    if (!(out = malloc(bl + rl + 2)))
        return NULL;
    memcpy(out, body_text, bl);
    memcpy(out + bl, rest, rl);
    out[bl + rl] = '}';
    out[bl + rl + 1] = '\0';
    return out;
}

/* *text for a short body completed from held (reference taken): from the
 * cached rest when its key set is body's, else made and cached. */
static int text_for(sup_hbrep *t, int64_t id, json_t *held, json_t *body, const char *body_text,
                    const char *body_keys, char **text)
{
    char *keys = strdup(body_keys), *rest = NULL;
    ent *e;
    if (!keys)
        return -1;
    pthread_mutex_lock(&t->mu);
    e = find(t, id);
    if (e->report == held && e->keys && strcmp(e->keys, keys) == 0) {
        *text = splice(body_text, e->rest);
        pthread_mutex_unlock(&t->mu);
        free(keys);
        return *text ? 0 : -1;
    }
    pthread_mutex_unlock(&t->mu);
    /* the held report's text, once per report: outside the lock */
    if (!(rest = rest_of(held, body))) {
        free(keys);
        return -1;
    }
    *text = splice(body_text, rest);
    pthread_mutex_lock(&t->mu);
    e = find(t, id);
    if (e->report == held) { /* not replaced meanwhile */
        free(e->keys);
        free(e->rest);
        e->keys = keys;
        e->rest = rest;
        keys = rest = NULL;
    }
    pthread_mutex_unlock(&t->mu);
    free(keys);
    free(rest);
    return *text ? 0 : -1;
}

/* The held tree completed in place when the table's reference is the only
 * one (the file's comment says why that is safe); e locked, keys body's.
 * The values replaced go into old[] (references), for the caller to drop
 * after the lock: they are the last body's subtrees, and freeing them was
 * most of the cost of completing. */
#define OLD_MAX 16
static json_t *in_place(sup_hbrep *t, ent *e, json_t *body, const char *keys,
                        json_t *old[OLD_MAX], size_t *nold)
{
    const char *k;
    json_t *v;
    *nold = 0;
    if (__atomic_load_n(&e->report->refcount, __ATOMIC_ACQUIRE) != 1 ||
        json_object_size(body) > OLD_MAX)
        return NULL;
    if (!e->work_keys && !(e->work_keys = strdup(keys)))
        return NULL; /* out of memory: the copy below does it */
    json_object_foreach(body, k, v) {
        if (strcmp(k, "report_elided") == 0)
            continue;
        old[*nold] = json_incref(json_object_get(e->report, k)); /* NULL when new */
        (*nold)++;
        /* a failed set leaves a member of this body's or the last one's:
         * the same members either way, so the tree stays usable */
        if (json_object_set(e->report, k, v) != 0)
            return NULL;
    }
    t->st.in_place++;
    return json_incref(e->report);
}

json_t *sup_hbrep_complete(sup_hbrep *t, int64_t id, json_t *body, const char *body_text,
                           int *needed, char **text)
{
    uint8_t h[SUP_HBREP_HASH];
    json_t *held = NULL, *out = NULL, *old[OLD_MAX];
    char *keys = NULL;
    size_t nold = 0;
    ent *e;
    *needed = 0;
    if (text)
        *text = NULL;
    if (!t || hash_of(body, h) != 0) {
        *needed = 1;
        return NULL;
    }
    if (!(keys = keys_of(body)))
        return NULL;
    pthread_mutex_lock(&t->mu);
    e = t->cap ? find(t, id) : NULL;
    if (e && e->id && e->report && memcmp(e->hash, h, sizeof h) == 0 &&
        (!e->work_keys || strcmp(e->work_keys, keys) == 0)) {
        out = in_place(t, e, body, keys, old, &nold);
        held = json_incref(e->report);
        t->st.elided++;
    } else {
        t->st.needed++;
    }
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < nold; i++)
        json_decref(old[i]);
    if (!held) {
        *needed = 1;
        free(keys);
        return NULL;
    }
    /* the members outside body are the full report's own in both cases */
    if (text && text_for(t, id, held, body, body_text, keys, text) != 0)
        goto fail;
    /* Shallow: the members are shared with the held tree, which nobody
     * changes while it is shared; only this object's own are replaced. */
    if (!out && (!(out = json_copy(held)) || sup_health_lay(out, body) != 0))
        goto fail;
    json_decref(held);
    free(keys);
    return out;
fail:
    json_decref(out);
    json_decref(held);
    free(keys);
    if (text) {
        free(*text);
        *text = NULL;
    }
    return NULL;
}

void sup_hbrep_stats_get(sup_hbrep *t, sup_hbrep_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    *out = t->st;
    pthread_mutex_unlock(&t->mu);
}
