/*
 * cmd_delta.c - `keysup delta make|apply`: the change between two snapshots,
 * and applying it the way a controller does.
 */
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_snap.h"

#include <keysup/ks_merge.h>

#define DELTA_READ_MAX CLI_SNAP_READ_MAX

static const char make_usage[] =
    "usage: keysup delta make OLD NEW --out DELTA [--force] [--json]\n\n"
    "Writes the delta from snapshot OLD to snapshot NEW: the records NEW adds or\n"
    "changes, the key ids it removes, and NEW's signed header. Both snapshots are\n"
    "checked for structure; NEW's version must be above OLD's.\n";

static int delta_make(cli_ctx *cx, int argc, char **argv)
{
    const char *out = NULL, *pos[2];
    int force = 0, npos = 0, ret;
    cli_opt opts[] = {{"--out", CLI_VALUE, &out}, {"--force", CLI_FLAG, &force},
                      {NULL, CLI_FLAG, NULL}};
    cli_snap a, b;
    ks_recsrc sa, sb;
    ks_delta dl;
    ks_diag d = {0, 0, NULL};
    uint8_t *buf = NULL;
    size_t needed = 0;
    json_t *o;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ret = cli_parse(cx, argc, argv, opts, pos, 2, 2, &npos, make_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!out)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --out DELTA is required", cx->cmd);
    if ((ret = cli_snap_load(cx, pos[0], &a)) || (ret = cli_snap_check_records(cx, pos[0], &a)) ||
        (ret = cli_snap_load(cx, pos[1], &b)) || (ret = cli_snap_check_records(cx, pos[1], &b)))
        goto cleanup;
    if (b.h.version <= a.h.version) {
        ret = cli_err(cx, CLI_REFUSED, "BASE",
                      "%s: NEW's version %llu is not above OLD's version %llu", cx->cmd,
                      (unsigned long long)b.h.version, (unsigned long long)a.h.version);
        goto cleanup;
    }
    ks_recsrc_mem(&sa, a.records, a.count);
    ks_recsrc_mem(&sb, b.records, b.count);
    ret = ks_delta_write(&sa, &a.h, &sb, b.buf, NULL, 0, &needed);
    if (ret == KS_OK || ret == KS_E_NOSPC) {
        buf = malloc(needed ? needed : 1);
        if (!buf) {
            ret = cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
            goto cleanup;
        }
        ret = ks_delta_write(&sa, &a.h, &sb, b.buf, buf, needed, &needed);
    }
    if (ret) {
        ret = cli_core_err(cx, ret, NULL, "%s: computing the delta", cx->cmd);
        goto cleanup;
    }
    /* Parse what was just made: the counts for the report, and a guard that
     * the tool never hands out a delta it would itself refuse. */
    ret = ks_delta_parse(&dl, buf, needed, &d);
    if (ret) {
        ret = cli_core_err(cx, ret, &d, "%s: the delta just made does not parse", cx->cmd);
        goto cleanup;
    }
    ret = cli_write(cx, out, buf, needed, 0644, force);
    if (ret)
        goto cleanup;
    o = json_object();
    cli_set_str(o, "file", out);
    cli_set_u64(o, "base_version", a.h.version);
    cli_set_u64(o, "target_version", b.h.version);
    cli_set_u64(o, "upserts", dl.n_upserts);
    cli_set_u64(o, "removals", dl.n_removals);
    cli_set_u64(o, "size", needed);
    ret = cli_emit(cx, o);
cleanup:
    cli_snap_free(&a);
    cli_snap_free(&b);
    free(buf);
    return ret;
}

static const char apply_usage[] =
    "usage: keysup delta apply BASE DELTA --out NEW --trust PUBKEY_HEX|KEYFILE...\n"
    "                          [--rotation CHAIN] [--applied-version N] [--now UNIX]\n"
    "                          [--force] [--json]\n\n"
    "Applies DELTA to snapshot BASE as a controller would: BASE is verified first\n"
    "(an authentic but expired BASE is accepted: that is when deltas arrive), the\n"
    "delta must be for BASE and carry a trusted, unexpired, newer signed header, and\n"
    "the merged records must land exactly on that header's Merkle root. Only then\n"
    "is NEW written (atomically); a refused delta leaves no output behind.\n";

static int delta_apply(cli_ctx *cx, int argc, char **argv)
{
    const char *out = NULL, *rotation = NULL, *now_s = NULL, *applied_s = NULL, *pos[2];
    cli_list trust = {{NULL}, 0};
    int force = 0, npos = 0, ret, incremental;
    cli_opt opts[] = {
        {"--out", CLI_VALUE, &out},
        {"--trust", CLI_LIST, &trust},
        {"--rotation", CLI_VALUE, &rotation},
        {"--now", CLI_VALUE, &now_s},
        {"--applied-version", CLI_VALUE, &applied_s},
        {"--force", CLI_FLAG, &force},
        {NULL, CLI_FLAG, NULL},
    };
    uint8_t *base = NULL, *dbuf = NULL, *img = NULL;
    uint8_t (*nodes)[32] = NULL;
    size_t base_len = 0, dlen = 0, img_len;
    ks_trust t0, t;
    ks_policy p0, p;
    ks_snap_header bh;
    ks_delta dl;
    ks_diag d = {0, 0, NULL};
    ks_recsrc bsrc;
    uint32_t cap, merged;
    size_t nn;
    json_t *o;

    ret = cli_parse(cx, argc, argv, opts, pos, 2, 2, &npos, apply_usage);
    if (ret)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    if (!out)
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: --out NEW is required", cx->cmd);
    /* The base was signed under the pinned keys, the delta possibly under
     * the key the rotation chain leads to: the base is checked against the
     * pinned set first, then the rotated one; the delta only the rotated. */
    if ((ret = cli_trust_setup(cx, &trust, NULL, &t0)) ||
        (ret = cli_policy_setup(cx, now_s, applied_s, &t0, &p0)))
        return ret;
    t = t0;
    if (rotation && (ret = cli_trust_follow_file(cx, rotation, &t)))
        return ret;
    p = p0;
    p.trust = &t;

    ret = cli_read(cx, pos[0], CLI_SNAP_READ_MAX, &base, &base_len);
    if (ret)
        goto cleanup;
    memset(&bh, 0, sizeof bh);
    ret = ks_snapshot_verify(&cx->crypto, base, base_len, &p0, &bh, &d);
    if (ret == KS_E_SUPERVISOR_UNTRUSTED && rotation)
        ret = ks_snapshot_verify(&cx->crypto, base, base_len, &p, &bh, &d);
    if (ret && ret != KS_E_SNAPSHOT_EXPIRED) {
        ret = cli_core_err(cx, ret, &d, "base snapshot %s", pos[0]);
        goto cleanup;
    }
    ret = cli_read(cx, pos[1], DELTA_READ_MAX, &dbuf, &dlen);
    if (ret)
        goto cleanup;
    ret = ks_delta_parse(&dl, dbuf, dlen, &d);
    if (ret == KS_OK)
        ret = ks_delta_check(&cx->crypto, &dl, &bh, &p, &d);
    if (ret) {
        ret = cli_core_err(cx, ret, &d, "delta %s", pos[1]);
        goto cleanup;
    }

    ks_recsrc_mem(&bsrc, base + KS_SNAP_HEADER_SIZE, bh.record_count);
    if ((uint64_t)bh.record_count + dl.n_upserts > UINT32_MAX) {
        ret = cli_err(cx, CLI_REFUSED, "FORMAT", "delta %s: too many records", pos[1]);
        goto cleanup;
    }
    cap = bh.record_count + dl.n_upserts;
    img_len = KS_SNAP_HEADER_SIZE + (size_t)cap * KS_RECORD_SIZE;
    img = malloc(img_len);
    /* The tree lets the core prove the target root in O(change), as a
     * controller does; the core falls back to hashing the whole result
     * when the bucket layout changes. */
    nn = ks_tree_nodes(bh.bucket_bits);
    nodes = malloc(nn * sizeof *nodes);
    if (!img || !nodes) {
        ret = cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
        goto cleanup;
    }
    ret = ks_delta_apply_buf(&cx->crypto, &bh, &bsrc, &dl, nodes, nn, img + KS_SNAP_HEADER_SIZE,
                             cap, &merged, &incremental, &d);
    if (ret) {
        if (d.what && strcmp(d.what, "delta.target.record_count") == 0)
            ret = cli_core_err(cx, ret, &d, "delta %s: the merge does not give the %lu records "
                               "the target header announces", pos[1],
                               (unsigned long)dl.target.record_count);
        else
            ret = cli_core_err(cx, ret, &d, "delta %s", pos[1]);
        goto cleanup;
    }
    memcpy(img, dl.target_raw, KS_SNAP_HEADER_SIZE);
    img_len = KS_SNAP_HEADER_SIZE + (size_t)merged * KS_RECORD_SIZE;
    ret = cli_write(cx, out, img, img_len, 0644, force);
    if (ret)
        goto cleanup;
    o = json_object();
    cli_set_str(o, "file", out);
    cli_set_u64(o, "base_version", bh.version);
    cli_set_u64(o, "upserts", dl.n_upserts);
    cli_set_u64(o, "removals", dl.n_removals);
    cli_set_str(o, "method", incremental ? "incremental" : "rebuild");
    cli_header_json(o, &dl.target);
    ret = cli_emit(cx, o);
cleanup:
    free(base);
    free(dbuf);
    free(img);
    free(nodes);
    return ret;
}

static const cli_verb verbs[] = {
    {"make", "write the delta between two snapshots", delta_make},
    {"apply", "verify and apply a delta to a base snapshot", delta_apply},
};

int cmd_delta(cli_ctx *cx, int argc, char **argv)
{
    return cli_run_verb(cx, "delta", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
