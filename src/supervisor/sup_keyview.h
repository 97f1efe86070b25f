/*
 * sup_keyview.h - a copy of the active signing key for the answer signer,
 * behind its own mutex (issue 13). Every signed device answer needs the
 * key; taking s->lock for it made each heartbeat queue behind the
 * soft-state flush and every database user. The copy is replaced, under
 * s->lock, where s->sk changes (sup_sigkey.c: load and rotation), so a
 * reader gets either the old pair or the new one, never a mix.
 */
#ifndef KEYSUP_SUP_KEYVIEW_H
#define KEYSUP_SUP_KEYVIEW_H

#include "sup.h"

int sup_keyview_new(sup_ctx *s);
void sup_keyview_free(sup_ctx *s); /* wipes the copy */
/* Copies s->sk/s->pk into the view (s->lock held, after they changed). */
void sup_keyview_set(sup_ctx *s);
/* The pair now; without a view (tools that never made one) from s under
 * s->lock, as before. The caller wipes sk. */
void sup_keyview_get(sup_ctx *s, uint8_t sk[KS_SECKEY_SIZE], uint8_t pk[KS_PUBKEY_SIZE]);

#endif
