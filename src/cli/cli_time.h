/*
 * cli_time.h - the output rule for times (cli_time.c, docs/cli.md).
 */
#ifndef KEYSUP_CLI_TIME_H
#define KEYSUP_CLI_TIME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Local ISO 8601 time with its UTC offset, for people. */
void cli_fmt_local(char *out, size_t n, uint64_t v);
/* With json, NAME_utc beside each time field NAME (unix seconds); without,
 * NAME becomes local ISO time. */
void cli_people_times(json_t *o, int json);

#endif
