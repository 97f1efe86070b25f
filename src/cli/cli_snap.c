/*
 * cli_snap.c - see cli_snap.h.
 */
#include "cli_snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_snap_other_kind(const uint8_t *b, size_t n)
{
    static const struct {
        const char *magic, *what;
    } kinds[] = {
        {KS_DELTA_MAGIC, "a delta (`keysup delta apply BASE DELTA --out NEW --trust KEY`)"},
        {"KSKF", "a key file (`keysup key show FILE`)"},
        {KS_RESPONSE_MAGIC, "a key's response to a challenge"},
        {KS_LICENCE_MAGIC, "a feature licence (`keysup licence show ID`)"},
        {KS_TIME_TOKEN_MAGIC, "a time token"},
    };
    size_t i = 0;
    if (n >= 4 && memcmp(b, KS_SNAP_MAGIC, 4) == 0)
        return NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (n >= 4 && memcmp(b, kinds[k].magic, 4) == 0)
            return kinds[k].what;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    if (i < n && (b[i] == '[' || b[i] == '{'))
        return "JSON, perhaps a key list (`keysup snapshot build --keys FILE ...` makes a "
               "snapshot of it)";
    return NULL;
}

int cli_snap_load(cli_ctx *cx, const char *path, cli_snap *s)
{
    ks_diag d = {0, 0, NULL};
    const char *other;
    int ret;

    memset(s, 0, sizeof *s);
    ret = cli_read(cx, path, CLI_SNAP_READ_MAX, &s->buf, &s->len);
    if (ret)
        return ret;
    if ((other = cli_snap_other_kind(s->buf, s->len)) != NULL)
        return cli_err(cx, CLI_REFUSED, "FORMAT", "%s is not a snapshot: it is %s", path, other);
    if (s->len < KS_SNAP_HEADER_SIZE)
        return cli_err(cx, CLI_REFUSED, "FORMAT",
                       "snapshot %s: %zu bytes is shorter than a snapshot header (%d)", path,
                       s->len, KS_SNAP_HEADER_SIZE);
    ret = ks_snap_header_decode(&s->h, s->buf, &d);
    if (ret)
        return cli_core_err(cx, ret, &d, "snapshot %s", path);
    if ((s->len - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE != s->h.record_count ||
        (s->len - KS_SNAP_HEADER_SIZE) % KS_RECORD_SIZE != 0)
        return cli_err(cx, CLI_REFUSED, "FORMAT",
                       "snapshot %s: %zu bytes, but the header announces %lu records (%zu bytes)",
                       path, s->len, (unsigned long)s->h.record_count,
                       (size_t)KS_SNAP_HEADER_SIZE + (size_t)s->h.record_count * KS_RECORD_SIZE);
    s->records = s->buf + KS_SNAP_HEADER_SIZE;
    s->count = s->h.record_count;
    return CLI_OK;
}

int cli_snap_check_records(cli_ctx *cx, const char *path, const cli_snap *s)
{
    ks_diag d = {0, 0, NULL};
    ks_record r, prev;
    int ret;

    for (uint32_t i = 0; i < s->count; i++) {
        const uint8_t *rec = s->records + (size_t)i * KS_RECORD_SIZE;
        ret = ks_record_decode(&r, rec, &d);
        if (ret) {
            d.offset += (uint32_t)(KS_SNAP_HEADER_SIZE + (size_t)i * KS_RECORD_SIZE);
            return cli_core_err(cx, ret, &d, "snapshot %s: record %lu", path, (unsigned long)i);
        }
        if (i > 0 && memcmp(prev.key_id, r.key_id, KS_KEYID_SIZE) >= 0)
            return cli_err(cx, CLI_REFUSED, "FORMAT",
                           "snapshot %s: record %lu is not in strictly increasing key id order",
                           path, (unsigned long)i);
        prev = r;
    }
    return CLI_OK;
}

void cli_snap_free(cli_snap *s)
{
    free(s->buf);
    memset(s, 0, sizeof *s);
}

int cli_trust_setup(cli_ctx *cx, const cli_list *trust, const char *rotation, ks_trust *t)
{
    uint8_t pk[KS_PUBKEY_SIZE];
    int ret;

    ks_trust_init(t);
    if (trust->n == 0)
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: --trust PUBKEY_HEX|KEYFILE is required (the pinned supervisor keys)",
                       cx->cmd);
    for (int i = 0; i < trust->n; i++) {
        ret = cli_public_key(cx, trust->v[i], pk);
        if (ret)
            return ret;
        ret = ks_trust_add(t, &cx->crypto, pk);
        if (ret == KS_E_NOSPC)
            return cli_err(cx, CLI_USAGE, "USAGE", "%s: at most %d trusted keys", cx->cmd,
                           KS_TRUST_MAX);
        if (ret)
            return cli_core_err(cx, ret, NULL, "%s: --trust %s", cx->cmd, trust->v[i]);
    }
    return rotation ? cli_trust_follow_file(cx, rotation, t) : CLI_OK;
}

int cli_trust_follow_file(cli_ctx *cx, const char *rotation, ks_trust *t)
{
    uint8_t *chain = NULL;
    size_t len = 0, skip = 0;
    ks_diag d = {0, 0, NULL};
    int ret;

    ret = cli_read(cx, rotation, (size_t)KS_ROTATION_SIZE * 4096, &chain, &len);
    if (ret)
        return ret;
    if (len == 0 || len % KS_ROTATION_SIZE != 0) {
        ret = cli_err(cx, CLI_REFUSED, "FORMAT",
                      "rotation chain %s: %zu bytes is not a whole number of %d-byte records",
                      rotation, len, KS_ROTATION_SIZE);
        goto cleanup;
    }
    /* A chain file holds the supervisor's whole history; a verifier pinned
     * to a later key starts at the first record leaving a key it trusts.
     * Skipping the prefix grants nothing: every record followed must still
     * leave a trusted key and carry both signatures. */
    for (size_t off = 0; off < len; off += KS_ROTATION_SIZE) {
        ks_rotation r;
        uint8_t id[KS_KEYID_SIZE];
        if (ks_rotation_decode(&r, chain + off, NULL) != KS_OK)
            break;
        ks_key_id(&cx->crypto, id, r.old_pk);
        if (ks_trust_find(t, id)) {
            skip = off;
            break;
        }
    }
    ret = ks_trust_follow(t, &cx->crypto, chain + skip, len - skip, &d);
    if (ret) {
        d.offset += (uint32_t)skip;
        ret = cli_core_err(cx, ret, &d, "rotation chain %s", rotation);
    }
cleanup:
    free(chain);
    return ret;
}

int cli_policy_setup(cli_ctx *cx, const char *now_s, const char *applied_s, const ks_trust *t,
                     ks_policy *p)
{
    memset(p, 0, sizeof *p);
    p->trust = t;
    p->now = cli_now();
    if (now_s && cli_parse_time(now_s, &p->now))
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: --now must be unix seconds or YYYY-MM-DDTHH:MM:SSZ", cx->cmd);
    if (applied_s) {
        if (cli_parse_u64(applied_s, &p->applied_version))
            return cli_err(cx, CLI_USAGE, "USAGE",
                           "%s: --applied-version must be a non-negative integer", cx->cmd);
        p->has_applied = 1;
    }
    return CLI_OK;
}

void cli_header_json(json_t *o, const ks_snap_header *h)
{
    cli_set_u64(o, "format", h->format);
    cli_set_u64(o, "version", h->version);
    cli_set_u64(o, "scope", h->scope);
    cli_set_time(o, "created_at", h->created_at, 0);
    cli_set_time(o, "expires_at", h->expires_at, 1);
    cli_set_u64(o, "record_count", h->record_count);
    cli_set_u64(o, "bucket_bits", h->bucket_bits);
    cli_set_hex(o, "root", h->root, KS_HASH_SIZE);
    cli_set_hex(o, "signer_id", h->signer_id, KS_KEYID_SIZE);
}

json_t *cli_record_json(const ks_record *r)
{
    json_t *o = json_object(), *privs = json_array();
    const char *form = ks_form_name(r->form_factor);

    cli_set_hex(o, "key_id", r->key_id, KS_KEYID_SIZE);
    cli_set_hex(o, "public_key", r->public_key, KS_PUBKEY_SIZE);
    cli_set_u64(o, "holder_id", r->holder_id);
    for (unsigned b = 0; b < 64; b++) {
        uint64_t bit = (uint64_t)1 << b;
        const char *name;
        char buf[16];
        if (!(r->privileges & bit))
            continue;
        name = ks_priv_name(bit);
        if (!name) {
            snprintf(buf, sizeof buf, "BIT%u", b);
            name = buf;
        }
        json_array_append_new(privs, json_string(name));
    }
    json_object_set_new(o, "privileges", privs);
    cli_set_str(o, "state", ks_state_name(r->state));
    cli_set_time(o, "valid_from", r->valid_from, 0);
    cli_set_time(o, "valid_until", r->valid_until, 1);
    cli_set_u64(o, "scope", r->scope);
    cli_set_u64(o, "key_format", r->key_format);
    cli_set_str(o, "form_factor", form ? form : "unknown");
    cli_set_u64(o, "counter_floor", r->counter_floor);
    cli_set_u64(o, "flags", r->flags);
    return o;
}
