/*
 * ks_flash_file.c - emulated flash with fault injection (see the header).
 */
#define _POSIX_C_SOURCE 200809L
#include "ks_flash_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rnd(ks_flash_emu *e)
{
    /* xorshift64*: deterministic per seed, so a failing sweep replays. */
    e->rng ^= e->rng >> 12;
    e->rng ^= e->rng << 25;
    e->rng ^= e->rng >> 27;
    return e->rng * 0x2545F4914F6CDD1Dull;
}

static int in_range(const ks_flash_emu *e, uint32_t sector, uint32_t off, uint32_t len)
{
    return sector < e->flash.sector_count && off <= e->flash.sector_size &&
           len <= e->flash.sector_size - off;
}

/*
 * The file is the device: what did not reach it is not programmed. A write
 * that fails (the file's disk full, an I/O error) used to be printed and
 * then taken as done (field5): the store committed a delta that lived only
 * in this copy in memory, the agent reported it applied, and after a
 * restart the unit was back on the older database (a revoked key granted
 * again, offline, while the supervisor showed the unit in step). Now the
 * operation fails (KS_E_IO, which the store handles as a failed write) and
 * the memory copy of the range is read back from the file, so the two
 * never disagree about what the flash holds. -1 on failure.
 */
static int write_through(ks_flash_emu *e, size_t addr, size_t len)
{
    int err;
    if (e->fd < 0)
        return 0;
    if (pwrite(e->fd, e->mem + addr, len, (off_t)addr) == (ssize_t)len)
        return 0;
    err = errno;
    fprintf(stderr, "ks_flash_emu: write of %zu bytes at %zu failed: %s\n", len, addr,
            strerror(err));
    if (pread(e->fd, e->mem + addr, len, (off_t)addr) != (ssize_t)len)
        memset(e->mem + addr, e->flash.erase_value ^ 0x5a, len); /* unknown: not erased */
    errno = err;
    return -1;
}

/*
 * CRC-32C with the SSE4.2 crc32 instruction when the CPU has it (the
 * "hardware CRC engine" of the emulated device; see ks_flash.crc32c).
 */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define KS_EMU_HW_CRC 1
__attribute__((target("sse4.2"))) static uint32_t emu_crc32c(void *ctx, uint32_t crc,
                                                             const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc & 0xFFFFFFFFu;
    (void)ctx;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#endif

static int emu_read(void *ctx, uint32_t sector, uint32_t off, void *buf, uint32_t len)
{
    ks_flash_emu *e = ctx;
    if (!in_range(e, sector, off, len))
        return KS_E_INVAL;
    if (!e->powered)
        return KS_E_IO;
    memcpy(buf, e->mem + (size_t)sector * e->flash.sector_size + off, len);
    e->reads++;
    e->read_bytes += len;
    return KS_OK;
}

/* Counts an op; returns 1 when it is the one the power dies at. */
static int cut_now(ks_flash_emu *e)
{
    if (e->cut_after < 0)
        return 0;
    if ((long)e->ops >= e->cut_after) {
        e->powered = 0;
        return 1;
    }
    return 0;
}

static void tear(ks_flash_emu *e, size_t addr, const uint8_t *src, uint32_t len)
{
    uint32_t keep = len ? (uint32_t)(rnd(e) % len) : 0;
    uint32_t pu = e->flash.prog_size, g;
    memcpy(e->mem + addr, src, keep);
    for (g = keep; g < len && g < keep + pu; g++)
        e->mem[addr + g] = (uint8_t)rnd(e);
    (void)write_through(e, addr, len); /* a torn write: whatever landed */
}

static int emu_prog(void *ctx, uint32_t sector, uint32_t off, const void *buf, uint32_t len)
{
    ks_flash_emu *e = ctx;
    size_t addr = (size_t)sector * e->flash.sector_size + off;
    uint32_t pu = e->flash.prog_size;

    if (!in_range(e, sector, off, len) || off % pu || len % pu)
        return KS_E_INVAL;
    if (!e->powered)
        return KS_E_IO;
    for (uint32_t i = 0; i < len; i++)
        if (e->mem[addr + i] != e->flash.erase_value) {
            e->violations++;
            if (e->strict) {
                fprintf(stderr, "ks_flash_emu: prog of a non-erased unit at sector %u offset %u\n",
                        sector, off + i);
                abort();
            }
            return KS_E_IO;
        }
    if (cut_now(e)) {
        if (e->cut_mode & KS_EMU_TORN)
            tear(e, addr, buf, len);
        return KS_E_IO;
    }
    e->ops++;
    if (e->worn && e->worn[sector] == KS_EMU_WORN_LOUD)
        return KS_E_IO;
    memcpy(e->mem + addr, buf, len);
    if (e->worn && e->worn[sector] == KS_EMU_WORN_SILENT)
        e->mem[addr + len / 2] ^= 0x10;
    if (write_through(e, addr, len) != 0)
        return KS_E_IO;
    if (e->npending < KS_EMU_PENDING_MAX) {
        e->pending[e->npending].addr = (uint32_t)addr;
        e->pending[e->npending].len = len;
        e->npending++;
    }
    e->progs++;
    e->prog_bytes += len;
    return KS_OK;
}

static int emu_erase(void *ctx, uint32_t sector)
{
    ks_flash_emu *e = ctx;
    size_t addr = (size_t)sector * e->flash.sector_size;

    if (sector >= e->flash.sector_count)
        return KS_E_INVAL;
    if (!e->powered)
        return KS_E_IO;
    if (cut_now(e))
        return KS_E_IO;
    e->ops++;
    if (e->worn && e->worn[sector] == KS_EMU_WORN_LOUD)
        return KS_E_IO;
    memset(e->mem + addr, e->flash.erase_value, e->flash.sector_size);
    if (write_through(e, addr, e->flash.sector_size) != 0)
        return KS_E_IO;
    /* Pending progs inside the sector are gone anyway. */
    for (uint32_t i = 0; i < e->npending; i++)
        if (e->pending[i].addr >= addr && e->pending[i].addr < addr + e->flash.sector_size)
            e->pending[i].len = 0;
    e->erases++;
    return KS_OK;
}

static int emu_sync(void *ctx)
{
    ks_flash_emu *e = ctx;
    if (!e->powered)
        return KS_E_IO;
    e->npending = 0;
    e->syncs++;
    if (e->fd >= 0 && fdatasync(e->fd) != 0)
        return KS_E_IO;
    return KS_OK;
}

static int setup(ks_flash_emu *e, uint32_t ss, uint32_t sc, uint32_t pu, uint8_t ev)
{
    memset(e, 0, sizeof *e);
    e->fd = -1;
    if (!ss || !sc || !pu || ss % pu)
        return KS_E_INVAL;
    e->size = (size_t)ss * sc;
    e->mem = malloc(e->size);
    e->worn = calloc(sc, 1);
    if (!e->mem || !e->worn) {
        free(e->mem);
        free(e->worn);
        return KS_E_NOSPC;
    }
    memset(e->mem, ev, e->size);
    e->flash.ctx = e;
    e->flash.sector_size = ss;
    e->flash.sector_count = sc;
    e->flash.prog_size = pu;
    e->flash.erase_value = ev;
    e->flash.read = emu_read;
    e->flash.prog = emu_prog;
    e->flash.erase = emu_erase;
    e->flash.sync = emu_sync;
    e->flash.map = e->mem;
#ifdef KS_EMU_HW_CRC
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        e->flash.crc32c = emu_crc32c;
#endif
    e->cut_after = -1;
    e->powered = 1;
    e->strict = 1;
    e->rng = 0x9E3779B97F4A7C15ull;
    return KS_OK;
}

int ks_flash_emu_init(ks_flash_emu *e, uint32_t sector_size, uint32_t sector_count,
                      uint32_t prog_size, uint8_t erase_value)
{
    return setup(e, sector_size, sector_count, prog_size, erase_value);
}

static int load_fd(ks_flash_emu *e, int fd)
{
    size_t got = 0;
    while (got < e->size) {
        ssize_t n = pread(fd, e->mem + got, e->size - got, (off_t)got);
        if (n <= 0)
            return KS_E_IO;
        got += (size_t)n;
    }
    return KS_OK;
}

int ks_flash_emu_open(ks_flash_emu *e, const char *path, uint32_t sector_size,
                      uint32_t sector_count, uint32_t prog_size, uint8_t erase_value,
                      int create)
{
    struct stat sb;
    int err = setup(e, sector_size, sector_count, prog_size, erase_value);
    if (err)
        return err;
    e->fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600);
    if (e->fd < 0)
        goto io;
    if (create) {
        if (write_through(e, 0, e->size) != 0 || fdatasync(e->fd) != 0)
            goto io;
        return KS_OK;
    }
    if (fstat(e->fd, &sb) != 0 || (size_t)sb.st_size != e->size) {
        errno = EINVAL;
        goto io;
    }
    if (load_fd(e, e->fd) == KS_OK)
        return KS_OK;
io:
    ks_flash_emu_close(e);
    return KS_E_IO;
}

int ks_flash_emu_load(ks_flash_emu *e, const char *path, uint32_t sector_size,
                      uint32_t prog_size, uint8_t erase_value)
{
    struct stat sb;
    int fd = open(path, O_RDONLY), err;
    if (fd < 0)
        return KS_E_IO;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0 || (uint64_t)sb.st_size % sector_size ||
        (uint64_t)sb.st_size / sector_size > 0xFFFFFFFFu) {
        close(fd);
        return KS_E_INVAL;
    }
    err = setup(e, sector_size, (uint32_t)((uint64_t)sb.st_size / sector_size), prog_size,
                erase_value);
    if (!err)
        err = load_fd(e, fd);
    close(fd);
    if (err)
        ks_flash_emu_close(e);
    return err;
}

void ks_flash_emu_close(ks_flash_emu *e)
{
    if (e->fd >= 0)
        close(e->fd);
    free(e->mem);
    free(e->worn);
    e->mem = NULL;
    e->worn = NULL;
    e->fd = -1;
}

void ks_flash_emu_cut(ks_flash_emu *e, long k, unsigned mode, uint64_t seed)
{
    e->cut_after = k < 0 ? -1 : (long)e->ops + k;
    e->cut_mode = mode;
    e->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
}

void ks_flash_emu_power_on(ks_flash_emu *e)
{
    if (!e->powered && (e->cut_mode & KS_EMU_REORDER)) {
        for (uint32_t i = 0; i < e->npending; i++) {
            ks_emu_pending *p = &e->pending[i];
            uint64_t r = rnd(e) % 3;
            if (!p->len || r == 0)
                continue; /* landed */
            if (r == 1)
                memset(e->mem + p->addr, e->flash.erase_value, p->len);
            else {
                uint8_t tmp[4096];
                uint32_t n = p->len < sizeof tmp ? p->len : (uint32_t)sizeof tmp;
                memcpy(tmp, e->mem + p->addr, n);
                memset(e->mem + p->addr, e->flash.erase_value, p->len);
                tear(e, p->addr, tmp, n);
            }
            (void)write_through(e, p->addr, p->len); /* the cut's damage, as far as it lands */
        }
    }
    e->npending = 0;
    e->powered = 1;
    e->cut_after = -1;
}

void ks_flash_emu_flip(ks_flash_emu *e, uint64_t bit)
{
    if (bit / 8 >= e->size)
        return;
    e->mem[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    (void)write_through(e, (size_t)(bit / 8), 1); /* a test's bit flip */
}

void ks_flash_emu_wear(ks_flash_emu *e, uint32_t sector, unsigned how)
{
    if (sector < e->flash.sector_count)
        e->worn[sector] = (uint8_t)how;
}

void ks_flash_emu_reset_stats(ks_flash_emu *e)
{
    e->progs = e->prog_bytes = e->erases = e->syncs = e->reads = e->read_bytes = 0;
    e->violations = 0;
}
