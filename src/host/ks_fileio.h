/*
 * ks_fileio.h - whole-file reads and crash-safe whole-file writes for the
 * host tools. Every file keysup writes (key files, snapshots, deltas,
 * rotation chains) goes through ks_file_write_atomic so a crash or a refused
 * input never leaves a half-written or truncated file behind.
 */
#ifndef KEYSUP_KS_FILEIO_H
#define KEYSUP_KS_FILEIO_H

#include <keysup/keysup.h>

/*
 * Reads all of path into a fresh malloc'd buffer (*buf, *len; free() it).
 * Refuses files larger than max with KS_E_NOSPC (errno EFBIG) so a wrong
 * path cannot make a tool swallow a disk image. KS_E_IO on any OS error,
 * with errno set. An empty file gives *buf non-NULL and *len 0.
 */
int ks_file_read(const char *path, size_t max, uint8_t **buf, size_t *len);

/*
 * Writes buf to path atomically: a temporary file in the same directory,
 * fsync, then rename over path (replace != 0) or link to path (replace == 0,
 * which fails with errno EEXIST when path exists, without a check-then-act
 * race), then fsync of the directory. mode is the permission of the new file
 * (0600 for secrets). On failure path is untouched and the temporary file
 * is gone. Returns KS_OK or KS_E_IO with errno set.
 */
int ks_file_write_atomic(const char *path, const void *buf, size_t len,
                         unsigned mode, int replace);

#endif
