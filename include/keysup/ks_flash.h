/*
 * ks_flash.h - the flash hardware abstraction the store is written against,
 * in the spirit of littlefs's block-device config: a geometry and four
 * callbacks with a caller-owned context. The store never touches hardware
 * any other way.
 *
 * Contract the store relies on, and a port must provide:
 *   - the device is sector_count sectors of sector_size bytes; a sector is
 *     the erase unit and erase() sets every byte of it to erase_value;
 *   - prog() programs whole program units: off and len are multiples of
 *     prog_size and the range lies inside one sector. The store programs a
 *     unit at most once between erases (the host emulator asserts this);
 *   - read() reads any byte range inside one sector;
 *   - after sync() returns 0, every earlier prog and erase is durable. Progs
 *     not yet synced may be lost, land partly, or land out of order when
 *     power fails; the store orders its writes with sync() accordingly;
 *   - each callback returns 0 (KS_OK) or a negative error, normally KS_E_IO
 *     (a worn sector that no longer programs or erases is reported so, and
 *     the store also reads back every prog and compares it).
 */
#ifndef KEYSUP_KS_FLASH_H
#define KEYSUP_KS_FLASH_H

#include "ks_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ks_flash {
    void *ctx;               /* handed to every callback */
    uint32_t sector_size;    /* erase unit: a power of two, at least 1024 */
    uint32_t sector_count;   /* sector_size * sector_count must stay below 4 GiB */
    uint32_t prog_size;      /* program unit: a power of two from 1 to 256 */
    uint8_t erase_value;     /* what an erased byte reads as (0xFF on NOR) */
    uint32_t endurance;      /* rated erase cycles per sector (the part's datasheet);
                                0 = not stated: wear reports assume 10,000 */

    int (*read)(void *ctx, uint32_t sector, uint32_t off, void *buf, uint32_t len);
    int (*prog)(void *ctx, uint32_t sector, uint32_t off, const void *buf, uint32_t len);
    int (*erase)(void *ctx, uint32_t sector);
    int (*sync)(void *ctx);

    /*
     * Optional (NULL if not): the whole device readable at this address, as
     * on memory-mapped (XIP) NOR or a mmap'd image. Lookups then compare
     * key ids in place instead of calling read(); everything else, and every
     * check, is unchanged.
     */
    const uint8_t *map;

    /*
     * Optional (NULL if not): CRC-32C in hardware (a CRC engine, the SSE4.2
     * or ARMv8 crc32c instructions), with ks_crc32c's exact semantics:
     * crc32c(ctx, ks_crc32c(0, a, n), b, m) == ks_crc32c(0, a||b, n + m).
     * The store uses it for snapshot-area records (lookups, scans, writes)
     * after checking it against the standard check value at mount/format;
     * one that fails the check is ignored and the portable code is used.
     */
    uint32_t (*crc32c)(void *ctx, uint32_t crc, const void *data, size_t len);
} ks_flash;

#ifdef __cplusplus
}
#endif
#endif
