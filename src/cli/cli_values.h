/*
 * cli_values.h - the values a command reads and prints: strict numbers,
 * dates and durations on the command line, ISO 8601 UTC, the time now.
 * No option parsing or output here (cli_util.h), so anything may use it.
 */
#ifndef KEYSUP_CLI_VALUES_H
#define KEYSUP_CLI_VALUES_H

#include <stddef.h>
#include <stdint.h>

/* Strict decimal u64 (no sign, no spaces, no overflow). */
int cli_parse_u64(const char *s, uint64_t *v);
/* Unix seconds, "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ". */
int cli_parse_time(const char *s, uint64_t *v);
/* "30d", "12h", "45m", "90s", "2w" -> seconds. */
int cli_parse_duration(const char *s, uint64_t *v);
/* ISO 8601 UTC of v into out (at least 32 bytes). */
void cli_fmt_time(char *out, size_t n, uint64_t v);
/* Current unix time. */
uint64_t cli_now(void);

#endif
