/*
 * cli_diag.h - what `keysup diagnose` and `keysup incident(s)` share: the
 * incident table with MTTD and MTTR (docs/diagnosis.md defines them).
 */
#ifndef KEYSUP_CLI_DIAG_H
#define KEYSUP_CLI_DIAG_H

#include <jansson.h>

/* Prints heading then a table of incidents (nothing for an empty array). */
void cli_diag_print_incidents(json_t *items, const char *heading);
/* "1.234 s", "-" for null, into out. */
void cli_diag_ms(char *out, size_t n, json_t *ms);

#endif
