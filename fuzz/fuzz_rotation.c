/*
 * fuzz_rotation.c - libFuzzer target: a rotation chain of arbitrary bytes.
 * The trust set changes only when the whole chain is accepted.
 */
#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fx_world *w = fx_world_get();
    ks_trust t = w->trust;
    ks_diag d = {0};
    int err = ks_trust_follow(&t, &w->c, data, size, &d);
    if (err && memcmp(&t, &w->trust, sizeof t) != 0)
        abort();
    if (!err && t.count == 0)
        abort();
    return 0;
}
