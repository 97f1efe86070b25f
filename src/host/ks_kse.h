/*
 * ks_kse.h - the Key Supervisor Error catalogue: the single source of truth
 * for every KSE code. The CLI (`keysup error ...`), the supervisor's API and
 * logs, the console and docs/errors.md are all produced from this table; a
 * test fails when docs/errors.md differs from what it generates.
 *
 * The core only knows the numbers (enum ks_err in ks_base.h); the words live
 * here, on the host, so firmware does not carry them.
 */
#ifndef KEYSUP_KS_KSE_H
#define KEYSUP_KS_KSE_H

#include <stdio.h>

#include <keysup/ks_base.h>

enum ks_severity {
    KS_SEV_INFO = 0,     /* expected in normal use (no key presented) */
    KS_SEV_WARNING = 1,  /* a person or a key is refused; the device is fine */
    KS_SEV_ERROR = 2,    /* the device is degraded; software may repair it */
    KS_SEV_CRITICAL = 3  /* security-relevant, or needs hardware or a person */
};

/* Where a technician looks, in the order diagnosis walks them. */
enum ks_kse_area {
    KS_AREA_COMMUNICATION = 0,
    KS_AREA_STORE = 1,
    KS_AREA_TRUST = 2,
    KS_AREA_SYNC = 3,
    KS_AREA_CLOCK = 4,
    KS_AREA_PROTOCOL = 5,
    KS_AREA_LOCKOUT = 6,
    KS_AREA_PROFILE = 7,
    KS_AREA_KEY = 8,
    KS_AREA_HARDWARE = 9,
    KS_AREA_LICENCE = 10
};

#define KS_KSE_MAX_STEPS 5

typedef struct ks_kse {
    int code;                   /* 301 */
    const char *symbol;         /* "STORE_CORRUPT" */
    enum ks_severity severity;
    enum ks_kse_area area;
    const char *title;          /* one line, for lists */
    const char *cause;          /* what happened and why, for the person at the terminal */
    const char *detection;      /* how keysup notices it */
    int auto_repair;            /* 1 when software repairs it without a person */
    const char *repair;         /* what the software does (auto_repair) or NULL */
    const char *steps[KS_KSE_MAX_STEPS]; /* numbered next steps, NULL-terminated */
} ks_kse;

/* Number of entries, and entry i in code order. */
size_t ks_kse_count(void);
const ks_kse *ks_kse_at(size_t i);
/* Entry for a code (301) or NULL. */
const ks_kse *ks_kse_find(int code);
/* Entry for "KSE-301", "301" or "STORE_CORRUPT" (case-insensitive), or NULL.
 * A symbol's earlier spelling (LICENSE_INVALID for LICENCE_INVALID) still
 * finds its entry. */
const ks_kse *ks_kse_lookup(const char *text);
const char *ks_severity_name(enum ks_severity s);
const char *ks_area_name(enum ks_kse_area a);

/* Writes docs/errors.md's exact content. Returns 0, or -1 on a write error. */
int ks_kse_write_markdown(FILE *f);

#endif
