/*
 * test_store_root.c - layout 4's root sector codec and virtual-sector
 * translation (src/core/ks_store_root.c; the store-level tests run as *_layout4,
 * docs/store.md "Layout 4"). A root must come back exactly as written, and
 * every root that is not exactly what its COMMIT sealed must be refused:
 * another generation or overlay generation, another overlay end, any
 * single flipped bit, counts past the bounds or the sector, a sector
 * outside the pool, a sector listed twice. A virtual sector with no
 * binding is damage, never some other sector.
 */
#include "ks_test_util.h"

#include "../src/core/ks_store_root.h"

#define POOL 500u
#define SEC 1024u

static uint32_t build(uint8_t *img, uint32_t m, uint32_t o, uint32_t end, uint32_t seed)
{
    uint32_t sec[256];
    ks_root_info ri = {m, o, end};
    for (uint32_t i = 0; i < m + o; i++)
        sec[i] = (i * 37u + 11u) % POOL; /* distinct for m + o < POOL / gcd */
    memset(img, 0xFF, SEC);
    int len = ks__root_encode(img, SEC, &ri, sec, sec + m, seed);
    assert_true(len > 0);
    assert_int_equal((uint32_t)len, ks__root_bytes(m + o));
    return (uint32_t)len;
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t img[SEC];
    uint32_t sec[512], seed = ks__root_seed(7, 9);
    ks_root_info ri;

    build(img, 3, 5, 4608, seed);
    memset(&ri, 0, sizeof ri);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 8, 4608, &ri, sec, sec + 3), KS_OK);
    assert_int_equal(ri.map_n, 3);
    assert_int_equal(ri.ovl_n, 5);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(sec[i], (i * 37u + 11u) % POOL);
    /* No overlay: no overlay sectors, end 0. */
    build(img, 4, 0, 0, seed);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 8, 0, &ri, sec, sec + 256), KS_OK);
    assert_int_equal(ri.ovl_n, 0);
    /* The largest list a 1 KiB sector holds, and one more refused. */
    uint32_t most = (SEC - ks__root_bytes(0)) / 4;
    build(img, most - 10, 10, 144, seed);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, most, most, 144, &ri, sec, sec + 256), KS_OK);
    ks_root_info big = {most, 1, 144};
    uint32_t many[256 + 1] = {0};
    assert_int_equal(ks__root_encode(img, SEC, &big, many, many, seed), KS_E_INVAL);
    ks_root_info unbound = {1, 0, 0};
    uint32_t none = KS_ROOT_NONE;
    assert_int_equal(ks__root_encode(img, SEC, &unbound, &none, NULL, seed), KS_E_INVAL);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t img[SEC];
    uint32_t sec[512], seed = ks__root_seed(7, 9), len;
    ks_root_info ri;
    unsigned long flips = 0;

    len = build(img, 3, 5, 4608, seed);
    /* Sealed for another commit: generation, overlay generation, end. */
    assert_int_equal(ks__root_decode(img, SEC, ks__root_seed(8, 9), POOL, 8, 8, 4608, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    assert_int_equal(ks__root_decode(img, SEC, ks__root_seed(7, 10), POOL, 8, 8, 4608, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 8, 4752, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    /* Counts past the geometry's bounds; a pool too small for a sector. */
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 2, 8, 4608, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 4, 4608, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    assert_int_equal(ks__root_decode(img, SEC, seed, 100, 8, 8, 4608, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    /* Every single bit of the used bytes flipped: refused, each one. */
    for (uint32_t b = 0; b < len * 8; b++) {
        img[b / 8] ^= (uint8_t)(1u << (b % 8));
        if (ks__root_decode(img, SEC, seed, POOL, 8, 8, 4608, &ri, sec, sec + 3) != KS_E_STORE_CORRUPT)
            fail_msg("bit %u of the root accepted", b);
        img[b / 8] ^= (uint8_t)(1u << (b % 8));
        flips++;
    }
    /* Counts rewritten to run past the sector (CRC cannot be reached). */
    ks_st32(img + 4, 0xFFFFFFF0u);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, UINT32_MAX, UINT32_MAX, 4608, &ri, sec, sec + 256), KS_E_STORE_CORRUPT);
    /* A sector listed twice, resealed so only that check can refuse it;
     * and one past the pool. */
    uint32_t dup[4] = {5, 6, 5, 7};
    ks_root_info d = {2, 2, 288};
    assert_true(ks__root_encode(img, SEC, &d, dup, dup + 2, seed) > 0);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 8, 288, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    dup[2] = POOL;
    assert_true(ks__root_encode(img, SEC, &d, dup, dup + 2, seed) > 0);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 8, 288, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    /* An overlay end with no overlay sectors, resealed. */
    ks_root_info e = {2, 0, 288};
    assert_true(ks__root_encode(img, SEC, &e, dup, NULL, seed) > 0);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 8, 288, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    /* A blank (erased) sector is no root. */
    memset(img, 0xFF, SEC);
    assert_int_equal(ks__root_decode(img, SEC, seed, POOL, 8, 8, 0, &ri, sec, sec + 256),
                     KS_E_STORE_CORRUPT);
    printf("layout 4 root: %lu single-bit flips of a root, each refused\n", flips);
}

static void test_phys(void **state)
{
    (void)state;
    uint32_t vmap[4] = {3, KS_ROOT_NONE, 499, 500}, dev = 0;
    assert_int_equal(ks__root_phys(vmap, 4, 40, POOL, 0, &dev), KS_OK);
    assert_int_equal(dev, 43);
    assert_int_equal(ks__root_phys(vmap, 4, 40, POOL, 2, &dev), KS_OK);
    assert_int_equal(dev, 539);
    assert_int_equal(ks__root_phys(vmap, 4, 40, POOL, 1, &dev), KS_E_STORE_CORRUPT);
    assert_int_equal(ks__root_phys(vmap, 4, 40, POOL, 3, &dev), KS_E_STORE_CORRUPT);
    assert_int_equal(ks__root_phys(vmap, 4, 40, POOL, 4, &dev), KS_E_STORE_CORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_phys),
    };
    return cmocka_run_group_tests_name("layout 4 root", tests, NULL, NULL);
}
