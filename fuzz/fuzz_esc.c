/*
 * fuzz_esc.c - libFuzzer target for keysupd's defences on untrusted text
 * (src/supervisor/sup_esc.c): sup_esc, which every logged or audited value
 * a client controls goes through, and sup_target_check, which refuses a
 * request target before libmicrohttpd decodes it.
 *
 * Byte 0 is the output capacity for a truncated escape; the rest is the
 * value (for the target check: up to its first NUL, as the daemon sees it).
 * Properties, checked against a reference written here independently
 * (Unicode 15, table 3-7, for UTF-8):
 *   - sup_esc's output is NUL-terminated inside its capacity, valid UTF-8,
 *     free of C0, DEL, C1 and U+2028/U+2029, and, when not truncated,
 *     unescapes to exactly the input (nothing lost, nothing ambiguous);
 *     truncated, it is a prefix of the full output at an escape boundary
 *     followed by "...";
 *   - sup_target_check accepts a target only if its percent-decoding holds
 *     no NUL, no control character (C0, DEL, C1) and is valid UTF-8, and
 *     refuses one only for such a reason or for its length; its reason is
 *     one printable line.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "sup_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the well-formed UTF-8 sequence at s, 0 if ill-formed. */
static size_t ref_utf8(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t b0 = s[0];
    uint8_t lo = 0x80, hi = 0xbf;
    size_t len;
    if (b0 <= 0x7f) { *cp = b0; return 1; }
    if (b0 >= 0xc2 && b0 <= 0xdf) len = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef) len = 3;
    else if (b0 >= 0xf0 && b0 <= 0xf4) len = 4;
    else return 0;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    uint32_t c = len == 2 ? b0 & 0x1fu : len == 3 ? b0 & 0x0fu : b0 & 0x07u;
    for (size_t i = 1; i < len; i++)
        c = c << 6 | (s[i] & 0x3fu);
    *cp = c;
    return len;
}

static int is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

/* 1 when s is valid UTF-8 with no control and no line/paragraph separator. */
static int clean(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = ref_utf8((const uint8_t *)s + i, n - i, &cp);
        if (!l || is_control(cp) || cp == 0x2028 || cp == 0x2029)
            return 0;
        i += l;
    }
    return 1;
}

static int hexv(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undoes sup_esc into out; the bytes written, or -1 on a malformed escape. */
static long unescape(const char *s, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = (uint8_t)s[i++];
            continue;
        }
        if (i + 1 >= n)
            return -1;
        char e = s[i + 1];
        if (e == 'n') out[o++] = '\n';
        else if (e == 'r') out[o++] = '\r';
        else if (e == 't') out[o++] = '\t';
        else if (e == '\\') out[o++] = '\\';
        else if (e == 'x' && i + 3 < n && hexv(s[i + 2]) >= 0 && hexv(s[i + 3]) >= 0) {
            out[o++] = (uint8_t)(hexv(s[i + 2]) * 16 + hexv(s[i + 3]));
            i += 2;
        } else {
            return -1;
        }
        i += 2;
    }
    return (long)o;
}

static void check_esc(const uint8_t *src, size_t n, size_t cap)
{
    size_t fcap = 4 * n + 8;
    char *full = malloc(fcap), *small = malloc(cap ? cap : 1);
    uint8_t *back = malloc(fcap);
    if (!full || !small || !back)
        goto done;
    memset(full, 'Z', fcap);
    sup_esc(full, fcap, (const char *)src, n);
    size_t fl = strnlen(full, fcap);
    if (fl >= fcap || !clean(full))
        abort();
    long bl = unescape(full, fl, back);
    if (bl != (long)n || memcmp(back, src, n) != 0)
        abort();

    if (cap) {
        memset(small, 'Z', cap);
        sup_esc(small, cap, (const char *)src, n);
        size_t sl = strnlen(small, cap);
        if (sl >= cap || !clean(small))
            abort();
        if (sl != fl || memcmp(small, full, fl) != 0) {
            /* truncated: a prefix of the full escape at a boundary + "..." */
            if (cap >= 4 && (sl < 3 || memcmp(small + sl - 3, "...", 3) != 0))
                abort();
            size_t pl = cap >= 4 ? sl - 3 : sl;
            if (memcmp(small, full, pl) != 0)
                abort();
            bl = unescape(small, pl, back);
            if (bl < 0 || (size_t)bl > n || memcmp(back, src, (size_t)bl) != 0)
                abort();
            /* it was cut only because the rest did not fit */
            if (fl + 1 <= cap && fl + 4 <= cap)
                abort();
        }
    }
done:
    free(full);
    free(small);
    free(back);
}

static void check_target(const uint8_t *src, size_t n)
{
    char *raw = malloc(n + 1);
    uint8_t *dec = malloc(n + 1);
    char why[256];
    if (!raw || !dec)
        goto done;
    memcpy(raw, src, n);
    raw[n] = '\0';
    /* reference decode: %XX (two hex digits) is one byte, anything else itself */
    size_t dn = 0;
    int bad = 0;
    for (const char *p = raw; *p;) {
        int c = (unsigned char)*p;
        if (c == '%' && hexv(p[1]) >= 0 && hexv(p[2]) >= 0) {
            c = hexv(p[1]) * 16 + hexv(p[2]);
            p += 3;
        } else {
            p++;
        }
        dec[dn++] = (uint8_t)c;
    }
    for (size_t i = 0; i < dn;) {
        uint32_t cp;
        size_t l = ref_utf8(dec + i, dn - i, &cp);
        if (!l || cp == 0 || is_control(cp)) {
            bad = 1;
            break;
        }
        i += l;
    }
    memset(why, 'Z', sizeof why);
    why[0] = '\0';
    int rc = sup_target_check(raw, why, sizeof why);
    if (rc == 0 && bad)
        abort(); /* a hostile target accepted */
    if (rc != 0 && !bad && dn <= 4096)
        abort(); /* a good target refused */
    if (rc != 0 && (!why[0] || strnlen(why, sizeof why) >= sizeof why || !clean(why)))
        abort();
    if (rc != 0 && rc != -1)
        abort();
done:
    free(raw);
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    check_esc(data + 1, size - 1, data[0]);
    check_target(data + 1, size - 1);
    return 0;
}
