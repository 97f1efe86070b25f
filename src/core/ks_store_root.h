/*
 * ks_store_root.h - layout 4's root sector (docs/store.md, "Layout 4:
 * the whole device levelled (specified, not built yet)").
 *
 * The codec of the on-flash root and the translation of the hot window's
 * virtual sectors; ks_store_io.c translates through ks__root_phys and
 * ks_store_rootw.c writes and binds roots. Layouts 1-3 never use them.
 */
#ifndef KEYSUP_KS_STORE_ROOT_H
#define KEYSUP_KS_STORE_ROOT_H

#include <stdint.h>

#define KS_ROOT_MAGIC 0x3452534Bu /* "KSR4" */
#define KS_ROOT_HDR 16            /* magic, map sectors, overlay sectors, overlay end */
#define KS_ROOT_NONE UINT32_MAX   /* a virtual sector bound to no pool sector */

/* What a root names (the u32 list itself is the caller's array). */
typedef struct ks_root_info {
    uint32_t map_n;   /* sectors of the commit's page map */
    uint32_t ovl_n;   /* sectors of its overlay half entered so far (0: no overlay) */
    uint32_t ovl_end; /* the COMMIT's committed overlay end (0: no overlay) */
} ks_root_info;

/* Bytes a root of n = map_n + ovl_n sectors takes (before program-unit
 * padding): header, the list, the CRC. */
static inline uint32_t ks__root_bytes(uint32_t n)
{
    return KS_ROOT_HDR + 4u * n + 4u;
}

/* The CRC seed a root is sealed with: its COMMIT's generation, then the
 * overlay generation it names (0 without an overlay). Overlay appends keep
 * the base generation, so the overlay generation and the overlay end (in
 * the header) are what tell one append's root from the previous one's. */
uint32_t ks__root_seed(uint64_t gen, uint64_t ovl_gen);

/* Encodes a root into out (cap bytes): map_sec holds the map's map_n pool
 * sectors, ovl_sec the overlay's ovl_n. KS_E_INVAL when it does not fit
 * cap or a sector is KS_ROOT_NONE. Returns the bytes written (> 0). */
int ks__root_encode(uint8_t *out, uint32_t cap, const ks_root_info *ri, const uint32_t *map_sec,
                    const uint32_t *ovl_sec, uint32_t seed);

/* Decodes and checks a root read from flash (len bytes, the sector's
 * size): magic, counts within map_max / ovl_max, the CRC under seed, every
 * sector < pool, no sector listed twice, and ovl_end equal to want_end.
 * Only then map_out (room for map_max) gets the map's sectors and ovl_out
 * (room for ovl_max) the overlay's. KS_E_STORE_CORRUPT on any failure,
 * with nothing written. */
int ks__root_decode(const uint8_t *in, uint32_t len, uint32_t seed, uint32_t pool,
                    uint32_t map_max, uint32_t ovl_max, uint32_t want_end, ks_root_info *ri,
                    uint32_t *map_out, uint32_t *ovl_out);

/* The hot window's virtual sector v (0-based: overlay half 0, half 1, map
 * 0, map 1, as in the fixed layouts) bound to a device sector through vmap
 * (vn entries of pool sectors, KS_ROOT_NONE when unbound). KS_OK with
 * *dev = pool_first + vmap[v]; KS_E_STORE_CORRUPT for an unbound or out of
 * range sector, so a read through a missing binding is damage, never a
 * read of some other sector. */
int ks__root_phys(const uint32_t *vmap, uint32_t vn, uint32_t pool_first, uint32_t pool,
                  uint32_t v, uint32_t *dev);

#endif
