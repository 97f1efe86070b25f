/*
 * ks_store_rootcnt.c - layout 4: the erase counts a root carries
 * (docs/store.md, "Layout 4", the root's count list).
 *
 * The pool's per-sector erase counts go to flash with each page map, so
 * the sectors a state erases after its map (its root, the overlay sectors
 * an epoch enters, the roots of earlier appends, the map sectors erased
 * after the map's count table was staged) would come back too low after a
 * remount until the next fold. Each root therefore carries, after its own
 * CRC, the current count of those sectors:
 *
 *   u32 magic "KSCN", u32 n, n x (u32 sector | KS_RC_ROOT if it was taken
 *   as a root, u32 erase count), u32 CRC-32C of those bytes seeded with the
 *   root's own CRC (so the list belongs to that root and no other).
 *
 * Older layout 4 roots end at their CRC (the rest of the sector erased):
 * no list, nothing applied. Older code reads a root up to its CRC only, so
 * a root with a list still mounts there. The mount raises each listed
 * count to the listed value (never lowers one: a list never over-reports,
 * its counts were the store's own when it was written). Calls
 * ks_store_io.c only.
 */
#include <string.h>

#include "ks_store_int.h"
#include "ks_store_root.h"

#define KS_RC_MAGIC 0x4E43534Bu /* "KSCN" */
#define KS_RC_ROOT 0x80000000u  /* the sector was taken as a root */

static uint32_t add(uint8_t *p, uint32_t n, uint32_t cap, uint32_t s, uint32_t flag,
                    const ks_store *st)
{
    if (s >= st->pool_sectors || n >= cap)
        return n;
    for (uint32_t i = 0; i < n; i++)
        if ((ks_ld32(p + 8 * i) & ~KS_RC_ROOT) == s)
            return n;
    ks_st32(p + 8 * n, s | flag);
    ks_st32(p + 8 * n + 4, st->cfg.erase_counts[s]);
    return n + 1;
}

void ks__rootcnt_taken(ks_store *st, uint32_t s)
{
    uint32_t i;
    for (i = 0; i < st->rc_recent_n && st->rc_recent[i] != s; i++)
        ;
    if (i == st->rc_recent_n) {
        if (st->rc_recent_n == KS_STORE_RC_RECENT) { /* the oldest leaves the list */
            memmove(st->rc_recent, st->rc_recent + 1, (KS_STORE_RC_RECENT - 1) * 4u);
            st->rc_recent_n--;
        }
        st->rc_recent[st->rc_recent_n++] = s;
    }
}

void ks__rootcnt_new_base(ks_store *st, uint32_t root)
{
    /* The new map's table holds every count up to its own staging; only
     * the root written after it (and the map's tail, listed from the
     * bindings) is newer. */
    st->rc_recent_n = 0;
    ks__rootcnt_taken(st, root);
}

uint32_t ks__rootcnt_encode(ks_store *st, const ks_store_commit *c, uint8_t *b, uint32_t off,
                            uint32_t cap)
{
    uint32_t mv, m, ov, o, n = 0, max, tail;
    uint8_t *p = b + off + 8;

    if (off + 12 + 8 > cap)
        return off;
    max = (cap - off - 12) / 8;
    ks__root_extent(st, c, &mv, &m, &ov, &o);
    /* Most useful first, so a list cut short by the sector keeps them:
     * the roots (this one first), the overlay's sectors, then the map's
     * last sectors (those the table was staged before). */
    for (uint32_t i = st->rc_recent_n; i-- > 0;)
        n = add(p, n, max, st->rc_recent[i], KS_RC_ROOT, st);
    for (uint32_t i = 0; i < o; i++)
        n = add(p, n, max, st->cfg.vmap[ov + i], 0, st);
    tail = ks__cnt_bytes(st->pool_sectors) / st->cfg.flash->sector_size + 2;
    for (uint32_t i = m; i-- > 0 && i + tail >= m;)
        n = add(p, n, max, st->cfg.vmap[mv + i], 0, st);
    ks_st32(b + off, KS_RC_MAGIC);
    ks_st32(b + off + 4, n);
    ks_st32(p + 8 * n, ks_crc32c(ks_ld32(b + off - 4), b + off, 8 + 8 * n));
    return off + 12 + 8 * n;
}

int ks__rootcnt_load(ks_store *st, const ks_store_commit *c)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t ss = f->sector_size, off, n;
    uint8_t *b = st->cfg.buf;
    int err;

    if (!c->valid || !c->rooted || c->root >= st->pool_sectors)
        return KS_OK;
    if ((err = ks__read(st, (st->pool_first + c->root) * ss, b, ss)) != 0)
        return err;
    /* Where the root's CRC ends (the root itself was checked at bind). */
    n = ks_ld32(b + 4) + ks_ld32(b + 8);
    if (ks_ld32(b) != KS_ROOT_MAGIC || ks_ld32(b + 4) > ss / 4 || n > (ss - ks__root_bytes(0)) / 4)
        return KS_OK;
    off = ks__root_bytes(n);
    if (ks_ld32(b + off - 4) != ks_crc32c(ks__root_seed(c->gen, c->ovl_gen), b, off - 4))
        return KS_OK; /* not this commit's root (its damage is the bind's to report) */
    if (off + 12 > ss || ks_ld32(b + off) != KS_RC_MAGIC)
        return KS_OK; /* an older root: no list */
    n = ks_ld32(b + off + 4);
    if (n > (ss - off - 12) / 8 ||
        ks_ld32(b + off + 8 + 8 * n) != ks_crc32c(ks_ld32(b + off - 4), b + off, 8 + 8 * n))
        return KS_OK; /* a list that does not check is not used (the map's counts stand) */
    st->rc_recent_n = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t e = ks_ld32(b + off + 8 + 8 * i), s = e & ~KS_RC_ROOT;
        uint32_t k = ks_ld32(b + off + 12 + 8 * i);
        if (s >= st->pool_sectors)
            continue;
        if (k > st->cfg.erase_counts[s])
            st->cfg.erase_counts[s] = k;
        if ((e & KS_RC_ROOT) && st->rc_recent_n < KS_STORE_RC_RECENT)
            st->rc_recent[st->rc_recent_n++] = s;
    }
    /* Listed newest first; the RAM list keeps the oldest first. */
    for (uint32_t i = 0; i < st->rc_recent_n / 2; i++) {
        uint32_t t = st->rc_recent[i];
        st->rc_recent[i] = st->rc_recent[st->rc_recent_n - 1 - i];
        st->rc_recent[st->rc_recent_n - 1 - i] = t;
    }
    return KS_OK;
}
