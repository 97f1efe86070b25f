/*
 * sup_health.c - the stored health report, whole report and live members
 * merged (sup_health.h says why they are apart).
 */
#include "sup_health.h"

#include <string.h>

int sup_health_lay(json_t *report, json_t *body)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "report_elided") != 0 && json_object_set(report, k, v) != 0)
            return -1;
    }
    return 0;
}

json_t *sup_health_merge(const char *full, size_t full_len, const char *live, size_t live_len)
{
    json_t *h, *l;
    if (!full || !(h = json_loadb(full, full_len, 0, NULL)))
        return NULL;
    if (!json_is_object(h)) {
        json_decref(h);
        return NULL;
    }
    if (!live || !(l = json_loadb(live, live_len, 0, NULL)))
        return h;
    (void)sup_health_lay(h, l); /* out of memory: the members set so far are still the newer */
    json_decref(l);
    return h;
}

json_t *sup_health_merge_str(const char *full, const char *live)
{
    return sup_health_merge(full, full ? strlen(full) : 0, live, live ? strlen(live) : 0);
}
