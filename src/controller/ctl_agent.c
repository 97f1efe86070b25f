/*
 * ctl_agent.c - the controller's persistent side: flash file, store mount
 * (with recovery), settings blob, device identity, and the refusal tally the
 * health report carries.
 */
#define _POSIX_C_SOURCE 200809L
#include "ctl_agent.h"
#include "ctl_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <sodium.h>

#include "ks_sodium.h"

/* The settings blob's layout and codec: ctl_codec.c. */

int ctl_settings_save(ctl_agent *a)
{
    uint8_t blob[CTL_SETTINGS_SIZE];
    ctl_settings_encode(&a->set, blob);
    int err = ks_store_settings_set(&a->store, blob, sizeof blob);
    sodium_memzero(blob, sizeof blob);
    if (err == KS_OK) {
        a->set_written = 1; /* the identity file may now say so (ctl_rollback.c) */
        a->set.version = CTL_SETTINGS_VERSION;
    }
    return err;
}

int ctl_settings_load(ctl_agent *a)
{
    uint8_t blob[KS_SETTINGS_MAX];
    uint32_t len = ks_store_settings_get(&a->store, blob, sizeof blob);
    memset(&a->set, 0, sizeof a->set);
    a->set.min_key_format = 1;
    a->set.max_offline = 86400;
    if (len == 0)
        return KS_E_NOTFOUND;
    int err = ctl_settings_decode(&a->set, blob, len);
    sodium_memzero(blob, sizeof blob);
    if (!err && a->set.controller_id)
        ctl_device_key(a);
    return err;
}

void ctl_device_key(ctl_agent *a)
{
    crypto_sign_seed_keypair(a->device_pk, a->device_sk, a->set.device_seed);
    ks_key_id(&a->crypto, a->ctrl_id16, a->device_pk);
}

static int mount_store(ctl_agent *a, const ctl_opts *o, int create, int resized);
static void defaults(ctl_agent *a, const ctl_opts *o);

/* The image's SUPER read through 1 KiB sectors (ks_store_probe's view; a
 * SUPER never straddles a 4 KiB sector). */
static int probe_read(void *ctx, uint32_t s, uint32_t o, void *b, uint32_t l)
{
    const ks_flash *f = ctx;
    uint64_t addr = (uint64_t)s * 1024u + o;
    return f->read(f->ctx, (uint32_t)(addr / f->sector_size), (uint32_t)(addr % f->sector_size),
                   b, l);
}

/* Takes the metadata block size from the image when its SUPER names one
 * for this device (an image of an agent before the ring: 24 sectors); an
 * erased or unreadable image keeps the agent's. The block count needs no
 * help: the mount takes it from the image (ks__ring_probe). */
static void ctl_meta_geometry(ctl_agent *a)
{
    ks_flash view = a->flash.flash;
    ks_store_geom g;
    view.ctx = &a->flash.flash;
    view.read = probe_read;
    view.sector_size = 1024;
    view.sector_count = a->flash.flash.sector_count * (CTL_SECTOR_SIZE / 1024);
    if (ks_store_probe(&view, (uint64_t)CTL_SECTOR_SIZE * a->flash.flash.sector_count, &g) ==
            KS_OK &&
        g.sector_size == CTL_SECTOR_SIZE && g.sector_count == a->flash.flash.sector_count &&
        g.meta_sectors && g.meta_sectors != a->scfg.meta_sectors) {
        fprintf(stderr, "keysup-controller: store.meta: the image has %u metadata blocks of %u "
                        "sectors (kept until it is formatted again)\n", g.meta_blocks,
                g.meta_sectors);
        a->scfg.meta_sectors = g.meta_sectors;
    }
}

int ctl_open(ctl_agent *a, const ctl_opts *o, int create)
{
    int err;
    defaults(a, o);
    if ((err = ks_sodium_crypto(&a->crypto)) != 0)
        return err;
    /* A truncated (or grown) image: set aside, start erased; the identity
     * file gives the unit back its identity (ctl_identity.c). */
    struct stat sb;
    uint64_t want = (uint64_t)CTL_SECTOR_SIZE * a->o.flash_sectors;
    int resized = 0;
    if (!create && stat(o->flash_path, &sb) == 0 && (uint64_t)sb.st_size != want) {
        if ((err = ctl_identity_medium_resized(a, o->flash_path, (uint64_t)sb.st_size, want)) != 0)
            return err;
        resized = 1;
    }
    err = ks_flash_emu_open(&a->flash, o->flash_path, CTL_SECTOR_SIZE, a->o.flash_sectors,
                            CTL_PROG_SIZE, 0xFF, create || resized);
    if (err)
        return err;
    a->flash.strict = 0; /* a real device does not abort on a double program */
    a->flash.flash.endurance = CTL_FLASH_ENDURANCE; /* the wear report's rated cycles */
    return mount_store(a, o, create, resized);
}

static void defaults(ctl_agent *a, const ctl_opts *o)
{
    a->o = *o;
    if (!a->o.flash_sectors)
        a->o.flash_sectors = CTL_DEFAULT_SECTORS;
    if (!a->o.heartbeat)
        a->o.heartbeat = 5;
    if (!a->o.protocol)
        a->o.protocol = CTL_PROTOCOL;
    if (!a->o.meta_sectors)
        a->o.meta_sectors = CTL_META_SECTORS;
    if (!a->o.meta_blocks)
        a->o.meta_blocks = CTL_META_BLOCKS;
    if (!a->o.audit_sectors)
        a->o.audit_sectors = CTL_AUDIT_SECTORS;
    if (!a->o.overlay_sectors)
        a->o.overlay_sectors = CTL_OVERLAY_SECTORS;
    if (!a->o.counters || a->o.counters > CTL_COUNTERS)
        a->o.counters = CTL_COUNTERS;
}

int ctl_open_mem(ctl_agent *a, const ctl_opts *o)
{
    int err;
    defaults(a, o);
    if ((err = ks_sodium_crypto(&a->crypto)) != 0)
        return err;
    err = ks_flash_emu_init(&a->flash, CTL_SECTOR_SIZE, a->o.flash_sectors, CTL_PROG_SIZE, 0xFF);
    if (err)
        return err;
    a->flash.strict = 0;
    a->flash.flash.endurance = CTL_FLASH_ENDURANCE;
    return mount_store(a, o, 1, 0);
}

static int mount_store(ctl_agent *a, const ctl_opts *o, int create, int resized)
{
    int err;
    memset(&a->scfg, 0, sizeof a->scfg);
    a->scfg.flash = &a->flash.flash;
    a->scfg.crypto = &a->crypto;
    a->scfg.counters = a->counters;
    a->scfg.counter_cap = a->o.counters;
    a->scfg.meta_sectors = a->o.meta_sectors;
    a->scfg.meta_blocks = a->o.meta_blocks;
    a->scfg.audit_sectors = a->o.audit_sectors;
    a->scfg.buf = a->buf;
    a->scfg.buf_size = CTL_BUF;
    a->scfg.index = a->index;
    a->scfg.index_cap = CTL_INDEX;
    a->scfg.overlay_sectors = a->o.overlay_sectors;
    a->scfg.overlay = a->overlay;
    a->scfg.overlay_cap = CTL_OVERLAY;
    /* Layout 2 (docs/store.md "Paged snapshots"): a fold rewrites only the
     * pages a change touches. The map is also what a layout 2 image needs
     * to mount; a layout 1 image (an older agent's) ignores it: its SUPER
     * decides. Kept for the agent's life: remounts reuse it. */
    if (!a->sector_map &&
        !(a->sector_map = calloc(KS_STORE_SECTOR_MAP_BYTES(a->o.flash_sectors), 1)))
        return KS_E_NOSPC; /* no RAM for the map: as a too small buffer */
    a->scfg.sector_map = a->sector_map;
    /* Layout 3: each pool sector's erase count (4 bytes a sector), for
     * least-erased-first allocation; layout 1 and 2 images ignore it. */
    if (!a->erase_counts &&
        !(a->erase_counts = calloc(KS_STORE_ERASE_COUNTS_LEN(a->o.flash_sectors),
                                   sizeof *a->erase_counts)))
        return KS_E_NOSPC;
    a->scfg.erase_counts = a->erase_counts;
    /* Layout 4: the overlay's and the maps' sectors bound to pool sectors
     * (docs/store.md "Layout 4"); a layout 1-3 image ignores it. */
    uint32_t vn = KS_STORE_VMAP_LEN(a->o.flash_sectors, CTL_SECTOR_SIZE, a->scfg.overlay_sectors);
    if (!a->vmap && !(a->vmap = calloc(vn, sizeof *a->vmap)))
        return KS_E_NOSPC;
    a->scfg.vmap = a->vmap;
    a->scfg.vmap_cap = vn;
    /* The page fence index (docs/store.md): a lookup reads one page and no
     * map entry. Sized for a page in every sector, so it always fits; a
     * layout 1 image ignores it. */
    if (!a->page_index &&
        !(a->page_index = calloc(KS_STORE_PAGE_INDEX_LEN(a->o.flash_sectors), sizeof *a->page_index)))
        return KS_E_NOSPC;
    a->scfg.page_index = a->page_index;
    a->scfg.page_index_cap = a->o.flash_sectors;
    /* and its map of the applied pages (a bit a sector), without which
     * layout 4, what a controller formats, builds no fence index */
    if (!a->page_index_sectors &&
        !(a->page_index_sectors = calloc(KS_STORE_PAGE_INDEX_SECTORS_BYTES(a->o.flash_sectors), 1)))
        return KS_E_NOSPC;
    a->scfg.page_index_sectors = a->page_index_sectors;

    /* An image formatted before the ring (two blocks of 24 sectors) names
     * its metadata geometry in its SUPER: mount it as it is. */
    if (!create)
        ctl_meta_geometry(a);

    memset(&a->damage, 0, sizeof a->damage);
    err = ks_store_mount(&a->store, &a->scfg, &a->damage);
    int merr = resized ? KS_E_STORE_CORRUPT : err;
    if (resized)
        a->damage.what = "image.size";
    /* Unmountable (e.g. a zeroed metadata sector): not a reason to stop.
     * The identity file restores who this unit is; the store is formatted
     * and fetched again (ctl_identity_bind). */
    if (!create && err != KS_OK && err != KS_E_NOTFOUND && !a->store.mounted) {
        fprintf(stderr, "keysup-controller: KSE-301 store on %s cannot be mounted: %s at flash "
                        "byte %u (%s)\n", o->flash_path, ks_err_name(err), a->damage.offset,
                a->damage.what ? a->damage.what : "?");
        err = KS_E_NOTFOUND; /* formatted below */
    }
    if (err == KS_E_NOTFOUND || (create && err != KS_OK && !a->store.mounted)) {
        err = ctl_store_format(a, NULL);
        if (err)
            return err;
    } else if (err == KS_E_STORE_CORRUPT && a->store.mounted) {
        /* Mounted on the last good state; the heartbeat asks for a full download. */
        fprintf(stderr, "keysup-controller: KSE-301 STORE_CORRUPT at flash byte %u (%s); "
                        "running on the last good state, full download requested\n",
                a->damage.offset, a->damage.what ? a->damage.what : "?");
    } else if (err) {
        return err;
    }
    a->mount_err = err;
    if (ctl_settings_load(a) == KS_E_FORMAT)
        fprintf(stderr, "keysup-controller: settings blob unreadable\n");
    if (!create && (err = ctl_identity_bind(a, merr, &a->damage)) != 0)
        return err;
    return KS_OK;
}

int ctl_store_format(ctl_agent *a, const ks_trust *trust)
{
    a->uploaded = 0; /* a new audit ring: its sequence starts over */
    a->ack_saved_ms = 0;
    /* A new store gets the agent's geometry, whatever the image held. */
    a->scfg.meta_sectors = a->o.meta_sectors;
    a->scfg.meta_blocks = a->o.meta_blocks;
    const char *lay = getenv("KS_STORE_TEST_LAYOUT"), *meta = getenv("KS_STORE_TEST_META");
    unsigned k, m;
    if (lay && strcmp(lay, "3") <= 0) { /* older agents formatted layouts 1-3 with the pair */
        a->scfg.meta_sectors = CTL_META_SECTORS_PAIR;
        a->scfg.meta_blocks = 2;
    }
    if (meta && sscanf(meta, "%ux%u", &k, &m) == 2) {
        a->scfg.meta_blocks = k;
        a->scfg.meta_sectors = m;
    }
    ks_store_cfg cfg = a->scfg;
    if (lay && strcmp(lay, "1") == 0)
        cfg.sector_map = NULL; /* no map: ks_store_format writes layout 1 */
    if (lay && strcmp(lay, "2") == 0)
        cfg.erase_counts = NULL; /* no counts: layout 2 */
    if (lay && strcmp(lay, "3") <= 0)
        cfg.vmap = NULL; /* no bindings: layout 3 (or older) */
    return ks_store_format(&a->store, &cfg, trust);
}

/* Monotonic ms (ctl_thread.c has ctl_mono_ms; this file is also built
 * without it, in test_ctl_rollback). */
static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Upload acknowledgements reach flash lazily (ctl_agent.h, ack_saved_ms). */
void ctl_audit_ack_save(ctl_agent *a, int force)
{
    ks_store_info info;
    if (!a->store.mounted)
        return;
    ks_store_get_info(&a->store, &info);
    if (a->uploaded <= info.audit_acked || a->uploaded > info.audit_last)
        return; /* nothing new, or a count from before a reformat */
    uint64_t now = mono_ms();
    int due = force || !a->ack_saved_ms || now - a->ack_saved_ms >= CTL_ACK_PERSIST_S * 1000ull ||
              (a->uploaded - info.audit_acked) * 4 >= info.audit_capacity;
    if (due && ks_store_audit_ack(&a->store, a->uploaded) == KS_OK)
        a->ack_saved_ms = now;
}

void ctl_close(ctl_agent *a)
{
    ctl_audit_ack_save(a, 1); /* the acknowledgement not yet on flash */
    if (a->curl)
        curl_easy_cleanup(a->curl); /* the kept connection (ctl_http.c) */
    a->curl = NULL;
    sodium_memzero(a->device_sk, sizeof a->device_sk);
    sodium_memzero(&a->set, sizeof a->set);
    ks_flash_emu_close(&a->flash);
    free(a->sector_map);
    a->sector_map = NULL;
    free(a->erase_counts);
    a->erase_counts = NULL;
    free(a->vmap);
    a->vmap = NULL;
    free(a->page_index);
    a->page_index = NULL;
    free(a->page_index_sectors);
    a->page_index_sectors = NULL;
    free(a->part); /* a cut download kept for a resume (ctl_resume.c) */
    a->part = NULL;
    a->part_len = 0;
}

int ctl_start_engine(ctl_agent *a)
{
    ks_auth_cfg cfg;
    ks_auth_cfg_default(&cfg);
    memcpy(cfg.controller_id, a->ctrl_id16, KS_CTRL_ID_SIZE);
    cfg.scope = a->set.scope;
    cfg.min_key_format = a->set.min_key_format ? a->set.min_key_format : 1;
    cfg.sessions = a->sessions;
    cfg.session_cap = CTL_SESSIONS;
    cfg.pending = a->pending;
    cfg.pending_cap = CTL_READERS;
    cfg.crypto = &a->crypto;
    cfg.store = &a->store;
    ctl_hal(a, &cfg.hal);
    memset(a->sessions, 0, sizeof a->sessions);
    memset(a->pending, 0, sizeof a->pending);
    int err = ks_auth_init(&a->auth, &cfg);
    a->auth_ready = err == KS_OK;
    if (a->auth_ready) /* what the supervisor enforced last, kept on flash */
        ks_auth_licence_policy(&a->auth, a->set.lic_enforce, a->set.lic_grace);
    return err;
}

uint64_t ctl_rtc(const ctl_agent *a)
{
    if (a->rtc_reset)
        return 946684800u; /* the RTC's epoch after its battery died: 2000-01-01 */
    return (uint64_t)((int64_t)time(NULL) + a->rtc_skew);
}

int ctl_stale(ctl_agent *a, uint64_t now)
{
    return a->set.controller_id && a->set.max_offline && a->set.last_sync &&
           now > a->set.last_sync + a->set.max_offline;
}

void ctl_note_refusal(ctl_agent *a, int err, uint64_t now)
{
    ctl_refusals *r = &a->refusals;
    int code = ks_err_kse(err);
    if (!code)
        return;
    for (int i = 0; i < r->n; i++)
        if (r->code[i] == code) {
            r->count[i]++;
            r->last[i] = now;
            return;
        }
    if (r->n < CTL_REFUSAL_CODES) {
        r->code[r->n] = code;
        r->count[r->n] = 1;
        r->first[r->n] = r->last[r->n] = now;
        r->n++;
    }
}
