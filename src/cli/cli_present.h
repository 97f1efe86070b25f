/*
 * cli_present.h - `keysup key present`: a software key answers a
 * controller's challenge (the key's side of ks_auth, docs/auth.md).
 */
#ifndef KEYSUP_CLI_PRESENT_H
#define KEYSUP_CLI_PRESENT_H

#include "cli_util.h"

int key_present(cli_ctx *cx, int argc, char **argv);

/*
 * The key's side of one challenge: fills resp and returns CLI_OK, or prints
 * the error and returns its exit code. *key_err (may be NULL) is set to the
 * KSE error when the key itself failed (a token absent, locked, removed), so
 * the controller can be told, else 0.
 */
typedef int (*cli_answer_fn)(cli_ctx *cx, void *arg, const uint8_t ch[KS_CHALLENGE_SIZE],
                             uint64_t ctr, uint8_t resp[KS_RESPONSE_SIZE], int *key_err);

/* The whole exchange with a running controller at sock (see key_present). */
int cli_present_ctl(cli_ctx *cx, const char *sock, const char *action, const char *reader,
                    int session, uint64_t ctr, cli_answer_fn answer, void *arg);

#endif
