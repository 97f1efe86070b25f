/*
 * cmd_snapshot_fetch.c - `keysup snapshot fetch --scope N --out FILE`: the
 * published snapshot of a scope, as its controllers download it, for an
 * auditor to verify offline with `keysup snapshot verify` (docs/audit.md).
 * The file is checked for structure before it is written, so what lands on
 * disk is a snapshot; who signed it is left to `verify`, against a key the
 * auditor trusts, not to this download.
 */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_snap.h"
#include "cli_http.h"
#include "ks_httpc.h"

static const char fetch_usage[] =
    "usage: keysup snapshot fetch --scope N --out FILE [--force]\n\n"
    "Downloads the snapshot keysupd publishes for scope N (GET /v1/snapshots/N, an\n"
    "auditor token is enough): the bytes the scope's controllers install. It is\n"
    "checked for structure before FILE (mode 0644) is written; verify who signed\n"
    "it with `keysup snapshot verify FILE --trust KEY` (the key from `keysup\n"
    "supervisor show`). Refuses to replace FILE unless --force.\n"
    CLI_REMOTE_USAGE;

int snap_fetch(cli_ctx *cx, int argc, char **argv)
{
    cli_remote r = {NULL, NULL};
    const char *scope_s = NULL, *outf = NULL;
    int npos = 0, force = 0, ret;
    uint64_t scope = 0;
    cli_opt opts[] = {
        CLI_REMOTE_OPTS(&r),
        {"--scope", CLI_VALUE, &scope_s}, {"--out", CLI_VALUE, &outf},
        {"--force", CLI_FLAG, &force}, {NULL, CLI_FLAG, NULL},
    };
    ks_httpc_buf b = {NULL, 0, 0, 0};
    ks_snap_header h;
    ks_diag d = {0, 0, NULL};
    char path[64];

    ret = cli_parse(cx, argc, argv, opts, NULL, 0, 0, &npos, fetch_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!scope_s || !outf)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --scope N and --out FILE are required",
                       cx->cmd);
    if (cli_parse_u64(scope_s, &scope) || scope > UINT32_MAX)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --scope must be a scope number, got '%s'",
                       cx->cmd, scope_s);
    snprintf(path, sizeof path, "/v1/snapshots/%llu", (unsigned long long)scope);
    ret = cli_get_file(cx, &r, path, &b);
    if (ret)
        goto cleanup;
    /* The header must decode and promise exactly the bytes that came: a
     * proxy's error page or a cut download is not written as a snapshot. */
    if (b.n < KS_SNAP_HEADER_SIZE || ks_snap_header_decode(&h, b.p, &d) != KS_OK ||
        (size_t)KS_SNAP_HEADER_SIZE + (size_t)h.record_count * KS_RECORD_SIZE != b.n) {
        ret = cli_err(cx, CLI_REFUSED, "FORMAT", "%s: the answer (%zu bytes) is not a snapshot; "
                      "nothing written", cx->cmd, b.n);
        goto cleanup;
    }
    ret = cli_write(cx, outf, b.p, b.n, 0644, force);
    if (ret)
        goto cleanup;
    if (cx->json) {
        json_t *o = json_object();
        cli_set_str(o, "file", outf);
        json_object_set_new(o, "size", json_integer((json_int_t)b.n));
        cli_header_json(o, &h);
        ret = cli_emit(cx, o);
    } else {
        printf("file:         %s\nscope:        %u\nversion:      %llu\nrecord_count: %u\n"
               "size:         %zu\nnext step:    keysup snapshot verify %s --trust KEY"
               " (KEY: `keysup supervisor show`)\n",
               outf, h.scope, (unsigned long long)h.version, h.record_count, b.n, outf);
    }
cleanup:
    ks_httpc_buf_free(&b);
    return ret;
}
