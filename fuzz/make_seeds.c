/*
 * make_seeds.c - writes valid inputs for the snapshot, delta and rotation
 * fuzzers (built from fuzz_fixture.h) into OUTDIR/<target>/; also signed
 * answers (fuzz_answer), controller blobs (fuzz_ctl_blobs) and flash images
 * holding a changed-keys (DENY) record and the 40-byte SUPER
 * (fuzz_flash_image).
 */
#include <stdio.h>
#include <sys/stat.h>

#include <keysup/ks_answer.h>

#include "fuzz_fixture.h"
#include "ks_flash_file.h"

static int put(const char *dir, const char *target, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

static int make_delta(fx_world *w, uint32_t n0, uint32_t count, uint8_t *out, size_t cap, size_t *len)
{
    /* Target: base records 4.. plus 3 new ones, one privilege changed. */
    static uint8_t recs[64 * KS_RECORD_SIZE], img[KS_SNAP_HEADER_SIZE + 64 * KS_RECORD_SIZE];
    fx_records(&w->c, n0, count, recs);
    recs[48] ^= KS_PRIV_VOID;
    ks_snap_header h = {0};
    h.version = FX_BASE_VERSION + 1;
    h.created_at = FX_NOW - 30;
    h.expires_at = FX_NOW + 86400;
    if (ks_snapshot_write(&w->c, &h, recs, count, w->sk, img, sizeof img))
        return -1;
    ks_recsrc a, b;
    ks_recsrc_mem(&a, w->base_img + KS_SNAP_HEADER_SIZE, w->base.record_count);
    ks_recsrc_mem(&b, recs, count);
    return ks_delta_write(&a, &w->base, &b, img, out, cap, len);
}

/* fuzz_answer: selector, the fixed fields, method, path, the signature
 * header the supervisor sends, body. */
static int make_answer(fx_world *w, const char *dir, const char *name, uint8_t sel,
                       const char *method, const char *path, const char *body, uint16_t status)
{
    uint8_t in[1024], sig[KS_SIG_SIZE];
    char hex[2 * KS_SIG_SIZE + 1];
    ks_answer a;
    size_t n = 0, bl = strlen(body);
    memset(&a, 0, sizeof a);
    a.controller_id = 42;
    memset(a.device_key_id, 0x11, sizeof a.device_key_id);
    memset(a.nonce, 0x5a, sizeof a.nonce);
    a.status = status;
    ks_answer_bind(&w->c, &a, method, path, bl ? (const uint8_t *)body : NULL, bl);
    if (ks_answer_sign(&w->c, &a, w->sk, sig))
        return -1;
    sodium_bin2hex(hex, sizeof hex, sig, sizeof sig);
    in[n++] = sel;
    ks_st64(in + n, a.controller_id);
    memcpy(in + n + 8, a.device_key_id, 16);
    memcpy(in + n + 24, a.nonce, 32);
    ks_st16(in + n + 56, a.status);
    n += 58;
    memcpy(in + n, method, strlen(method) + 1);
    n += strlen(method) + 1;
    memcpy(in + n, path, strlen(path) + 1);
    n += strlen(path) + 1;
    memcpy(in + n, hex, strlen(hex) + 1);
    n += strlen(hex) + 1;
    memcpy(in + n, body, bl);
    return put(dir, "fuzz_answer", name, in, n + bl);
}

/* fuzz_ctl_blobs: a settings blob (selector 0) and an identity file
 * (selector 1), in the layouts of src/controller/ctl_codec.c. */
static int make_ctl_blobs(fx_world *w, const char *dir)
{
    uint8_t b[1 + 328];
    memset(b, 0, sizeof b);
    memcpy(b + 1, "KSCS", 4);
    ks_st16(b + 5, 1);
    b[7] = 1;                        /* min_key_format */
    b[8] = 0;                        /* degraded */
    ks_st64(b + 9, 42);              /* controller id */
    ks_st32(b + 17, 7);              /* scope */
    ks_st32(b + 21, 86400);          /* max_offline */
    memset(b + 25, 0x33, 32);        /* device seed */
    ks_st64(b + 57, FX_NOW);         /* last sync */
    ks_st64(b + 65, 0x1234567890abcdefull); /* unit tag */
    if (put(dir, "fuzz_ctl_blobs", "settings.bin", b, 1 + 72))
        return -1;
    ks_st16(b + 5, 2);               /* version 2: with TLS pins */
    b[1 + 72] = 1;                   /* the current pin is set */
    memset(b + 1 + 80, 0x55, 32);
    if (put(dir, "fuzz_ctl_blobs", "settings_v2.bin", b, 1 + 144))
        return -1;
    ks_st16(b + 5, 4);               /* version 4: the rollback guards */
    b[1 + 73] = 4;                   /* calibration enforced */
    ks_st64(b + 1 + 144, 1796000000); /* the policy's sequence */
    b[1 + 152] = 1;                  /* this licence file only: */
    memset(b + 1 + 160, 0x66, 16);   /* its hash */
    if (put(dir, "fuzz_ctl_blobs", "settings_v4.bin", b, 1 + 176))
        return -1;
    memset(b, 0, sizeof b);
    b[0] = 1;
    uint8_t *f = b + 1;
    memcpy(f, "KSID", 4);
    ks_st16(f + 4, 1);
    ks_st16(f + 6, 2);               /* two pins */
    ks_st64(f + 8, 42);
    ks_st32(f + 16, 7);
    memset(f + 24, 0x33, 32);        /* device seed */
    memset(f + 56, 0x44, 32);        /* unit secret */
    ks_st64(f + 88, 1);              /* rotation seq */
    memcpy(f + 96, w->pk, 32);
    fx_key(2, f + 128, (uint8_t[64]){0});
    ks_iov iov = {f, 224};
    w->c.hash(w->c.ctx, f + 224, &iov, 1);
    if (put(dir, "fuzz_ctl_blobs", "identity.bin", b, 1 + 256))
        return -1;
    /* version 2: the same, with both TLS pins */
    ks_st16(f + 4, 2);
    f[224] = 3;
    memset(f + 225, 0, 7);
    memset(f + 232, 0x55, 32);
    memset(f + 264, 0x66, 32);
    ks_iov iov2 = {f, 296};
    w->c.hash(w->c.ctx, f + 296, &iov2, 1);
    return put(dir, "fuzz_ctl_blobs", "identity_v2.bin", b, sizeof b);
}

/* fuzz_flash_image: the fuzzer's geometry (1 KiB x 16; the overlay layout
 * since byte 0 of a store image is odd), or with ovl NULL a geometry with
 * room for a changed-keys list, which the fuzzer mounts as the image's
 * SUPER names it (ks_store_probe). */
static void flash_cfg(fx_world *w, ks_flash_emu *e, ks_store_cfg *cfg, ks_counter *counters,
                      uint8_t *buf, ks_ovl_ent *ovl, uint32_t meta, uint8_t *smap)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->flash = &e->flash;
    cfg->crypto = &w->c;
    cfg->meta_sectors = meta;
    cfg->audit_sectors = 2;
    cfg->counters = counters;
    cfg->counter_cap = 4;
    cfg->buf = buf;
    cfg->buf_size = smap ? 2048 : 1024;
    cfg->sector_map = smap; /* layout 2 (paged) when given */
    if (ovl) {
        cfg->overlay_sectors = 2;
        cfg->overlay = ovl;
        cfg->overlay_cap = 16;
    }
}

/* A snapshot of records n0..n0+count-1 at version v, record 0's
 * privileges flipped when flip; into img (header + records). */
static int flash_snap(fx_world *w, uint32_t n0, uint32_t count, uint64_t v, int flip,
                      uint8_t *img, size_t cap)
{
    ks_snap_header h = {0};
    fx_records(&w->c, n0, count, img + KS_SNAP_HEADER_SIZE);
    if (flip)
        img[KS_SNAP_HEADER_SIZE + 48] ^= KS_PRIV_VOID;
    h.version = v;
    h.created_at = FX_NOW - 100 + v;
    h.expires_at = FX_NOW + 86400;
    return ks_snapshot_write(&w->c, &h, img + KS_SNAP_HEADER_SIZE, count, w->sk, img, cap);
}

/* A store image in the fuzzer's geometry, of layout 1, 2 (paged) or 3
 * (paged, per-sector erase counts): v10 installed, the delta to v11
 * applied (to the overlay when overlay is set); saved as is
 * (deny_TAG_newest) and with the newest state damaged (deny_TAG_damaged). */
static int make_flash(fx_world *w, const char *dir, int overlay, uint32_t meta, int layout,
                      const char *tag)
{
    static uint8_t smap[KS_STORE_SECTOR_MAP_BYTES(16)];
    static uint32_t counts[KS_STORE_ERASE_COUNTS_LEN(16)];
    static uint32_t vmap[KS_STORE_VMAP_LEN(16, 1024, 2)];
    int paged = layout >= 2;
    char name[64];
    static uint8_t s1[KS_SNAP_HEADER_SIZE + 16 * KS_RECORD_SIZE],
        s2[KS_SNAP_HEADER_SIZE + 16 * KS_RECORD_SIZE], dl[KS_DELTA_PREFIX + 32 * KS_RECORD_SIZE];
    ks_flash_emu e;
    ks_store st;
    ks_store_cfg cfg;
    ks_counter counters[4];
    ks_ovl_ent ovl[16];
    uint8_t buf[2048];
    ks_snap_header h1;
    ks_recsrc a, b;
    size_t len;
    const char *step = "format";
    int err;

    if (ks_flash_emu_init(&e, 1024, 16, 16, 0xFF))
        return -1;
    flash_cfg(w, &e, &cfg, counters, buf, overlay ? ovl : NULL, meta, paged ? smap : NULL);
    if (layout >= 3) {
        memset(counts, 0, sizeof counts);
        cfg.erase_counts = counts;
    }
    if (layout == 4) { /* the overlay and maps bound to pool sectors */
        cfg.vmap = vmap;
        cfg.vmap_cap = sizeof vmap / sizeof vmap[0];
    }
    if ((err = ks_store_format(&st, &cfg, &w->trust)) != 0)
        goto done;
    err = KS_E_FORMAT;
    if ((layout >= 3) != (st.counted != 0) || paged != (st.paged != 0) ||
        (layout == 4) != (st.levelled != 0))
        goto done;
    step = "install v10";
    if ((err = flash_snap(w, 0, 12, 10, 0, s1, sizeof s1)) != 0 ||
        (err = ks_snap_header_decode(&h1, s1, NULL)) != 0)
        goto done;
    ks_recsrc_mem(&a, s1 + KS_SNAP_HEADER_SIZE, 12);
    if ((err = ks_store_install(&st, s1, &a, FX_NOW, NULL)) != 0)
        goto done;
    /* v11: one key's privileges changed, two keys added (a DENY record
     * names the three, then the COMMIT) */
    step = "delta to v11";
    if ((err = flash_snap(w, 0, 14, 11, 1, s2, sizeof s2)) != 0)
        goto done;
    ks_recsrc_mem(&a, s1 + KS_SNAP_HEADER_SIZE, 12);
    ks_recsrc_mem(&b, s2 + KS_SNAP_HEADER_SIZE, 14);
    if ((err = ks_delta_write(&a, &h1, &b, s2, dl, sizeof dl, &len)) != 0 ||
        (err = ks_store_apply_delta(&st, dl, len, FX_NOW, NULL, NULL)) != 0)
        goto done;
    step = "a DENY record";
    err = KS_E_FORMAT;
    if (st.deny_n == 0 && (!overlay || st.deny_all == 0))
        goto done;
    snprintf(name, sizeof name, "deny_%s_newest", tag);
    if (put(dir, "fuzz_flash_image", name, e.mem, e.size))
        goto done;
    /* the overlay (or the newest area) damaged: the store falls back to
     * v10 (the list variant: refusing exactly the three changed keys) */
    /* (layout 4: the overlay and maps are wherever the commit's root binds them) */
    uint32_t at = 0;
    if (overlay)
        err = ks_store_device_addr(
            &st, (st.ovl_first + st.ovl_half_sectors * (st.cur.ovl_half & 1)) * 1024 + 40, &at);
    else /* a record; a map entry */
        err = ks_store_device_addr(&st, st.area_first[st.cur.area] * 1024 + (paged ? 30 : 50),
                                   &at);
    if (err)
        goto done;
    err = KS_E_FORMAT;
    e.mem[at] ^= 0x40;
    step = "the damaged image's mount";
    ks_diag md = {0};
    int mrc = ks_store_mount(&st, &cfg, &md);
    if (mrc != KS_E_STORE_CORRUPT ||
        (!overlay && !(st.flags & KS_STORE_F_FELL_BACK)))
        goto done;
    snprintf(name, sizeof name, "deny_%s_damaged", tag);
    if (put(dir, "fuzz_flash_image", name, e.mem, e.size))
        goto done;
    err = 0;
done:
    if (err)
        fprintf(stderr, "make_seeds: flash image (%s): %s: %s\n", tag, step, ks_strerror(err));
    ks_flash_emu_close(&e);
    return err;
}

int main(int argc, char **argv)
{
    fx_world w;
    static uint8_t buf[64 * KS_RECORD_SIZE + 4096];
    size_t len;
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    mkdir(dir, 0755);
    if (fx_init(&w))
        return 1;
    if (put(dir, "fuzz_snapshot", "base.bin", w.base_img, sizeof w.base_img))
        return 1;
    if (make_delta(&w, 4, 23, buf, sizeof buf, &len) || put(dir, "fuzz_delta", "mixed.bin", buf, len))
        return 1;
    if (make_delta(&w, 0, 24, buf, sizeof buf, &len) || put(dir, "fuzz_delta", "update.bin", buf, len))
        return 1;
    uint8_t pk2[32], sk2[64], pk3[32], sk3[64];
    fx_key(2, pk2, sk2);
    fx_key(3, pk3, sk3);
    ks_rotation r = {1, FX_NOW, {0}, {0}};
    memcpy(r.old_pk, w.pk, 32);
    memcpy(r.new_pk, pk2, 32);
    if (ks_rotation_make(&w.c, &r, w.sk, sk2, buf))
        return 1;
    r.seq = 2;
    memcpy(r.old_pk, pk2, 32);
    memcpy(r.new_pk, pk3, 32);
    if (ks_rotation_make(&w.c, &r, sk2, sk3, buf + KS_ROTATION_SIZE))
        return 1;
    if (put(dir, "fuzz_rotation", "chain2.bin", buf, 2 * KS_ROTATION_SIZE))
        return 1;
    if (make_answer(&w, dir, "heartbeat.bin", 0x00, "POST", "/v1/device/heartbeat",
                    "{\"version\":11,\"commands\":[]}", 200) ||
        make_answer(&w, dir, "rotation.bin", 0x07, "GET", "/v1/device/rotation", "", 200) ||
        make_answer(&w, dir, "audit404.bin", 0x2b, "POST", "/v1/device/audit", "{}", 404))
        return 1;
    if (make_ctl_blobs(&w, dir) || make_flash(&w, dir, 1, 3, 1, "overlay") ||
        make_flash(&w, dir, 0, 4, 1, "list") || make_flash(&w, dir, 0, 4, 2, "paged") ||
        make_flash(&w, dir, 1, 3, 3, "layout3") || make_flash(&w, dir, 1, 3, 4, "layout4"))
        return 1;
    printf("fuzz seeds written to %s\n", dir);
    return 0;
}
