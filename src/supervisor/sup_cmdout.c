/*
 * sup_cmdout.c - see sup_cmdout.h.
 */
#define _POSIX_C_SOURCE 200809L /* localtime_r */
#include "sup_cmdout.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sup_cmd_json;

int sup_cmd_fail(int exit_code, const char *code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sup_cmd_json) {
        json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
        if (o)
            json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        fflush(stdout);
        json_decref(o);
    } else if (exit_code == SUP_CMD_REFUSED) {
        fprintf(stderr, "keysupd: %s: %s\n", code, msg);
    } else {
        fprintf(stderr, "keysupd: error: %s\n", msg);
    }
    return exit_code;
}

void sup_cmd_emit(json_t *o)
{
    const char *key;
    json_t *v;
    int width = 0;
    if (sup_cmd_json) {
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        fflush(stdout);
        return;
    }
    json_object_foreach(o, key, v)
        if (!json_is_array(v) && (int)strlen(key) > width)
            width = (int)strlen(key);
    json_object_foreach(o, key, v) {
        int pad = width - (int)strlen(key) + 1;
        if (json_is_array(v)) {
            size_t i;
            json_t *e;
            printf("%s:\n", key);
            json_array_foreach(v, i, e)
                printf("  %s\n", json_string_value(e));
        } else if (json_is_integer(v) && strlen(key) > 3 &&
                   strcmp(key + strlen(key) - 3, "_at") == 0) {
            /* A time, for people: local ISO time with its offset, as the
             * keysup CLI prints them (--json keeps unix seconds). */
            time_t t = (time_t)json_integer_value(v);
            struct tm tm;
            char when[40] = "?", z[8];
            if (localtime_r(&t, &tm) && strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm) &&
                strftime(z, sizeof z, "%z", &tm) == 5)
                snprintf(when + strlen(when), sizeof when - strlen(when), "%.3s:%.2s", z, z + 3);
            printf("%s:%*s%s\n", key, pad, "", when);
        } else if (json_is_integer(v)) {
            printf("%s:%*s%lld\n", key, pad, "", (long long)json_integer_value(v));
        } else {
            printf("%s:%*s%s\n", key, pad, "", json_string_value(v));
        }
    }
    fflush(stdout);
}
