/*
 * keysup.h - the public interface of libkeysup, the portable core of keysup.
 *
 * Include this one header. Every name carries the ks_ / KS_ prefix. The core
 * allocates nothing and keeps no global state: the caller owns every buffer
 * and context, and supplies crypto through a ks_crypto ops table.
 */
#ifndef KEYSUP_KEYSUP_H
#define KEYSUP_KEYSUP_H

#include "ks_base.h"
#include "ks_record.h"
#include "ks_merkle.h"
#include "ks_snapshot.h"
#include "ks_store.h"
#include "ks_auth.h"
#include "ks_answer.h"

#define KS_VERSION_STRING "0.1.0"

#endif
