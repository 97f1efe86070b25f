/*
 * test_snapshot.c - credential records and signed snapshots: round trips,
 * every refusal with its exact code, and a tamper sweep over every byte.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ks_test_util.h"

static ks_crypto C;
static uint8_t SPK[32], SSK[64]; /* supervisor */
static ks_trust TRUST;

#define NOW 1800000000u

static size_t make_snapshot(uint32_t nrec, uint64_t version, uint64_t expires, uint8_t **out)
{
    size_t len = KS_SNAP_HEADER_SIZE + (size_t)nrec * KS_RECORD_SIZE;
    uint8_t *recs = malloc(nrec * KS_RECORD_SIZE + 1);
    *out = malloc(len);
    kt_records(&C, 1, nrec, recs);
    ks_snap_header h = {0};
    h.version = version;
    h.created_at = NOW - 100;
    h.expires_at = expires;
    h.scope = 7;
    assert_int_equal(ks_snapshot_write(&C, &h, recs, nrec, SSK, *out, len), KS_OK);
    free(recs);
    return len;
}

static ks_policy policy(void)
{
    ks_policy p = {&TRUST, 0, 0, NOW};
    return p;
}

static void test_record_roundtrip_and_refusals(void **state)
{
    (void)state;
    uint8_t buf[KS_RECORD_SIZE], again[KS_RECORD_SIZE];
    ks_record r;
    ks_diag d;
    kt_record(&C, 42, buf);
    assert_int_equal(ks_record_decode(&r, buf, &d), KS_OK);
    ks_record_encode(&r, again);
    assert_memory_equal(buf, again, KS_RECORD_SIZE);
    assert_int_equal(r.holder_id, 42);

    struct { unsigned off; uint8_t val; const char *what; } bad[] = {
        {96, 2, "record.record_version is not supported"},
        {97, 0, "record.key_format is zero"},
        {98, 2, "record.algorithm is not Ed25519"},
        {99, 3, "record.state is out of range"},
        {100, 5, "record.form_factor is out of range"},
        {101, 1, "record.reserved is not zero"},
        {127, 0x80, "record.reserved is not zero"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(again, buf, KS_RECORD_SIZE);
        again[bad[i].off] = bad[i].val;
        assert_int_equal(ks_record_decode(&r, again, &d), KS_E_FORMAT);
        assert_string_equal(d.what, bad[i].what);
        assert_int_equal(d.offset, bad[i].off);
    }
    /* valid_until must be after valid_from */
    memcpy(again, buf, KS_RECORD_SIZE);
    ks_st64(again + 64, 1700000000u);
    assert_int_equal(ks_record_decode(&r, again, &d), KS_E_FORMAT);
    assert_int_equal(d.offset, 64);
}

static void test_privilege_names(void **state)
{
    (void)state;
    assert_string_equal(ks_priv_name(KS_PRIV_SUPERVISOR), "SUPERVISOR");
    assert_null(ks_priv_name(1u << 20));
    assert_int_equal(ks_priv_from_name("z_report", 8), KS_PRIV_Z_REPORT);
    assert_int_equal(ks_priv_from_name("VOIDX", 5), 0);
    assert_int_equal(ks_priv_from_name("VOI", 3), 0);
}

static void test_snapshot_roundtrip(void **state)
{
    (void)state;
    uint8_t *s;
    size_t len = make_snapshot(50, 9, NOW + 3600, &s);
    ks_snap_header h;
    ks_diag d = {0};
    ks_policy p = policy();
    assert_int_equal(ks_snapshot_verify(&C, s, len, &p, &h, &d), KS_OK);
    assert_int_equal(h.version, 9);
    assert_int_equal(h.record_count, 50);
    assert_int_equal(h.scope, 7);
    assert_int_equal(h.bucket_bits, ks_bucket_bits_for(50));
    assert_memory_equal(h.signer_id, TRUST.ids[0], 16);
    /* Same version as applied is accepted (a re-download). */
    p.has_applied = 1;
    p.applied_version = 9;
    assert_int_equal(ks_snapshot_verify(&C, s, len, &p, &h, &d), KS_OK);
    /* Empty snapshot is valid too. */
    free(s);
    len = make_snapshot(0, 1, 0, &s);
    p = policy();
    assert_int_equal(ks_snapshot_verify(&C, s, len, &p, &h, &d), KS_OK);
    assert_int_equal(h.record_count, 0);
    free(s);
}

static void test_snapshot_refusals(void **state)
{
    (void)state;
    uint8_t *s;
    size_t len = make_snapshot(5, 9, NOW + 3600, &s);
    ks_diag d;
    ks_snap_header h;

    ks_trust other;
    uint8_t opk[32], osk[64];
    kt_keypair(999, opk, osk);
    ks_trust_init(&other);
    ks_trust_add(&other, &C, opk);
    ks_policy p = {&other, 0, 0, NOW};
    assert_int_equal(ks_snapshot_verify(&C, s, len, &p, &h, &d), KS_E_SUPERVISOR_UNTRUSTED);
    assert_int_equal(ks_err_kse(d.err), 700);
    assert_int_equal(d.offset, 32);

    p = policy();
    p.has_applied = 1;
    p.applied_version = 10;
    assert_int_equal(ks_snapshot_verify(&C, s, len, &p, &h, &d), KS_E_ROLLBACK);
    assert_string_equal(d.what, "snapshot.version is older than the applied snapshot");

    p = policy();
    p.now = NOW + 3600;
    assert_int_equal(ks_snapshot_verify(&C, s, len, &p, &h, &d), KS_E_SNAPSHOT_EXPIRED);
    /* An expired but authentic snapshot still reports its header. */
    assert_int_equal(h.version, 9);
    p.now = 0; /* inspection without a clock skips expiry */
    assert_int_equal(ks_snapshot_verify(&C, s, len, &p, &h, &d), KS_OK);

    p = policy();
    assert_int_equal(ks_snapshot_verify(&C, s, 100, &p, &h, &d), KS_E_FORMAT);
    assert_int_equal(ks_snapshot_verify(&C, s, len - 1, &p, &h, &d), KS_E_FORMAT);
    assert_string_equal(d.what, "snapshot size does not match record_count");

    /* Writing refuses unsorted records and short buffers. */
    uint8_t recs[2 * KS_RECORD_SIZE], out[KS_SNAP_HEADER_SIZE + 2 * KS_RECORD_SIZE];
    kt_records(&C, 1, 2, recs);
    ks_snap_header nh = {0};
    nh.version = 1;
    assert_int_equal(ks_snapshot_write(&C, &nh, recs, 2, SSK, out, sizeof out - 1), KS_E_NOSPC);
    memcpy(recs + KS_RECORD_SIZE, recs, KS_RECORD_SIZE); /* duplicate key id */
    assert_int_equal(ks_snapshot_write(&C, &nh, recs, 2, SSK, out, sizeof out), KS_E_FORMAT);
    free(s);
}

/* The exact error a single-byte change at `off` must produce. */
static int expected_error(const uint8_t *orig, const uint8_t *mut, size_t off, uint32_t nrec)
{
    if (off < KS_SNAP_HEADER_SIZE) {
        ks_snap_header h;
        if (ks_snap_header_decode(&h, mut, NULL) != KS_OK)
            return KS_E_FORMAT;
        if (off >= 48 && off < 52)
            return KS_E_FORMAT; /* record_count no longer matches the size */
        if (off >= 32 && off < 48)
            return KS_E_SUPERVISOR_UNTRUSTED;
        return KS_E_SIGNATURE;
    }
    size_t ri = (off - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE, ro = (off - KS_SNAP_HEADER_SIZE) % KS_RECORD_SIZE;
    const uint8_t *rec = mut + KS_SNAP_HEADER_SIZE + ri * KS_RECORD_SIZE;
    ks_record r;
    if (ks_record_decode(&r, rec, NULL) != KS_OK)
        return KS_E_FORMAT;
    if (ro < KS_KEYID_SIZE) {
        if ((ri > 0 && memcmp(rec - KS_RECORD_SIZE, rec, 16) >= 0) ||
            (ri + 1 < nrec && memcmp(rec, rec + KS_RECORD_SIZE, 16) >= 0))
            return KS_E_FORMAT;
    }
    (void)orig;
    return KS_E_ROOT;
}

static void test_tamper_sweep_every_byte_every_value(void **state)
{
    (void)state;
    uint8_t *s;
    const uint32_t nrec = 2;
    size_t len = make_snapshot(nrec, 3, NOW + 3600, &s);
    uint8_t *m = malloc(len);
    ks_policy p = policy();
    size_t tried = 0, counts[5] = {0};
    for (size_t off = 0; off < len; off++) {
        for (unsigned v = 0; v < 256; v++) {
            if (v == s[off])
                continue;
            memcpy(m, s, len);
            m[off] = (uint8_t)v;
            ks_diag d = {0};
            int got = ks_snapshot_verify(&C, m, len, &p, NULL, &d);
            int want = expected_error(s, m, off, nrec);
            if (got != want)
                fail_msg("byte %zu value %u: got %s want %s (%s)", off, v, ks_err_name(got),
                         ks_err_name(want), d.what ? d.what : "");
            tried++;
            counts[got == KS_E_FORMAT ? 0 : got == KS_E_SIGNATURE ? 1 : got == KS_E_ROOT ? 2
                   : got == KS_E_SUPERVISOR_UNTRUSTED ? 3 : 4]++;
        }
    }
    printf("snapshot tamper sweep: %zu single-byte changes refused "
           "(FORMAT %zu, BAD_SIGNATURE %zu, ROOT_MISMATCH %zu, KSE-700 %zu)\n",
           tried, counts[0], counts[1], counts[2], counts[3]);
    assert_int_equal(tried, len * 255);
    assert_int_equal(counts[4], 0);
    free(m);
    free(s);
}

/* Issue 17 row 9: the history id (bytes 60..63) is carried and signed. */
static void test_snapshot_history_signed(void **state)
{
    (void)state;
    uint8_t recs[2 * KS_RECORD_SIZE], out[KS_SNAP_HEADER_SIZE + 2 * KS_RECORD_SIZE];
    ks_snap_header h = {0}, got;
    ks_diag d = {0};
    ks_policy p = policy();
    kt_records(&C, 1, 2, recs);
    h.version = 5;
    h.created_at = NOW - 100;
    h.history = 0xA1B2C3D4u;
    assert_int_equal(ks_snapshot_write(&C, &h, recs, 2, SSK, out, sizeof out), KS_OK);
    assert_int_equal(ks_ld32(out + 60), 0xA1B2C3D4u);
    assert_int_equal(ks_snapshot_verify(&C, out, sizeof out, &p, &got, &d), KS_OK);
    assert_int_equal(got.history, 0xA1B2C3D4u);
    /* Relabelling a database into another history breaks the signature. */
    out[60] ^= 1;
    assert_int_equal(ks_snapshot_verify(&C, out, sizeof out, &p, NULL, &d), KS_E_SIGNATURE);
    /* Two histories of one version sign different bytes. */
    ks_snap_header h2 = h;
    uint8_t out2[sizeof out];
    h2.history = 7;
    assert_int_equal(ks_snapshot_write(&C, &h2, recs, 2, SSK, out2, sizeof out2), KS_OK);
    assert_true(memcmp(out + 96, out2 + 96, KS_SIG_SIZE) != 0);
}

int main(void)
{
    if (ks_sodium_crypto(&C) != KS_OK)
        return 1;
    kt_keypair(7, SPK, SSK);
    ks_trust_init(&TRUST);
    ks_trust_add(&TRUST, &C, SPK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip_and_refusals),
        cmocka_unit_test(test_privilege_names),
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_snapshot_refusals),
        cmocka_unit_test(test_tamper_sweep_every_byte_every_value),
        cmocka_unit_test(test_snapshot_history_signed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
