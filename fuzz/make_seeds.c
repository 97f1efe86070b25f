/*
 * make_seeds.c - writes valid inputs for the snapshot, delta and rotation
 * fuzzers (built from fuzz_fixture.h) into OUTDIR/<target>/.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz_fixture.h"

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
    printf("fuzz seeds written to %s\n", dir);
    return 0;
}
