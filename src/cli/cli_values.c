/*
 * cli_values.c - see cli_values.h.
 */
#define _XOPEN_SOURCE 700
#include "cli_values.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int cli_parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    *v = x;
    return 0;
}

int cli_parse_time(const char *s, uint64_t *v)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = strlen(s);
    int64_t days;

    if (cli_parse_u64(s, v) == 0)
        return 0;
    /* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC only: a local time in a
     * credential file would change meaning with the machine's zone. */
    if (n != 10 && n != 20)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    if (n == 20 && (s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
                    digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se) ||
                    s[19] != 'Z'))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -1;
    days = days_from_civil(y, mo, d);
    *v = (uint64_t)days * 86400u + h * 3600u + mi * 60u + se;
    return 0;
}

int cli_parse_duration(const char *s, uint64_t *v)
{
    size_t n = strlen(s);
    char num[32];
    uint64_t x, unit;

    if (n < 2 || n >= sizeof num)
        return -1;
    switch (s[n - 1]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 604800; break;
    default: return -1;
    }
    memcpy(num, s, n - 1);
    num[n - 1] = '\0';
    if (cli_parse_u64(num, &x) || x == 0 || x > UINT64_MAX / unit)
        return -1;
    *v = x * unit;
    return 0;
}

void cli_fmt_time(char *out, size_t n, uint64_t v)
{
    struct tm tm;
    time_t t = (time_t)v;
    if (v > (uint64_t)253402300799u || !gmtime_r(&t, &tm)) {  /* past 9999-12-31 */
        snprintf(out, n, "(beyond year 9999)");
        return;
    }
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint64_t cli_now(void)
{
    time_t t = time(NULL);
    return t < 0 ? 0 : (uint64_t)t;
}
