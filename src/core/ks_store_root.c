/*
 * ks_store_root.c - layout 4's root sector: its codec and the translation
 * of the hot window's virtual sectors (docs/store.md, "Layout 4").
 *
 * NOT WIRED yet (see ks_store_root.h): the store's write and mount paths
 * do not call this file. In layout 4 the overlay halves and the two page
 * maps keep their fixed-layout addresses as *virtual* sectors past the end
 * of the device; ks_store_io.c would turn each into the pool sector the
 * state binds it to (ks__root_phys), so the overlay and map code keep
 * their arithmetic. A root, one pool sector written before each COMMIT
 * and named by it, lists the bindings that commit's state uses.
 *
 * Everything read from a root is checked before any of it is used: a
 * root that fails one check is damage to its commit as a whole (KSE-301,
 * the fallback is tried), as a map entry is today.
 */
#include <string.h>

#include <keysup/ks_base.h>
#include <keysup/ks_store.h>

#include "ks_store_root.h"

uint32_t ks__root_seed(uint64_t gen, uint64_t ovl_gen)
{
    uint8_t g[16];
    ks_st64(g, gen);
    ks_st64(g + 8, ovl_gen);
    return ks_crc32c(0, g, sizeof g);
}

int ks__root_encode(uint8_t *out, uint32_t cap, const ks_root_info *ri, const uint32_t *map_sec,
                    const uint32_t *ovl_sec, uint32_t seed)
{
    uint32_t n, len, i;

    if (!out || !ri || (!map_sec && ri->map_n) || (!ovl_sec && ri->ovl_n) || ri->map_n > cap ||
        ri->ovl_n > cap)
        return KS_E_INVAL;
    n = ri->map_n + ri->ovl_n;
    len = ks__root_bytes(n);
    if (n > cap / 4 || len > cap)
        return KS_E_INVAL;
    ks_st32(out, KS_ROOT_MAGIC);
    ks_st32(out + 4, ri->map_n);
    ks_st32(out + 8, ri->ovl_n);
    ks_st32(out + 12, ri->ovl_end);
    for (i = 0; i < n; i++) {
        uint32_t s = i < ri->map_n ? map_sec[i] : ovl_sec[i - ri->map_n];
        if (s == KS_ROOT_NONE)
            return KS_E_INVAL;
        ks_st32(out + KS_ROOT_HDR + 4 * i, s);
    }
    ks_st32(out + len - 4, ks_crc32c(seed, out, len - 4));
    return (int)len;
}

int ks__root_decode(const uint8_t *in, uint32_t len, uint32_t seed, uint32_t pool,
                    uint32_t map_max, uint32_t ovl_max, uint32_t want_end, ks_root_info *ri,
                    uint32_t *map_out, uint32_t *ovl_out)
{
    uint32_t m, o, n, i, j;

    if (!in || !ri || !map_out || !ovl_out || len < ks__root_bytes(0))
        return KS_E_STORE_CORRUPT;
    m = ks_ld32(in + 4);
    o = ks_ld32(in + 8);
    /* Bound the counts before using them to size the CRC range, so a
     * damaged count can neither overrun the sector nor wrap the sum. */
    if (ks_ld32(in) != KS_ROOT_MAGIC || m > map_max || o > ovl_max ||
        m > (len - ks__root_bytes(0)) / 4 || o > (len - ks__root_bytes(0)) / 4 - m)
        return KS_E_STORE_CORRUPT;
    n = m + o;
    if (ks_ld32(in + ks__root_bytes(n) - 4) != ks_crc32c(seed, in, ks__root_bytes(n) - 4))
        return KS_E_STORE_CORRUPT;
    if (ks_ld32(in + 12) != want_end || (o == 0) != (want_end == 0))
        return KS_E_STORE_CORRUPT;
    /* Everything is checked before anything is handed out, so a refused
     * root leaves the caller's bindings as they were. */
    for (i = 0; i < n; i++) {
        uint32_t s = ks_ld32(in + KS_ROOT_HDR + 4 * i);
        if (s >= pool)
            return KS_E_STORE_CORRUPT;
        /* A sector bound twice would let two virtual sectors alias; the
         * lists are a few hundred sectors at most, read twice per mount. */
        for (j = 0; j < i; j++)
            if (ks_ld32(in + KS_ROOT_HDR + 4 * j) == s)
                return KS_E_STORE_CORRUPT;
    }
    for (i = 0; i < n; i++) {
        uint32_t s = ks_ld32(in + KS_ROOT_HDR + 4 * i);
        if (i < m)
            map_out[i] = s;
        else
            ovl_out[i - m] = s;
    }
    ri->map_n = m;
    ri->ovl_n = o;
    ri->ovl_end = want_end;
    return KS_OK;
}

int ks__root_phys(const uint32_t *vmap, uint32_t vn, uint32_t pool_first, uint32_t pool,
                  uint32_t v, uint32_t *dev)
{
    if (!vmap || !dev || v >= vn || vmap[v] == KS_ROOT_NONE || vmap[v] >= pool)
        return KS_E_STORE_CORRUPT;
    *dev = pool_first + vmap[v];
    return KS_OK;
}
