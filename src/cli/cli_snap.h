/*
 * cli_snap.h - snapshot files as the snapshot and delta commands see them:
 * loading with structural checks, trust and policy from the command line,
 * and the JSON shape of headers and records.
 */
#ifndef KEYSUP_CLI_SNAP_H
#define KEYSUP_CLI_SNAP_H

#include "cli_util.h"

/* Largest snapshot file the tools read: 16 Mi records. */
#define CLI_SNAP_READ_MAX ((size_t)KS_SNAP_HEADER_SIZE + ((size_t)1 << 24) * KS_RECORD_SIZE)

typedef struct cli_snap {
    uint8_t *buf;
    size_t len;
    ks_snap_header h;
    const uint8_t *records;  /* inside buf */
    uint32_t count;
} cli_snap;

/* What a file that is not a snapshot is instead, with the command for it
 * (the usual mix-up: another of keysup's files, or the JSON key list a
 * snapshot is built from); NULL for a snapshot or something unknown. */
const char *cli_snap_other_kind(const uint8_t *b, size_t n);
/* Reads path; the header must decode and the size match its record count. */
int cli_snap_load(cli_ctx *cx, const char *path, cli_snap *s);
/* Every record well-formed and key ids strictly increasing. */
int cli_snap_check_records(cli_ctx *cx, const char *path, const cli_snap *s);
void cli_snap_free(cli_snap *s);

/* --trust values (hex keys or key files), then an optional rotation chain. */
int cli_trust_setup(cli_ctx *cx, const cli_list *trust, const char *rotation, ks_trust *t);
/* Moves t along the rotation chain in file rotation (all or nothing). */
int cli_trust_follow_file(cli_ctx *cx, const char *rotation, ks_trust *t);
/* --now (default: the current time) and --applied-version. */
int cli_policy_setup(cli_ctx *cx, const char *now_s, const char *applied_s, const ks_trust *t,
                     ks_policy *p);

void cli_header_json(json_t *o, const ks_snap_header *h);
json_t *cli_record_json(const ks_record *r);

#endif
