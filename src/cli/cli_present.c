/*
 * cli_present.c - `keysup key present KEYFILE --challenge HEX [--counter N]`:
 * answers a controller's 32-byte challenge with a software key, printing the
 * 128-byte response (docs/auth.md) in hex, so the whole authentication flow
 * runs without a hardware key.
 *
 * The use counter: a hardware key keeps its own; a key file has nowhere to
 * keep one, so without --counter the current time in microseconds is used,
 * which only grows (a controller refuses a counter at or below the last it
 * saw: KSE-206). An explicit --counter is for tests and replays on purpose.
 *
 * With --controller SOCKET --action NAME it plays the whole exchange with a
 * running keysup-controller (docs/controller.md): asks for the challenge,
 * answers it, and prints the decision; the exit code is 0 only when granted.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "cli_present.h"
#include "cli_exchange.h"
#include "cli_pkcs11.h"

static const char present_usage[] =
    "usage: keysup key present KEYFILE --challenge HEX [--counter N]\n"
    "                          [--passphrase-file F] [--json]\n"
    "       keysup key present KEYFILE --controller SOCKET --action NAME\n"
    "                          [--reader NAME] [--session] [--counter N]\n"
    "                          [--passphrase-file F] [--json]\n"
    "       keysup key present --pkcs11 URI (--challenge HEX | --controller SOCKET\n"
    "                          --action NAME ...) [--pin-file F] [--counter N] [--json]\n\n"
    "Answers a controller's challenge (64 hex digits) with the key in KEYFILE and\n"
    "prints the response (256 hex digits) to hand back to the controller. The\n"
    "response carries the key's use counter: --counter N, else the current time in\n"
    "microseconds (always above the last one). The passphrase is the first line of\n"
    "--passphrase-file, else $KEYSUP_PASSPHRASE.\n\n"
    "With --controller, talks to a running keysup-controller over its control socket:\n"
    "asks for a challenge for --action (void, refund, z_report, cal_c01, door_override,\n"
    "session, ...; docs/auth.md) at --reader (default reader-1), answers it, and prints\n"
    "the decision. --session opens a supervisor session on success. Exit 0 when\n"
    "granted (or when the first of two supervisors was accepted), 1 when refused with\n"
    "its KSE code, 3 when the controller cannot be reached.\n\n"
    "With --pkcs11 URI (RFC 7512, e.g. 'pkcs11:token=alice;object=keysup') the key\n"
    "answers on its PKCS#11 token (CKM_EDDSA) and never leaves it. The token's PIN is\n"
    "the first line of --pin-file, else $KEYSUP_PIN, else asked for on the terminal;\n"
    "with --controller it is asked for after the challenge, and a token that is\n"
    "absent, locked or pulled out is reported to the controller (KSE-207..213).\n";

/* A software key's answer (cli_answer_fn); arg is the key pair. */
typedef struct file_key {
    const uint8_t *pk, *sk;
} file_key;

static int file_answer(cli_ctx *cx, void *arg, const uint8_t ch[KS_CHALLENGE_SIZE], uint64_t ctr,
                       uint8_t resp[KS_RESPONSE_SIZE], int *key_err)
{
    const file_key *k = arg;
    int ret = ks_response_make(&cx->crypto, ch, ctr, k->pk, k->sk, resp);
    if (key_err)
        *key_err = 0;
    return ret ? cli_core_err(cx, ret, NULL, "%s: signing the response", cx->cmd) : CLI_OK;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int key_present(cli_ctx *cx, int argc, char **argv)
{
    const char *chal_s = NULL, *ctr_s = NULL, *pf = NULL, *pos[1];
    const char *sock = NULL, *action = NULL, *reader = NULL, *p11 = NULL, *pinfile = NULL;
    int session = 0;
    cli_opt opts[] = {
        {"--challenge", CLI_VALUE, &chal_s},
        {"--controller", CLI_VALUE, &sock},
        {"--action", CLI_VALUE, &action},
        {"--reader", CLI_VALUE, &reader},
        {"--session", CLI_FLAG, &session},
        {"--counter", CLI_VALUE, &ctr_s},
        {"--passphrase-file", CLI_VALUE, &pf},
        {"--pkcs11", CLI_VALUE, &p11},
        {"--pin-file", CLI_VALUE, &pinfile},
        {NULL, CLI_FLAG, NULL},
    };
    uint8_t ch[KS_CHALLENGE_SIZE], pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE];
    uint8_t resp[KS_RESPONSE_SIZE], id[KS_KEYID_SIZE];
    char hex[2 * KS_RESPONSE_SIZE + 1];
    uint64_t ctr;
    int npos = 0, ret;
    json_t *o;

    sodium_memzero(sk, sizeof sk);
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 1, &npos, present_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if ((npos == 1) == (p11 != NULL))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: give a KEYFILE or --pkcs11 URI (one of "
                       "them)", cx->cmd);
    if (pinfile && !p11)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --pin-file goes with --pkcs11", cx->cmd);
    if (sock && (chal_s || !action))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --controller takes --action NAME and no "
                       "--challenge", cx->cmd);
    if (!sock && !chal_s)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --challenge HEX (or --controller SOCKET "
                       "--action NAME) is required", cx->cmd);
    if (!sock && ks_unhex(ch, sizeof ch, chal_s))
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: --challenge must be exactly 64 hex digits (the controller's "
                       "32-byte challenge)", cx->cmd);
    if (ctr_s) {
        if (cli_parse_u64(ctr_s, &ctr) || ctr == 0)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: --counter must be a positive integer",
                           cx->cmd);
    } else {
        ctr = now_us();
    }
    if (p11)
        return key_present_p11(cx, p11, pinfile, sock ? NULL : ch, sock, action,
                               reader ? reader : "reader-1", session, ctr);
    ret = cli_load_key(cx, pos[0], pf, pk, sk);
    if (ret)
        goto cleanup;
    if (sock) {
        file_key k = {pk, sk};
        ret = cli_present_ctl(cx, sock, action, reader ? reader : "reader-1", session, ctr,
                              file_answer, &k);
        goto cleanup;
    }
    ret = ks_response_make(&cx->crypto, ch, ctr, pk, sk, resp);
    if (ret) {
        ret = cli_core_err(cx, ret, NULL, "%s: signing the response", cx->cmd);
        goto cleanup;
    }
    o = json_object();
    ks_key_id(&cx->crypto, id, pk);
    cli_set_hex(o, "key_id", id, sizeof id);
    cli_set_hex(o, "challenge", ch, sizeof ch);
    cli_set_u64(o, "use_counter", ctr);
    ks_hex(hex, resp, sizeof resp);
    cli_set_str(o, "response", hex);
    ret = cli_emit(cx, o);
cleanup:
    sodium_memzero(sk, sizeof sk);
    return ret;
}
