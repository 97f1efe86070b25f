/*
 * ks_store_geom.c - reading an image's own geometry from its SUPER record,
 * so a tool can open a flash image with no flags.
 *
 * Every compaction writes SUPER first, in slot 0 of the block it builds:
 * at byte 0 (block 0) or at b * meta_sectors * sector_size (block b; a
 * metadata ring has more than two). Any block may be the live one, and
 * the others may be erased (a repair erases the damaged block), so every
 * place is tried: byte 0, then every candidate later block start. A
 * candidate counts only if its record checks (magic, both CRCs, "KSST",
 * layout version) and the geometry it states puts its own block exactly
 * where it was found.
 */
#include <string.h>

#include "ks_store_int.h"

/* Decodes a SUPER record at addr; 1 and g filled when it checks. */
static int super_at(const ks_flash *f, uint32_t addr, ks_store_geom *g)
{
    uint8_t b[KS_REC_HDR + KS_SUPER_RING_SIZE];
    const uint8_t *p = b + KS_REC_HDR;
    uint16_t len;

    if (f->read(f->ctx, addr / f->sector_size, addr % f->sector_size, b, sizeof b) != 0)
        return 0;
    len = ks_ld16(b + 4);
    if (ks_ld16(b) != KS_META_MAGIC || b[2] != KS_MT_SUPER || ks_ld16(b + 6) != 0 ||
        ks_ld32(b + 20) != ks_crc32c(0, b, 20) ||
        (len != KS_SUPER_SIZE && len != KS_SUPER_OVL_SIZE && len != KS_SUPER_GEOM_SIZE &&
         len != KS_SUPER_RING_SIZE) ||
        ks_ld32(b + 16) != ks_crc32c(0, p, len) || memcmp(p, "KSST", 4) != 0 ||
        ks_ld32(p + 4) < KS_STORE_LAYOUT_VERSION || ks_ld32(p + 4) > KS_STORE_LAYOUT_LEVELLED)
        return 0;
    memset(g, 0, sizeof *g);
    g->sector_size = ks_ld32(p + 16);
    g->sector_count = ks_ld32(p + 20);
    g->prog_size = ks_ld16(p + 24);
    g->erase_value = p[26];
    g->meta_sectors = p[27];
    g->audit_sectors = ks_ld32(p + 28);
    g->overlay_sectors = len >= KS_SUPER_OVL_SIZE ? ks_ld32(p + 32) : 0;
    if (len >= KS_SUPER_GEOM_SIZE) {
        g->counter_cap = ks_ld32(p + 36);
        g->has_counter_cap = 1;
    }
    g->meta_blocks = len >= KS_SUPER_RING_SIZE ? ks_ld32(p + 40) : 2u;
    return 1;
}

int ks_store_probe(const ks_flash *f, uint64_t size, ks_store_geom *g)
{
    ks_store_geom c;
    uint32_t sz;

    if (!f || !f->read || !g || !f->sector_size || f->sector_size > 1024 ||
        size < KS_REC_HDR + KS_SUPER_GEOM_SIZE || size > 0xFFFFFFFFu)
        return KS_E_INVAL; /* candidates are 1 KiB aligned: read through 1 KiB sectors */
    sz = (uint32_t)size; /* 32-bit arithmetic: no division helpers on a small MCU */
    for (uint32_t ss = 1024; ss <= sz / 2 && ss <= (1u << 30); ss *= 2) {
        if (sz % ss)
            break;
        /* block 0 (only once: it does not depend on ss), then block 1 */
        for (uint32_t m = ss == 1024 ? 0 : 1; m <= 255 && (uint64_t)m * ss < sz; m++) {
            if (!super_at(f, m * ss, &c))
                continue;
            /* block 1, or (a ring) any later block: m a multiple of M */
            if ((uint64_t)c.sector_size * c.sector_count != sz ||
                (m && (c.sector_size != ss || !c.meta_sectors || m % c.meta_sectors ||
                       m / c.meta_sectors >= c.meta_blocks)))
                continue;
            *g = c;
            return KS_OK;
        }
    }
    return KS_E_NOTFOUND;
}
