/*
 * cli_exchange.c - one challenge-response exchange with a running
 * keysup-controller over its control socket (docs/controller.md): ask for a
 * challenge for an action, have a key answer it (a key file or a PKCS#11
 * token, through cli_answer_fn), hand the response back and print the
 * decision. Kept apart from `key present` so the token code and the
 * key-file code both use it without including each other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_exchange.h"

/* One request line to the controller, one answer line back. */
static json_t *ctl_call(cli_ctx *cx, const char *path, json_t *req, int *ret)
{
    struct sockaddr_un sa;
    char buf[65536];
    size_t got = 0;
    ssize_t r;
    json_t *ans = NULL;
    char *line = json_dumps(req, JSON_COMPACT);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (!line) {
        *ret = cli_err(cx, CLI_IO, "IO", "%s: out of memory", cx->cmd);
        goto cleanup;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) < sizeof sa.sun_path)
        memcpy(sa.sun_path, path, strlen(path) + 1);
    if (strlen(path) >= sizeof sa.sun_path || fd < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        *ret = cli_err(cx, CLI_IO, "IO", "%s: cannot reach the controller at %s: %s", cx->cmd,
                       path, strerror(errno));
        goto cleanup;
    }
    size_t n = strlen(line);
    line[n] = '\n';
    if (write(fd, line, n + 1) != (ssize_t)(n + 1)) {
        *ret = cli_err(cx, CLI_IO, "IO", "%s: writing to %s failed", cx->cmd, path);
        goto cleanup;
    }
    while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)r;
        if (memchr(buf, '\n', got))
            break;
    }
    ans = json_loadb(buf, got, JSON_DISABLE_EOF_CHECK, NULL);
    if (!ans)
        *ret = cli_err(cx, CLI_IO, "IO", "%s: no answer from the controller at %s", cx->cmd, path);
cleanup:
    if (fd >= 0)
        close(fd);
    free(line);
    return ans;
}

/* A controller error answer -> our error output; returns the exit code. */
static int ctl_error(cli_ctx *cx, json_t *ans)
{
    json_t *e = json_object_get(ans, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *check = json_string_value(json_object_get(e, "check"));
    int kse = code && strncmp(code, "KSE-", 4) == 0;
    if (cx->json) {
        json_t *o = json_pack("{s:b}", "granted", 0);
        json_object_update(o, ans);
        cli_emit(cx, o);
    } else {
        const char *sym = json_string_value(json_object_get(e, "symbol"));
        fprintf(stderr, "keysup: %s%s%s: %s", code ? code : "ERROR", sym ? " " : "", sym ? sym : "",
                msg ? msg : "refused");
        if (check)
            fprintf(stderr, " (%s)", check);
        fputc('\n', stderr);
        if (json_array_size(json_object_get(ans, "missing_privileges")) > 0) {
            size_t i;
            json_t *p;
            fprintf(stderr, "  missing privilege:");
            json_array_foreach(json_object_get(ans, "missing_privileges"), i, p)
                fprintf(stderr, " %s", json_string_value(p) ? json_string_value(p) : "?");
            fputc('\n', stderr);
        }
        if (json_array_size(json_object_get(ans, "licence_features")) > 0) {
            size_t i;
            json_t *p;
            json_int_t lid = json_integer_value(json_object_get(ans, "licence_id"));
            fprintf(stderr, "  licence feature needed:");
            json_array_foreach(json_object_get(ans, "licence_features"), i, p)
                fprintf(stderr, " %s", json_string_value(p) ? json_string_value(p) : "?");
            if (lid > 0)
                fprintf(stderr, " (licence %lld)", (long long)lid);
            fputc('\n', stderr);
        }
        if (kse)
            fprintf(stderr, "  next step: `keysup error show %s`\n", code);
    }
    return kse || (code && strcmp(code, "BAD_REQUEST") != 0) ? CLI_REFUSED : CLI_USAGE;
}

/* Tells the controller the key failed (a reader would): it counts the cause. */
static void report_key_error(cli_ctx *cx, const char *sock, const char *reader, int key_err)
{
    int ret = CLI_OK;
    json_t *req = json_pack("{s:s,s:s,s:i}", "op", "respond", "reader", reader, "key_error",
                            ks_err_kse(key_err));
    json_t *ans = ctl_call(cx, sock, req, &ret);
    json_decref(req);
    json_decref(ans);
}

/*
 * One request (taken: freed here) and its answer. NULL with *ret set when
 * the controller could not be reached or answered an error (printed);
 * otherwise the answer, the caller's to free.
 */
static json_t *ctl_ask(cli_ctx *cx, const char *sock, json_t *req, int *ret)
{
    json_t *ans = ctl_call(cx, sock, req, ret);
    json_decref(req);
    if (ans && json_object_get(ans, "error")) {
        *ret = ctl_error(cx, ans);
        json_decref(ans);
        return NULL;
    }
    return ans;
}

int cli_present_ctl(cli_ctx *cx, const char *sock, const char *action, const char *reader,
                    int session, uint64_t ctr, cli_answer_fn answer, void *arg)
{
    int key_err = 0;
    uint8_t ch[KS_CHALLENGE_SIZE], resp[KS_RESPONSE_SIZE];
    char hex[2 * KS_RESPONSE_SIZE + 1];
    int ret = CLI_OK;
    json_t *ans = ctl_ask(cx, sock,
                          json_pack("{s:s,s:s,s:s}", "op", "challenge", "reader", reader, "action",
                                    action), &ret);
    if (!ans)
        return ret;
    const char *chh = json_string_value(json_object_get(ans, "challenge"));
    if (!chh || ks_unhex(ch, sizeof ch, chh)) {
        json_decref(ans);
        return cli_err(cx, CLI_IO, "IO", "%s: the controller sent no valid challenge", cx->cmd);
    }
    json_decref(ans);
    if ((ret = answer(cx, arg, ch, ctr, resp, &key_err)) != CLI_OK) {
        if (key_err)
            report_key_error(cx, sock, reader, key_err);
        return ret;
    }
    ks_hex(hex, resp, sizeof resp);
    ans = ctl_ask(cx, sock,
                  json_pack("{s:s,s:s,s:s,s:b}", "op", "respond", "reader", reader, "response",
                            hex, "session", session), &ret);
    if (!ans)
        return ret;
    if (json_is_true(json_object_get(ans, "second_supervisor_needed")) && !cx->json)
        fprintf(stderr, "first supervisor accepted: a second, different supervisor key must "
                        "now be presented for '%s'\n", action);
    return cli_emit(cx, ans); /* takes the answer */
}
