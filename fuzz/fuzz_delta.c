/*
 * fuzz_delta.c - libFuzzer target: parse, check and apply arbitrary bytes
 * as a delta to the fixture's base database. Whatever happens, the cached
 * tree must be back at the base root after a refusal, and an accepted delta
 * must merge to exactly the target's record count.
 */
#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fx_world *w = fx_world_get();
    static uint8_t nodes[2 << 4][32];
    ks_recsrc base;
    ks_recsrc_mem(&base, w->base_img + KS_SNAP_HEADER_SIZE, w->base.record_count);
    ks_tree t;
    if (ks_tree_build(&t, &w->c, &base, w->base.bucket_bits, nodes, sizeof nodes / sizeof nodes[0]))
        abort();

    ks_delta dl;
    ks_diag d = {0};
    ks_policy p = {&w->trust, w->base.version, 1, FX_NOW};
    int err = ks_delta_parse(&dl, data, size, &d);
    if (!err)
        err = ks_delta_check(&w->c, &dl, &w->base, &p, &d);
    if (!err)
        err = ks_delta_update_tree(&t, &w->c, &base, &dl, &d);
    if (err) {
        if (memcmp(ks_tree_root(&t), w->base.root, 32) != 0)
            abort(); /* a refused delta moved the tree */
        return 0;
    }
    static uint8_t out[4096 * KS_RECORD_SIZE];
    int64_t n = ks_delta_merge(&base, &dl, out, 4096);
    if (n != (int64_t)dl.target.record_count)
        abort();
    return 0;
}
