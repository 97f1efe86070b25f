/*
 * sup_pgurl.c - a PostgreSQL URL without its password, for the command line
 * of pg_dump and pg_restore (sup_backup.c).
 *
 * Every local user can read another process's argv (/proc/PID/cmdline,
 * ps). keysup backup and restore ran pg_dump/pg_restore with `-d URL`, so a
 * password written in the URL (postgresql://user:PASSWORD@host/db or
 * ?password=...) was there for the whole dump. The tools get the URL
 * without it and the password in PGPASSWORD, which only the same user (and
 * root) can read on Linux (/proc/PID/environ is 0400).
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "sup_pgurl.h"

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes n bytes of s into out (pwn bytes with the NUL); -1 when
 * it does not fit. A '%' not followed by two hex digits is kept as is. */
static int decode(const char *s, size_t n, char *out, size_t pwn)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= pwn)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int sup_pgurl_split(const char *url, char *out, size_t outn, char *pw, size_t pwn)
{
    const char *auth, *end, *at, *colon, *q;
    size_t o = 0, n;

    if (outn == 0 || pwn == 0)
        return -1;
    pw[0] = '\0';
    auth = strstr(url, "://");
    if (!auth || strlen(url) >= outn)
        return -1;
    auth += 3;
    end = auth + strcspn(auth, "/?");
    /* userinfo ends at the authority's last '@' */
    at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    memcpy(out, url, (size_t)(auth - url));
    o = (size_t)(auth - url);
    colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
        if (decode(colon + 1, (size_t)(at - colon - 1), pw, pwn) != 0)
            return -1;
        memcpy(out + o, auth, (size_t)(colon - auth));
        o += (size_t)(colon - auth);
        memcpy(out + o, at, (size_t)(end - at));
        o += (size_t)(end - at);
    } else {
        memcpy(out + o, auth, (size_t)(end - auth));
        o += (size_t)(end - auth);
    }
    /* the path as is, then the query without password=... */
    q = strchr(end, '?');
    n = q ? (size_t)(q - end) : strlen(end);
    memcpy(out + o, end, n);
    o += n;
    if (q) {
        const char *p = q + 1;
        char sep = '?';
        while (*p) {
            size_t len = strcspn(p, "&");
            if (len >= 9 && strncmp(p, "password=", 9) == 0) {
                if (decode(p + 9, len - 9, pw, pwn) != 0)
                    return -1;
            } else if (len) {
                out[o++] = sep;
                memcpy(out + o, p, len);
                o += len;
                sep = '&';
            }
            p += len;
            if (*p == '&')
                p++;
        }
    }
    out[o] = '\0';
    return 0;
}
