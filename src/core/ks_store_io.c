/*
 * ks_store_io.c - raw flash access for the store: byte addresses split into
 * (sector, offset) calls, every prog read back and compared, and the slot
 * format shared by the metadata log and the audit ring.
 *
 * A slot is a record area followed by one program unit, the "commit unit".
 * The record is programmed and synced first, then the commit unit. That
 * order is what lets a mount tell a write cut short by power loss (record
 * bad, commit unit still erased: ignore it, the operation never happened)
 * from damage after the fact (record bad, commit unit programmed: KSE-301).
 */
#include <stdint.h>
#include <string.h>

#include "ks_store_int.h"
#include "ks_store_root.h"

static uint32_t sector_shift(const ks_store *st)
{
    uint32_t s = 0;
    while (((uint32_t)1 << s) < st->cfg.flash->sector_size)
        s++;
    return s;
}

/*
 * The accounting below writes the wear counts of a store the rest of this
 * layer sees as const: every store is a caller's non-const object, and the
 * counts are bookkeeping of the flash, not state the callers reason about.
 */
static ks_store *wear_of(const ks_store *st)
{
    return (ks_store *)(uintptr_t)st;
}

/* The device sector behind a sector the store addresses. Layout 4's
 * overlay and maps are virtual sectors past the device's end, bound to
 * pool sectors in cfg.vmap (ks_store_rootw.c); an unbound one is damage
 * (KSE-301), never a read of some other sector. */
static int dev_sector(const ks_store *st, uint32_t sector, uint32_t *dev)
{
    if (!st->levelled || sector < st->virt_first) {
        *dev = sector;
        return KS_OK;
    }
    return ks__root_phys(st->cfg.vmap, st->virt_n, st->pool_first, st->pool_sectors,
                         sector - st->virt_first, dev);
}

int ks_store_device_addr(const ks_store *st, uint32_t addr, uint32_t *dev)
{
    uint32_t sh = sector_shift(st), sec;
    int err = dev_sector(st, addr >> sh, &sec);
    if (err)
        return err;
    *dev = (sec << sh) | (addr & (st->cfg.flash->sector_size - 1));
    return KS_OK;
}

int ks__read(const ks_store *st, uint32_t addr, void *buf, uint32_t len)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t sh = sector_shift(st), mask = f->sector_size - 1;
    uint8_t *p = buf;

    while (len) {
        uint32_t off = addr & mask, n = f->sector_size - off;
        if (n > len)
            n = len;
        uint32_t sec;
        int err = dev_sector(st, addr >> sh, &sec);
        if (err)
            return err;
        err = f->read(f->ctx, sec, off, p, n);
        if (err)
            return err < 0 ? err : KS_E_IO;
        addr += n;
        p += n;
        len -= n;
    }
    return KS_OK;
}

int ks__prog(const ks_store *st, uint32_t addr, const void *buf, uint32_t len)
{
    const ks_flash *f = st->cfg.flash;
    uint32_t sh = sector_shift(st), mask = f->sector_size - 1;
    const uint8_t *p = buf;
    uint8_t back[64];

    while (len) {
        uint32_t off = addr & mask, n = f->sector_size - off;
        if (n > len)
            n = len;
        uint32_t sec;
        int err = dev_sector(st, addr >> sh, &sec);
        if (err)
            return err;
        err = f->prog(f->ctx, sec, off, p, n);
        wear_of(st)->wear.prog_bytes += n;
        if (err)
            return err < 0 ? err : KS_E_IO;
        /* Read back: a worn cell can accept a prog and keep the old bit. */
        for (uint32_t i = 0; i < n; i += sizeof back) {
            uint32_t m = n - i < sizeof back ? n - i : (uint32_t)sizeof back;
            err = f->read(f->ctx, sec, off + i, back, m);
            if (err)
                return err < 0 ? err : KS_E_IO;
            if (memcmp(back, p + i, m) != 0)
                return KS_E_IO;
        }
        addr += n;
        p += n;
        len -= n;
    }
    return KS_OK;
}

int ks__erase(const ks_store *st, uint32_t sector)
{
    const ks_flash *f = st->cfg.flash;
    int err = dev_sector(st, sector, &sector);
    if (err)
        return err;
    /* Counted before the call: a failed erase wore the sector too. */
    ks__wear_erase(wear_of(st), sector);
    err = f->erase(f->ctx, sector);
    return err ? (err < 0 ? err : KS_E_IO) : KS_OK;
}

int ks__sync(const ks_store *st)
{
    const ks_flash *f = st->cfg.flash;
    int err = f->sync ? f->sync(f->ctx) : 0;
    return err ? (err < 0 ? err : KS_E_IO) : KS_OK;
}

int ks__is_erased(const ks_store *st, uint32_t addr, uint32_t len)
{
    uint8_t b[64];
    uint8_t ev = st->cfg.flash->erase_value;

    while (len) {
        uint32_t n = len < sizeof b ? len : (uint32_t)sizeof b;
        int err = ks__read(st, addr, b, n);
        if (err)
            return err;
        for (uint32_t i = 0; i < n; i++)
            if (b[i] != ev)
                return 0;
        addr += n;
        len -= n;
    }
    return 1;
}

int ks__damage(ks_store *st, uint32_t addr, const char *what, unsigned flags)
{
    if (!(st->flags & KS_STORE_F_DAMAGED)) {
        st->damage.err = KS_E_STORE_CORRUPT;
        st->damage.offset = addr;
        st->damage.what = what;
    }
    st->flags |= KS_STORE_F_DAMAGED | flags;
    return KS_E_STORE_CORRUPT;
}

/* ----- slots ----- */

uint32_t ks__meta_addr(const ks_store *st, unsigned block, uint32_t slot)
{
    uint32_t per = st->cfg.flash->sector_size / st->meta_slot_size;
    uint32_t sector = block * st->cfg.meta_sectors + slot / per;
    return sector * st->cfg.flash->sector_size + (slot % per) * st->meta_slot_size;
}

uint32_t ks__audit_addr(const ks_store *st, uint32_t sector, uint32_t slot)
{
    return (st->audit_first + sector) * st->cfg.flash->sector_size + slot * st->audit_slot_size;
}

uint32_t ks__area_addr(const ks_store *st, unsigned area)
{
    return st->area_first[area] * st->cfg.flash->sector_size;
}

static uint32_t area_span(const ks_store *st, uint32_t area)
{
    return ks__align(area, st->cfg.flash->prog_size);
}

int ks__slot_read(const ks_store *st, uint32_t addr, uint32_t area, uint16_t magic,
                  ks_rec *out, int *cls)
{
    uint8_t b[KS_META_AREA];
    uint32_t span = area_span(st, area), pu = st->cfg.flash->prog_size;
    int err, unit_erased, area_erased;

    err = ks__read(st, addr, b, area);
    if (err)
        return err;
    if ((unit_erased = ks__is_erased(st, addr + span, pu)) < 0)
        return unit_erased;

    uint16_t len = ks_ld16(b + 4);
    if (ks_ld16(b) == magic && ks_ld32(b + 20) == ks_crc32c(0, b, 20) &&
        len <= area - KS_REC_HDR && ks_ld16(b + 6) == 0 &&
        ks_ld32(b + 16) == ks_crc32c(0, b + KS_REC_HDR, len)) {
        out->type = b[2];
        out->flags = b[3];
        out->len = len;
        out->seq = ks_ld64(b + 8);
        memcpy(out->payload, b + KS_REC_HDR, len);
        *cls = KS_SLOT_VALID;
        return KS_OK;
    }
    /* A slot whose header still checks names its type and sequence even
     * when its payload does not: mount uses that to tell whether the lost
     * record could have mattered (type 0: unknown). */
    out->type = 0;
    out->seq = 0;
    if (ks_ld16(b) == magic && ks_ld32(b + 20) == ks_crc32c(0, b, 20)) {
        out->type = b[2];
        out->seq = ks_ld64(b + 8);
    }
    area_erased = 1;
    for (uint32_t i = 0; i < area; i++)
        if (b[i] != st->cfg.flash->erase_value)
            area_erased = 0;
    if (area_erased && span > area && (err = ks__is_erased(st, addr + area, span - area)) <= 0) {
        if (err < 0)
            return err;
        area_erased = 0;
    }
    if (area_erased && unit_erased)
        *cls = KS_SLOT_EMPTY;
    else
        *cls = unit_erased ? KS_SLOT_TORN : KS_SLOT_CORRUPT;
    return KS_OK;
}

int ks__slot_write(const ks_store *st, uint32_t addr, uint32_t area, uint16_t magic,
                   const ks_rec *r)
{
    uint8_t b[256 + 256];
    uint32_t span = area_span(st, area), pu = st->cfg.flash->prog_size;
    int err;

    err = ks__is_erased(st, addr, span + pu);
    if (err <= 0)
        return err < 0 ? err : KS__NOT_ERASED;

    memset(b, 0, span);
    ks_st16(b, magic);
    b[2] = r->type;
    b[3] = r->flags;
    ks_st16(b + 4, r->len);
    ks_st16(b + 6, 0);
    ks_st64(b + 8, r->seq);
    memcpy(b + KS_REC_HDR, r->payload, r->len);
    ks_st32(b + 16, ks_crc32c(0, b + KS_REC_HDR, r->len));
    ks_st32(b + 20, ks_crc32c(0, b, 20));
    if ((err = ks__prog(st, addr, b, span)) != 0 || (err = ks__sync(st)) != 0)
        return err;
    /*
     * The record is durable and checks; the commit unit only tells a later
     * mount that it was finished. If programming it fails the record still
     * stands, so the operation has happened: report success.
     */
    memset(b, st->cfg.flash->erase_value ^ 0xA5, pu);
    if (ks__prog(st, addr + span, b, pu) == 0)
        (void)ks__sync(st);
    return KS_OK;
}
