/*
 * ctl_scrub.c - the medium scrub (issue 17 row 3). The file-backed flash
 * keeps the image in RAM and writes through; the store's integrity scan
 * reads that RAM. Something else writing the image file (a surge on a real
 * part, a stray dd, a failing disk) was invisible: `ctl status` said "ok"
 * while `keysup flash check` failed on the file.
 *
 * Each heartbeat reads the next slice of the medium itself and compares it
 * with what the agent wrote. A sector that differs is taken as the flash
 * now holds it (RAM := medium, as a real part would be read), and the
 * integrity scan that follows in the same heartbeat judges it: damage in
 * live data is KSE-301 with its place and a full download; a change in
 * space the store does not use is logged and needs no download.
 *
 * Bound: a slice is max(CTL_SCRUB_MIN, sectors / CTL_SCRUB_BEATS) sectors,
 * so the whole medium is read within CTL_SCRUB_BEATS heartbeats at any size
 * (docs/controller.md). The file is read in chunks with the agent lock
 * released, so decisions never wait for the scrub's I/O; only sectors that
 * differ are re-read under the lock before they count (the agent may have
 * written them between the read and the compare).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_agent.h"

#define CHUNK_SECTORS 64u

static int read_at(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* error, or the file is shorter than the flash: truncated */
        got += (size_t)n;
    }
    return 0;
}

uint32_t ctl_scrub_slice(const ctl_agent *a)
{
    uint32_t sc = a->flash.flash.sector_count;
    uint32_t s = (sc + CTL_SCRUB_BEATS - 1) / CTL_SCRUB_BEATS;
    if (s < CTL_SCRUB_MIN)
        s = CTL_SCRUB_MIN;
    return s > sc ? sc : s;
}

/* One sector differs in the chunk read without the lock: re-read it under
 * the lock; 1 when the medium really holds other bytes (now taken). */
static int confirm(ctl_agent *a, uint32_t sector, uint8_t *tmp, uint32_t *first_byte)
{
    ks_flash_emu *e = &a->flash;
    uint32_t ss = e->flash.sector_size;
    uint8_t *ram = e->mem + (size_t)sector * ss;
    if (read_at(e->fd, tmp, ss, (uint64_t)sector * ss) != 0)
        return -1;
    if (memcmp(tmp, ram, ss) == 0)
        return 0;
    uint32_t i = 0;
    while (i < ss && tmp[i] == ram[i])
        i++;
    *first_byte = sector * ss + i;
    memcpy(ram, tmp, ss);
    return 1;
}

int ctl_scrub_tick(ctl_agent *a)
{
    ks_flash_emu *e = &a->flash;
    uint32_t ss = e->flash.sector_size, sc = e->flash.sector_count;
    uint32_t left = ctl_scrub_slice(a), changed = 0;
    uint8_t *buf;
    int rc = 0;
    if (e->fd < 0 || !sc)
        return 0;
    buf = malloc((size_t)CHUNK_SECTORS * ss);
    if (!buf)
        return 0; /* try again next heartbeat */
    while (left > 0) {
        uint32_t first = a->scrub_next, n = CHUNK_SECTORS;
        if (n > left)
            n = left;
        if (n > sc - first)
            n = sc - first;
        ctl_unlock(a);
        int rerr = read_at(e->fd, buf, (size_t)n * ss, (uint64_t)first * ss);
        ctl_lock(a);
        if (rerr) {
            if (!a->medium_err)
                fprintf(stderr, "keysup-controller: KSE-900 HARDWARE_FAULT: flash medium unreadable "
                                "at sector %u (%s); deciding on what was read before, a person "
                                "must check the part\n", first, errno ? strerror(errno) : "short read");
            a->medium_err = KS_E_HARDWARE_FAULT;
            a->medium_sector = first;
            rc = KS_E_HARDWARE_FAULT;
            break;
        }
        for (uint32_t k = 0; k < n; k++) {
            uint32_t s = first + k, at = 0;
            if (memcmp(buf + (size_t)k * ss, e->mem + (size_t)s * ss, ss) == 0)
                continue;
            int c = confirm(a, s, buf + (size_t)k * ss, &at);
            if (c == 1) {
                if (!changed++) {
                    a->medium_changes++;
                    a->medium_change_at = at;
                }
            }
        }
        a->scrub_next = first + n >= sc ? 0 : first + n;
        if (a->scrub_next == 0)
            a->scrub_passes++;
        left -= n;
    }
    free(buf);
    if (!rc && a->medium_err) {
        fprintf(stderr, "keysup-controller: flash medium readable again\n");
        a->medium_err = 0;
    }
    if (changed)
        fprintf(stderr, "keysup-controller: flash medium changed under the agent: %u sector(s), "
                        "first at byte %u; checking the store\n", changed, a->medium_change_at);
    return rc ? rc : changed ? 1 : 0;
}
