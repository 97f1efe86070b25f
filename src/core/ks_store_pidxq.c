/*
 * ks_store_pidxq.c - the page fence index's one query the page code asks
 * (ks_store_page.c's page_of, for random access by record number): which
 * page the index's starts put record i in. It reads RAM only and calls no
 * other store file, so the page code may consult the index that is built
 * from the page code (ks_store_pidx.c) without the two calling each other.
 * A hint: the caller proves it with the page's own map entry.
 */
#include "ks_store_int.h"

int ks__pidx_page(const ks_store *st, uint32_t pages, uint32_t i, uint32_t *p)
{
    const uint64_t *loc = st->cfg.page_index;
    uint32_t n = st->pidx_n, lo = 0;

    if (!n || !loc || n != pages || st->pidx_gen != st->cur.gen || n > st->cfg.page_index_cap)
        return 0;
    loc += st->cfg.page_index_cap;
    /* the last page whose start is <= i */
    while (n > 1) {
        uint32_t half = n / 2;
        lo = (uint32_t)(loc[2 * (lo + half)] >> 32) <= i ? lo + half : lo;
        n -= half;
    }
    *p = lo;
    return 1;
}
