/*
 * sup_esc.c - escaping of untrusted values before they reach a log line or
 * an audit row, and the request-target check.
 *
 * Why: keysupd logs one event per line, and operators (and log shippers)
 * trust that a line starting with a timestamp was written by keysupd. Any
 * value a client controls (a path, a holder or controller name, a header)
 * could otherwise carry a newline and forge a line of its own. Invalid UTF-8
 * is escaped too, so every audit value is a JSON string, never null.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "sup_guard.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) { len = 2; c = s[0] & 0x1f; min = 0x80; }
    else if ((s[0] & 0xf0) == 0xe0) { len = 3; c = s[0] & 0x0f; min = 0x800; }
    else if ((s[0] & 0xf8) == 0xf0) { len = 4; c = s[0] & 0x07; min = 0x10000; }
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

char *sup_esc(char *dst, size_t cap, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0, i = 0;

    if (cap == 0)
        return dst;
    while (i < n) {
        char tmp[32];
        size_t tl = 0, l;
        uint32_t cp = 0;
        l = utf8_len(s + i, n - i, &cp);
        if (l == 1 && cp == '\n') { memcpy(tmp, "\\n", 2); tl = 2; }
        else if (l == 1 && cp == '\r') { memcpy(tmp, "\\r", 2); tl = 2; }
        else if (l == 1 && cp == '\t') { memcpy(tmp, "\\t", 2); tl = 2; }
        else if (l == 1 && cp == '\\') { memcpy(tmp, "\\\\", 2); tl = 2; }
        else if (l == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
                 cp == 0x2028 || cp == 0x2029) {
            /* Controls (C0, DEL, C1, line/paragraph separators) and invalid
             * bytes: every byte as \xNN. */
            if (l == 0)
                l = 1;
            for (size_t k = 0; k < l; k++) {
                tmp[tl++] = '\\';
                tmp[tl++] = 'x';
                tmp[tl++] = hex[s[i + k] >> 4];
                tmp[tl++] = hex[s[i + k] & 15];
            }
        } else {
            memcpy(tmp, s + i, l);
            tl = l;
        }
        if (o + tl + 4 > cap) { /* room for "..." and the NUL */
            if (cap >= 4) {
                while (o + 4 > cap)
                    o--;
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(dst + o, tmp, tl);
        o += tl;
        i += l;
    }
    dst[o < cap ? o : cap - 1] = '\0';
    return dst;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int sup_target_check(const char *raw, char *why, size_t whylen)
{
    unsigned char dec[4096];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)raw;

    /* Decode the whole target (path and query) the way libmicrohttpd does:
     * separators are ASCII, so a target that is valid UTF-8 as a whole has
     * valid parts, and a control byte anywhere is refused. */
    while (*p) {
        int c = *p;
        if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            c = hexval(p[1]) * 16 + hexval(p[2]);
            p += 3;
        } else {
            p++;
        }
        if (c == 0) {
            snprintf(why, whylen, "request target contains a NUL byte (%%00)");
            return -1;
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(why, whylen, "request target contains the control character 0x%02x", c);
            return -1;
        }
        if (n == sizeof dec) {
            snprintf(why, whylen, "request target longer than %zu bytes", sizeof dec);
            return -1;
        }
        dec[n++] = (unsigned char)c;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_len(dec + i, n - i, &cp);
        if (l == 0) {
            snprintf(why, whylen, "request target is not valid UTF-8 after percent-decoding"
                     " (byte 0x%02x at offset %zu)", dec[i], i);
            return -1;
        }
        if (cp >= 0x80 && cp <= 0x9f) {
            snprintf(why, whylen, "request target contains the control character U+%04X",
                     (unsigned)cp);
            return -1;
        }
        i += l;
    }
    return 0;
}
