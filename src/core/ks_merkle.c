/*
 * ks_merkle.c - bucketed RFC 6962 Merkle tree over sorted records.
 * See ks_merkle.h for the shape and why it is bucketed.
 */
#include <keysup/ks_merkle.h>

#include <string.h>

static const uint8_t leaf_prefix = 0x00, node_prefix = 0x01;

unsigned ks_bucket_bits_for(uint32_t n)
{
    unsigned b = 0;
    /* ceil(n / 2^b) > target: more buckets */
    while (b < KS_BUCKET_BITS_MAX && (((uint64_t)n + ((uint64_t)1 << b) - 1) >> b) > KS_BUCKET_TARGET)
        b++;
    return b;
}

uint32_t ks_bucket_of(const uint8_t key_id[KS_KEYID_SIZE], unsigned bits)
{
    if (bits == 0)
        return 0;
    uint32_t prefix = ((uint32_t)key_id[0] << 24) | ((uint32_t)key_id[1] << 16) |
                      ((uint32_t)key_id[2] << 8) | (uint32_t)key_id[3];
    return prefix >> (32 - bits);
}

void ks_merkle_leaf(const ks_crypto *c, uint8_t out[32], const uint8_t rec[KS_RECORD_SIZE])
{
    ks_iov v[2] = {{&leaf_prefix, 1}, {rec, KS_RECORD_SIZE}};
    c->hash(c->ctx, out, v, 2);
}

void ks_merkle_node(const ks_crypto *c, uint8_t out[32], const uint8_t l[32], const uint8_t r[32])
{
    ks_iov v[3] = {{&node_prefix, 1}, {l, 32}, {r, 32}};
    c->hash(c->ctx, out, v, 3);
}

void ks_mth_init(ks_mth *m)
{
    m->depth = 0;
    m->count = 0;
}

void ks_mth_push(ks_mth *m, const ks_crypto *c, const uint8_t leaf_hash[32])
{
    memcpy(m->stack[m->depth], leaf_hash, 32);
    m->height[m->depth] = 0;
    m->depth++;
    m->count++;
    /* Merge equal perfect subtrees: the stack mirrors the binary digits of count. */
    while (m->depth >= 2 && m->height[m->depth - 1] == m->height[m->depth - 2]) {
        ks_merkle_node(c, m->stack[m->depth - 2], m->stack[m->depth - 2], m->stack[m->depth - 1]);
        m->height[m->depth - 2]++;
        m->depth--;
    }
}

void ks_mth_final(ks_mth *m, const ks_crypto *c, uint8_t out[32])
{
    if (m->depth == 0) {
        c->hash(c->ctx, out, NULL, 0); /* MTH of the empty list: H("") */
        return;
    }
    /*
     * RFC 6962 splits n at the largest power of two below n, so the root is
     * the leftmost perfect subtree joined with the root of the rest: fold
     * the stack from the right.
     */
    uint8_t acc[32];
    memcpy(acc, m->stack[m->depth - 1], 32);
    for (unsigned i = m->depth - 1; i-- > 0;)
        ks_merkle_node(c, acc, m->stack[i], acc);
    memcpy(out, acc, 32);
}

/* Streams bucket hashes of src to `emit`, one per bucket in order. */
typedef void (*bucket_sink)(void *arg, const ks_crypto *c, uint32_t bucket, const uint8_t h[32]);

static int for_each_bucket(const ks_crypto *c, const ks_recsrc *src, unsigned bits,
                           bucket_sink emit, void *arg)
{
    if (bits > KS_BUCKET_BITS_MAX)
        return KS_E_INVAL;
    uint32_t nbuckets = (uint32_t)1 << bits;
    uint32_t cur = 0;
    ks_mth m;
    uint8_t rec[KS_RECORD_SIZE], h[32];
    ks_mth_init(&m);
    for (uint32_t i = 0; i < src->count; i++) {
        int err = ks_recsrc_get(src, i, rec);
        if (err)
            return err;
        uint32_t b = ks_bucket_of(rec, bits);
        if (b < cur)
            return KS_E_FORMAT; /* unsorted input: refuse rather than hash nonsense */
        while (cur < b) {
            ks_mth_final(&m, c, h);
            emit(arg, c, cur++, h);
            ks_mth_init(&m);
        }
        ks_merkle_leaf(c, h, rec);
        ks_mth_push(&m, c, h);
    }
    while (cur < nbuckets) {
        ks_mth_final(&m, c, h);
        emit(arg, c, cur++, h);
        ks_mth_init(&m);
    }
    return KS_OK;
}

static void sink_mth(void *arg, const ks_crypto *c, uint32_t bucket, const uint8_t h[32])
{
    (void)bucket;
    ks_mth_push((ks_mth *)arg, c, h);
}

int ks_merkle_root(const ks_crypto *c, const ks_recsrc *src, unsigned bits, uint8_t root[32])
{
    ks_mth top;
    ks_mth_init(&top);
    int err = for_each_bucket(c, src, bits, sink_mth, &top);
    if (err)
        return err;
    ks_mth_final(&top, c, root);
    return KS_OK;
}

static void sink_tree(void *arg, const ks_crypto *c, uint32_t bucket, const uint8_t h[32])
{
    ks_tree *t = (ks_tree *)arg;
    (void)c;
    memcpy(t->nodes[((size_t)1 << t->bits) + bucket], h, 32);
}

int ks_tree_build(ks_tree *t, const ks_crypto *c, const ks_recsrc *src, unsigned bits,
                  uint8_t (*storage)[32], size_t storage_len)
{
    if (bits > KS_BUCKET_BITS_MAX || storage_len < ks_tree_nodes(bits))
        return bits > KS_BUCKET_BITS_MAX ? KS_E_INVAL : KS_E_NOSPC;
    t->bits = bits;
    t->nodes = storage;
    int err = for_each_bucket(c, src, bits, sink_tree, t);
    if (err)
        return err;
    for (size_t i = ((size_t)1 << bits) - 1; i >= 1; i--)
        ks_merkle_node(c, t->nodes[i], t->nodes[2 * i], t->nodes[2 * i + 1]);
    return KS_OK;
}

void ks_tree_set_bucket(ks_tree *t, const ks_crypto *c, uint32_t bucket, const uint8_t hash[32])
{
    size_t i = ((size_t)1 << t->bits) + bucket;
    memcpy(t->nodes[i], hash, 32);
    while (i > 1) {
        i /= 2;
        ks_merkle_node(c, t->nodes[i], t->nodes[2 * i], t->nodes[2 * i + 1]);
    }
}
