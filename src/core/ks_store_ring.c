/*
 * ks_store_ring.c - the metadata ring (docs/store.md, "The metadata ring").
 *
 * Older images have two metadata blocks used in turn, so every compaction
 * erases one of the same 2M sectors: on a levelled device (layout 4) they
 * become its most-erased sectors. With cfg.meta_blocks = K > 2 the blocks
 * form a ring at the start of the device: a compaction writes the block
 * after the one in charge, so each block is erased once every K
 * compactions, and a block whose erase or program fails is passed over
 * (the next one is taken) until the ring has none left. The mount still
 * scans a fixed, bounded region (K * M sectors) and takes the complete
 * block with the highest epoch, exactly as with two.
 *
 * The SUPER names K (a 44-byte SUPER, only when K > 2; a 2-block image's
 * records are unchanged), and the image has the last word at mount: this
 * file reads K from the first SUPER that checks in slot 0 of block 0 or 1,
 * which every compaction writes first. With K > 2 at most one block is
 * being rewritten at a time, so one of the two holds a SUPER that checks
 * unless one is damaged. Calls ks_store_io.c only.
 */
#include <string.h>

#include "ks_store_int.h"

uint32_t ks__ring_probe(const ks_store *st)
{
    ks_rec r;
    int cls;

    for (unsigned b = 0; b < 2; b++) {
        if (ks__slot_read(st, ks__meta_addr(st, b, 0), KS_META_AREA, KS_META_MAGIC, &r, &cls) !=
                KS_OK ||
            cls != KS_SLOT_VALID || r.type != KS_MT_SUPER || r.len < KS_SUPER_SIZE ||
            memcmp(r.payload, "KSST", 4) != 0)
            continue;
        return r.len >= KS_SUPER_RING_SIZE ? ks_ld32(r.payload + 40) : 2u;
    }
    return 0;
}

int ks__ring_erase(ks_store *st, unsigned b)
{
    int err;
    for (uint32_t s = 0; s < st->cfg.meta_sectors; s++)
        if ((err = ks__erase(st, b * st->cfg.meta_sectors + s)) != 0)
            return err;
    return KS_OK;
}
