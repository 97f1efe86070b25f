/*
 * cmd_snapshot.c - `keysup snapshot build|inspect|verify`.
 *
 * The key list a snapshot is built from is read by cli_keylist.c; the
 * snapshot files by cli_snap.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cli_cmds.h"
#include "cli_keylist.h"
#include "cli_snap.h"

/* ----- build ----- */

static const char build_usage[] =
    "usage: keysup snapshot build --keys KEYS.json --signer KEYFILE --version N --out FILE\n"
    "                             [--expires DURATION|UNIX|never] [--created UNIX]\n"
    "                             [--scope N] [--passphrase-file F] [--force] [--json]\n\n"
    "Builds a signed snapshot from a JSON key list (docs/cli.md describes its fields).\n"
    "--expires is a duration after --created (30d, 12h, 45m, 2w; default 30d), an\n"
    "absolute time (unix seconds or YYYY-MM-DDTHH:MM:SSZ), or never. --created\n"
    "defaults to now. The signer's passphrase: --passphrase-file or $KEYSUP_PASSPHRASE.\n";

static int snap_build(cli_ctx *cx, int argc, char **argv)
{
    const char *keys = NULL, *signer = NULL, *ver_s = NULL, *out = NULL, *exp_s = NULL;
    const char *created_s = NULL, *scope_s = NULL, *pf = NULL, *pos[1];
    int force = 0, npos = 0, ret;
    cli_opt opts[] = {
        {"--keys", CLI_VALUE, &keys},
        {"--signer", CLI_VALUE, &signer},
        {"--version", CLI_VALUE, &ver_s},
        {"--out", CLI_VALUE, &out},
        {"--expires", CLI_VALUE, &exp_s},
        {"--created", CLI_VALUE, &created_s},
        {"--scope", CLI_VALUE, &scope_s},
        {"--passphrase-file", CLI_VALUE, &pf},
        {"--force", CLI_FLAG, &force},
        {NULL, CLI_FLAG, NULL},
    };
    uint8_t pk[KS_PUBKEY_SIZE], sk[KS_SECKEY_SIZE], *recs = NULL, *img = NULL;
    uint32_t count = 0;
    uint64_t x;
    size_t img_len;
    ks_snap_header h;
    json_t *o;

    sodium_memzero(sk, sizeof sk);
    ret = cli_parse(cx, argc, argv, opts, pos, 0, 0, &npos, build_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!keys || !signer || !ver_s || !out)
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: --keys, --signer, --version and --out are required", cx->cmd);
    memset(&h, 0, sizeof h);
    if (cli_parse_u64(ver_s, &h.version))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --version must be a non-negative integer",
                       cx->cmd);
    h.created_at = cli_now();
    if (created_s && cli_parse_time(created_s, &h.created_at))
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: --created must be unix seconds or YYYY-MM-DDTHH:MM:SSZ", cx->cmd);
    if (scope_s) {
        if (cli_parse_u64(scope_s, &x) || x > UINT32_MAX)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: --scope must be 0..4294967295", cx->cmd);
        h.scope = (uint32_t)x;
    }
    if (!exp_s) {
        h.expires_at = h.created_at + 30u * 86400u;
    } else if (strcmp(exp_s, "never") == 0) {
        h.expires_at = 0;
    } else if (cli_parse_duration(exp_s, &x) == 0) {
        if (x > UINT64_MAX - h.created_at)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: --expires is too far away", cx->cmd);
        h.expires_at = h.created_at + x;
    } else if (cli_parse_time(exp_s, &h.expires_at) == 0) {
        if (h.expires_at <= h.created_at)
            return cli_err(cx, CLI_USAGE, "USAGE",
                           "%s: --expires %s is not after the creation time %llu", cx->cmd,
                           exp_s, (unsigned long long)h.created_at);
    } else {
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: --expires must be a duration (30d, 12h, 45m, 90s, 2w), unix "
                       "seconds, YYYY-MM-DDTHH:MM:SSZ or never", cx->cmd);
    }

    ret = cli_keylist_load(cx, keys, &recs, &count);
    if (ret)
        goto cleanup;
    ret = cli_load_key(cx, signer, pf, pk, sk);
    if (ret)
        goto cleanup;
    img_len = KS_SNAP_HEADER_SIZE + (size_t)count * KS_RECORD_SIZE;
    img = malloc(img_len);
    if (!img) {
        ret = cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
        goto cleanup;
    }
    ret = ks_snapshot_write(&cx->crypto, &h, recs, count, sk, img, img_len);
    if (ret) {
        ret = cli_core_err(cx, ret, NULL, "%s: writing the snapshot", cx->cmd);
        goto cleanup;
    }
    ret = cli_write(cx, out, img, img_len, 0644, force);
    if (ret)
        goto cleanup;
    o = json_object();
    cli_set_str(o, "file", out);
    cli_header_json(o, &h);
    cli_set_u64(o, "size", img_len);
    ret = cli_emit(cx, o);
cleanup:
    sodium_memzero(sk, sizeof sk);
    free(recs);
    free(img);
    return ret;
}

/* ----- inspect ----- */

static const char inspect_usage[] =
    "usage: keysup snapshot inspect FILE [--records] [--json]\n\n"
    "Shows a snapshot's header and checks its structure: size, record order, record\n"
    "format and whether the records hash to the header's Merkle root. It does not\n"
    "check who signed it (that is `keysup snapshot verify`).\n";

static int snap_inspect(cli_ctx *cx, int argc, char **argv)
{
    const char *pos[1];
    int records = 0, npos = 0, ret;
    cli_opt opts[] = {{"--records", CLI_FLAG, &records}, {NULL, CLI_FLAG, NULL}};
    cli_snap s;
    ks_recsrc src;
    uint8_t root[KS_HASH_SIZE];
    json_t *o, *arr;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, inspect_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = cli_snap_load(cx, pos[0], &s);
    if (ret)
        goto cleanup;
    ret = cli_snap_check_records(cx, pos[0], &s);
    if (ret)
        goto cleanup;
    ks_recsrc_mem(&src, s.records, s.count);
    ret = ks_merkle_root(&cx->crypto, &src, s.h.bucket_bits, root);
    if (ret) {
        ret = cli_core_err(cx, ret, NULL, "snapshot %s: computing the root", pos[0]);
        goto cleanup;
    }
    o = json_object();
    cli_set_str(o, "file", pos[0]);
    cli_set_u64(o, "size", s.len);
    cli_header_json(o, &s.h);
    cli_set_bool(o, "root_matches", memcmp(root, s.h.root, KS_HASH_SIZE) == 0);
    cli_set_hex(o, "signature", s.h.signature, KS_SIG_SIZE);
    if (records) {
        arr = json_array();
        for (uint32_t i = 0; i < s.count; i++) {
            ks_record r;
            (void)ks_record_decode(&r, s.records + (size_t)i * KS_RECORD_SIZE, NULL);
            json_array_append_new(arr, cli_record_json(&r));
        }
        json_object_set_new(o, "records", arr);
    }
    ret = cli_emit(cx, o);
cleanup:
    cli_snap_free(&s);
    return ret;
}

/* ----- verify ----- */

static const char verify_usage[] =
    "usage: keysup snapshot verify FILE --trust PUBKEY_HEX|KEYFILE... [--rotation CHAIN]\n"
    "                              [--applied-version N] [--now UNIX] [--json]\n\n"
    "Verifies a snapshot as a controller would: structure, records, Merkle root, the\n"
    "signer against the trusted keys (after following the rotation chain, if any),\n"
    "the signature, rollback against --applied-version and expiry against --now\n"
    "(default: the current time). Exit 0 only when the snapshot is valid; otherwise\n"
    "exit 1 with the KSE code or format error and where it was found.\n";

static int snap_verify(cli_ctx *cx, int argc, char **argv)
{
    const char *rotation = NULL, *now_s = NULL, *applied_s = NULL, *pos[1];
    cli_list trust = {{NULL}, 0};
    int npos = 0, ret;
    cli_opt opts[] = {
        {"--trust", CLI_LIST, &trust},
        {"--rotation", CLI_VALUE, &rotation},
        {"--now", CLI_VALUE, &now_s},
        {"--applied-version", CLI_VALUE, &applied_s},
        {NULL, CLI_FLAG, NULL},
    };
    uint8_t *buf = NULL;
    size_t len = 0;
    ks_trust t;
    ks_policy p;
    ks_snap_header h;
    ks_diag d = {0, 0, NULL};
    json_t *o;

    ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, verify_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ret = cli_trust_setup(cx, &trust, rotation, &t);
    if (ret)
        return ret;
    ret = cli_policy_setup(cx, now_s, applied_s, &t, &p);
    if (ret)
        return ret;
    ret = cli_read(cx, pos[0], CLI_SNAP_READ_MAX, &buf, &len);
    if (ret)
        return ret;
    memset(&h, 0, sizeof h);
    if (cli_snap_other_kind(buf, len)) {
        ret = cli_err(cx, CLI_REFUSED, "FORMAT", "%s is not a snapshot: it is %s", pos[0],
                      cli_snap_other_kind(buf, len));
        free(buf);
        return ret;
    }
    ret = ks_snapshot_verify(&cx->crypto, buf, len, &p, &h, &d);
    if (ret == KS_E_ROLLBACK)
        ret = cli_core_err(cx, ret, &d, "snapshot %s: version %llu is below the applied version %llu",
                           pos[0], (unsigned long long)h.version,
                           (unsigned long long)p.applied_version);
    else if (ret == KS_E_SNAPSHOT_EXPIRED) {
        char when[40];
        cli_fmt_time(when, sizeof when, h.expires_at);
        ret = cli_core_err(cx, ret, &d, "snapshot %s: authentic, but expired at %s", pos[0],
                           when);
    } else if (ret) {
        ret = cli_core_err(cx, ret, &d, "snapshot %s", pos[0]);
    } else {
        o = json_object();
        cli_set_str(o, "file", pos[0]);
        cli_set_bool(o, "valid", 1);
        cli_header_json(o, &h);
        cli_set_time(o, "checked_at", p.now, 0);
        ret = cli_emit(cx, o);
    }
    free(buf);
    return ret;
}

static const cli_verb verbs[] = {
    {"build", "build and sign a snapshot from a JSON key list", snap_build},
    {"inspect", "show a snapshot's header and check its structure", snap_inspect},
    {"verify", "verify a snapshot against trusted supervisor keys", snap_verify},
    {"fetch", "download a scope's published snapshot (auditor token) to verify it", snap_fetch},
};

int cmd_snapshot(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "snapshot", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
