/*
 * test_merkle.c - the bucketed Merkle tree against a direct recursive
 * reading of RFC 6962 section 2.1, written independently of ks_mth.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ks_test_util.h"

static ks_crypto C;

static void h_bytes(uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                    const uint8_t *cc, size_t clen)
{
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, NULL, 0, 32);
    crypto_generichash_blake2b_update(&st, a, alen);
    crypto_generichash_blake2b_update(&st, b, blen);
    crypto_generichash_blake2b_update(&st, cc, clen);
    crypto_generichash_blake2b_final(&st, out, 32);
}

/* RFC 6962: MTH({}) = H(), MTH({d}) = H(0x00||d),
 * MTH(D[n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k largest power of 2 < n.
 * Leaves are given as hashes-to-be (items of `size` bytes each). */
static void ref_mth(const uint8_t *items, size_t n, size_t size, int items_are_hashes, uint8_t out[32])
{
    static const uint8_t z = 0, one = 1;
    if (n == 0) {
        h_bytes(out, NULL, 0, NULL, 0, NULL, 0);
        return;
    }
    if (n == 1) {
        if (items_are_hashes)
            memcpy(out, items, 32);
        else
            h_bytes(out, &z, 1, items, size, NULL, 0);
        return;
    }
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t l[32], r[32];
    ref_mth(items, k, size, items_are_hashes, l);
    ref_mth(items + k * size, n - k, size, items_are_hashes, r);
    uint8_t pre = one;
    h_bytes(out, &pre, 1, l, 32, r, 32);
}

/* Bucketed root by definition: split by key-id prefix, MTH each bucket,
 * then MTH over the 2^bits bucket hashes. */
static void ref_root(const uint8_t *recs, uint32_t n, unsigned bits, uint8_t out[32])
{
    size_t nb = (size_t)1 << bits;
    uint8_t *bh = malloc(nb * 32);
    uint32_t i = 0;
    for (size_t b = 0; b < nb; b++) {
        uint32_t start = i;
        while (i < n && ks_bucket_of(recs + (size_t)i * KS_RECORD_SIZE, bits) == b)
            i++;
        ref_mth(recs + (size_t)start * KS_RECORD_SIZE, i - start, KS_RECORD_SIZE, 0, bh + b * 32);
    }
    assert_int_equal(i, n);
    if (nb == 1)
        memcpy(out, bh, 32);
    else
        ref_mth(bh, nb, 32, 1, out);
    free(bh);
}

static void test_plain_rfc6962(void **state)
{
    (void)state;
    uint8_t *recs = malloc(64 * KS_RECORD_SIZE);
    for (uint32_t n = 0; n <= 64; n++) {
        kt_records(&C, 1, n, recs);
        ks_recsrc src;
        ks_recsrc_mem(&src, recs, n);
        uint8_t got[32], want[32];
        assert_int_equal(ks_merkle_root(&C, &src, 0, got), KS_OK);
        ref_mth(recs, n, KS_RECORD_SIZE, 0, want);
        assert_memory_equal(got, want, 32);
    }
    free(recs);
}

static void test_bucketed_matches_reference_and_tree(void **state)
{
    (void)state;
    const uint32_t sizes[] = {0, 1, 2, 3, 17, 100, 333};
    uint8_t *recs = malloc(333 * KS_RECORD_SIZE);
    uint8_t (*nodes)[32] = malloc(ks_tree_nodes(6) * 32);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        kt_records(&C, 1000, sizes[s], recs);
        ks_recsrc src;
        ks_recsrc_mem(&src, recs, sizes[s]);
        for (unsigned bits = 0; bits <= 6; bits++) {
            uint8_t got[32], want[32];
            ks_tree t;
            assert_int_equal(ks_merkle_root(&C, &src, bits, got), KS_OK);
            ref_root(recs, sizes[s], bits, want);
            assert_memory_equal(got, want, 32);
            assert_int_equal(ks_tree_build(&t, &C, &src, bits, nodes, ks_tree_nodes(bits)), KS_OK);
            assert_memory_equal(ks_tree_root(&t), want, 32);
        }
    }
    free(nodes);
    free(recs);
}

static void test_tree_set_bucket(void **state)
{
    (void)state;
    uint8_t recs[40 * KS_RECORD_SIZE], root[32];
    uint8_t nodes[ks_tree_nodes(3)][32];
    kt_records(&C, 1, 40, recs);
    ks_recsrc src;
    ks_recsrc_mem(&src, recs, 40);
    ks_tree t;
    assert_int_equal(ks_tree_build(&t, &C, &src, 3, nodes, ks_tree_nodes(3)), KS_OK);
    /* Change one record in place, set its bucket, compare with a rebuild. */
    recs[5 * KS_RECORD_SIZE + 50] ^= 0x40; /* privileges byte */
    uint32_t b = ks_bucket_of(recs + 5 * KS_RECORD_SIZE, 3);
    uint32_t lo = 0;
    while (ks_bucket_of(recs + lo * KS_RECORD_SIZE, 3) != b)
        lo++;
    uint32_t hi = lo;
    while (hi < 40 && ks_bucket_of(recs + hi * KS_RECORD_SIZE, 3) == b)
        hi++;
    uint8_t bh[32];
    ref_mth(recs + lo * KS_RECORD_SIZE, hi - lo, KS_RECORD_SIZE, 0, bh);
    ks_tree_set_bucket(&t, &C, b, bh);
    assert_int_equal(ks_merkle_root(&C, &src, 3, root), KS_OK);
    assert_memory_equal(ks_tree_root(&t), root, 32);
}

static void test_bucket_bits_and_limits(void **state)
{
    (void)state;
    assert_int_equal(ks_bucket_bits_for(0), 0);
    assert_int_equal(ks_bucket_bits_for(16), 0);
    assert_int_equal(ks_bucket_bits_for(17), 1);
    assert_int_equal(ks_bucket_bits_for(1000000), 16);
    assert_int_equal(ks_bucket_bits_for(UINT32_MAX), KS_BUCKET_BITS_MAX);
    uint8_t id[16] = {0xAB, 0xCD, 0xEF, 0x12};
    assert_int_equal(ks_bucket_of(id, 0), 0);
    assert_int_equal(ks_bucket_of(id, 8), 0xAB);
    assert_int_equal(ks_bucket_of(id, 20), 0xABCDE);
    ks_recsrc src;
    uint8_t root[32], nodes[2][32];
    ks_recsrc_mem(&src, NULL, 0);
    assert_int_equal(ks_merkle_root(&C, &src, 21, root), KS_E_INVAL);
    ks_tree t;
    assert_int_equal(ks_tree_build(&t, &C, &src, 1, nodes, 2), KS_E_NOSPC);
    /* Unsorted input is refused rather than hashed. */
    uint8_t recs[2 * KS_RECORD_SIZE];
    kt_records(&C, 1, 2, recs);
    uint8_t tmp[KS_RECORD_SIZE];
    memcpy(tmp, recs, KS_RECORD_SIZE);
    memcpy(recs, recs + KS_RECORD_SIZE, KS_RECORD_SIZE);
    memcpy(recs + KS_RECORD_SIZE, tmp, KS_RECORD_SIZE);
    ks_recsrc_mem(&src, recs, 2);
    assert_int_not_equal(ks_bucket_of(recs, 8), ks_bucket_of(recs + KS_RECORD_SIZE, 8));
    assert_int_equal(ks_merkle_root(&C, &src, 8, root), KS_E_FORMAT);
}

int main(void)
{
    if (ks_sodium_crypto(&C) != KS_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_rfc6962),
        cmocka_unit_test(test_bucketed_matches_reference_and_tree),
        cmocka_unit_test(test_tree_set_bucket),
        cmocka_unit_test(test_bucket_bits_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
