/*
 * fuzz_snapshot.c - libFuzzer target: full snapshot verification on
 * arbitrary bytes must return a code, never crash, read out of bounds or
 * accept anything the fixture's supervisor did not sign.
 */
#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fx_world *w = fx_world_get();
    ks_policy p = {&w->trust, 0, 0, FX_NOW};
    ks_snap_header h;
    ks_diag d = {0};
    int err = ks_snapshot_verify(&w->c, data, size, &p, &h, &d);
    if (err == KS_OK && h.record_count != (size - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE)
        abort(); /* accepted with a count that does not match the bytes */
    if (err != KS_OK && d.what == NULL)
        abort(); /* every refusal says why */
    if (size >= KS_SNAP_HEADER_SIZE)
        (void)ks_snap_header_decode(&h, data, NULL);
    return 0;
}
