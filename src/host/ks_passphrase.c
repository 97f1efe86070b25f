/*
 * ks_passphrase.c - see ks_passphrase.h.
 */
#include "ks_passphrase.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include <keysup/ks_base.h>

#include "ks_fileio.h"

int ks_passphrase_read(const char *file, char **pass, size_t *len, char *msg, size_t msglen)
{
    uint8_t *buf = NULL;
    size_t n = 0, full = 0;
    int ret;

    *pass = NULL;
    *len = 0;
    if (file) {
        ret = ks_file_read(file, KS_PASSPHRASE_MAX, &buf, &n);
        if (ret == KS_E_NOSPC) {
            snprintf(msg, msglen, "%s: larger than the %d bytes this input may have", file,
                     KS_PASSPHRASE_MAX);
            return KS_E_FORMAT;
        }
        if (ret) {
            int e = errno;
            snprintf(msg, msglen, "cannot read %s: %s", file, strerror(e));
            errno = e;
            return KS_E_IO;
        }
        /* Wipe what follows the first line too: it may be secret as well. */
        full = n;
        /* The first line is the passphrase; an editor's final newline is not. */
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\n') {
                n = i;
                break;
            }
        if (n > 0 && buf[n - 1] == '\r')
            n--;
        sodium_memzero(buf + n, full - n);
    } else {
        const char *env = getenv("KEYSUP_PASSPHRASE");
        if (!env)
            return KS_OK;
        n = strlen(env);
        if (n > KS_PASSPHRASE_MAX) {
            snprintf(msg, msglen, "KEYSUP_PASSPHRASE is longer than %d bytes", KS_PASSPHRASE_MAX);
            return KS_E_INVAL;
        }
        buf = malloc(n + 1);
        if (!buf) {
            snprintf(msg, msglen, "out of memory");
            return KS_E_NOSPC;
        }
        memcpy(buf, env, n);
    }
    if (n == 0) {
        free(buf);
        snprintf(msg, msglen, "the passphrase%s%s is empty", file ? " in " : "",
                 file ? file : " in KEYSUP_PASSPHRASE");
        return KS_E_PASSPHRASE;
    }
    *pass = (char *)buf;
    *len = n;
    return KS_OK;
}

void ks_passphrase_free(char *pass, size_t len)
{
    if (!pass)
        return;
    sodium_memzero(pass, len);
    free(pass);
}
