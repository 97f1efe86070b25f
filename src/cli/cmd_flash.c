/*
 * cmd_flash.c - `keysup flash inspect|check|wear FILE`: read a controller's
 * flash image (as written by the file-backed flash) and show what the store
 * holds, scan it for damage, or state its wear and projected life. None
 * writes to the file.
 *
 * Exit codes: 0 clean; 1 damage or a refused image (KSE-301 with the sector
 * and offset, or the format problem); 2 usage; 3 the file cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "ks_flash_file.h"
#include "ks_wear.h"

#define FLASH_COUNTERS_MAX 4096

typedef struct flash_opts {
    const char *sector, *prog, *meta, *audit, *counters, *erase, *records, *overlay;
    const char *endurance, *rate;
} flash_opts;

static const char *flash_usage_inspect =
    "usage: keysup flash inspect FILE [options]\n"
    "  Shows what a controller's flash image holds: layout, applied snapshot,\n"
    "  commits, trust, counters, settings, audit ring, and any damage found.\n"
    "options: the image names its own geometry; these override it (and are\n"
    "needed only for an image without a readable SUPER record):\n"
    "  --sector-size N    erase sector in bytes (default 4096)\n"
    "  --prog-size N      program unit in bytes (default 16)\n"
    "  --meta-sectors N   sectors per metadata block (default 2)\n"
    "  --audit-sectors N  sectors of the audit ring (default 2)\n"
    "  --counters N       counter table capacity (default 64)\n"
    "  --overlay-sectors N  sectors of the delta overlay, even (default 0: none)\n"
    "  --erase-value N    erased byte value (default 255)\n"
    "  --records N        also list the first N records' key ids (default 0)\n"
    "  --json             one JSON document\n";

static const char *flash_usage_check =
    "usage: keysup flash check FILE [options]\n"
    "  Scans every metadata slot, the audit ring and every record of the applied\n"
    "  snapshot, then its signature and Merkle root. Exit 0 when clean; otherwise\n"
    "  exit 1 with KSE-301 and the sector/offset of the first damage.\n"
    "options: as for `keysup flash inspect` (--sector-size, --prog-size,\n"
    "  --meta-sectors, --audit-sectors, --counters, --overlay-sectors,\n"
    "  --erase-value, --json)\n";

static int num(cli_ctx *cx, const char *s, uint64_t def, uint64_t max, const char *what,
               uint32_t *out)
{
    uint64_t v = def;
    if (s && (cli_parse_u64(s, &v) != 0 || v > max))
        return cli_err(cx, CLI_USAGE, "USAGE", "%s: bad value '%s'", what, s);
    *out = (uint32_t)v;
    return CLI_OK;
}

typedef struct flash_img {
    const char *geometry_from;  /* "image", "image+flags" or "flags" */
    ks_flash_emu emu;
    ks_store st;
    ks_store_cfg cfg;
    ks_counter *counters;
    ks_ovl_ent *overlay;
    uint8_t *buf;
    uint8_t *sector_map; /* for a paged (layout 2) image; layout 1 ignores it */
    uint32_t *erase_counts; /* for layout 3 (per-sector erase counts); 1 and 2 ignore it */
    uint32_t *vmap;         /* for layout 4 (overlay and map bindings); 1-3 ignore it */
    uint32_t nrecords;
    int mount_err;
    uint32_t endurance; /* --endurance (0: the default) */
    uint32_t rate;      /* --rate: deltas a day to project at (0: none given) */
    ks_diag d;
} flash_img;

/* 1 and g filled when the image names its geometry (ks_store_probe). */
static int probe_image(const char *path, ks_store_geom *g)
{
    ks_flash_emu e;
    int found;
    memset(&e, 0, sizeof e);
    e.fd = -1;
    /* Any image is a whole number of 1 KiB sectors; the probe reads only. */
    if (ks_flash_emu_load(&e, path, 1024, 16, 0xFF) != 0) {
        ks_flash_emu_close(&e);
        return 0;
    }
    found = ks_store_probe(&e.flash, e.size, g) == KS_OK;
    ks_flash_emu_close(&e);
    return found;
}

static int open_image(cli_ctx *cx, int argc, char **argv, const char *usage, flash_img *im)
{
    flash_opts o;
    const char *pos[1];
    int npos, ret;
    uint32_t ss, pu, meta, audit, cap, ev, ovl;
    const cli_opt opts[] = {
        {"--sector-size", CLI_VALUE, &o.sector}, {"--prog-size", CLI_VALUE, &o.prog},
        {"--meta-sectors", CLI_VALUE, &o.meta},  {"--audit-sectors", CLI_VALUE, &o.audit},
        {"--counters", CLI_VALUE, &o.counters},  {"--erase-value", CLI_VALUE, &o.erase},
        {"--records", CLI_VALUE, &o.records},    {"--overlay-sectors", CLI_VALUE, &o.overlay},
        {"--endurance", CLI_VALUE, &o.endurance}, {"--rate", CLI_VALUE, &o.rate},
        {NULL, CLI_FLAG, NULL},
    };

    memset(&o, 0, sizeof o);
    memset(im, 0, sizeof *im);
    im->emu.fd = -1;
    if ((ret = cli_parse(cx, argc, argv, opts, pos, 1, 1, &npos, usage)) != CLI_OK)
        return ret;
    /* The image names its geometry in its SUPER record; flags override
     * it, field by field, and are the only source for an image without
     * one (then the old defaults apply). */
    ks_store_geom g;
    int have_g = probe_image(pos[0], &g);
    int flags = o.sector || o.prog || o.meta || o.audit || o.counters || o.erase || o.overlay;
    im->geometry_from = !have_g ? "flags" : flags ? "image+flags" : "image";
    if (have_g && !g.has_counter_cap) {
        /* An image from before the SUPER named its counter table: the
         * largest table its metadata block can compact. */
        uint32_t slot = ((240 + g.prog_size - 1) / g.prog_size + 1) * g.prog_size;
        uint64_t slots = (uint64_t)g.meta_sectors * (g.sector_size / slot);
        g.counter_cap = slots > 8 ? (uint32_t)((slots - 8) * 4) : 0;
        if (g.counter_cap > FLASH_COUNTERS_MAX)
            g.counter_cap = FLASH_COUNTERS_MAX;
    }
    if ((ret = num(cx, o.sector, have_g ? g.sector_size : 4096, 1u << 30, "--sector-size", &ss)) ||
        (ret = num(cx, o.prog, have_g ? g.prog_size : 16, 256, "--prog-size", &pu)) ||
        (ret = num(cx, o.meta, have_g ? g.meta_sectors : KS_STORE_META_SECTORS_DEFAULT, 255,
                   "--meta-sectors", &meta)) ||
        (ret = num(cx, o.audit, have_g ? g.audit_sectors : KS_STORE_AUDIT_SECTORS_DEFAULT,
                   1u << 20, "--audit-sectors", &audit)) ||
        (ret = num(cx, o.counters, have_g ? g.counter_cap : 64, FLASH_COUNTERS_MAX, "--counters",
                   &cap)) ||
        (ret = num(cx, o.erase, have_g ? g.erase_value : 255, 255, "--erase-value", &ev)) ||
        (ret = num(cx, o.records, 0, 1u << 20, "--records", &im->nrecords)) ||
        (ret = num(cx, o.overlay, have_g ? g.overlay_sectors : 0, 1u << 16, "--overlay-sectors",
                   &ovl)) ||
        (ret = num(cx, o.endurance, 0, 100000000u, "--endurance", &im->endurance)) ||
        (ret = num(cx, o.rate, 0, 100000000u, "--rate", &im->rate)))
        return ret;
    int err = ks_flash_emu_load(&im->emu, pos[0], ss, pu, (uint8_t)ev);
    if (err == KS_E_INVAL)
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "%s: size is not a whole number of %u-byte sectors (check --sector-size)",
                       pos[0], ss);
    if (err)
        return cli_io_err(cx, pos[0], "reading");
    im->counters = calloc(cap ? cap : 1, sizeof *im->counters);
    im->buf = malloc(64 * 1024);
    im->sector_map = calloc(KS_STORE_SECTOR_MAP_BYTES(im->emu.flash.sector_count), 1);
    im->erase_counts = calloc(KS_STORE_ERASE_COUNTS_LEN(im->emu.flash.sector_count),
                              sizeof *im->erase_counts);
    uint32_t vn = KS_STORE_VMAP_LEN(im->emu.flash.sector_count, ss, ovl);
    im->vmap = calloc(vn, sizeof *im->vmap);
    if (!im->counters || !im->buf || !im->sector_map || !im->erase_counts || !im->vmap)
        return cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
    im->cfg.flash = &im->emu.flash;
    im->cfg.crypto = &cx->crypto;
    im->cfg.meta_sectors = meta;
    im->cfg.audit_sectors = audit;
    im->cfg.counters = im->counters;
    im->cfg.counter_cap = cap;
    im->cfg.buf = im->buf;
    im->cfg.buf_size = 64 * 1024;
    im->cfg.sector_map = im->sector_map; /* the image's SUPER says which layout */
    im->cfg.erase_counts = im->erase_counts;
    im->cfg.vmap = im->vmap;
    im->cfg.vmap_cap = vn;
    if (ovl) {
        /* Room for every entry one overlay half can hold (144 bytes each), so
         * whatever the device committed replays. */
        uint32_t ovl_cap = (uint32_t)(((uint64_t)ovl / 2 * ss) / 144 + 1);
        im->overlay = calloc(ovl_cap, sizeof *im->overlay);
        if (!im->overlay)
            return cli_err(cx, CLI_INTERNAL, "INTERNAL", "out of memory");
        im->cfg.overlay_sectors = ovl;
        im->cfg.overlay = im->overlay;
        im->cfg.overlay_cap = ovl_cap;
    }
    im->mount_err = ks_store_mount(&im->st, &im->cfg, &im->d);
    if (im->mount_err == KS_E_INVAL || im->mount_err == KS_E_NOSPC)
        return cli_err(cx, CLI_USAGE, "USAGE",
                       "geometry impossible for this image (sector %u, prog %u, meta %u, "
                       "audit %u, counters %u)", ss, pu, meta, audit, cap);
    return CLI_OK;
}

static void close_image(flash_img *im)
{
    ks_flash_emu_close(&im->emu);
    free(im->counters);
    free(im->overlay);
    free(im->buf);
    free(im->sector_map);
    free(im->erase_counts);
    free(im->vmap);
}

static int damage_err(cli_ctx *cx, flash_img *im, int err, const ks_diag *d)
{
    uint32_t ss = im->emu.flash.sector_size;
    return cli_core_err(cx, err, d, "damage at sector %u offset %u (byte %u, %s); the store "
                        "falls back to the last good state and needs a full download "
                        "(\"Initialize Terminal\")",
                        d->offset / ss, d->offset % ss, d->offset, d->what ? d->what : "?");
}

static json_t *commit_json(const ks_store *st, const ks_store_commit *c)
{
    json_t *o = json_object();
    ks_snap_header h;
    uint32_t dev;
    cli_set_u64(o, "area", c->area);
    cli_set_u64(o, "generation", c->gen);
    cli_set_u64(o, "sequence", c->seq);
    cli_set_u64(o, "record_count", c->count);
    if (c->ovl_gen) {
        cli_set_u64(o, "overlay_half", c->ovl_half);
        cli_set_u64(o, "overlay_generation", c->ovl_gen);
        cli_set_u64(o, "overlay_bytes", c->ovl_end);
        /* the device byte where the half starts (layout 4: wherever the
         * commit's root binds it) */
        if (ks_store_device_addr(st, (st->ovl_first + c->ovl_half * st->ovl_half_sectors) *
                                         st->cfg.flash->sector_size, &dev) == KS_OK)
            cli_set_u64(o, "overlay_offset", dev);
    }
    if (ks_snap_header_decode(&h, c->header, NULL) == 0) {
        cli_set_u64(o, "version", h.version);
        cli_set_time(o, "created_at", h.created_at, 0);
        cli_set_time(o, "expires_at", h.expires_at, 1);
        cli_set_hex(o, "signer_id", h.signer_id, KS_KEYID_SIZE);
        cli_set_hex(o, "root", h.root, KS_HASH_SIZE);
        cli_set_u64(o, "bucket_bits", h.bucket_bits);
    }
    return o;
}

/* open_image, then a mounted store: CLI_OK with im open, else the error
 * (a damaged store reported as damage_err does) with im closed. */
static int open_mounted(cli_ctx *cx, int argc, char **argv, const char *usage, flash_img *im)
{
    int ret = open_image(cx, argc, argv, usage, im);
    if (ret == CLI_OK && !im->st.mounted) {
        ks_diag d = im->d;
        ret = im->mount_err == KS_E_STORE_CORRUPT
                  ? damage_err(cx, im, im->mount_err, &d)
                  : cli_core_err(cx, im->mount_err, &d, "no keysup store in this image");
    }
    if (ret != CLI_OK)
        close_image(im);
    return ret;
}

static int flash_inspect(cli_ctx *cx, int argc, char **argv)
{
    flash_img im;
    ks_store_info in;
    int ret = open_mounted(cx, argc, argv, flash_usage_inspect, &im);
    if (ret != CLI_OK)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    ks_store_get_info(&im.st, &in);
    json_t *o = json_object();
    json_t *lay = json_object();
    /* 1: two contiguous snapshot areas; 2: paged (a map per area, a shared
     * pool of page sectors, docs/store.md); 3: paged with per-sector erase
     * counts: the SUPER says which */
    cli_set_u64(lay, "version", im.st.levelled ? KS_STORE_LAYOUT_LEVELLED
                                : im.st.counted ? KS_STORE_LAYOUT_COUNTED
                                : im.st.paged ? KS_STORE_LAYOUT_PAGED
                                              : KS_STORE_LAYOUT_VERSION);
    if (im.st.paged) {
        cli_set_u64(lay, "pool_sectors", im.st.pool_sectors);
        cli_set_u64(lay, "pool_used", im.st.pool_used);
        cli_set_u64(lay, "retired_sectors", im.st.retired_n);
    }
    cli_set_u64(lay, "sector_size", im.emu.flash.sector_size);
    cli_set_u64(lay, "sector_count", im.emu.flash.sector_count);
    cli_set_u64(lay, "prog_size", im.emu.flash.prog_size);
    cli_set_u64(lay, "meta_sectors", in.meta_sectors);
    cli_set_u64(lay, "meta_blocks", in.meta_blocks);
    cli_set_u64(lay, "audit_sectors", in.audit_sectors);
    cli_set_u64(lay, "area_sectors", in.area_sectors);
    cli_set_u64(lay, "area_capacity", in.area_capacity);
    cli_set_u64(lay, "overlay_sectors", in.overlay_sectors);
    cli_set_u64(lay, "counter_capacity", in.counter_cap);
    cli_set_str(lay, "geometry_from", im.geometry_from);
    json_object_set_new(o, "layout", lay);
    cli_set_str(o, "status", im.mount_err ? "DAMAGED" : "ok");
    if (im.mount_err) {
        char where[96];
        snprintf(where, sizeof where, "sector %u offset %u (%s)",
                 in.flags & KS_STORE_F_DAMAGED ? im.st.damage.offset / im.emu.flash.sector_size : 0,
                 im.st.damage.offset % im.emu.flash.sector_size,
                 im.st.damage.what ? im.st.damage.what : "?");
        cli_set_str(o, "damage", "KSE-301");
        cli_set_str(o, "damage_at", where);
    }
    cli_set_bool(o, "need_full_download", (in.flags & KS_STORE_F_NEED_FULL) != 0);
    cli_set_bool(o, "fell_back", (in.flags & KS_STORE_F_FELL_BACK) != 0);
    cli_set_bool(o, "metadata_damaged", (in.flags & KS_STORE_F_META_DAMAGED) != 0);
    /* The fallback policy this image would run under (docs/store.md). */
    cli_set_str(o, "stale_policy", in.stale_deny_all ? "deny_all"
                                   : in.stale_denied ? "deny_changed" : "none");
    cli_set_u64(o, "changed_keys_listed", in.deny_count);
    cli_set_u64(o, "changed_keys_refused", in.stale_denied);
    cli_set_u64(o, "meta_block", in.meta_block);
    cli_set_u64(o, "meta_epoch", in.meta_epoch);
    cli_set_u64(o, "meta_slots_used", in.meta_used);
    cli_set_u64(o, "meta_slots", in.meta_slots);
    cli_set_u64(o, "last_sequence", in.seq);
    cli_set_u64(o, "highest_version", in.highest_version);
    if (in.has_snapshot)
        json_object_set_new(o, "applied", commit_json(&im.st, &in.cur));
    else
        cli_set_str(o, "applied", "none");
    for (int i = 0; i < 2; i++) {
        char k[16];
        snprintf(k, sizeof k, "area%d_commit", i);
        if (in.last[i].valid)
            json_object_set_new(o, k, commit_json(&im.st, &in.last[i]));
    }
    json_t *tr = json_array();
    const ks_trust *t = ks_store_trust(&im.st);
    for (uint32_t i = 0; i < t->count; i++) {
        char hex[2 * KS_PUBKEY_SIZE + 1];
        ks_hex(hex, t->keys[i], KS_PUBKEY_SIZE);
        json_array_append_new(tr, json_string(hex));
    }
    json_object_set_new(o, "trusted_supervisor_keys", tr);
    cli_set_u64(o, "counters", in.counter_count);
    cli_set_u64(o, "counter_capacity", in.counter_cap);
    json_t *ca = json_array();
    for (uint32_t i = 0; i < in.counter_count; i++) {
        const ks_counter *c = ks_store_counter_at(&im.st, i);
        json_t *r = json_object();
        cli_set_hex(r, "id", c->id, KS_KEYID_SIZE);
        cli_set_str(r, "kind", c->kind == KS_COUNTER_KEY ? "key"
                               : c->kind == KS_COUNTER_READER ? "reader" : "other");
        cli_set_u64(r, "use_counter", c->use_counter);
        cli_set_u64(r, "fails", c->fails);
        cli_set_u64(r, "lock_level", c->lock_level);
        cli_set_u64(r, "locked_until", c->locked_until);
        json_array_append_new(ca, r);
    }
    if (cx->json)
        json_object_set_new(o, "counter_rows", ca);
    else
        json_decref(ca);
    cli_set_u64(o, "settings_bytes", in.settings_len);
    cli_set_u64(o, "audit_newest", in.audit_last);
    cli_set_u64(o, "audit_oldest", in.audit_first);
    cli_set_u64(o, "audit_acknowledged", in.audit_acked);
    cli_set_u64(o, "audit_capacity", in.audit_capacity);
    if (im.nrecords && in.has_snapshot) {
        ks_recsrc src;
        uint8_t rec[KS_RECORD_SIZE];
        json_t *ra = json_array();
        ks_store_records(&im.st, &src);
        for (uint32_t i = 0; i < im.nrecords && i < src.count; i++) {
            char hex[2 * KS_KEYID_SIZE + 16];
            if (ks_recsrc_get(&src, i, rec) != 0)
                snprintf(hex, sizeof hex, "KSE-301");
            else
                ks_hex(hex, rec, KS_KEYID_SIZE);
            json_array_append_new(ra, json_string(hex));
        }
        json_object_set_new(o, "records", ra);
    }
    ret = cli_emit(cx, o);
    close_image(&im);
    return ret;
}

static int flash_check(cli_ctx *cx, int argc, char **argv)
{
    flash_img im;
    ks_diag d = {0, 0, NULL};
    int ret = open_mounted(cx, argc, argv, flash_usage_check, &im);
    if (ret != CLI_OK)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    int err = ks_store_check(&im.st, &d);
    if (err == KS_E_STORE_CORRUPT) {
        ret = damage_err(cx, &im, err, &d);
    } else if (err) {
        ret = cli_core_err(cx, err, &d, "the applied snapshot does not verify");
    } else {
        json_t *o = json_object();
        ks_store_info in;
        ks_store_get_info(&im.st, &in);
        cli_set_str(o, "status", "ok");
        cli_set_bool(o, "has_snapshot", in.has_snapshot);
        if (in.has_snapshot) {
            cli_set_u64(o, "version", im.st.hdr.version);
            cli_set_u64(o, "records", in.cur.count);
            /* Keys that came by delta sit in the overlay, not in the area. */
            cli_set_u64(o, "overlay_entries", in.overlay_entries);
        }
        cli_set_u64(o, "counters", in.counter_count);
        cli_set_u64(o, "audit_newest", in.audit_last);
        ret = cli_emit(cx, o);
    }
    close_image(&im);
    return ret;
}

static const char *flash_usage_wear =
    "usage: keysup flash wear FILE [--endurance N] [--rate N] [options]\n"
    "  States the wear of a controller's flash image: sector erase counts\n"
    "  (min/mean/max), retired sectors, write amplification (bytes programmed\n"
    "  per byte of change), and the projected life: further deltas until the\n"
    "  most-erased sector reaches its rated cycles, and days at the observed\n"
    "  rate and at 10 and 1,440 deltas a day; the metadata (pair or ring)\n"
    "  apart, and the region that wears most.\n"
    "  --endurance N      rated erase cycles per sector (default 10000)\n"
    "  --rate N           also project the life at N deltas a day\n"
    "other options: as for `keysup flash inspect`\n";

static void set_real(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(v));
}

static int flash_wear(cli_ctx *cx, int argc, char **argv)
{
    flash_img im;
    ks_wear_report w;
    int ret = open_mounted(cx, argc, argv, flash_usage_wear, &im);
    if (ret != CLI_OK)
        return ret == CLI_HELP_SHOWN ? CLI_OK : ret;
    /* Mounting may have counted nothing: the counts are what the image holds. */
    ks_wear_report_get(&im.st, im.endurance, &w);
    json_t *o = json_object();
    cli_set_u64(o, "sectors", w.sectors);
    cli_set_u64(o, "erase_min", w.erase_min);
    set_real(o, "erase_mean", w.erase_mean);
    cli_set_u64(o, "erase_max", w.erase_max);
    cli_set_u64(o, "retired_sectors", w.retired);
    set_real(o, "write_amplification", w.write_amp);
    cli_set_u64(o, "commits", w.commits);
    set_real(o, "erases_per_commit", w.erases_per_commit);
    cli_set_u64(o, "endurance", w.endurance);
    set_real(o, "life_deltas", w.life_commits);
    set_real(o, "observed_deltas_per_day", w.rate_per_day);
    set_real(o, "life_days_observed", w.life_days);
    set_real(o, "life_days_10_per_day", ks_wear_life_days(&w, 10));
    set_real(o, "life_days_1440_per_day", ks_wear_life_days(&w, 1440));
    /* the metadata pair or ring (docs/store.md), and the region wearing most */
    json_t *meta = json_object();
    cli_set_u64(meta, "blocks", w.meta_blocks);
    cli_set_u64(meta, "sectors", w.meta_sectors);
    cli_set_u64(meta, "erase_min", w.meta_erase_min);
    cli_set_u64(meta, "erase_max", w.meta_erase_max);
    json_object_set_new(o, "metadata", meta);
    json_object_set_new(o, "hottest", json_string(w.hottest));
    if (im.rate) {
        cli_set_u64(o, "rate_per_day", im.rate);
        set_real(o, "life_days_at_rate", ks_wear_life_days(&w, im.rate));
    }
    ret = cli_emit(cx, o);
    close_image(&im);
    return ret;
}

int cmd_flash(cli_ctx *cx, int argc, char **argv)
{
    static const cli_verb verbs[] = {
        {"inspect", "show what a controller flash image holds", flash_inspect},
        {"check", "scan a flash image for damage (KSE-301 with the place)", flash_check},
        {"wear", "erase counts, write amplification and projected life of an image", flash_wear},
    };
    return cli_run_verb(cx, "flash", verbs, sizeof verbs / sizeof verbs[0], argc, argv);
}
