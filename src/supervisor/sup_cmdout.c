/*
 * sup_cmdout.c - see sup_cmdout.h.
 */
#include "sup_cmdout.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

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
