/*
 * cli_present.h - `keysup key present`: a software key answers a
 * controller's challenge (the key's side of ks_auth, docs/auth.md).
 */
#ifndef KEYSUP_CLI_PRESENT_H
#define KEYSUP_CLI_PRESENT_H

#include "cli_util.h"

int key_present(cli_ctx *cx, int argc, char **argv);

#endif
