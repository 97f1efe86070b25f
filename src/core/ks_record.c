/*
 * ks_record.c - encoding, validation and lookup of credential records.
 * Layout (docs/formats.md, "Credential record"):
 *   0 key_id[16]  16 public_key[32]  48 privileges u64  56 valid_from u64
 *  64 valid_until u64  72 counter_floor u64  80 holder_id u64  88 scope u32
 *  92 flags u32  96 record_version u8  97 key_format u8  98 algorithm u8
 *  99 state u8  100 form_factor u8  101..127 reserved, zero
 */
#include <keysup/ks_record.h>

#include <string.h>

#define OFF_RESERVED 101

void ks_record_encode(const ks_record *r, uint8_t out[KS_RECORD_SIZE])
{
    memset(out, 0, KS_RECORD_SIZE);
    memcpy(out, r->key_id, KS_KEYID_SIZE);
    memcpy(out + 16, r->public_key, KS_PUBKEY_SIZE);
    ks_st64(out + 48, r->privileges);
    ks_st64(out + 56, r->valid_from);
    ks_st64(out + 64, r->valid_until);
    ks_st64(out + 72, r->counter_floor);
    ks_st64(out + 80, r->holder_id);
    ks_st32(out + 88, r->scope);
    ks_st32(out + 92, r->flags);
    out[96] = r->record_version;
    out[97] = r->key_format;
    out[98] = r->algorithm;
    out[99] = r->state;
    out[100] = r->form_factor;
}

int ks_record_decode(ks_record *r, const uint8_t in[KS_RECORD_SIZE], ks_diag *d)
{
    for (unsigned i = OFF_RESERVED; i < KS_RECORD_SIZE; i++)
        if (in[i] != 0)
            return ks_fail(d, KS_E_FORMAT, i, "record.reserved is not zero");
    if (in[96] != KS_RECORD_VERSION)
        return ks_fail(d, KS_E_FORMAT, 96, "record.record_version is not supported");
    if (in[97] == 0)
        return ks_fail(d, KS_E_FORMAT, 97, "record.key_format is zero");
    if (in[98] != KS_ALG_ED25519)
        return ks_fail(d, KS_E_FORMAT, 98, "record.algorithm is not Ed25519");
    if (in[99] > KS_STATE_REVOKED)
        return ks_fail(d, KS_E_FORMAT, 99, "record.state is out of range");
    if (in[100] > KS_FORM_PKCS11)
        return ks_fail(d, KS_E_FORMAT, 100, "record.form_factor is out of range");
    uint64_t from = ks_ld64(in + 56), until = ks_ld64(in + 64);
    if (until != KS_NO_EXPIRY && until <= from)
        return ks_fail(d, KS_E_FORMAT, 64, "record.valid_until is not after valid_from");

    memcpy(r->key_id, in, KS_KEYID_SIZE);
    memcpy(r->public_key, in + 16, KS_PUBKEY_SIZE);
    r->privileges = ks_ld64(in + 48);
    r->valid_from = from;
    r->valid_until = until;
    r->counter_floor = ks_ld64(in + 72);
    r->holder_id = ks_ld64(in + 80);
    r->scope = ks_ld32(in + 88);
    r->flags = ks_ld32(in + 92);
    r->record_version = in[96];
    r->key_format = in[97];
    r->algorithm = in[98];
    r->state = in[99];
    r->form_factor = in[100];
    return KS_OK;
}

static const char *const priv_names[KS_PRIV_KNOWN_COUNT] = {
    "OPERATOR", "SUPERVISOR", "ADMIN", "CALIBRATE", "REFUND", "VOID",
    "Z_REPORT", "OVERRIDE", "FIRMWARE", "PRICE", "PARAMETER", "USER_MGMT",
};

const char *ks_priv_name(uint64_t bit)
{
    for (unsigned i = 0; i < KS_PRIV_KNOWN_COUNT; i++)
        if (bit == ((uint64_t)1 << i))
            return priv_names[i];
    return NULL;
}

static int upper(int ch) { return (ch >= 'a' && ch <= 'z') ? ch - 'a' + 'A' : ch; }

uint64_t ks_priv_from_name(const char *name, size_t len)
{
    for (unsigned i = 0; i < KS_PRIV_KNOWN_COUNT; i++) {
        const char *p = priv_names[i];
        size_t j = 0;
        while (j < len && p[j] && upper((unsigned char)name[j]) == p[j])
            j++;
        if (j == len && p[j] == '\0')
            return (uint64_t)1 << i;
    }
    return 0;
}

const char *ks_state_name(uint8_t state)
{
    switch (state) {
    case KS_STATE_ACTIVE: return "active";
    case KS_STATE_SUSPENDED: return "suspended";
    case KS_STATE_REVOKED: return "revoked";
    default: return "invalid";
    }
}

/* Indexed by enum ks_form_factor. */
static const char *const form_names[] = {"software", "usb", "nfc", "physical", "pkcs11"};

const char *ks_form_name(uint8_t form)
{
    return form < sizeof form_names / sizeof form_names[0] ? form_names[form] : NULL;
}

int ks_form_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof form_names / sizeof form_names[0]; i++) {
        const char *p = form_names[i];
        size_t j = 0;
        while (p[j] && name[j] == p[j])
            j++;
        if (p[j] == '\0' && name[j] == '\0')
            return (int)i;
    }
    return -1;
}

static int mem_read(void *ctx, uint32_t index, uint8_t out[KS_RECORD_SIZE])
{
    memcpy(out, (const uint8_t *)ctx + (size_t)index * KS_RECORD_SIZE, KS_RECORD_SIZE);
    return KS_OK;
}

void ks_recsrc_mem(ks_recsrc *s, const uint8_t *records, uint32_t count)
{
    s->ctx = (void *)(uintptr_t)records;
    s->count = count;
    s->read = mem_read;
    s->mem = records;
}

int ks_recsrc_get(const ks_recsrc *s, uint32_t i, uint8_t out[KS_RECORD_SIZE])
{
    if (i >= s->count)
        return KS_E_INVAL;
    if (s->mem) {
        memcpy(out, s->mem + (size_t)i * KS_RECORD_SIZE, KS_RECORD_SIZE);
        return KS_OK;
    }
    return s->read(s->ctx, i, out);
}

int ks_recsrc_find(const ks_recsrc *s, const uint8_t key_id[KS_KEYID_SIZE], uint32_t *index)
{
    uint32_t lo = 0, hi = s->count;
    uint8_t buf[KS_RECORD_SIZE];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *rec;
        if (s->mem) {
            rec = s->mem + (size_t)mid * KS_RECORD_SIZE;
        } else {
            int err = s->read(s->ctx, mid, buf);
            if (err)
                return err;
            rec = buf;
        }
        int cmp = memcmp(rec, key_id, KS_KEYID_SIZE);
        if (cmp == 0) {
            *index = mid;
            return KS_OK;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *index = lo;
    return KS_E_NOTFOUND;
}
