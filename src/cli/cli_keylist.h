/*
 * cli_keylist.h - the JSON key list `keysup snapshot build` reads
 * (docs/cli.md describes its fields): a bare array of keys, or an object
 * with a "keys" array as an export with metadata would be.
 */
#ifndef KEYSUP_CLI_KEYLIST_H
#define KEYSUP_CLI_KEYLIST_H

#include "cli_util.h"

/* Parses the key list at path into sorted, unique, encoded records
 * (malloc'd, *count of them). Prints the error and returns its exit code. */
int cli_keylist_load(cli_ctx *cx, const char *path, uint8_t **recs, uint32_t *count);

#endif
