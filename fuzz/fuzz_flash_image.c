/*
 * fuzz_flash_image.c - libFuzzer target: an arbitrary flash image (the
 * input, padded with erased bytes to a 16-sector device) is mounted, looked
 * up, listed, checked and written to. Nothing may crash, read out of
 * bounds or program a unit that is not erased (the emulator aborts).
 * The lowest bit of the first byte picks a layout with a delta overlay
 * (two sectors) so the overlay's replay is fuzzed too.
 */
#include <stdint.h>
#include <string.h>

#include <keysup/keysup.h>

#include "ks_flash_file.h"
#include "ks_sodium.h"

#define SECTOR 1024u
#define SECTORS 16u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ks_crypto c;
    static int init;
    ks_flash_emu emu;
    ks_store st;
    ks_store_cfg cfg;
    ks_counter counters[4];
    ks_ovl_ent overlay[16];
    uint8_t buf[1024], rec[KS_RECORD_SIZE], pl[KS_AUDIT_PAYLOAD], key[KS_KEYID_SIZE];
    uint64_t seq;

    if (!init) {
        if (ks_sodium_crypto(&c) != 0)
            return 0;
        init = 1;
    }
    if (ks_flash_emu_init(&emu, SECTOR, SECTORS, 16, 0xFF) != 0)
        return 0;
    memcpy(emu.mem, data, size < emu.size ? size : emu.size);
    memset(&cfg, 0, sizeof cfg);
    cfg.flash = &emu.flash;
    cfg.crypto = &c;
    cfg.meta_sectors = 3;
    cfg.audit_sectors = 2;
    cfg.counters = counters;
    cfg.counter_cap = 4;
    cfg.buf = buf;
    cfg.buf_size = sizeof buf;
    if (size > 0 && (data[0] & 1)) {
        cfg.overlay_sectors = 2;
        cfg.overlay = overlay;
        cfg.overlay_cap = 16;
    }
    int rc = ks_store_mount(&st, &cfg, NULL);
    if (st.mounted && (rc == KS_OK || rc == KS_E_STORE_CORRUPT)) {
        ks_recsrc src;
        ks_store_info in;
        memset(key, 0, sizeof key);
        (void)ks_store_lookup(&st, key, rec);
        memset(key, 0xFF, sizeof key);
        (void)ks_store_lookup(&st, key, rec);
        ks_store_records(&st, &src);
        for (uint32_t i = 0; i < src.count && i < 8; i++) {
            (void)ks_recsrc_get(&src, i, rec);
            (void)ks_store_lookup(&st, rec, rec);
        }
        ks_store_get_info(&st, &in);
        (void)ks_store_audit_read(&st, 0, pl, &seq);
        (void)ks_store_check(&st, NULL);
        /* writing must also be safe on whatever was found */
        ks_counter k;
        memset(&k, 0, sizeof k);
        k.use_counter = 1;
        (void)ks_store_counter_put(&st, &k);
        memset(pl, 1, sizeof pl);
        (void)ks_store_audit_append(&st, pl, &seq);
        (void)ks_store_settings_set(&st, "s", 1);
        (void)ks_store_mount(&st, &cfg, NULL);
    }
    ks_flash_emu_close(&emu);
    return 0;
}
