/*
 * cli_exchange.h - the whole exchange with a running controller: challenge,
 * a key's answer, decision (see cli_exchange.c).
 */
#ifndef KEYSUP_CLI_EXCHANGE_H
#define KEYSUP_CLI_EXCHANGE_H

#include "cli_util.h"

/*
 * The key's side of one challenge: fills resp and returns CLI_OK, or prints
 * the error and returns its exit code. *key_err (may be NULL) is set to the
 * KSE error when the key itself failed (a token absent, locked, removed), so
 * the controller can be told, else 0.
 */
typedef int (*cli_answer_fn)(cli_ctx *cx, void *arg, const uint8_t ch[KS_CHALLENGE_SIZE],
                             uint64_t ctr, uint8_t resp[KS_RESPONSE_SIZE], int *key_err);

/*
 * Asks the controller at sock for a challenge for action at reader, has
 * answer(arg) sign it with use counter ctr, sends the response (opening a
 * supervisor session when session is set) and prints the decision. Returns
 * CLI_OK only when granted (or the first of two supervisors was accepted).
 */
int cli_present_ctl(cli_ctx *cx, const char *sock, const char *action, const char *reader,
                    int session, uint64_t ctr, cli_answer_fn answer, void *arg);

#endif
