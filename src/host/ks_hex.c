/*
 * ks_hex.c - hex encoding and strict decoding.
 */
#include "ks_hex.h"

#include <string.h>

void ks_hex(char *out, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int nib(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ks_unhex(uint8_t *out, size_t n, const char *s)
{
    if (!s || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int h = nib(s[2 * i]), l = nib(s[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return 0;
}

int ks_unhex_upto(uint8_t *out, size_t max, const char *s, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    if (!s || n % 2 || n / 2 > max || ks_unhex(out, n / 2, s))
        return -1;
    *len = n / 2;
    return 0;
}
