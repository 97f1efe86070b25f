/*
 * ctl_socket.c - the local control socket: one JSON object per line in,
 * one JSON object per line out. It plays the reader (challenge, respond),
 * the terminal (session actions, seal switch, finishing a transaction) and
 * the test bench (fault hooks). docs/controller.md lists every request.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "ctl_agent.h"
#include "ks_cred.h"

#define MAX_CLIENTS 16
#define LINE_MAX_BYTES 65536

static json_t *fail(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *fail(const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

static json_t *kse_fail(int err, const char *what)
{
    char code[32];
    int kse = ks_err_kse(err);
    if (kse)
        snprintf(code, sizeof code, "KSE-%d", kse);
    else
        snprintf(code, sizeof code, "%s", ks_err_name(err));
    json_t *e = json_pack("{s:s,s:s,s:s}", "code", code, "symbol", ks_err_name(err), "message",
                          ks_strerror(err));
    if (what)
        json_object_set_new(e, "check", json_string(what));
    return json_pack("{s:o}", "error", e);
}

/* Reader names are at most 16 bytes, zero padded into the reader id. */
static int reader_id(json_t *req, uint8_t out[KS_READER_ID_SIZE], json_t **err)
{
    const char *r = json_string_value(json_object_get(req, "reader"));
    if (!r)
        r = "reader-1";
    size_t n = strlen(r);
    if (n == 0 || n > KS_READER_ID_SIZE) {
        *err = fail("BAD_REQUEST", "reader: a name of 1 to 16 bytes, got '%s'", r);
        return -1;
    }
    memset(out, 0, KS_READER_ID_SIZE);
    memcpy(out, r, n);
    return 0;
}

static const ks_action_def *action_arg(json_t *req, json_t **err)
{
    const char *name = json_string_value(json_object_get(req, "action"));
    const ks_action_def *def = name ? ks_action_by_name(name, strlen(name)) : NULL;
    if (!def)
        *err = fail("BAD_REQUEST", "action: unknown action '%s' (see docs/auth.md)", name ? name : "");
    return def;
}

static uint64_t now_of(ctl_agent *a)
{
    uint64_t now = 0;
    if (a->auth_ready)
        (void)ks_auth_now(&a->auth, &now);
    return now ? now : ctl_rtc(a);
}

/* The declared degraded policy once the database is too old (KSE-110). */
static int degraded_refuses(ctl_agent *a, const ks_action_def *def)
{
    int trusted = 0, refuse;
    if (!ctl_stale(a, ctl_now(a, &trusted)))
        return 0;
    switch (a->set.degraded) {
    case CTL_DEGRADED_ALLOW: refuse = 0; break;
    case CTL_DEGRADED_DENY_ALL: refuse = 1; break;
    default: refuse = ks_action_needs_supervisor(def);
    }
    /* "Stale" by a clock the engine does not trust (a jump): the age cannot
     * be judged, and the cause to name is the clock, not the link. */
    if (!trusted) {
        uint64_t now;
        int cerr = a->auth_ready ? ks_auth_now(&a->auth, &now) : KS_E_RTC_FAILURE;
        return cerr ? cerr : KS_E_CLOCK_SKEW;
    }
    return refuse ? KS_E_SYNC_STALE : 0;
}

static json_t *op_challenge(ctl_agent *a, json_t *req)
{
    uint8_t reader[KS_READER_ID_SIZE], ch[KS_CHALLENGE_SIZE];
    char hex[2 * KS_CHALLENGE_SIZE + 1];
    json_t *err = NULL;
    const ks_action_def *def;
    if (reader_id(req, reader, &err) || !(def = action_arg(req, &err)))
        return err;
    int derr = degraded_refuses(a, def);
    if (derr) {
        ctl_note_refusal(a, derr, now_of(a));
        return kse_fail(derr, derr == KS_E_SYNC_STALE ? "controller.degraded_policy" : "auth.clock");
    }
    int rc = ks_auth_challenge(&a->auth, reader, def->id, ch);
    if (rc) {
        ctl_note_refusal(a, rc, now_of(a));
        return kse_fail(rc, NULL);
    }
    sodium_bin2hex(hex, sizeof hex, ch, sizeof ch);
    return json_pack("{s:s,s:s}", "challenge", hex, "action", def->name);
}

static json_t *result_json(ctl_agent *a, int rc, const ks_auth_result *res)
{
    char hex[33];
    json_t *o = json_object();
    const ks_action_def *def = ks_action_find(res->action);
    json_object_set_new(o, "granted", json_boolean(rc == KS_OK));
    json_object_set_new(o, "second_supervisor_needed", json_boolean(rc == KS_AUTH_SECOND));
    json_object_set_new(o, "action", json_string(def ? def->name : "?"));
    if (res->key_known) {
        sodium_bin2hex(hex, sizeof hex, res->record.key_id, KS_KEYID_SIZE);
        json_object_set_new(o, "key_id", json_string(hex));
        json_object_set_new(o, "holder_id", json_integer((json_int_t)res->record.holder_id));
    }
    if (res->session)
        json_object_set_new(o, "session", json_integer(res->session));
    if (rc < 0) {
        json_t *e = kse_fail(rc, res->what);
        json_object_update(o, e);
        json_decref(e);
        if (rc == KS_E_NOT_SUPERVISOR && def && res->key_known) {
            /* Name what is missing (REFUND), not only that something is. */
            uint64_t miss = def->privileges & ~res->record.privileges;
            json_t *m = json_array();
            for (unsigned b = 0; b < 64; b++) {
                const char *name = (miss >> b) & 1u ? ks_priv_name(1ull << b) : NULL;
                if ((miss >> b) & 1u)
                    json_array_append_new(m, json_string(name ? name : "?"));
            }
            json_object_set_new(o, "missing_privileges", m);
        }
        ctl_note_refusal(a, rc, res->time ? res->time : now_of(a));
    }
    return o;
}

static json_t *op_respond(ctl_agent *a, json_t *req)
{
    uint8_t reader[KS_READER_ID_SIZE], resp[KS_RESPONSE_SIZE + 1];
    size_t len = 0;
    json_t *err = NULL;
    const char *hex = json_string_value(json_object_get(req, "response"));
    json_t *kerr = json_object_get(req, "key_error");
    if (reader_id(req, reader, &err))
        return err;
    if (kerr) {
        /* The reader says the key failed before it could answer (a token
         * absent, locked, pulled out): no decision, but the cause is counted
         * like the key causes the engine finds itself. */
        json_int_t code = json_integer_value(kerr);
        if (!json_is_integer(kerr) || code < 200 || code > 299 || !ks_err_kse(-(int)code))
            return fail("BAD_REQUEST", "key_error: a key cause KSE-2xx expected");
        ctl_note_refusal(a, -(int)code, now_of(a));
        return kse_fail(-(int)code, "key.reader");
    }
    if (!hex || sodium_hex2bin(resp, sizeof resp, hex, strlen(hex), NULL, &len, NULL) != 0)
        return fail("BAD_REQUEST", "response: hex of the key's %d-byte answer expected", KS_RESPONSE_SIZE);
    unsigned flags = json_is_true(json_object_get(req, "session")) ? KS_AUTH_F_SESSION : 0;
    ks_auth_result res;
    memset(&res, 0, sizeof res);
    int rc = ks_auth_respond(&a->auth, reader, resp, len, flags, &res);
    return result_json(a, rc, &res);
}

static json_t *op_session_action(ctl_agent *a, json_t *req)
{
    uint8_t reader[KS_READER_ID_SIZE];
    json_t *err = NULL;
    const ks_action_def *def;
    if (reader_id(req, reader, &err) || !(def = action_arg(req, &err)))
        return err;
    json_int_t session = json_integer_value(json_object_get(req, "session"));
    int derr = degraded_refuses(a, def);
    if (derr) {
        ctl_note_refusal(a, derr, now_of(a));
        return kse_fail(derr, derr == KS_E_SYNC_STALE ? "controller.degraded_policy" : "auth.clock");
    }
    ks_auth_result res;
    memset(&res, 0, sizeof res);
    int rc = ks_auth_session_action(&a->auth, (uint32_t)session, reader, def->id, &res);
    res.action = def->id;
    return result_json(a, rc, &res);
}

static json_t *op_fault(ctl_agent *a, json_t *req)
{
    const char *kind = json_string_value(json_object_get(req, "kind"));
    json_t *v = json_object_get(req, "value");
    if (!kind)
        return fail("BAD_REQUEST", "kind: one of corrupt_sector, skew_clock, rtc_reset, "
                                   "drop_link, protocol, power_cut");
    if (strcmp(kind, "skew_clock") == 0) {
        a->rtc_skew = json_integer_value(v);
    } else if (strcmp(kind, "rtc_reset") == 0) {
        a->rtc_reset = json_is_true(v);
    } else if (strcmp(kind, "drop_link") == 0) {
        a->link_down = json_is_true(v);
    } else if (strcmp(kind, "protocol") == 0) {
        a->o.protocol = (int)json_integer_value(v);
    } else if (strcmp(kind, "power_cut") == 0) {
        /* The k-th write from now fails and the agent dies as if unplugged. */
        ks_flash_emu_cut(&a->flash, (long)json_integer_value(v), KS_EMU_TORN, (uint64_t)time(NULL));
    } else if (strcmp(kind, "corrupt_sector") == 0) {
        /* Flip one bit inside the first applied record (its public key),
         * as a surge on that sector would. */
        const ks_store *st = &a->store;
        uint64_t byte;
        if (st->cur.valid && st->cur.count > 0)
            byte = (uint64_t)st->area_first[st->cur.area] * CTL_SECTOR_SIZE + 40;
        else if (st->ovl_n > 0) /* every key arrived by delta: hit the overlay */
            byte = (uint64_t)st->cfg.overlay[0].addr + 40;
        else
            return fail("CONFLICT", "corrupt_sector: no records are applied");
        uint32_t sector = (uint32_t)(byte / CTL_SECTOR_SIZE);
        uint64_t bit = byte * 8 + 3;
        ks_flash_emu_flip(&a->flash, bit);
        /* Write the damage through to the file, as a surge would. */
        json_object_set_new(req, "sector", json_integer(sector));
    } else if (strcmp(kind, "max_offline") == 0) {
        /* Diagnosis tests (issue 7): a maximum offline age of seconds, not a
         * day, so KSE-110 can be reached in a test. Kept in RAM only. */
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return fail("BAD_REQUEST", "value: max_offline needs a number of seconds");
        a->set.max_offline = (uint32_t)json_integer_value(v);
    } else {
        return fail("BAD_REQUEST", "kind: unknown fault '%s'", kind);
    }
    return json_pack("{s:b,s:s}", "ok", 1, "fault", kind);
}

json_t *ctl_handle(ctl_agent *a, json_t *req)
{
    const char *op = json_string_value(json_object_get(req, "op"));
    if (!op)
        return fail("BAD_REQUEST", "op: missing");
    if (strcmp(op, "status") == 0)
        return ctl_status_json(a);
    if (strcmp(op, "seal") == 0) {
        a->seal_on = json_is_true(json_object_get(req, "on"));
        return json_pack("{s:b}", "seal_on", a->seal_on);
    }
    if (strcmp(op, "fault") == 0)
        return op_fault(a, req);
    if (strcmp(op, "enter_code") == 0) {
        /* Replace Supervisor Credential: the code the operator was given,
         * typed here; the pending command checks it at the next heartbeat. */
        const char *code = json_string_value(json_object_get(req, "code"));
        if (!code || strlen(code) >= sizeof a->entered_code)
            return fail("BAD_REQUEST", "code: the one-time code (8 digits)");
        snprintf(a->entered_code, sizeof a->entered_code, "%s", code);
        if (a->rc_command) {
            /* Say which key the code is about to authorise. */
            char fp[KS_FINGERPRINT_LEN + 1];
            ks_key_fingerprint(&a->crypto, a->rc_pk, fp);
            return json_pack("{s:b,s:I,s:s}", "ok", 1, "command", (json_int_t)a->rc_command,
                             "new_key_fingerprint", fp);
        }
        return json_pack("{s:b}", "ok", 1);
    }
    if (!a->auth_ready)
        return fail("NOT_ENROLLED", "this controller is not enrolled: run `keysup-controller "
                                    "enroll --supervisor URL --token T`");
    if (strcmp(op, "challenge") == 0)
        return op_challenge(a, req);
    if (strcmp(op, "respond") == 0)
        return op_respond(a, req);
    if (strcmp(op, "session_action") == 0)
        return op_session_action(a, req);
    if (strcmp(op, "session_close") == 0) {
        int rc = ks_auth_session_close(&a->auth, (uint32_t)json_integer_value(json_object_get(req, "session")));
        return rc ? kse_fail(rc, NULL) : json_pack("{s:b}", "ok", 1);
    }
    if (strcmp(op, "txn_done") == 0) {
        int rc = ks_auth_txn_done(&a->auth);
        return rc ? kse_fail(rc, NULL) : json_pack("{s:b}", "ok", 1);
    }
    return fail("BAD_REQUEST", "op: unknown '%s'", op);
}

/* ----- the poll loop ----- */

typedef struct client {
    int fd;
    char *buf;
    size_t len;
} client;

static int listen_unix(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        close(fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    chmod(path, 0660);
    return fd;
}

static void answer(ctl_agent *a, client *c, const char *line, size_t n)
{
    json_error_t je;
    json_t *req = json_loadb(line, n, 0, &je), *out;
    if (!req || !json_is_object(req))
        out = fail("BAD_REQUEST", "not a JSON object: %s", req ? "" : je.text);
    else
        out = ctl_handle(a, req);
    json_decref(req);
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (s) {
        size_t len = strlen(s);
        s[len] = '\n';
        ssize_t w = write(c->fd, s, len + 1);
        (void)w;
        free(s);
    }
}

static void drop(client *c)
{
    close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
    c->len = 0;
}

static void on_readable(ctl_agent *a, client *c)
{
    char tmp[4096];
    ssize_t n = read(c->fd, tmp, sizeof tmp);
    if (n <= 0) {
        drop(c);
        return;
    }
    if (c->len + (size_t)n > LINE_MAX_BYTES) {
        drop(c);
        return;
    }
    char *nb = realloc(c->buf, c->len + (size_t)n);
    if (!nb) {
        drop(c);
        return;
    }
    c->buf = nb;
    memcpy(c->buf + c->len, tmp, (size_t)n);
    c->len += (size_t)n;
    char *nl;
    while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
        size_t line = (size_t)(nl - c->buf);
        answer(a, c, c->buf, line);
        if (!a->flash.powered) {
            fprintf(stderr, "keysup-controller: power cut (fault hook): dying mid-write\n");
            _exit(99);
        }
        memmove(c->buf, nl + 1, c->len - line - 1);
        c->len -= line + 1;
    }
}

int ctl_serve(ctl_agent *a)
{
    client cl[MAX_CLIENTS];
    struct pollfd pfd[MAX_CLIENTS + 1];
    int lfd = listen_unix(a->o.socket_path);
    if (lfd < 0) {
        fprintf(stderr, "keysup-controller: cannot listen on %s: %s\n", a->o.socket_path,
                strerror(errno));
        return KS_E_IO;
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        cl[i].fd = -1, cl[i].buf = NULL, cl[i].len = 0;
    /* The heartbeat runs in its own thread (ctl_thread.c): this loop only
     * decides, and never waits on the network. */
    int terr = ctl_sync_start(a);
    if (terr) {
        fprintf(stderr, "keysup-controller: cannot start the sync thread: %s\n", strerror(terr));
        close(lfd);
        return KS_E_IO;
    }
    while (!a->stop) {
        ctl_lock(a);
        ctl_link_watch(a);
        ctl_unlock(a);
        int n = 0;
        pfd[n].fd = lfd;
        pfd[n++].events = POLLIN;
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (cl[i].fd >= 0) {
                pfd[n].fd = cl[i].fd;
                pfd[n++].events = POLLIN;
            }
        int r = poll(pfd, (nfds_t)n, 200);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        for (int k = 1; k < n; k++)
            if (pfd[k].revents)
                for (int i = 0; i < MAX_CLIENTS; i++)
                    if (cl[i].fd == pfd[k].fd) {
                        ctl_lock(a);
                        on_readable(a, &cl[i]);
                        ctl_unlock(a);
                    }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            int placed = 0;
            for (int i = 0; fd >= 0 && i < MAX_CLIENTS && !placed; i++)
                if (cl[i].fd < 0) {
                    cl[i].fd = fd;
                    placed = 1;
                }
            if (fd >= 0 && !placed)
                close(fd);
        }
    }
    ctl_sync_stop(a);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (cl[i].fd >= 0)
            drop(&cl[i]);
    close(lfd);
    unlink(a->o.socket_path);
    return KS_OK;
}
