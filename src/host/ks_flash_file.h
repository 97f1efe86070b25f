/*
 * ks_flash_file.h - emulated flash for Linux: a ks_flash backed by memory,
 * optionally written through to a file, with fault injection for tests.
 *
 * Faults it models:
 *   - power cut after the k-th prog or erase (cut_after = k: ops 1..k
 *     happen, op k+1 and every later op fail with KS_E_IO until
 *     ks_flash_emu_power_on). With KS_EMU_TORN the op at the cut, if a
 *     prog, lands partly: a random prefix is written, the next program unit
 *     gets random garbage, the rest stays erased. With KS_EMU_REORDER each
 *     prog since the last sync independently either landed, never landed
 *     (back to erased) or tore, as on a device with a write cache.
 *     Erases are atomic (done or not done);
 *   - bit flips at a chosen bit or at random bits;
 *   - worn sectors: prog and erase fail with KS_E_IO (loud), or prog
 *     returns 0 but one bit does not take (silent; the store's read-back
 *     catches it);
 *   - programming a byte that is not erased: counted in `violations`, and
 *     abort()s when `strict` is set (the default).
 * It counts progs, erases, syncs and bytes for write-amplification figures.
 */
#ifndef KEYSUP_KS_FLASH_FILE_H
#define KEYSUP_KS_FLASH_FILE_H

#include <keysup/ks_flash.h>

#define KS_EMU_TORN 1u
#define KS_EMU_REORDER 2u

#define KS_EMU_WORN_LOUD 1u
#define KS_EMU_WORN_SILENT 2u

typedef struct ks_emu_pending {
    uint32_t addr, len;
} ks_emu_pending;

#define KS_EMU_PENDING_MAX 256

typedef struct ks_flash_emu {
    ks_flash flash;          /* pass &emu->flash to the store */
    uint8_t *mem;
    size_t size;
    int fd;                  /* -1 for memory only */

    /* fault injection */
    long cut_after;          /* -1: never */
    unsigned cut_mode;       /* KS_EMU_TORN | KS_EMU_REORDER */
    int powered;
    uint64_t rng;
    uint8_t *worn;           /* per sector: 0 or KS_EMU_WORN_* */
    int strict;

    /* progs since the last sync, for KS_EMU_REORDER */
    ks_emu_pending pending[KS_EMU_PENDING_MAX];
    uint32_t npending;

    /* counters */
    uint64_t ops;            /* progs + erases attempted while powered */
    uint64_t progs, prog_bytes, erases, syncs, reads, read_bytes, violations;
} ks_flash_emu;

/* An erased in-memory device. KS_E_INVAL / KS_E_NOSPC (no memory). */
int ks_flash_emu_init(ks_flash_emu *e, uint32_t sector_size, uint32_t sector_count,
                      uint32_t prog_size, uint8_t erase_value);
/*
 * A device backed by a file: loaded into memory, every prog and erase
 * written through, sync is fdatasync. create: make (or truncate to) an
 * erased file of the geometry; otherwise the file's size must match it.
 */
int ks_flash_emu_open(ks_flash_emu *e, const char *path, uint32_t sector_size,
                      uint32_t sector_count, uint32_t prog_size, uint8_t erase_value,
                      int create);
/* Opens a file read-only into memory (for inspect/check): progs go nowhere. */
int ks_flash_emu_load(ks_flash_emu *e, const char *path, uint32_t sector_size,
                      uint32_t prog_size, uint8_t erase_value);
void ks_flash_emu_close(ks_flash_emu *e);

/* Arms a power cut after k more progs/erases (k counted from now). */
void ks_flash_emu_cut(ks_flash_emu *e, long k, unsigned mode, uint64_t seed);
/* Restores power: resolves unsynced progs per the cut mode, clears the cut. */
void ks_flash_emu_power_on(ks_flash_emu *e);
void ks_flash_emu_flip(ks_flash_emu *e, uint64_t bit);
void ks_flash_emu_wear(ks_flash_emu *e, uint32_t sector, unsigned how);
void ks_flash_emu_reset_stats(ks_flash_emu *e);

#endif
