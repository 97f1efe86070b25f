/*
 * ctl_identity.c - the unit's identity, kept apart from the credential
 * store (issue 17 rows 2 and 5).
 *
 * The store's settings blob used to be the only copy of who this unit is
 * (controller id, device key seed, supervisor pins). So one zeroed metadata
 * sector made the agent exit, an image of 0xFF started unenrolled, and an
 * image copied from another controller made this unit the donor: its id,
 * its scope, its keys at this door.
 *
 * Now enrolment also writes an identity file (--identity FILE, default the
 * flash path + ".id", mode 0600): controller id, scope, device seed, the
 * supervisor pins, and a random unit secret that never enters the store.
 * The store's settings carry a tag derived from that secret. At start:
 *   - store and file agree: run;
 *   - the store is unreadable, blank or lost its settings: the file gives
 *     the identity back, the store is formatted, KSE-301 says where, and the
 *     first heartbeat fetches a full download (decisions refused meanwhile:
 *     there is no database to grant from);
 *   - the store carries another unit's identity or tag (a copied image):
 *     refused, formatted, this unit's identity kept (the donor's keys are
 *     never used here);
 *   - no file but an enrolled store (enrolled before this existed): the file
 *     is created from the store and the store tagged;
 *   - neither: the identity is gone; the agent runs unenrolled and says the
 *     step is re-provisioning.
 *
 * File layout (version 2, 328 bytes, little-endian):
 *   0 "KSID"  4 version u16  6 trust count u16  8 controller_id u64
 *  16 scope u32  20 settings floor u8 (the oldest settings version the
 *  store may hold: ctl_rollback.c; 0 before it existed)  21 reserved[3]
 *  24 device_seed[32]  56 unit_secret[32]
 *  88 rotation_seq u64  96 trust keys 4 x 32
 * 224 tls_pins u8 (bit 0: current, bit 1: next)  225 reserved[7] (zero)
 * 232 TLS pin current[32]  264 TLS pin next[32]
 * 296 BLAKE2b-256 of bytes 0..295
 * Version 1 (256 bytes) is bytes 0..223 and their hash at 224: no TLS pins.
 * The TLS pins are here so that a unit whose store was wiped still knows
 * which certificate its supervisor serves: without them an HTTPS link to a
 * self-signed supervisor could not be re-established without re-provisioning.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_agent.h"
#include "ctl_codec.h"
#include "ctl_rollback.h"

#define ID_MAGIC CTL_ID_MAGIC
#define ID_VERSION CTL_ID_VERSION
#define ID_SIZE CTL_ID_SIZE
#define ID_BODY CTL_ID_BODY

/* The decoded file; the decoder is ctl_codec.c (fuzz/fuzz_ctl_blobs.c). */
typedef ctl_ident ident;

static const char *id_path(ctl_agent *a)
{
    if (!a->id_path[0]) {
        if (a->o.identity_path)
            snprintf(a->id_path, sizeof a->id_path, "%s", a->o.identity_path);
        else
            snprintf(a->id_path, sizeof a->id_path, "%s.id", a->o.flash_path);
    }
    return a->id_path;
}

static uint64_t tag_of(ctl_agent *a, const uint8_t secret[32])
{
    uint8_t h[KS_HASH_SIZE];
    ks_iov iov[2] = {{"keysup-unit-tag-v1", 18}, {secret, 32}};
    a->crypto.hash(a->crypto.ctx, h, iov, 2);
    uint64_t t = ks_ld64(h);
    return t ? t : 1; /* 0 means "untagged" */
}

static int id_load(ctl_agent *a, ident *out)
{
    uint8_t b[ID_SIZE];
    int fd = open(id_path(a), O_RDONLY);
    ssize_t n;
    int err;
    if (fd < 0)
        return errno == ENOENT ? KS_E_NOTFOUND : KS_E_IO;
    n = read(fd, b, sizeof b);
    close(fd);
    err = n < 0 ? KS_E_FORMAT : ctl_identity_decode(&a->crypto, b, (size_t)n, out);
    sodium_memzero(b, sizeof b);
    return err;
}

int ctl_identity_save(ctl_agent *a)
{
    uint8_t b[ID_SIZE];
    char tmp[1100], dir[1024];
    const ks_trust *t = ks_store_trust(&a->store);
    int fd, err = KS_E_IO;
    if (a->o.identity_path && !a->o.identity_path[0])
        return KS_OK; /* "": a unit in RAM only (keysup-sim), no file to keep */
    memset(b, 0, sizeof b);
    memcpy(b, ID_MAGIC, 4);
    ks_st16(b + 4, ID_VERSION);
    ks_st16(b + 6, (uint16_t)(t ? t->count : 0));
    ks_st64(b + 8, a->set.controller_id);
    ks_st32(b + 16, a->set.scope);
    b[20] = a->set_written ? CTL_SETTINGS_VERSION : a->set_floor;
    memcpy(b + 24, a->set.device_seed, 32);
    memcpy(b + 56, a->unit_secret, 32);
    if (t) {
        ks_st64(b + 88, t->rotation_seq);
        for (uint32_t i = 0; i < t->count && i < KS_TRUST_MAX; i++)
            memcpy(b + 96 + 32 * i, t->keys[i], 32);
    }
    b[224] = a->set.tls_pins & 3;
    memcpy(b + 232, a->set.tls_pin[0], 32);
    memcpy(b + 264, a->set.tls_pin[1], 32);
    ks_iov iov = {b, ID_BODY};
    a->crypto.hash(a->crypto.ctx, b + ID_BODY, &iov, 1);
    /* tmp + fsync + rename + fsync(dir): a power cut leaves the old file or
     * the new one, never half of one. */
    snprintf(tmp, sizeof tmp, "%s.tmp", id_path(a));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        goto cleanup;
    if (write(fd, b, sizeof b) != (ssize_t)sizeof b || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        goto cleanup;
    }
    close(fd);
    if (rename(tmp, id_path(a)) != 0) {
        unlink(tmp);
        goto cleanup;
    }
    snprintf(dir, sizeof dir, "%s", id_path(a));
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    err = KS_OK;
cleanup:
    if (err)
        fprintf(stderr, "keysup-controller: cannot write the identity file %s: %s\n", id_path(a),
                strerror(errno));
    sodium_memzero(b, sizeof b);
    return err;
}

void ctl_identity_new(ctl_agent *a)
{
    randombytes_buf(a->unit_secret, sizeof a->unit_secret);
    a->set.unit_tag = tag_of(a, a->unit_secret);
    a->identity_state = "created";
}

void ctl_identity_sync(ctl_agent *a)
{
    ident id;
    const ks_trust *t = ks_store_trust(&a->store);
    if (!a->set.controller_id || !t || id_load(a, &id) != KS_OK)
        return;
    if (id.trust.count != t->count || id.trust.rotation_seq != t->rotation_seq ||
        memcmp(id.trust.keys, t->keys, sizeof t->keys[0] * t->count) != 0 ||
        id.tls_pins != (a->set.tls_pins & 3) ||
        memcmp(id.tls_pin, a->set.tls_pin, sizeof id.tls_pin) != 0)
        (void)ctl_identity_save(a); /* a rotation, a replaced credential, a new TLS pin,
                                     * or a version 1 file */
    sodium_memzero(&id, sizeof id);
}

int ctl_identity_medium_resized(ctl_agent *a, const char *path, uint64_t have, uint64_t want)
{
    char aside[1100];
    (void)a;
    snprintf(aside, sizeof aside, "%s.damaged", path);
    fprintf(stderr, "keysup-controller: KSE-301 STORE_CORRUPT: the flash image %s is %llu bytes, "
                    "the flash is %llu (truncated?); kept as %s, starting on an erased flash\n",
            path, (unsigned long long)have, (unsigned long long)want, aside);
    if (rename(path, aside) != 0) {
        fprintf(stderr, "keysup-controller: cannot set %s aside: %s\n", path, strerror(errno));
        return KS_E_IO;
    }
    return KS_OK;
}

/* The store cannot be trusted for the identity: format it and put this
 * unit's identity (from the file) back; the next heartbeat downloads. */
static int restore(ctl_agent *a, const ident *id, const char *why, uint32_t at)
{
    int err = ctl_store_format(a, &id->trust);
    if (err) {
        fprintf(stderr, "keysup-controller: cannot format the store: %s\n", ks_strerror(err));
        return err;
    }
    memset(&a->set, 0, sizeof a->set);
    a->set.controller_id = id->controller_id;
    a->set.scope = id->scope;
    memcpy(a->set.device_seed, id->seed, 32);
    a->set.min_key_format = 1;
    a->set.max_offline = 86400;
    a->set.unit_tag = tag_of(a, id->secret);
    a->set.tls_pins = id->tls_pins;
    memcpy(a->set.tls_pin, id->tls_pin, sizeof a->set.tls_pin);
    memcpy(a->unit_secret, id->secret, 32);
    if ((err = ctl_settings_save(a)) != 0)
        return err;
    ctl_device_key(a);
    /* Say it as KSE-301 with its place until the full download clears it
     * (the format above left the store with no damage recorded). */
    ks_diag lost = {KS_E_STORE_CORRUPT, at, why};
    ks_store_mark_damaged(&a->store, &lost);
    a->mount_err = KS_E_STORE_CORRUPT;
    fprintf(stderr, "keysup-controller: KSE-301 STORE_CORRUPT at flash byte %u (%s); identity of "
                    "controller %llu kept from %s, store formatted, full download requested; "
                    "decisions are refused until it arrives\n",
            at, why, (unsigned long long)a->set.controller_id, id_path(a));
    return KS_OK;
}

int ctl_identity_bind(ctl_agent *a, int mount_err, const ks_diag *damage)
{
    ident id;
    int ierr = id_load(a, &id), err = KS_OK;
    int have = a->set.controller_id != 0;
    uint32_t at = damage && damage->err ? damage->offset : 0;
    a->identity_state = "ok";
    if (ierr == KS_OK) {
        uint64_t tag = tag_of(a, id.secret);
        int same = have && a->set.controller_id == id.controller_id &&
                   sodium_memcmp(a->set.device_seed, id.seed, 32) == 0;
        a->set_floor = id.set_floor;
        if (same && a->set.unit_tag == tag) {
            memcpy(a->unit_secret, id.secret, 32);
            err = ctl_rollback_bind(a, id.set_floor);
        } else if (same && a->set.unit_tag == 0) {
            /* written before the tag existed: this unit's own store */
            memcpy(a->unit_secret, id.secret, 32);
            a->set.unit_tag = tag;
            if ((err = ctl_settings_save(a)) == KS_OK)
                err = ctl_rollback_bind(a, id.set_floor);
        } else if (have) {
            snprintf(a->identity_note, sizeof a->identity_note,
                     "the store on %s carried controller %llu%s: refused (an image copied from "
                     "another unit?); this unit stays controller %llu", a->o.flash_path,
                     (unsigned long long)a->set.controller_id,
                     a->set.controller_id == id.controller_id ? " under another unit's tag" : "",
                     (unsigned long long)id.controller_id);
            fprintf(stderr, "keysup-controller: %s\n", a->identity_note);
            a->identity_state = "foreign_store_refused";
            err = restore(a, &id, "store.identity: another unit's store", 0);
        } else {
            snprintf(a->identity_note, sizeof a->identity_note,
                     "the store on %s %s; identity restored from %s", a->o.flash_path,
                     mount_err == KS_E_NOTFOUND ? "is blank (erased)" : mount_err ?
                     "cannot be mounted" : "lost its settings", id_path(a));
            a->identity_state = "restored";
            err = restore(a, &id, mount_err == KS_E_NOTFOUND ? "store.blank" : damage && damage->what
                                      ? damage->what : "store.settings", at);
        }
    } else if (have) {
        /* enrolled before identity files existed, or the file is damaged:
         * (re)create it from the store (a new unit secret and tag) */
        if (ierr != KS_E_NOTFOUND)
            fprintf(stderr, "keysup-controller: identity file %s unreadable; written again from "
                            "the store\n", id_path(a));
        ctl_identity_new(a);
        if ((err = ctl_settings_save(a)) == KS_OK)
            err = ctl_identity_save(a);
    } else if ((mount_err && mount_err != KS_E_NOTFOUND) || ierr != KS_E_NOTFOUND) {
        /* The store lost the identity and no file holds it: nothing on this
         * unit can say who it is. Only a person can. */
        a->identity_state = "lost";
        snprintf(a->identity_note, sizeof a->identity_note,
                 "the identity is gone (store %s, identity file %s %s): re-provision this "
                 "controller: `keysup controller add NAME --scope N`, then "
                 "`keysup-controller enroll --flash %s --supervisor URL --token T`",
                 mount_err ? "unreadable" : "without settings", id_path(a),
                 ierr == KS_E_NOTFOUND ? "missing" : "unreadable", a->o.flash_path);
        fprintf(stderr, "keysup-controller: %s\n", a->identity_note);
    }
    sodium_memzero(&id, sizeof id);
    return err;
}
