/*
 * ks_hex.h - lower-case hex for keys, ids and signatures, shared by the CLI,
 * the supervisor and the tests.
 */
#ifndef KEYSUP_KS_HEX_H
#define KEYSUP_KS_HEX_H

#include <stddef.h>
#include <stdint.h>

/* out receives 2n hex digits and a NUL (2n + 1 bytes). */
void ks_hex(char *out, const uint8_t *p, size_t n);
/* Exactly 2n hex digits (either case) into out[n]; 0, or -1 otherwise (s may be NULL). */
int ks_unhex(uint8_t *out, size_t n, const char *s);
/* An even number of hex digits, at most 2 * max, into out; *len gets the
 * byte count. 0, or -1 (odd, too long, not hex, NULL). For fields whose
 * length the caller judges (a key's answer). */
int ks_unhex_upto(uint8_t *out, size_t max, const char *s, size_t *len);

#endif
