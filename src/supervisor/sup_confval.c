/*
 * sup_confval.c - the value rules of keysupd.conf, shared with the other
 * .conf files in DATA (webhook.conf, the console's settings): blanks trimmed
 * in place, and a whole-string decimal within bounds (sup.h).
 *
 * Apart from sup_config.c so that a reader of another file (sup_webhook.c)
 * does not depend on keysupd's config loader, which in turn names the parts
 * it configures: the dependency runs one way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sup.h"

char *sup_config_trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int sup_config_uint(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long x;
    if (!*v || *v == '-')
        return -1;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}
