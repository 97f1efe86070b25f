/*
 * cli_pkcs11.c - `keysup key keygen --pkcs11 URI` and `keysup key present
 * --pkcs11 URI`: Ed25519 keys that never leave a PKCS#11 token (ks_p11.h).
 *
 * The PIN: the first line of --pin-file, else $KEYSUP_PIN, else a prompt on
 * the terminal without echo. Never argv, never the URI (pin-value= is
 * refused): both are visible to every user of the machine in ps.
 *
 * With a controller, the PIN is asked for and the token opened only after
 * the controller has handed out its challenge, the order a reader uses:
 * whatever goes wrong with the token from then on (absent, wrong PIN,
 * locked, removed) is reported to the controller as the key's failure, so
 * the controller counts it with the other key causes (KSE-2xx) and the
 * supervisor's diagnosis sees it.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "cli_pkcs11.h"
#include "cli_exchange.h"
#include "ks_p11.h"

#define PIN_MAX 256

/* The first line of fd, at most PIN_MAX bytes; -1 when too long. */
static int read_line(int fd, char *buf, size_t *len)
{
    size_t n = 0;
    char c;
    ssize_t r;
    while ((r = read(fd, &c, 1)) == 1 && c != '\n') {
        if (n >= PIN_MAX)
            return -1;
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    *len = n;
    return r < 0 ? -1 : 0;
}

static int prompt_pin(cli_ctx *cx, const char *uri, char *buf, size_t *len)
{
    struct termios old, quiet;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY), rc;
    if (fd < 0)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: a PIN is needed: --pin-file FILE, "
                       "KEYSUP_PIN, or run on a terminal to be asked", cx->cmd);
    dprintf(fd, "PIN for %s: ", uri);
    int echo_off = tcgetattr(fd, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    rc = read_line(fd, buf, len);
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    close(fd);
    return rc ? cli_err(cx, CLI_USAGE, "USAGE", "%s: the PIN could not be read", cx->cmd)
              : CLI_OK;
}

/* Fills buf (PIN_MAX + 1 bytes) with the PIN. */
static int get_pin(cli_ctx *cx, const char *file, const char *uri, char *buf, size_t *len)
{
    const char *env = getenv("KEYSUP_PIN");
    int rc = CLI_OK;
    if (file) {
        int fd = open(file, O_RDONLY);
        if (fd < 0)
            return cli_io_err(cx, file, "read");
        rc = read_line(fd, buf, len);
        close(fd);
        if (rc)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: %s: the PIN's line is longer than %d "
                           "bytes or unreadable", cx->cmd, file, PIN_MAX);
    } else if (env) {
        *len = strlen(env);
        if (*len > PIN_MAX)
            return cli_err(cx, CLI_USAGE, "USAGE", "KEYSUP_PIN is longer than %d bytes", PIN_MAX);
        memcpy(buf, env, *len);
    } else {
        rc = prompt_pin(cx, uri, buf, len);
    }
    if (!rc && *len == 0)
        rc = cli_err(cx, CLI_USAGE, "USAGE", "%s: the PIN is empty", cx->cmd);
    return rc;
}

/* Asks for the PIN, opens the token, logs in. *kerr: the token's own error
 * (a KSE code) when that is what failed, else 0. The PIN comes first: the
 * holder is asked once the terminal wants the key, and the token is looked
 * for only when it must answer, as a reader does. */
static int token_open(cli_ctx *cx, const char *uri, const char *pinfile, ks_p11 **t, int *kerr)
{
    char pin[PIN_MAX + 1];
    size_t pinlen = 0;
    int rc;

    *t = NULL;
    *kerr = 0;
    char why[256];
    if (ks_p11_uri_check(uri, why, sizeof why) != KS_OK)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --pkcs11: %s", cx->cmd, why);
    rc = get_pin(cx, pinfile, uri, pin, &pinlen);
    if (rc)
        goto cleanup;
    rc = ks_p11_open(uri, t);
    if (rc == KS_E_INVAL) {
        rc = cli_err(cx, CLI_USAGE, "USAGE", "%s: %s", cx->cmd, ks_p11_detail(*t));
        goto cleanup;
    }
    if (!rc)
        rc = ks_p11_login(*t, pin, pinlen);
    if (rc) {
        *kerr = rc;
        rc = cli_core_err(cx, rc, NULL, "%s: %s", cx->cmd, ks_p11_detail(*t));
    }
cleanup:
    sodium_memzero(pin, sizeof pin);
    return rc;
}

int key_keygen_p11(cli_ctx *cx, const char *uri, const char *pinfile)
{
    uint8_t pk[KS_PUBKEY_SIZE], id[KS_KEYID_SIZE];
    ks_p11 *t = NULL;
    json_t *o;
    int kerr, rc = token_open(cx, uri, pinfile, &t, &kerr);
    if (rc)
        goto cleanup;
    rc = ks_p11_keygen(t, pk);
    if (rc == KS_E_INVAL) {
        rc = cli_err(cx, CLI_USAGE, "USAGE", "%s: %s", cx->cmd, ks_p11_detail(t));
        goto cleanup;
    }
    if (rc) {
        rc = cli_core_err(cx, rc, NULL, "%s: %s", cx->cmd, ks_p11_detail(t));
        goto cleanup;
    }
    o = json_object();
    ks_key_id(&cx->crypto, id, pk);
    cli_set_hex(o, "key_id", id, sizeof id);
    cli_set_hex(o, "public_key", pk, sizeof pk);
    cli_set_str(o, "pkcs11", uri);
    cli_set_str(o, "token", ks_p11_token_label(t));
    /* What the key really is, for `keysup key enrol --form`. */
    cli_set_str(o, "form_factor", "pkcs11");
    rc = cli_emit(cx, o);
cleanup:
    ks_p11_close(t);
    return rc;
}

int cli_p11_public_key(cli_ctx *cx, const char *uri, uint8_t pk[KS_PUBKEY_SIZE])
{
    char why[256];
    ks_p11 *t = NULL;
    int rc;
    if (ks_p11_uri_check(uri, why, sizeof why) != KS_OK)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --pkcs11: %s", cx->cmd, why);
    rc = ks_p11_open(uri, &t);
    if (!rc)
        rc = ks_p11_public_key(t, pk);
    if (rc)
        rc = cli_core_err(cx, rc, NULL, "%s: %s", cx->cmd, ks_p11_detail(t));
    ks_p11_close(t);
    return rc;
}

typedef struct p11_arg {
    const char *uri, *pinfile;
    uint8_t pk[KS_PUBKEY_SIZE];
} p11_arg;

/* cli_answer_fn: open, log in, find the key, sign the response on the token. */
static int p11_answer(cli_ctx *cx, void *argp, const uint8_t ch[KS_CHALLENGE_SIZE], uint64_t ctr,
                      uint8_t resp[KS_RESPONSE_SIZE], int *key_err)
{
    p11_arg *a = argp;
    uint8_t nosk[KS_SECKEY_SIZE];
    ks_crypto c;
    ks_p11 *t = NULL;
    int kerr = 0, rc = token_open(cx, a->uri, a->pinfile, &t, &kerr);

    if (rc)
        goto cleanup;
    kerr = ks_p11_find_key(t, a->pk);
    if (!kerr)
        kerr = ks_p11_crypto(t, &c);
    if (!kerr) {
        /* The token signs; the secret-key argument only carries the public
         * key, which the core reads from its second half. */
        memset(nosk, 0, 32);
        memcpy(nosk + 32, a->pk, KS_PUBKEY_SIZE);
        kerr = ks_response_make(&c, ch, ctr, a->pk, nosk, resp);
        if (kerr && ks_p11_error(t)) /* the sign op failed: the token said why */
            kerr = ks_p11_error(t);
    }
    if (kerr)
        rc = cli_core_err(cx, kerr, NULL, "%s: %s", cx->cmd, ks_p11_detail(t));
cleanup:
    if (key_err)
        *key_err = rc && ks_err_kse(kerr) ? kerr : 0;
    ks_p11_close(t);
    return rc;
}

int key_present_p11(cli_ctx *cx, const char *uri, const char *pinfile, const uint8_t *ch,
                    const char *sock, const char *action, const char *reader, int session,
                    uint64_t ctr)
{
    p11_arg a = {uri, pinfile, {0}};
    uint8_t resp[KS_RESPONSE_SIZE], id[KS_KEYID_SIZE];
    char hex[2 * KS_RESPONSE_SIZE + 1];
    json_t *o;
    int rc;

    if (sock)
        return cli_present_ctl(cx, sock, action, reader, session, ctr, p11_answer, &a);
    rc = p11_answer(cx, &a, ch, ctr, resp, NULL);
    if (rc)
        return rc;
    o = json_object();
    ks_key_id(&cx->crypto, id, a.pk);
    cli_set_hex(o, "key_id", id, sizeof id);
    cli_set_hex(o, "challenge", ch, KS_CHALLENGE_SIZE);
    cli_set_u64(o, "use_counter", ctr);
    ks_hex(hex, resp, sizeof resp);
    cli_set_str(o, "response", hex);
    cli_set_str(o, "pkcs11", uri);
    return cli_emit(cx, o);
}
