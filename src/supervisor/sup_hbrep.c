/*
 * sup_hbrep.c - the held health reports (sup_hbrep.h says why).
 *
 * One mutex over an open-addressed table by controller id. It is held for
 * a lookup and a reference count, never for building a report: completing
 * takes a reference to the held tree, lets go, and copies outside. The
 * held trees are never changed once held (a new full report replaces the
 * reference), so a completed report and the diagnosis queue can share
 * their members with it across threads (jansson's counts are atomic).
 */
#define _POSIX_C_SOURCE 200809L
#include "sup_hbrep.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ks_hex.h"

typedef struct ent {
    int64_t id;                   /* 0: an empty slot */
    uint8_t hash[SUP_HBREP_HASH];
    json_t *report;
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
    for (size_t i = 0; i < t->cap; i++)
        json_decref(t->e[i].report);
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
    memcpy(e->hash, h, sizeof h);
    ks_hex(held_hex, h, sizeof h);
    rc = 1;
out:
    pthread_mutex_unlock(&t->mu);
    json_decref(old); /* outside the lock: a tree's free is not short */
    return rc;
}

json_t *sup_hbrep_complete(sup_hbrep *t, int64_t id, json_t *body, int *needed)
{
    uint8_t h[SUP_HBREP_HASH];
    json_t *held = NULL, *out, *v;
    const char *k;
    ent *e;
    *needed = 0;
    if (!t || hash_of(body, h) != 0) {
        *needed = 1;
        return NULL;
    }
    pthread_mutex_lock(&t->mu);
    e = t->cap ? find(t, id) : NULL;
    if (e && e->id && e->report && memcmp(e->hash, h, sizeof h) == 0) {
        held = json_incref(e->report);
        t->st.elided++;
    } else {
        t->st.needed++;
    }
    pthread_mutex_unlock(&t->mu);
    if (!held) {
        *needed = 1;
        return NULL;
    }
    /* Shallow: the members are shared with the held tree, which nobody
     * changes; only this object's own members are replaced. */
    out = json_copy(held);
    json_decref(held);
    if (!out)
        return NULL;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "report_elided") != 0 && json_object_set(out, k, v) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
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
