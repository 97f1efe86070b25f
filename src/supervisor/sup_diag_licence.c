/*
 * sup_diag_licence.c - what a KSE-800 finding says (docs/licences.md,
 * docs/diagnosis.md): from the licence part of the controller's health
 * report (ctl_licence.c), the licence id, the feature that was refused,
 * why, and the one command or act that fixes it: reactivate licence L,
 * seat dongle K, ask for feature F. Pure (the report only), like the rules.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "sup_licence.h"

/* Feature names of a JSON array, space-separated "--feature X" or "X,Y". */
static void names(const json_t *arr, int as_flags, char *out, size_t cap)
{
    size_t i, n = 0;
    json_t *v;
    out[0] = 0;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        int w;
        if (!s)
            continue;
        w = snprintf(out + n, cap - n, as_flags ? "%s--feature %s" : "%s%s",
                     n ? (as_flags ? " " : ",") : "", s);
        if (w < 0 || (size_t)w >= cap - n)
            return;
        n += (size_t)w;
    }
}

static void licence_name(const json_t *lic, int64_t ctrl, char *out, size_t cap)
{
    json_int_t id = json_integer_value(json_object_get(lic, "id"));
    if (id > 0)
        snprintf(out, cap, "%lld", (long long)id);
    else /* version 1 carries no id: the list names it */
        snprintf(out, cap, "N (`keysup licence list --controller %lld`)", (long long)ctrl);
}

void sup_diag_licence_note(const json_t *report, int64_t ctrl, char *ev, size_t cap)
{
    const json_t *lic = json_object_get(report, "licence");
    const json_t *last = json_object_get(lic, "last_refusal");
    const char *state = json_string_value(json_object_get(lic, "state"));
    const char *check = json_string_value(json_object_get(last, "check"));
    size_t n = strlen(ev);
    char L[80], feat[96], flags[160], have[160];

    if (!lic || n >= cap)
        return;
    licence_name(lic, ctrl, L, sizeof L);
    if (state && strcmp(state, "refused") == 0) {
        const char *why = json_string_value(json_object_get(lic, "check"));
        snprintf(ev + n, cap - n, "; licence %s refused by the controller (%s); fix: %s", L,
                 why ? why : "?",
                 why && strcmp(why, "licence.expired") == 0
                     ? "`keysup licence reactivate` it with a new --valid-until"
                     : "the supervisor's copy replaces it within 5 s; if not, revoke it and "
                       "issue a new one");
        return;
    }
    if (json_string_value(json_object_get(lic, "refused_update"))) {
        snprintf(ev + n, cap - n, "; a new licence from the supervisor was refused (%s) and "
                 "licence %s stays in force; fix: revoke the new one and issue it again (a key "
                 "rotation the controller has not followed: check `keysup diagnose %lld`)",
                 json_string_value(json_object_get(lic, "refused_update")), L, (long long)ctrl);
        return;
    }
    if (!check)
        return;
    names(json_object_get(last, "features"), 0, feat, sizeof feat);
    if (strcmp(check, "licence.none") == 0) {
        names(json_object_get(last, "features"), 1, flags, sizeof flags);
        snprintf(ev + n, cap - n, "; feature %s is enforced and controller %lld holds no "
                 "licence; fix: ask for feature %s: `keysup licence issue --controller %lld %s`",
                 feat, (long long)ctrl, feat, (long long)ctrl, flags);
    } else if (strcmp(check, "licence.feature") == 0) {
        json_t *all = sup_licence_feature_names(
            (uint64_t)json_integer_value(json_object_get(lic, "features")));
        json_array_extend(all, json_object_get(last, "features"));
        names(all, 1, have, sizeof have);
        json_decref(all);
        snprintf(ev + n, cap - n, "; licence %s lacks feature %s; fix: ask for feature %s: "
                 "`keysup licence reactivate %s %s`", L, feat, feat, L, have);
    } else if (strcmp(check, "licence.expired") == 0) {
        snprintf(ev + n, cap - n, "; licence %s (feature %s) expired at %lld; fix: `keysup "
                 "licence reactivate %s --valid-until DATE`", L, feat,
                 (long long)json_integer_value(json_object_get(lic, "expires_at")), L);
    } else if (strcmp(check, "licence.dongle") == 0) {
        const char *key = json_string_value(json_object_get(lic, "bound_key"));
        snprintf(ev + n, cap - n, "; licence %s (feature %s) needs dongle %s presented within "
                 "%lld s; fix: seat dongle %s at controller %lld; if it is lost: `keysup licence "
                 "reactivate %s --bound-key NEWKEY`", L, feat, key ? key : "?",
                 (long long)json_integer_value(json_object_get(lic, "bound_window")),
                 key ? key : "?", (long long)ctrl, L);
    }
}
