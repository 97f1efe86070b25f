/*
 * cli_keylist.c - see cli_keylist.h. Every field is checked here with the
 * entry's index in the message (keys[3].valid_until: ...), and the core's
 * record decoder has the final word on each record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cli_keylist.h"

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

int cli_keylist_load(cli_ctx *cx, const char *path, uint8_t **recs, uint32_t *count)
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
