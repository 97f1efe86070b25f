/*
 * fuzz_flash_image.c - libFuzzer target: an arbitrary flash image (the
 * input, padded with erased bytes to a 16-sector device) is mounted, looked
 * up, listed, checked and written to. Nothing may crash, read out of
 * bounds or program a unit that is not erased (the emulator aborts).
 * The lowest bit of the first byte picks a layout with a delta overlay
 * (two sectors) so the overlay's replay is fuzzed too.
 *
 * Also (ks_store_geom.c, ks_store_deny.c):
 *   - the geometry probe runs on the raw image (whole, and cut to the
 *     input's length): what it finds states the size it was given; an
 *     image that mounts cleanly always names its geometry; a found
 *     geometry that fits the emulator is mounted as a tool would;
 *   - every key looked up passes through the fallback check: only OK or
 *     KSE-303, every key refused under deny-all, none refused on the
 *     newest state, the list within its bounds; and after the writes and
 *     the remount, a key refused on a version is still refused on that
 *     same version (a fallback never revives a revocation).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <keysup/keysup.h>

#include "ks_flash_file.h"
#include "ks_sodium.h"

#define SECTOR 1024u
#define SECTORS 16u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEYS 16

/* Probes the image as `keysup flash check` does; checks what it states. */
static int probe(ks_flash_emu *emu, uint64_t size, ks_store_geom *g)
{
    int rc = ks_store_probe(&emu->flash, size, g);
    if (rc == KS_OK && ((uint64_t)g->sector_size * g->sector_count != size || !g->sector_size))
        abort();
    if (rc != KS_OK && rc != KS_E_NOTFOUND && rc != KS_E_INVAL)
        abort();
    return rc;
}

/* The fallback decision on key; checks it against the store's state. */
static int fallback(const ks_store *st, const uint8_t key[KS_KEYID_SIZE])
{
    int rc = ks_store_fallback_check(st, key);
    if (st->deny_n > st->deny_cap || st->deny_cap > KS_STORE_DENY_MAX)
        abort();
    if (rc != KS_OK && rc != KS_E_STALE_DENIED)
        abort();
    if (st->cur.valid && ks_store_deny_all(st) && rc != KS_E_STALE_DENIED)
        abort();
    if (rc == KS_E_STALE_DENIED &&
        (!st->cur.valid || (!(st->flags & KS_STORE_F_FELL_BACK) && st->deny_firm <= st->hdr.version)))
        abort(); /* refused on the newest state, with no lost record to explain it */
    return rc;
}

/* A lookup; with the page fence index in use, the map path must give the
 * same answer (code, and the record on a hit). */
static void lookup2(ks_store *st, const uint8_t key[KS_KEYID_SIZE], uint8_t rec[KS_RECORD_SIZE])
{
    uint8_t r2[KS_RECORD_SIZE];
    uint32_t n = st->pidx_n;
    int rc = ks_store_lookup(st, key, rec);
    if (!n)
        return;
    st->pidx_n = 0;
    int rc2 = ks_store_lookup(st, key, r2);
    st->pidx_n = n;
    if (rc != rc2 || (rc == KS_OK && memcmp(rec, r2, KS_RECORD_SIZE) != 0))
        abort();
}

/* Lookups with their fallback decisions, writes, a remount: what a
 * mounted store (of either geometry) must survive. */
static void exercise(ks_store *st, const ks_store_cfg *cfg)
{
    uint8_t rec[KS_RECORD_SIZE], pl[KS_AUDIT_PAYLOAD];
    uint64_t seq;
    ks_recsrc src;
    ks_store_info in;
    /* keys looked up, and whether the fallback check refused them */
    static uint8_t keys[KEYS][KS_KEYID_SIZE];
    int denied[KEYS], nk = 0;
    int had_cur = st->cur.valid;
    uint64_t version = st->hdr.version;
    memset(keys[nk], 0, KS_KEYID_SIZE);
    lookup2(st, keys[nk], rec);
    denied[nk] = fallback(st, keys[nk]) == KS_E_STALE_DENIED;
    nk++;
    memset(keys[nk], 0xFF, KS_KEYID_SIZE);
    lookup2(st, keys[nk], rec);
    denied[nk] = fallback(st, keys[nk]) == KS_E_STALE_DENIED;
    nk++;
    ks_store_records(st, &src);
    for (uint32_t i = 0; i < src.count && i < 8; i++) {
        (void)ks_recsrc_get(&src, i, rec);
        memcpy(keys[nk], rec, KS_KEYID_SIZE);
        lookup2(st, keys[nk], rec);
        memcpy(keys[nk], rec, KS_KEYID_SIZE);
        denied[nk] = fallback(st, keys[nk]) == KS_E_STALE_DENIED;
        nk++;
    }
    /* the keys the changed-keys list names, too */
    for (uint32_t i = 0; i < st->deny_n && nk < KEYS; i++) {
        memcpy(keys[nk], st->deny[i].id, KS_KEYID_SIZE);
        denied[nk] = fallback(st, keys[nk]) == KS_E_STALE_DENIED;
        nk++;
    }
    ks_store_get_info(st, &in);
    if (in.deny_count != st->deny_n || in.stale_deny_all != ks_store_deny_all(st))
        abort();
    (void)ks_store_audit_read(st, 0, pl, &seq);
    (void)ks_store_check(st, NULL);
    /* writing must also be safe on whatever was found */
    ks_counter k;
    memset(&k, 0, sizeof k);
    k.use_counter = 1;
    (void)ks_store_counter_put(st, &k);
    memset(pl, 1, sizeof pl);
    (void)ks_store_audit_append(st, pl, &seq);
    (void)ks_store_settings_set(st, "s", 1);
    (void)ks_store_mount(st, cfg, NULL);
    /* the same version answering again: what it refused stays refused */
    if (st->mounted && had_cur && st->cur.valid && st->hdr.version == version)
        for (int i = 0; i < nk; i++)
            if (denied[i] && fallback(st, keys[i]) != KS_E_STALE_DENIED)
                abort();
}

/* A store mounted with the geometry the image names (the tool's path). */
static void mount_probed(const ks_store_geom *g, ks_flash_emu *emu, const ks_crypto *c)
{
    static ks_counter counters[64];
    static ks_ovl_ent overlay[64];
    static uint8_t buf[2048];
    static uint8_t smap[KS_STORE_SECTOR_MAP_BYTES(32768)];
    static uint32_t counts[KS_STORE_ERASE_COUNTS_LEN(32768)];
    static uint32_t vmap[4096]; /* layout 4's bindings */
    ks_flash_emu e2;
    ks_store st;
    ks_store_cfg cfg;

    if (g->sector_size > 1024 || g->sector_size < 64 || g->prog_size == 0 || g->prog_size > 64 ||
        g->counter_cap > 64 || (uint64_t)g->sector_size * g->sector_count > emu->size)
        return;
    if (ks_flash_emu_init(&e2, g->sector_size, g->sector_count, g->prog_size, g->erase_value) != 0)
        return;
    memcpy(e2.mem, emu->mem, e2.size);
    memset(&cfg, 0, sizeof cfg);
    cfg.flash = &e2.flash;
    cfg.crypto = c;
    cfg.meta_sectors = g->meta_sectors;
    cfg.audit_sectors = g->audit_sectors;
    cfg.counters = counters;
    cfg.counter_cap = g->has_counter_cap ? g->counter_cap : 4;
    cfg.buf = buf;
    cfg.buf_size = sizeof buf;
    cfg.overlay_sectors = g->overlay_sectors;
    cfg.overlay = overlay;
    cfg.overlay_cap = 64;
    if (g->sector_count <= 32768) {
        cfg.sector_map = smap; /* a paged (layout 2) image needs it */
        cfg.erase_counts = counts; /* layout 3 too */
        cfg.vmap = vmap;           /* and layout 4 */
        cfg.vmap_cap = sizeof vmap / sizeof vmap[0];
    }
    int rc = ks_store_mount(&st, &cfg, NULL);
    if (st.mounted && (rc == KS_OK || rc == KS_E_STORE_CORRUPT))
        exercise(&st, &cfg);
    ks_flash_emu_close(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ks_crypto c;
    static int init;
    ks_flash_emu emu;
    ks_store st;
    ks_store_cfg cfg;
    ks_counter counters[4];
    ks_ovl_ent overlay[16];
    uint8_t buf[2048];
    uint8_t smap[KS_STORE_SECTOR_MAP_BYTES(SECTORS)];
    uint32_t counts[KS_STORE_ERASE_COUNTS_LEN(SECTORS)];
    uint32_t vmap[KS_STORE_VMAP_LEN(SECTORS, SECTOR, 2)]; /* layout 4 */
    uint64_t pidx[KS_STORE_PAGE_INDEX_LEN(SECTORS)];
    uint8_t pidx_own[KS_STORE_PAGE_INDEX_SECTORS_BYTES(SECTORS)];

    if (!init) {
        if (ks_sodium_crypto(&c) != 0)
            return 0;
        init = 1;
    }
    if (ks_flash_emu_init(&emu, SECTOR, SECTORS, 16, 0xFF) != 0)
        return 0;
    memcpy(emu.mem, data, size < emu.size ? size : emu.size);
    /* the probe on the raw image, before anything writes to it */
    ks_store_geom g;
    int prc = probe(&emu, emu.size, &g);
    int ovl = size > 0 && (data[0] & 1);
    /* another geometry than the one mounted below: mount it as a tool would */
    if (prc == KS_OK && (g.sector_size != SECTOR || g.meta_sectors != 3 || g.audit_sectors != 2 ||
                         g.overlay_sectors != (ovl ? 2u : 0u) || g.counter_cap != 4))
        mount_probed(&g, &emu, &c);
    if (size < emu.size)
        (void)probe(&emu, size / SECTOR * SECTOR, &g);
    memset(&cfg, 0, sizeof cfg);
    cfg.flash = &emu.flash;
    cfg.crypto = &c;
    cfg.meta_sectors = 3;
    cfg.audit_sectors = 2;
    cfg.counters = counters;
    cfg.counter_cap = 4;
    cfg.buf = buf;
    cfg.buf_size = sizeof buf;
    if (ovl) {
        cfg.overlay_sectors = 2;
        cfg.overlay = overlay;
        cfg.overlay_cap = 16;
    }
    /* with a sector map, layout 2 images mount too (and layout 1 ones stay
     * layout 1): the image's SUPER decides */
    if (size > 0 && (data[0] & 2))
        cfg.sector_map = smap;
    /* with erase counts too, layout 3 images mount (layouts 1 and 2 stay) */
    if (cfg.sector_map)
        cfg.erase_counts = counts;
    /* with bindings too, layout 4 images mount (layouts 1-3 stay) */
    if (cfg.sector_map) {
        cfg.vmap = vmap;
        cfg.vmap_cap = sizeof vmap / sizeof vmap[0];
    }
    /* and the page fence index, built from whatever map the image holds
     * (on for the seeds, whose first byte is 'K'; off when a mutation sets
     * bit 2 of it) */
    if (size > 0 && !(data[0] & 4)) {
        cfg.page_index = pidx;
        cfg.page_index_cap = SECTORS;
        cfg.page_index_sectors = pidx_own;
    }
    int rc = ks_store_mount(&st, &cfg, NULL);
    if (rc == KS_OK && prc != KS_OK)
        abort(); /* a clean store that does not name its geometry */
    if (st.mounted && (rc == KS_OK || rc == KS_E_STORE_CORRUPT)) {
        exercise(&st, &cfg);
    }
    ks_flash_emu_close(&emu);
    return 0;
}
