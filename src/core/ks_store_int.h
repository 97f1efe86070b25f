/*
 * ks_store_int.h - internal to the ks_store*.c files: the on-flash record
 * header, slot classification and the raw flash helpers. docs/store.md is
 * the byte-for-byte description of what these produce.
 */
#ifndef KEYSUP_KS_STORE_INT_H
#define KEYSUP_KS_STORE_INT_H

#include <keysup/ks_store.h>

/* Record header shared by metadata and audit slots (24 bytes). */
#define KS_REC_HDR 24
#define KS_META_MAGIC 0x4D4Bu   /* "KM" */
#define KS_AUDIT_MAGIC 0x414Bu  /* "KA" */
#define KS_META_AREA 240        /* record area of a metadata slot */
#define KS_META_PAYLOAD_MAX (KS_META_AREA - KS_REC_HDR)
#define KS_AUDIT_AREA (KS_REC_HDR + KS_AUDIT_PAYLOAD) /* 128 */

/* Header flag: written by a compaction (not an append). */
#define KS_RF_COMPACT 1u

enum ks_meta_type {
    KS_MT_SUPER = 1,
    KS_MT_END = 2,
    KS_MT_COMMIT = 3,
    KS_MT_TRUST = 4,
    KS_MT_COUNTER = 5,
    KS_MT_SETTINGS = 6,
    KS_MT_ACK = 7,
    KS_MT_DENY = 8,   /* changed-keys list (ks_store_deny.c) */
    KS_MT_WEAR = 9    /* wear counts (ks_store_wear.c) */
};
#define KS_AT_ENTRY 1

/* Payload sizes. */
#define KS_SUPER_SIZE 32
#define KS_SUPER_OVL_SIZE 36     /* SUPER of a store with an overlay (older images) */
#define KS_SUPER_GEOM_SIZE 40    /* SUPER naming the counter table too (ks_store_probe) */
#define KS_SUPER_RING_SIZE 44    /* and the metadata ring's block count (only when > 2) */
#define KS_END_SIZE 16
#define KS_WEAR_SIZE1 124  /* wear counts of a layout 1 store (seven regions) */
#define KS_WEAR_SIZE 140   /* since layout 2: the page pool's counts and cursor appended */
#define KS_END_WEAR_SIZE (KS_END_SIZE + KS_WEAR_SIZE) /* END carrying them */
#define KS_END_WEAR_SIZE1 (KS_END_SIZE + KS_WEAR_SIZE1)
#define KS_COMMIT_SIZE (16 + KS_SNAP_HEADER_SIZE)
#define KS_COMMIT_OVL_SIZE (KS_COMMIT_SIZE + 20) /* COMMIT naming an overlay */
#define KS_COMMIT_PAGED_SIZE (KS_COMMIT_OVL_SIZE + 8) /* COMMIT of a paged store */
#define KS_COMMIT_ROOT_SIZE (KS_COMMIT_PAGED_SIZE + 4) /* layout 4: + the root's sector */
#define KS_TRUST_SIZE (16 + KS_TRUST_MAX * (KS_PUBKEY_SIZE + KS_KEYID_SIZE))
#define KS_COUNTER_ENC 48
#define KS_COUNTERS_PER_REC 4
#define KS_COUNTER_REC_SIZE(n) (8 + (n) * KS_COUNTER_ENC)
#define KS_ACK_SIZE 8

/* What a slot holds. */
enum ks_slot_class {
    KS_SLOT_EMPTY = 0,   /* erased: free */
    KS_SLOT_VALID = 1,   /* a record whose CRCs check */
    KS_SLOT_TORN = 2,    /* unfinished write (commit unit erased): ignored */
    KS_SLOT_CORRUPT = 3  /* damaged after it was written: KSE-301 */
};

/* A decoded slot record. */
typedef struct ks_rec {
    uint8_t type, flags;
    uint16_t len;
    uint64_t seq;
    uint8_t payload[KS_META_PAYLOAD_MAX];
} ks_rec;

/* Returned internally by ks__slot_write when the slot is not erased. */
#define KS__NOT_ERASED 1

static inline uint32_t ks__align(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

/* CRC-32C of snapshot-area data: the flash HAL's engine when it passed its
 * check (ks_store.hw_crc), else the portable ks_crc32c. Same values. */
static inline uint32_t ks__crc(const ks_store *st, uint32_t crc, const void *p, size_t len)
{
    return st->hw_crc && st->cfg.flash->crc32c ? st->cfg.flash->crc32c(st->cfg.flash->ctx, crc, p, len)
                      : ks_crc32c(crc, p, len);
}

/* ----- raw flash (ks_store_io.c) ----- */
int ks__read(const ks_store *st, uint32_t addr, void *buf, uint32_t len);
/* Programs and reads back; KS_E_IO on a mismatch. */
int ks__prog(const ks_store *st, uint32_t addr, const void *buf, uint32_t len);
int ks__erase(const ks_store *st, uint32_t sector);
int ks__sync(const ks_store *st);
/* 1 when every byte of the range reads erased, 0 if not, < 0 on error. */
int ks__is_erased(const ks_store *st, uint32_t addr, uint32_t len);
/* Records the first damage and sets flags; returns KS_E_STORE_CORRUPT. */
int ks__damage(ks_store *st, uint32_t addr, const char *what, unsigned flags);

/* ----- slots (ks_store_io.c) ----- */
/* Reads and classifies the slot at addr whose record area is area bytes. */
int ks__slot_read(const ks_store *st, uint32_t addr, uint32_t area, uint16_t magic,
                  ks_rec *out, int *cls);
/* Writes a record: area, sync, commit unit, sync. KS__NOT_ERASED when the
 * slot is not blank (the caller skips it). */
int ks__slot_write(const ks_store *st, uint32_t addr, uint32_t area, uint16_t magic,
                   const ks_rec *r);
uint32_t ks__meta_addr(const ks_store *st, unsigned block, uint32_t slot);
uint32_t ks__audit_addr(const ks_store *st, uint32_t sector, uint32_t slot);
uint32_t ks__area_addr(const ks_store *st, unsigned area);

/* ----- metadata (ks_store_meta.c) ----- */
int ks__meta_append(ks_store *st, ks_rec *r);
int ks__meta_compact(ks_store *st);
/* Layout 4, at mount: 1 and *shared when commits a and b (both bound) name
 * one pool sector between their roots, maps and overlay halves. */
int ks__root_shared(const ks_store *st, const ks_store_commit *a, const ks_store_commit *b,
                    uint32_t *shared);
/* ----- layout 4: the counts a root carries (ks_store_rootcnt.c) ----- */
/* Notes pool sector s taken as a root. */
void ks__rootcnt_taken(ks_store *st, uint32_t s);
/* After a new base's COMMIT: only its root is newer than its map. */
void ks__rootcnt_new_base(ks_store *st, uint32_t root);
/* Appends c's count list to the root encoded in b (its CRC ends at off),
 * within cap bytes; returns where the root now ends. */
uint32_t ks__rootcnt_encode(ks_store *st, const ks_store_commit *c, uint8_t *b, uint32_t off,
                            uint32_t cap);
/* At mount: raises the counts c's root lists (after ks__cnt_load). */
int ks__rootcnt_load(ks_store *st, const ks_store_commit *c);
/* ----- the metadata ring (ks_store_ring.c) ----- */
/* The blocks an image's SUPER names (2 when it names none), read from the
 * first SUPER that checks in slot 0 of the first blocks; 0 when none does. */
uint32_t ks__ring_probe(const ks_store *st);
/* Erases block b for a compaction; KS_E_IO when one of its sectors fails. */
int ks__ring_erase(ks_store *st, unsigned b);
/* After damage in the metadata log (META_DAMAGED): compacts the live state
 * into the other block and erases the damaged one. */
int ks__meta_repair(ks_store *st);
/* Applies one valid record to the in-RAM state during mount. */
int ks__meta_apply(ks_store *st, const ks_rec *r, ks_diag *d);
void ks__commit_encode(const ks_store_commit *c, ks_rec *r);
void ks__counter_encode(const ks_counter *c, int removed, uint8_t out[KS_COUNTER_ENC]);
void ks__counter_decode(ks_counter *c, int *removed, const uint8_t in[KS_COUNTER_ENC]);
/* Slots a compaction writes with the current table capacity. */
uint32_t ks__compact_slots(const ks_store *st);

/* ----- snapshot areas (ks_store_area.c) ----- */
uint32_t ks__crc_base(uint32_t count);
/* CRC-checks every record of a commit's area; KS_E_STORE_CORRUPT with the place. */
int ks__area_scan(ks_store *st, const ks_store_commit *c, ks_diag *d);
/* A record source over a commit's area. */
typedef ks_store_src ks_areasrc;
uint32_t ks__gen_seed(uint64_t gen);
void ks__areasrc(ks_store *st, const ks_store_commit *c, ks_areasrc *a, ks_recsrc *src);
/* Reads record i of an area source and checks its CRC. */
int ks__area_read(void *ctx, uint32_t i, uint8_t out[KS_RECORD_SIZE]);
/* Refills cfg.index for st->cur (or leaves none). */
void ks__index_build(ks_store *st);
/*
 * Streams records into an area: the first half of the work buffer gathers
 * records, the second half their CRCs; each half is programmed (and read
 * back) when full. begin erases the sectors the records and CRC table
 * will use; push refuses records out of order or past count; end checks
 * the count, programs the rest and syncs.
 */
typedef struct ks__area_writer {
    ks_store *st;
    uint32_t base, crc_base, count, n;
    uint32_t seed, half;
    uint32_t rec_fill, crc_fill, rec_done, crc_done;
    uint8_t prev[KS_KEYID_SIZE];
} ks__area_writer;
int ks__aw_begin(ks__area_writer *w, ks_store *st, unsigned area, uint64_t gen, uint32_t count);
int ks__aw_push(ks__area_writer *w, const uint8_t rec[KS_RECORD_SIZE], ks_diag *d);
int ks__aw_end(ks__area_writer *w, ks_diag *d);

/* ----- paged snapshots, layout 2 (ks_store_page.c, ks_store_pagew.c) ----- */
/* Map entry: u32 pool sector, u32 first record index, u32 records, u32 page
 * generation, u32 CRC-32C of bytes 0..15 seeded with the commit's generation. */
#define KS_MAP_ENT 20
/* Layout 3: after the map's entries, the erase counts of every pool sector
 * in blocks of 15 u32 and a u32 CRC-32C of the 60 bytes seeded with the
 * commit's generation (ks_store_pagec.c). */
#define KS_CNT_BLOCK 64
#define KS_CNT_PER 15
typedef struct ks_page {
    uint32_t sector, start, n, gen;  /* as on flash */
    uint32_t addr, seed;             /* device address, CRC seed of gen */
} ks_page;
/* With st->paged: K, the page CRC offset, the maps and the pool. */
int ks__page_layout(ks_store *st);
int ks__page_layout4(ks_store *st, uint32_t k);
uint32_t ks__page_addr(const ks_store *st, uint32_t sector);
uint32_t ks__page_capacity(const ks_store *st);
void ks__map_encode(uint8_t e[KS_MAP_ENT], const ks_page *pg, uint32_t map_seed);
/* Reads and checks map entry p (KS_E_STORE_CORRUPT with the place). */
int ks__map_get(ks_store *st, const ks_store_src *a, uint32_t p, ks_page *pg);
void ks__pagesrc(ks_store *st, const ks_store_commit *c, ks_store_src *a);
/* Record i of a paged snapshot, CRC-checked. */
int ks__page_rec(ks_store *st, ks_store_src *a, uint32_t i, uint8_t out[KS_RECORD_SIZE]);
int ks__page_rec_addr(ks_store *st, ks_store_src *a, uint32_t i, uint32_t *addr);
int ks__page_scan(ks_store *st, const ks_store_commit *c, ks_diag *d);
void ks__page_index_build(ks_store *st);
int ks__page_find(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                  uint8_t rec[KS_RECORD_SIZE], uint32_t *at);
/* cfg.page_index (ks_store_pidx.c): build for st->cur (1 when it describes
 * it), and the lookup through it: KS_OK / KS_E_NOTFOUND proven on flash,
 * KS__PIDX_UNSURE when the map path must decide. It gives no position: the
 * start indexes it keeps are RAM, used only as a range check. */
#define KS__PIDX_UNSURE 2
int ks__pidx_build(ks_store *st);
int ks__pidx_find(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                  uint8_t rec[KS_RECORD_SIZE]);
/* A hint only: 1 and *p, the page the index's starts put record i in, when
 * the index is current and has `pages` pages; the caller proves it with the
 * page's map entry. */
int ks__pidx_page(const ks_store *st, uint32_t pages, uint32_t i, uint32_t *p);
/* cfg.sector_map: bit per pool sector, set when st->cur uses it. */
int ks__pool_used(const ks_store *st, uint32_t s);
void ks__pool_mark(ks_store *st, uint32_t s);
int ks__pool_rebuild(ks_store *st);
/* Layout 4, before a fold or install: the same without the fallback's
 * pages (a fold may take them, as in layout 3). */
int ks__pool_rebuild_fold(ks_store *st);
/* Layout 4 (ks_store_page.c): the virtual sectors of c's map and overlay;
 * marking c's root, map and overlay sectors used. */
void ks__root_extent(const ks_store *st, const ks_store_commit *c, uint32_t *mv, uint32_t *m,
                     uint32_t *ov, uint32_t *o);
void ks__root_mark(ks_store *st, const ks_store_commit *c);
/* Layout 3 (ks_store_pagec.c): bytes of the count table for p pool sectors;
 * one block of it; loading it at mount; the next free sector, least-erased
 * first. */
static inline uint32_t ks__cnt_bytes(uint32_t p)
{
    return (p + KS_CNT_PER - 1) / KS_CNT_PER * KS_CNT_BLOCK;
}
void ks__cnt_encode(const ks_store *st, uint32_t b, uint32_t map_seed, uint8_t out[KS_CNT_BLOCK]);
void ks__cnt_load(ks_store *st);
void ks__cnt_minmax(ks_store *st);
int ks__cnt_alloc(ks_store *st, uint32_t *out);
/*
 * Writes a paged snapshot (ks_store_pagew.c): records pushed in key order
 * become pages in free pool sectors and entries of the map in the given
 * area. With old (a fold), a page of old whose records come through
 * unchanged keeps its sector (no write); only touched pages are written.
 */
typedef struct ks__pager {
    ks_store *st;
    uint32_t count, n, n_out, pages, map_base, map_fill, map_done, map_erased;
    uint32_t map_seed, gen32, seed;
    uint8_t prev[KS_KEYID_SIZE];
    /* old pages (fold) */
    int has_old, dirty, next_ok;
    ks_store_src old;
    ks_page op;
    uint32_t opi, j, range_start;
    uint8_t next_first[KS_KEYID_SIZE];
    uint32_t pend;  /* dirty records waiting in cfg.buf */
    uint32_t fill;  /* records a page gets when the queue overflows */
    uint32_t moves; /* layout 3: cold untouched pages this fold may still move */
} ks__pager;
int ks__pg_begin(ks__pager *w, ks_store *st, unsigned area, uint64_t gen, uint32_t count,
                 const ks_store_commit *old);
int ks__pg_push(ks__pager *w, const uint8_t rec[KS_RECORD_SIZE], ks_diag *d);
/* Ends the last page and the map, syncs; *pages gets the map's length. */
int ks__pg_end(ks__pager *w, uint32_t *pages, uint32_t *retired, ks_diag *d);

/* ----- layout 4 (ks_store_rootw.c; the root's codec: ks_store_root.h) ----- */
/* Erases a sector the store addresses; a virtual one (overlay, map) is
 * first bound to a fresh pool sector, least-erased first. */
int ks__virt_erase(ks_store *st, uint32_t sector);
/* Programs like ks__prog; in a virtual sector a failed prog or read-back
 * moves the sector (its bytes so far copied, the old one retired). */
int ks__virt_prog(ks_store *st, uint32_t addr, const void *buf, uint32_t len);
/* Writes c's root (fresh sector, read back, synced) and names it in c. */
int ks__root_write(ks_store *st, ks_store_commit *c);
/* Reads c's root and binds c's map (and overlay) sectors; on failure binds
 * nothing of c's map, and with report records the damage (KSE-301). */
int ks__root_bind(ks_store *st, const ks_store_commit *c, int report);

/* ----- committing (ks_store_commit.c) ----- */
/* Appends the COMMIT for c and makes it the applied state. Before it, the
 * changed-keys list gets dl's key ids (a delta), or "every key" (full). */
int ks__commit(ks_store *st, const ks_store_commit *c, int full, const ks_delta *dl);
/* Recomputes the Merkle root of src and compares it with h's. */
int ks__verify_root(ks_store *st, const ks_recsrc *src, const ks_snap_header *h, ks_diag *d);

/* ----- delta overlay (ks_store_ovl.c) ----- */
/* One overlay entry on flash: 128-byte record (or key id), kind, offset, CRC. */
#define KS_OVL_ENT 144
#define KS_OVL_LAST 0x80u        /* kind flag: last entry of its segment */
uint32_t ks__ovl_addr(const ks_store *st, unsigned half);
uint32_t ks__ovl_half_bytes(const ks_store *st);
/* Entries one overlay epoch may write: min(table, half). Every entry
 * written counts, so a mount's replay always fits the table. */
uint32_t ks__ovl_cap(const ks_store *st);
/* Rebuilds cfg.overlay from flash for st->cur (whose base must be set), and
 * ovl_free. KS_E_STORE_CORRUPT (with the place) when an entry fails. */
int ks__ovl_load(ks_store *st, ks_diag *d);
/* Applies the segment at byte off of an overlay half to the table (read
 * back from flash). older: the segment predates what the table holds (the
 * mount replays newest first), so keys already there keep their entry.
 * *next gets the offset after it, *prev the previous segment's (or
 * UINT32_MAX for the first of the epoch). */
int ks__ovl_apply_seg(ks_store *st, uint32_t half, uint32_t off, uint32_t limit, int older,
                      uint32_t *next, uint32_t *prev);
void ks__ovl_drop(ks_store *st);
/* Recomputes start/cum of every table entry; *count the merged record count. */
void ks__ovl_positions(ks_store *st, uint32_t base_count, uint32_t *count);
/* A record source over base area + table (count merged records). */
void ks__mergedsrc(ks_store *st, const ks_store_commit *base, uint32_t count, ks_areasrc *a,
                   ks_recsrc *src);
/* Table lookup: the entry for key_id or NULL. */
const ks_ovl_ent *ks__ovl_find(const ks_store *st, const uint8_t key_id[KS_KEYID_SIZE]);
/* Reads and checks the PUT record of a table entry. */
int ks__ovl_record(ks_store *st, const ks_ovl_ent *e, uint8_t rec[KS_RECORD_SIZE]);
/* Proven search of the base area of st->cur: KS_OK (hit at *pos),
 * KS_E_NOTFOUND (*pos the insertion point), or an error. */
int ks__base_find(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                  uint8_t rec[KS_RECORD_SIZE], uint32_t *pos);

/*
 * Appends a parsed, checked delta to the overlay and commits it
 * (ks_store_ovl_write.c). KS_E_NOSPC, with nothing written, when it does
 * not fit (the caller folds instead). tree_done: the root was already
 * proven with the tree cache.
 */
int ks__ovl_append(ks_store *st, const ks_delta *dl, int tree_done, ks_diag *d);

/* ----- changed-keys list (ks_store_deny.c) ----- */
/* DENY payload: n (1), flags (1), reserved (6), all-keys version (8),
 * n x {id, version}. FIRM: `all` holds even on the newest commit. */
#define KS_DENY_FIRM 1u
#define KS_DENY_HDR 16
#define KS_DENY_ENC 24
#define KS_DENY_PER_REC 8
#define KS_DENY_SIZE(n) (KS_DENY_HDR + (n) * KS_DENY_ENC)
/* Compaction slots the list may use with this geometry; sets deny_cap. */
uint32_t ks__deny_slots(ks_store *st, uint32_t spare_slots);
/* Mount replay of one DENY record. */
int ks__deny_apply(ks_store *st, const ks_rec *r, ks_diag *d);
/* Drops entries no committed state can need any more. */
void ks__deny_trim(ks_store *st);
/* Before a delta's commit: records its changed key ids at its target
 * version (durable on return). */
int ks__deny_note_delta(ks_store *st, const ks_delta *dl);
/* Before a full install's commit: every key may have changed at version. */
int ks__deny_note_all(ks_store *st, uint64_t version);
/* Compaction: writes the list through put (slot by slot). */
int ks__deny_compact(ks_store *st, int (*put)(ks_store *, unsigned, uint32_t *, ks_rec *),
                     unsigned nb, uint32_t *head);

/* ----- wear accounting (ks_store_wear.c) ----- */
void ks__wear_erase(ks_store *st, uint32_t sector);
/* A commit applied change_bytes of change from a snapshot created then. */
void ks__wear_commit(ks_store *st, uint64_t change_bytes, uint64_t created_at);
void ks__wear_encode(const ks_store *st, uint8_t out[KS_WEAR_SIZE]);
void ks__wear_decode(ks_store *st, const uint8_t *in, uint32_t len);
/* The page allocator's cursor wrapped round the pool: a new lap. */
void ks__wear_lap(ks_store *st);

/* ----- audit (ks_store_audit.c) ----- */
int ks__audit_scan(ks_store *st, ks_diag *d);

#endif
