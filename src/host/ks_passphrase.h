/*
 * ks_passphrase.h - the signing key's passphrase, read the one way every
 * tool reads it: the first line of a file (--passphrase-file), else
 * $KEYSUP_PASSPHRASE; never from argv. Shared by the CLI and `keysupd init`.
 */
#ifndef KEYSUP_KS_PASSPHRASE_H
#define KEYSUP_KS_PASSPHRASE_H

#include <stddef.h>

#define KS_PASSPHRASE_MAX 1024

/*
 * file: the passphrase file, or NULL for $KEYSUP_PASSPHRASE. On KS_OK *pass
 * is the passphrase (not NUL-terminated from a file; *len bytes; free it with
 * ks_passphrase_free), or NULL when neither a file nor the variable gives one.
 * Errors, with msg saying what (for the caller's own error format):
 *   KS_E_IO          the file cannot be read (errno kept)
 *   KS_E_FORMAT      the file is larger than KS_PASSPHRASE_MAX
 *   KS_E_INVAL       $KEYSUP_PASSPHRASE is longer than KS_PASSPHRASE_MAX
 *   KS_E_PASSPHRASE  the passphrase is empty
 *   KS_E_NOSPC       out of memory
 * Everything read beyond the first line is wiped before it is freed.
 */
int ks_passphrase_read(const char *file, char **pass, size_t *len, char *msg, size_t msglen);
/* Wipes and frees what ks_passphrase_read returned (NULL is fine). */
void ks_passphrase_free(char *pass, size_t len);

#endif
