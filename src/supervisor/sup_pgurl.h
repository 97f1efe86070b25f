/*
 * sup_pgurl.h - a PostgreSQL URL split into the URL without its password and
 * the password (sup_pgurl.c says why).
 */
#ifndef KEYSUP_SUP_PGURL_H
#define KEYSUP_SUP_PGURL_H

#include <stddef.h>

/* url's password (userinfo or ?password=, percent-decoded) into pw ("" when
 * none), the rest into out. 0, or -1 when it is not scheme://... or does
 * not fit. */
int sup_pgurl_split(const char *url, char *out, size_t outn, char *pw, size_t pwn);

#endif
