/*
 * cmd_snapshot.c - `keysup snapshot build|inspect|verify`.
 *
 * Size: just over 500 lines: build, inspect and verify share the snapshot
 * reading code of cli_snap.c and their option tables.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cli_cmds.h"
#include "cli_snap.h"

/* ----- build: the key list ----- */

/* One entry of the key list, with where it came from for error messages. */
typedef struct entry {
    ks_record r;
    size_t index;
} entry;

/* "keys[3].valid_until: ..." - the index and field an integrator must fix. */
static int field_err(cli_ctx *cx, const char *path, size_t i, const char *field,
                     const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int field_err(cli_ctx *cx, const char *path, size_t i, const char *field,
                     const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field)
        return cli_err(cx, CLI_REFUSED, "INVALID_KEYS", "%s: keys[%zu].%s: %s", path, i, field,
                       msg);
    return cli_err(cx, CLI_REFUSED, "INVALID_KEYS", "%s: keys[%zu]: %s", path, i, msg);
}

static int json_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    json_int_t x;
    if (!json_is_integer(v))
        return -1;
    x = json_integer_value(v);
    if (x < 0 || (uint64_t)x > max)
        return -1;
    *out = (uint64_t)x;
    return 0;
}

static int json_time(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v))
        return json_u64(v, UINT64_MAX, out);
    if (json_is_string(v))
        return cli_parse_time(json_string_value(v), out);
    return -1;
}

static uint64_t priv_from_name(const char *s)
{
    uint64_t bit = ks_priv_from_name(s, strlen(s)), n;
    /* Integrator-defined bits have no name: "BIT16" .. "BIT63". */
    if (!bit && strncmp(s, "BIT", 3) == 0 && cli_parse_u64(s + 3, &n) == 0 && n < 64)
        bit = (uint64_t)1 << n;
    return bit;
}

static const char *const entry_fields[] = {
    "holder", "holder_id", "public_key", "privileges", "valid_from", "valid_until", "state",
    "scope", "key_format", "form_factor", "counter_floor", "flags",
};

static int parse_entry(cli_ctx *cx, const char *path, size_t i, const json_t *e, entry *out)
{
    ks_record *r = &out->r;
    const char *key;
    const json_t *v;
    uint64_t x;

    memset(out, 0, sizeof *out);
    out->index = i;
    r->record_version = KS_RECORD_VERSION;
    r->algorithm = KS_ALG_ED25519;
    r->key_format = 1;
    r->state = KS_STATE_ACTIVE;
    r->form_factor = KS_FORM_SOFTWARE;

    if (!json_is_object(e))
        return field_err(cx, path, i, NULL, "expected an object");
    /* Unknown fields are refused: a typo ("valid_untill") must not silently
     * produce a key that never expires. */
    json_object_foreach((json_t *)e, key, v) {
        size_t k = 0;
        for (; k < sizeof entry_fields / sizeof entry_fields[0]; k++)
            if (strcmp(key, entry_fields[k]) == 0)
                break;
        if (k == sizeof entry_fields / sizeof entry_fields[0])
            return field_err(cx, path, i, key, "unknown field");
    }

    v = json_object_get(e, "holder");
    if (v && (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256))
        return field_err(cx, path, i, "holder", "expected a string of 1 to 256 characters");
    v = json_object_get(e, "holder_id");
    if (v && json_u64(v, UINT64_MAX, &r->holder_id))
        return field_err(cx, path, i, "holder_id", "expected a non-negative integer");

    v = json_object_get(e, "public_key");
    if (!v)
        return field_err(cx, path, i, "public_key", "missing (64 hex digits)");
    if (!json_is_string(v) || ks_unhex(r->public_key, KS_PUBKEY_SIZE, json_string_value(v)))
        return field_err(cx, path, i, "public_key", "expected 64 hex digits");
    /* Reject what could never verify a signature (small-order or off-curve
     * points) now, not at a door at 3 a.m. */
    if (crypto_core_ed25519_is_valid_point(r->public_key) != 1)
        return field_err(cx, path, i, "public_key", "not a valid Ed25519 public key");
    ks_key_id(&cx->crypto, r->key_id, r->public_key);

    v = json_object_get(e, "privileges");
    if (v) {
        size_t k;
        const json_t *p;
        if (!json_is_array(v))
            return field_err(cx, path, i, "privileges", "expected an array of names");
        json_array_foreach(v, k, p) {
            uint64_t bit = json_is_string(p) ? priv_from_name(json_string_value(p)) : 0;
            if (!bit)
                return field_err(cx, path, i, "privileges",
                                 "element %zu: unknown privilege %s%s%s (names like SUPERVISOR, "
                                 "VOID, or BIT16..BIT63)", k, json_is_string(p) ? "\"" : "",
                                 json_is_string(p) ? json_string_value(p) : "(not a string)",
                                 json_is_string(p) ? "\"" : "");
            r->privileges |= bit;
        }
    }

    v = json_object_get(e, "valid_from");
    if (v && json_time(v, &r->valid_from))
        return field_err(cx, path, i, "valid_from",
                         "expected unix seconds or \"YYYY-MM-DDTHH:MM:SSZ\"");
    v = json_object_get(e, "valid_until");
    if (v && !json_is_null(v) && json_time(v, &r->valid_until))
        return field_err(cx, path, i, "valid_until",
                         "expected unix seconds, \"YYYY-MM-DDTHH:MM:SSZ\" or null");
    if (r->valid_until != KS_NO_EXPIRY && r->valid_until <= r->valid_from)
        return field_err(cx, path, i, "valid_until", "must be after valid_from");

    v = json_object_get(e, "state");
    if (v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, "active") == 0)
            r->state = KS_STATE_ACTIVE;
        else if (strcmp(s, "suspended") == 0)
            r->state = KS_STATE_SUSPENDED;
        else if (strcmp(s, "revoked") == 0)
            r->state = KS_STATE_REVOKED;
        else
            return field_err(cx, path, i, "state", "expected \"active\", \"suspended\" or \"revoked\"");
    }
    v = json_object_get(e, "scope");
    if (v) {
        if (json_u64(v, UINT32_MAX, &x))
            return field_err(cx, path, i, "scope", "expected an integer 0..4294967295 (0 = every scope)");
        r->scope = (uint32_t)x;
    }
    v = json_object_get(e, "key_format");
    if (v) {
        if (json_u64(v, 255, &x))
            return field_err(cx, path, i, "key_format", "expected an integer 0..255");
        r->key_format = (uint8_t)x;
    }
    v = json_object_get(e, "form_factor");
    if (v) {
        int f = json_is_string(v) ? ks_form_from_name(json_string_value(v)) : -1;
        if (f < 0) {
            /* The names from the one table: "software", "usb", ... or "pkcs11" */
            char names[128] = "";
            size_t n = 0;
            for (uint8_t k = 0; ks_form_name(k) && n < sizeof names; k++)
                n += (size_t)snprintf(names + n, sizeof names - n, "%s\"%s\"",
                                      k == 0 ? "" : ks_form_name((uint8_t)(k + 1)) ? ", " : " or ",
                                      ks_form_name(k));
            return field_err(cx, path, i, "form_factor", "expected %s", names);
        }
        r->form_factor = (uint8_t)f;
    }
    v = json_object_get(e, "counter_floor");
    if (v && json_u64(v, UINT64_MAX, &r->counter_floor))
        return field_err(cx, path, i, "counter_floor", "expected a non-negative integer");
    v = json_object_get(e, "flags");
    if (v) {
        if (json_u64(v, UINT32_MAX, &x))
            return field_err(cx, path, i, "flags", "expected an integer 0..4294967295");
        r->flags = (uint32_t)x;
    }
    return CLI_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    return memcmp(((const entry *)a)->r.key_id, ((const entry *)b)->r.key_id, KS_KEYID_SIZE);
}

/* Parses the key list into sorted, unique, encoded records. */
static int load_keys(cli_ctx *cx, const char *path, uint8_t **recs, uint32_t *count)
{
    uint8_t *buf = NULL, *out = NULL;
    size_t len = 0, n;
    json_t *root = NULL;
    const json_t *list;
    json_error_t jerr;
    entry *es = NULL;
    ks_diag d = {0, 0, NULL};
    int ret;

    *recs = NULL;
    *count = 0;
    ret = cli_read(cx, path, (size_t)1 << 30, &buf, &len);
    if (ret)
        return ret;
    root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        ret = cli_err(cx, CLI_REFUSED, "INVALID_KEYS", "%s: line %d column %d: %s", path,
                      jerr.line, jerr.column, jerr.text);
        goto cleanup;
    }
    /* A bare array, or {"keys": [...]} as an export with metadata would be. */
    list = json_is_object(root) ? json_object_get(root, "keys") : root;
    if (!json_is_array(list)) {
        ret = cli_err(cx, CLI_REFUSED, "INVALID_KEYS",
                      "%s: expected an array of keys (or an object with a \"keys\" array)", path);
        goto cleanup;
    }
    n = json_array_size(list);
    if (n > ((size_t)1 << 24)) {
        ret = cli_err(cx, CLI_REFUSED, "INVALID_KEYS", "%s: more than %u keys", path, 1u << 24);
        goto cleanup;
    }
    es = calloc(n ? n : 1, sizeof *es);
    out = malloc((n ? n : 1) * KS_RECORD_SIZE);
    if (!es || !out) {
        ret = cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        ret = parse_entry(cx, path, i, json_array_get(list, i), &es[i]);
        if (ret)
            goto cleanup;
    }
    qsort(es, n, sizeof *es, entry_cmp);
    for (size_t i = 0; i < n; i++) {
        ks_record check;
        if (i > 0 && entry_cmp(&es[i - 1], &es[i]) == 0) {
            size_t a = es[i - 1].index, b = es[i].index;
            ret = field_err(cx, path, a > b ? a : b, "public_key",
                            "duplicate key: same public key as keys[%zu]", a > b ? b : a);
            goto cleanup;
        }
        ks_record_encode(&es[i].r, out + i * KS_RECORD_SIZE);
        /* The core's own validation is the final word on what a record may be. */
        ret = ks_record_decode(&check, out + i * KS_RECORD_SIZE, &d);
        if (ret) {
            ret = field_err(cx, path, es[i].index, NULL, "refused by the record format (%s)",
                            d.what ? d.what : ks_strerror(ret));
            goto cleanup;
        }
    }
    *recs = out;
    *count = (uint32_t)n;
    out = NULL;
    ret = CLI_OK;
cleanup:
    json_decref(root);
    free(buf);
    free(es);
    free(out);
    return ret;
}

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

    ret = load_keys(cx, keys, &recs, &count);
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
