/*
 * ctl_hbrep.c - the report only when it changed, the agent's side
 * (ctl_hbrep.h).
 *
 * Why: keysupd parsed the ~2.2 KB report on every heartbeat though it
 * almost never changes between two; a steady heartbeat now sends the few
 * members that do and a hash of the rest. The hash is computed over the
 * report with the volatile members nulled, not removed, so which of them
 * are present is part of what keysupd holds: completing a short report
 * (held report, its volatile members replaced) gives exactly the report
 * that would have been sent, but for the store's progress counters
 * (ctl_hbrep.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "ctl_hbrep.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl_hbsess.h"
#include "ks_hex.h"

static const char *const volatile_keys[] = CTL_HBREP_VOLATILE;
#define NVOL (sizeof volatile_keys / sizeof volatile_keys[0])
static const char *const scrub_progress[] = CTL_HBREP_PROGRESS;
static const char *const store_progress[] = CTL_HBREP_STORE_PROGRESS;

/* Sets the members of o named in keys[n] that are present to null. */
static int null_members(json_t *o, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (json_object_get(o, keys[i]) && json_object_set_new(o, keys[i], json_null()) != 0)
            return -1;
    return 0;
}

/* c (a shallow copy of the report) with the store's progress counters
 * nulled, in copies of store and scrub: the report's own trees are not
 * changed. */
static int null_progress(json_t *c)
{
    json_t *st = json_object_get(c, "store"), *sc = json_object_get(st, "scrub");
    json_t *st2 = NULL, *sc2 = NULL;
    int rc = -1;
    if (!json_is_object(st))
        return 0;
    if (!(st2 = json_copy(st)) ||
        null_members(st2, store_progress, sizeof store_progress / sizeof *store_progress) != 0)
        goto out;
    if (json_is_object(sc) &&
        (!(sc2 = json_copy(sc)) ||
         null_members(sc2, scrub_progress, sizeof scrub_progress / sizeof *scrub_progress) != 0 ||
         json_object_set(st2, "scrub", sc2) != 0))
        goto out;
    if (json_object_set(c, "store", st2) != 0)
        goto out;
    rc = 0;
out:
    json_decref(sc2);
    json_decref(st2);
    return rc;
}

int ctl_hbrep_hash(json_t *report, uint8_t out[32])
{
    json_t *c = json_copy(report); /* shallow: the members are not changed */
    char *text = NULL;
    int rc = -1;
    if (!c)
        return -1;
    json_object_del(c, "report_hash");
    if (null_progress(c) != 0)
        goto cleanup;
    for (size_t i = 0; i < NVOL; i++)
        if (json_object_get(c, volatile_keys[i]) && json_object_set_new(c, volatile_keys[i],
                                                                         json_null()) != 0)
            goto cleanup;
    /* Sorted keys: the same report hashes the same whatever order it was
     * built in. Only this agent's encoding matters: keysupd never
     * recomputes it (sup_hbrep.h). */
    if (!(text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS)))
        goto cleanup;
    crypto_generichash(out, 32, (const unsigned char *)text, strlen(text), NULL, 0);
    rc = 0;
cleanup:
    free(text);
    json_decref(c);
    return rc;
}

json_t *ctl_hbrep_body(ctl_agent *a, json_t *report)
{
    struct ctl_hbrep *r = &a->hbrep;
    uint8_t h[32];
    char hex[65];
    json_t *b, *v;

    r->sent = 0;
    /* Only a heartbeat that goes MAC'd: signed ones stay as before. */
    if (!ctl_hbsess_usable(a) || json_object_get(report, "hb_session_pk") ||
        ctl_hbrep_hash(report, h) != 0)
        return json_incref(report);
    ks_hex(hex, h, sizeof h);
    memcpy(r->sent_hash, h, sizeof h);
    if (!r->held || sodium_memcmp(h, r->held_hash, sizeof h) != 0) {
        if (json_object_set_new(report, "report_hash", json_string(hex)) != 0)
            return json_incref(report); /* out of memory: full, without a hash */
        r->sent = 1;
        r->full++;
        return json_incref(report);
    }
    if (!(b = json_pack("{s:s,s:b}", "report_hash", hex, "report_elided", 1)))
        return NULL;
    for (size_t i = 0; i < NVOL; i++)
        if ((v = json_object_get(report, volatile_keys[i])) &&
            json_object_set(b, volatile_keys[i], v) != 0) {
            json_decref(b);
            return NULL;
        }
    /* the full report goes on a retry (ctl_hbrep_retry): it carries the hash */
    (void)json_object_set_new(report, "report_hash", json_string(hex));
    r->sent = 2;
    r->elided++;
    return b;
}

int ctl_hbrep_retry(ctl_agent *a, int status, json_t *ans)
{
    struct ctl_hbrep *r = &a->hbrep;
    const char *code = json_string_value(json_object_get(json_object_get(ans, "error"), "code"));
    /* Unauthenticated (an error answer is not signed): it can only make us
     * send more, never less. */
    if (r->sent != 2 || status != 409 || !code || strcmp(code, "KSE-123") != 0)
        return 0;
    r->held = 0;
    r->sent = 1;
    r->needed++;
    return 1;
}

void ctl_hbrep_answer(ctl_agent *a, json_t *ans)
{
    struct ctl_hbrep *r = &a->hbrep;
    uint8_t h[32];
    const char *x;
    if (!ans)
        return; /* no verified answer: what keysupd holds is unknown, keep the belief */
    x = json_string_value(json_object_get(ans, "report_held"));
    if (r->sent && x && ks_unhex(h, sizeof h, x) == 0 &&
        sodium_memcmp(h, r->sent_hash, sizeof h) == 0) {
        memcpy(r->held_hash, h, sizeof h);
        r->held = 1;
    } else if (r->sent) {
        r->held = 0; /* it took the report without holding it: full next time */
    }
}
