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
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "cli_present.h"

static const char present_usage[] =
    "usage: keysup key present KEYFILE --challenge HEX [--counter N]\n"
    "                          [--passphrase-file F] [--json]\n\n"
    "Answers a controller's challenge (64 hex digits) with the key in KEYFILE and\n"
    "prints the response (256 hex digits) to hand back to the controller. The\n"
    "response carries the key's use counter: --counter N, else the current time in\n"
    "microseconds (always above the last one). The passphrase is the first line of\n"
    "--passphrase-file, else $KEYSUP_PASSPHRASE.\n";

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int key_present(cli_ctx *cx, int argc, char **argv)
{
    const char *chal_s = NULL, *ctr_s = NULL, *pf = NULL, *pos[1];
    cli_opt opts[] = {
        {"--challenge", CLI_VALUE, &chal_s},
        {"--counter", CLI_VALUE, &ctr_s},
        {"--passphrase-file", CLI_VALUE, &pf},
        {NULL, CLI_FLAG, NULL},
    };
    uint8_t ch[KS_CHALLENGE_SIZE], pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE];
    uint8_t resp[KS_RESPONSE_SIZE], id[KS_KEYID_SIZE];
    char hex[2 * KS_RESPONSE_SIZE + 1];
    uint64_t ctr;
    int npos = 0, ret;
    json_t *o;

    sodium_memzero(sk, sizeof sk);
    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, present_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!chal_s)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --challenge HEX is required", cx->cmd);
    if (cli_unhex(ch, sizeof ch, chal_s))
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
    ret = cli_load_key(cx, pos[0], pf, pk, sk);
    if (ret)
        goto cleanup;
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
    cli_hex(hex, resp, sizeof resp);
    cli_set_str(o, "response", hex);
    ret = cli_emit(cx, o);
cleanup:
    sodium_memzero(sk, sizeof sk);
    return ret;
}
