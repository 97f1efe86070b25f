/*
 * ks_store.h - the controller's power-fail-safe credential store on flash.
 *
 * What it holds: the applied snapshot (its signed header and its records,
 * laid out 128 bytes apart in key-id order so a lookup is a binary search
 * straight on flash), the pinned supervisor keys, a table of use counters
 * and lockout state, a ring of audit records waiting for upload, and a small
 * settings blob. docs/store.md describes every byte on flash and why.
 *
 * Guarantees:
 *   - installing a snapshot or applying a delta writes the new records into
 *     the snapshot area not in use, verifies them (signature, then the
 *     Merkle root), and only then writes the commit record. A power cut at
 *     any point leaves exactly the old or exactly the new state;
 *   - every record on flash carries a sequence number and CRC-32C over its
 *     header and its payload; every prog is read back and compared;
 *   - a record that fails its CRC is never used. The store reports
 *     KS_E_STORE_CORRUPT (KSE-301) with the place (ks_diag.offset is the byte
 *     address on the device, ks_diag.what names the structure), falls back
 *     to the last good state, and sets KS_STORE_F_NEED_FULL;
 *   - counters, lockout, trust, settings and the audit acknowledgement are
 *     durable when the call that changes them returns.
 *
 * Memory: the caller owns the ks_store context, the counter table and a
 * work buffer; nothing is allocated. No function is reentrant on one store.
 */
#ifndef KEYSUP_KS_STORE_H
#define KEYSUP_KS_STORE_H

#include "ks_flash.h"
#include "ks_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32C (Castagnoli). Start with crc = 0; chain by passing the last value. */
uint32_t ks_crc32c(uint32_t crc, const void *data, size_t len);

/* ----- sizes ----- */

#define KS_STORE_LAYOUT_VERSION 1
/* Layout 2: paged snapshot (docs/store.md, "Paged snapshots"): written by
 * ks_store_format when cfg.sector_map is given; layout 1 images still mount. */
#define KS_STORE_LAYOUT_PAGED 2
/* Layout 3: layout 2 whose page maps also carry every pool sector's erase
 * count (docs/store.md, "Per-sector erase counts"): written by
 * ks_store_format when cfg.erase_counts is given too; pool sectors are
 * then taken least-erased first. */
#define KS_STORE_LAYOUT_COUNTED 3
/* Layout 4: layout 3 with the overlay halves and the page maps taken from
 * the pool too, through a root sector per commit (docs/store.md, "Layout
 * 4"): written by ks_store_format when cfg.vmap is given too. */
#define KS_STORE_LAYOUT_LEVELLED 4
/* Layout 2: pool sectors that failed an erase or a program and are never
 * used again (listed in every map after its pages). One more failure is
 * an ordinary write error (KS_E_IO), the state unchanged. */
#define KS_STORE_RETIRED_MAX 32
/* Opaque audit record payload (the auth engine's hash-chained entry). */
#define KS_AUDIT_PAYLOAD 104
/* Largest settings blob. */
#define KS_SETTINGS_MAX 192
/* Smallest work buffer; its size must be a multiple of 512. Bigger buffers
 * make installs faster (fewer, longer progs). */
#define KS_STORE_BUF_MIN 1024
/* Defaults for ks_store_cfg (0 there selects them). */
#define KS_STORE_META_SECTORS_DEFAULT 2
#define KS_STORE_AUDIT_SECTORS_DEFAULT 2

/* ----- use counters and lockout ----- */

enum ks_counter_kind {
    KS_COUNTER_KEY = 0,    /* id is a key id */
    KS_COUNTER_READER = 1  /* id names a reader (auth engine's encoding) */
};
#define KS_COUNTER_KIND_MAX 127

/*
 * One row of the persisted counter table. The store keeps rows, keyed by
 * (kind, id), and gives them back exactly; what the numbers mean is the
 * auth engine's business (docs/store.md suggests the use).
 */
typedef struct ks_counter {
    uint8_t id[KS_KEYID_SIZE];
    uint8_t kind;           /* enum ks_counter_kind, at most KS_COUNTER_KIND_MAX */
    uint8_t flags;
    uint16_t lock_level;    /* back-off step */
    uint32_t fails;         /* consecutive failures in the window */
    uint64_t use_counter;   /* highest use counter seen */
    uint64_t window_start;  /* unix seconds of the first failure counted */
    uint64_t locked_until;  /* unix seconds; 0 none; UINT64_MAX admin unlock only */
} ks_counter;

/* ----- configuration and context ----- */

/* Mount flags. */
#define KS_MOUNT_NO_SCAN 1u  /* skip the CRC scan of every record at mount
                                (lookups still check what they return) */

/*
 * One change held in the delta overlay, in the caller-owned RAM table
 * (cfg.overlay). The store keeps the table sorted by key id; the caller
 * only provides the memory. docs/store.md, "Delta overlay".
 */
typedef struct ks_ovl_ent {
    uint8_t id[KS_KEYID_SIZE];
    uint32_t addr;      /* device address of the newest overlay entry for id */
    uint32_t base_pos;  /* where id is (or would be) in the base area */
    uint32_t start;     /* index in the merged view where this change takes effect */
    int32_t cum;        /* records added minus removed up to and including this one */
    uint8_t kind;       /* KS_OVL_PUT or KS_OVL_DEL */
    uint8_t in_base;    /* the base area holds id */
    uint8_t pad[2];
} ks_ovl_ent;
#define KS_OVL_PUT 1u
#define KS_OVL_DEL 2u

typedef struct ks_store_cfg {
    const ks_flash *flash;
    const ks_crypto *crypto;   /* hash and verify */
    uint32_t meta_sectors;     /* per metadata block (two blocks); 0 = default */
    uint32_t audit_sectors;    /* audit ring, at least 2; 0 = default */
    ks_counter *counters;      /* table of counter_cap rows */
    uint32_t counter_cap;
    uint8_t *buf;              /* work buffer, buf_size >= KS_STORE_BUF_MIN */
    uint32_t buf_size;
    unsigned mount_flags;
    /*
     * Optional lookup index in RAM (NULL / 0 for none), caller-owned:
     * index_cap key ids. Whenever the applied snapshot changes (mount,
     * install, delta) the store fills it with the first key id of every
     * group of 2^k records, k the smallest with ceil(count / 2^k) <=
     * index_cap, and remembers the generation it describes. A lookup first
     * searches the index, then only one group on flash. It is a hint: the
     * answer is still proven on flash (CRC of the hit, or of both
     * neighbours of a miss), an index that does not fit the applied
     * generation is not used, and an answer the index misdirected is
     * retried without it. KS_STORE_INDEX_CAP gives the size for a stride.
     */
    uint8_t (*index)[KS_KEYID_SIZE];
    uint32_t index_cap;
    /*
     * Optional delta overlay (0 for none): overlay_sectors (even, two
     * halves) between the audit ring and the snapshot areas, and a RAM
     * table of overlay_cap entries the store keeps sorted. A delta that
     * fits is appended there (O(change) writes) instead of rewriting the
     * spare area; when it no longer fits, the overlay is folded into the
     * spare area. Part of the geometry: the SUPER record checks it.
     */
    uint32_t overlay_sectors;
    ks_ovl_ent *overlay;
    uint32_t overlay_cap;
    /*
     * Paged snapshots (layout 2, docs/store.md "Paged snapshots"): caller-
     * owned RAM of KS_STORE_SECTOR_MAP_BYTES(sector_count) bytes, one bit
     * per sector, in which the store keeps which page sectors the applied
     * snapshot uses. ks_store_format writes layout 2 when it is given (and
     * buf_size >= sector_size + 512); a layout 2 image mounts only with it.
     * A fold then rewrites only the pages the change touches.
     */
    uint8_t *sector_map;
    /*
     * Per-sector erase counts (layout 3, with sector_map): caller-owned RAM
     * of KS_STORE_ERASE_COUNTS_LEN(sector_count) u32, in which the store
     * keeps each pool sector's erase count (loaded at mount from the map,
     * written with every map). ks_store_format writes layout 3 when both
     * are given; a layout 3 image mounts only with it.
     */
    uint32_t *erase_counts;
    /*
     * Layout 4 (with sector_map and erase_counts): caller-owned RAM of
     * vmap_cap u32 in which the store binds the overlay's and the page
     * maps' virtual sectors to pool sectors. KS_STORE_VMAP_LEN gives enough;
     * ks_store_format writes layout 4 when it is given, and a layout 4 image
     * mounts only with it.
     */
    uint32_t *vmap;
    uint32_t vmap_cap;
    /*
     * Optional page fence index (paged layouts; layout 4 also needs
     * page_index_sectors below; docs/store.md "The page fence index"):
     * caller-owned RAM of KS_STORE_PAGE_INDEX_LEN(pages)
     * u64 for up to page_index_cap pages: per page the first 8 bytes of its
     * first key id and where the page is (from the map, at mount and after
     * every commit of a new base). A lookup then reads no map entry: one
     * page search, proven on flash as always; any doubt (a CRC, the order,
     * a gap at a page's edge) falls back to the map path. Built (filling
     * cfg.index in the same pass) when the applied snapshot's pages fit
     * page_index_cap; otherwise lookups go through the map as before.
     */
    uint64_t *page_index;
    uint32_t page_index_cap;
    /*
     * Metadata blocks used in turn (docs/store.md, "The metadata ring"):
     * 0 or 2 = the two blocks of every older image; 3..KS_STORE_META_BLOCKS_MAX
     * = a ring, each block erased once every meta_blocks compactions (the
     * SUPER records it; meta_blocks * meta_sectors <= 255). Read at format;
     * at mount the image's SUPER has the last word.
     */
    uint32_t meta_blocks;
    /*
     * The page fence index's proof map (docs/store.md "The page fence
     * index"): caller-owned RAM of KS_STORE_PAGE_INDEX_SECTORS_BYTES(
     * sector_count) bytes, one bit per pool sector, set for exactly the
     * sectors that hold a page of the applied base (not the fallback's
     * pages, roots, maps, overlay or retired sectors, which cfg.sector_map
     * also marks on layout 4). Required for the fence index on layout 4;
     * on layouts 2 and 3 optional (without it the guard is cfg.sector_map
     * less the retired sectors).
     */
    uint8_t *page_index_sectors;
} ks_store_cfg;
#define KS_STORE_META_BLOCKS_MAX 16u
#define KS_STORE_RC_RECENT 16u /* roots whose erase counts the next root carries */
#define KS_STORE_SECTOR_MAP_BYTES(sector_count) (((sector_count) + 7u) / 8u)
/* The overlay's sectors and two maps of 20 bytes a pool sector plus the
 * erase-count table (64 bytes per 15 sectors, below 25 bytes a sector). */
#define KS_STORE_VMAP_LEN(sector_count, sector_size, overlay_sectors) \
    ((overlay_sectors) + 2u * ((25u * (sector_count) + 64u) / (sector_size) + 2u))
#define KS_STORE_ERASE_COUNTS_LEN(sector_count) (sector_count)
/* u64 words of cfg.page_index for `pages` pages (24 bytes each). */
#define KS_STORE_PAGE_INDEX_LEN(pages) ((size_t)(pages) * 3u)
/* bytes of cfg.page_index_sectors: one bit per sector of the device */
#define KS_STORE_PAGE_INDEX_SECTORS_BYTES(sector_count) KS_STORE_SECTOR_MAP_BYTES(sector_count)

/* Index entries for count records with one entry per stride records (a
 * power of two; 32 = one entry per 4 KiB of records). 16 bytes each. */
#define KS_STORE_INDEX_CAP(count, stride) (((count) + (stride) - 1) / (stride))

/* Flags in ks_store.flags / ks_store_info.flags. */
#define KS_STORE_F_NEED_FULL 1u     /* a full download is needed (damage, or no snapshot) */
#define KS_STORE_F_DAMAGED 2u       /* KSE-301 seen since mount; see ks_store.damage */
#define KS_STORE_F_FELL_BACK 4u     /* the applied snapshot is an older one than committed */
#define KS_STORE_F_META_DAMAGED 8u  /* a metadata record was lost: counters may be stale */

/*
 * The changed-keys list (docs/store.md, "Fallback policy"): key ids a
 * committed delta changed, with the version that changed them. Kept in
 * the metadata log apart from the snapshot areas and the overlay, so that
 * a store answering from an older snapshot (damage, fallback) refuses
 * exactly the keys changed since, and every key when it cannot tell.
 */
#define KS_STORE_DENY_MAX 48
typedef struct ks_deny_ent {
    uint8_t id[KS_KEYID_SIZE];
    uint64_t version;   /* target version of the delta that changed id */
} ks_deny_ent;

/* A committed snapshot: which area, its generation, its signed header. */
typedef struct ks_store_commit {
    int valid;
    uint8_t area;                       /* 0 or 1 */
    uint64_t gen;                       /* generation the records were written under */
    uint64_t seq;                       /* sequence of the commit record */
    uint32_t count;                     /* records in the base area */
    uint64_t ovl_gen;                   /* overlay generation (0: no overlay) */
    uint32_t ovl_end;                   /* committed bytes of the overlay half */
    uint32_t ovl_last;                  /* offset of the newest overlay segment */
    uint8_t ovl_half;                   /* overlay half, 0 or 1 */
    uint8_t paged;                      /* a paged base (layout 2) */
    uint32_t pages;                     /* paged base: pages in its map */
    uint32_t retired;                   /* paged base: retired sectors listed after them */
    uint8_t rooted;                     /* layout 4: its map and overlay named by a root */
    uint32_t root;                      /* layout 4: pool sector of the root */
    uint8_t header[KS_SNAP_HEADER_SIZE];
} ks_store_commit;

/*
 * Wear accounting (ks_store_wear.c, docs/store.md "Wear"). Every region but
 * the audit ring is erased front to back (an area from its first sector, an
 * overlay half as appends enter it, a metadata block whole), so its first
 * sector is its most erased and its last its least: the two counts bound
 * every sector of the region exactly. The ring is erased in turn: first and
 * last hold the ceiling and floor of its mean. Persisted in END (each
 * compaction) and in a WEAR record before every install or fold COMMIT;
 * a power cut loses at most the erases since then (an undercount).
 */
/* meta 0, meta 1, audit, overlay half 0, 1, area (layout 2: page map) 0, 1,
 * and the page pool (layout 2; its first/last are bounds, see ks_store_wear.c) */
#define KS_WEAR_REGIONS 8
#define KS_WEAR_DEFAULT_ENDURANCE 10000u
typedef struct ks_store_wear {
    uint32_t erases[KS_WEAR_REGIONS];  /* sector erases in the region */
    uint32_t first[KS_WEAR_REGIONS];   /* erases of its most-erased sector */
    uint32_t last[KS_WEAR_REGIONS];    /* erases of its least-erased sector */
    uint64_t prog_bytes;               /* bytes programmed */
    uint64_t change_bytes;             /* change committed: 128 per record written by an
                                          install or upserted by a delta, 16 per removal */
    uint32_t commits;                  /* installs and deltas committed */
    uint32_t retired;                  /* sectors retired (none yet: no spare pool) */
    uint64_t first_time;               /* created_at of the first snapshot committed */
    uint64_t last_time;                /* created_at of the newest snapshot committed */
} ks_store_wear;

/* The record source ks_store_records hands out reads through this. */
struct ks_store;
typedef struct ks_store_src {
    struct ks_store *st;
    uint32_t base, crc_base, seed;
    uint32_t base_count;   /* merged sources: records of the base area */
    /* paged base (pages != 0): its map, and the page last read */
    uint32_t pages, map_seed;
    uint32_t pg, pg_start, pg_n, pg_addr, pg_seed;
} ks_store_src;

/*
 * The context. Every field is the store's; read them through the accessors
 * below. Sizes: about 1.3 KiB plus the caller's counter table and buffer.
 */
typedef struct ks_store {
    ks_store_cfg cfg;
    int mounted;
    unsigned flags;
    ks_diag damage;                 /* first damage seen (err 0 when none) */

    /* layout, in sectors */
    uint32_t meta_slot_size, meta_slots;   /* slots per metadata block */
    uint32_t audit_slot_size, audit_slots; /* slots per audit sector */
    uint32_t audit_first, area_first[2], area_sectors;
    /* paged layout (2): area_first/area_sectors are the two page maps */
    int paged;
    uint32_t pool_first, pool_sectors;     /* page sectors */
    uint32_t page_k, page_crc;             /* records per page, CRC table offset */
    uint32_t pool_used, pool_next;         /* sectors cur uses; next-fit cursor */
    int counted;                           /* layout 3: cfg.erase_counts per pool sector */
    int levelled;                          /* layout 4: overlay and maps bound through cfg.vmap */
    uint32_t virt_first, virt_n;           /* layout 4: first virtual sector, how many */
    uint32_t pool_thr;                     /* layout 3: take free sectors erased <= this */
    uint32_t retired[KS_STORE_RETIRED_MAX], retired_n;       /* pool sectors that failed: never used again */

    /* metadata log */
    uint8_t meta_block;            /* active block, 0 .. cfg.meta_blocks - 1 */
    uint8_t ring_last;             /* a ring: the block erased last (the wear count's laps,
                                      ks_store_wear.c); >= meta_blocks: none yet */
    uint64_t meta_epoch;
    uint32_t meta_head;            /* next free slot in the active block */
    uint64_t seq;                  /* last sequence number used (any record) */

    /* snapshot state */
    ks_store_commit cur;           /* the state lookups answer from */
    ks_store_commit last[2];       /* latest valid commit naming each area */
    uint64_t highest_version;      /* highest snapshot version ever committed */
    ks_snap_header hdr;            /* decoded cur.header */
    uint32_t cur_seed;             /* CRC seed of cur's generation */
    ks_store_src src;              /* context of ks_store_records' source */
    uint32_t idx_n, idx_shift;     /* cfg.index: entries, log2 of the stride */
    uint64_t idx_gen;              /* generation the index describes (idx_n 0: none) */
    uint32_t pidx_n;               /* cfg.page_index: pages it describes (0: none) */
    uint64_t pidx_gen;             /* generation it describes */
    int hw_crc;                    /* flash->crc32c passed its check: use it */

    /* delta overlay (cfg.overlay_sectors) */
    uint32_t ovl_first, ovl_half_sectors; /* first sector, sectors per half */
    uint32_t ovl_n;                /* entries in cfg.overlay */
    int ovl_ok;                    /* cfg.overlay describes cur's overlay */
    uint32_t ovl_seed;             /* CRC seed of the table's overlay generation */
    uint32_t ovl_free;             /* next programmable byte of cur's overlay half */

    /* changed-keys list (ks_store_deny.c) */
    ks_deny_ent deny[KS_STORE_DENY_MAX];
    uint32_t deny_n, deny_cap;     /* cap: what the metadata block has room for */
    uint64_t deny_all;             /* every key changed at this version (0 none) */
    uint64_t deny_firm;            /* a COMMIT or list record was lost: every key is
                                      refused below this version, fallen back or not */
    uint32_t deny_slots;           /* compaction slots reserved for the list */

    /* small state */
    ks_trust trust;
    uint8_t settings[KS_SETTINGS_MAX];
    uint32_t settings_len;
    uint32_t counter_count;

    /* audit ring */
    uint64_t audit_acked;          /* entries up to this sequence are uploaded */
    uint32_t audit_head_sector;    /* ring index of the sector being filled */
    uint32_t audit_head_slot;
    uint64_t audit_last;           /* sequence of the newest entry (0 none) */
    uint64_t audit_first_seq;      /* oldest entry held, as of the last scan */

    ks_store_wear wear;            /* erase and program accounting (ks_store_wear.c) */
    /* layout 4: pool sectors taken as roots since the last map, oldest
     * first (their counts ride in the next root: ks_store_rootcnt.c) */
    uint32_t rc_recent[KS_STORE_RC_RECENT], rc_recent_n;
} ks_store;

/* ----- lifecycle ----- */

/*
 * Erases the device and writes an empty store: no snapshot, the given
 * trust (may be NULL for none), no counters, no audit. Leaves st mounted.
 * KS_E_INVAL for an impossible geometry, KS_E_NOSPC when the device or the
 * metadata block is too small for the layout and counter table.
 */
int ks_store_format(ks_store *st, const ks_store_cfg *cfg, const ks_trust *trust);

/*
 * Finds the newest complete, valid state. Returns
 *   KS_OK               mounted, nothing damaged;
 *   KS_E_STORE_CORRUPT  mounted, but damage was found and skipped: d (and
 *                       st->damage) says where; flags tell what it cost
 *                       (NEED_FULL, FELL_BACK, META_DAMAGED);
 *   KS_E_NOTFOUND       the device holds no store (blank): format it;
 *   KS_E_STORE_CORRUPT with st->mounted == 0: no metadata block survives;
 *                       only a re-format (re-provisioning) recovers;
 *   KS_E_FORMAT         a store with another geometry or layout version;
 *   KS_E_IO / KS_E_INVAL.
 */
int ks_store_mount(ks_store *st, const ks_store_cfg *cfg, ks_diag *d);

/*
 * Scans everything a mount relies on and reports the first damage: every
 * slot of both metadata blocks, the audit ring, every record of the applied
 * snapshot (CRC), then the applied snapshot's signature and Merkle root with
 * cfg->crypto. KS_OK when clean; otherwise the error and d says where.
 */
int ks_store_check(ks_store *st, ks_diag *d);

/*
 * Marks the store damaged (DAMAGED | NEED_FULL: a full download is needed)
 * because damage was found outside the store's own reads, by
 * ks_store_check run from a scrub or by an integration that lost data it
 * keeps in the store. The first damage recorded is kept (st->damage); d
 * (err, offset, what) becomes it when there is none yet.
 */
void ks_store_mark_damaged(ks_store *st, const ks_diag *d);

/*
 * The geometry an image names in its SUPER record, for tools that open an
 * image file with no configuration (`keysup flash check FILE`). f needs
 * only read, with a sector_size that is a power of two <= 1024 (every
 * candidate address is then a sector start); size is the image's size in
 * bytes. The real values come from the image. has_counter_cap is 0 for
 * images written before the SUPER named the counter table (counter_cap is
 * then 0: the caller picks one). KS_E_NOTFOUND when no SUPER checks
 * anywhere a metadata block can start.
 */
typedef struct ks_store_geom {
    uint32_t sector_size, sector_count, prog_size;
    uint32_t meta_sectors, audit_sectors, overlay_sectors, counter_cap;
    uint32_t meta_blocks; /* 2, or the ring's blocks */
    uint8_t erase_value;
    int has_counter_cap;
} ks_store_geom;
int ks_store_probe(const ks_flash *f, uint64_t size, ks_store_geom *g);

/* ----- snapshots ----- */

/*
 * Installs a full snapshot: hdr is the signed encoded header, records the
 * source of its records (from RAM, a file, a download buffer...). Checks in
 * order: header structure, ks_snap_header_check against the pinned trust
 * and the highest committed version (re-installing the same version is
 * allowed: it is the repair after damage), record count, room (KS_E_NOSPC),
 * order and structure of every record, Merkle root of the records as read
 * back from flash (KS_E_ROOT). Only then commits. On any error the applied
 * state is unchanged. now: unix time for the expiry check (0 skips it).
 */
int ks_store_install(ks_store *st, const uint8_t hdr[KS_SNAP_HEADER_SIZE],
                     const ks_recsrc *records, uint64_t now, ks_diag *d);

/*
 * Applies a delta to the applied snapshot. With cfg.overlay_sectors, a
 * delta that fits is appended to the overlay (O(change) writes); otherwise
 * (or when the overlay is full) base + overlay + delta are folded into the
 * spare area. With tree == NULL the new records are verified by
 * recomputing the Merkle root over them as read back from flash (O(n)
 * hashing). With a tree cache of the applied state
 * (built by the caller with ks_tree_build over ks_store_records), the
 * check is ks_delta_update_tree, O(change); on success the tree describes
 * the new state, on failure the old one. On any error the applied state
 * is unchanged.
 */
int ks_store_apply_delta(ks_store *st, const uint8_t *delta, size_t len, uint64_t now,
                         ks_tree *tree, ks_diag *d);

/*
 * Looks key_id up in the applied snapshot. KS_OK and rec filled on a hit;
 * KS_E_NOTFOUND on a miss or when no snapshot is applied; KS_E_STORE_CORRUPT
 * when a record the answer depends on fails its CRC (never a wrong answer).
 * Uses cfg.index when it describes the applied generation.
 */
int ks_store_lookup(ks_store *st, const uint8_t key_id[KS_KEYID_SIZE],
                    uint8_t rec[KS_RECORD_SIZE]);

/*
 * A record source over the applied snapshot (the base area merged with the
 * overlay, in key order), reading from flash and
 * checking each record's CRC (KS_E_STORE_CORRUPT otherwise). Valid until
 * the next install or delta. count is 0 when nothing is applied.
 */
void ks_store_records(ks_store *st, ks_recsrc *src);

/* Header of the applied snapshot, or NULL when none. */
const ks_snap_header *ks_store_header(const ks_store *st);

/*
 * The fallback policy, for the auth engine, before it trusts a record.
 * KS_OK when the applied snapshot may answer for key_id: it is the newest
 * committed, or key_id did not change after its version.
 * KS_E_STALE_DENIED (KSE-303) when the store answers from an older
 * snapshot and key_id changed since, or when it cannot tell which keys
 * changed (a full install since, an overflowed or damaged list): then
 * every key is refused until a full download.
 */
int ks_store_fallback_check(const ks_store *st, const uint8_t key_id[KS_KEYID_SIZE]);
/* 1 when ks_store_fallback_check refuses every key (deny-all), else 0. */
int ks_store_deny_all(const ks_store *st);

/* ----- trust ----- */

const ks_trust *ks_store_trust(const ks_store *st);
/* Replaces the pinned keys (provisioning, or after ks_trust_follow on a copy). */
int ks_store_set_trust(ks_store *st, const ks_trust *t);

/* ----- counters and lockout ----- */

/* Copies the row for (kind, id) into out; KS_E_NOTFOUND when absent. */
int ks_store_counter_get(const ks_store *st, uint8_t kind, const uint8_t id[KS_KEYID_SIZE],
                         ks_counter *out);
/* Creates or replaces a row; durable on return. KS_E_NOSPC when the table is
 * full (the caller decides what to evict, see docs/store.md). */
int ks_store_counter_put(ks_store *st, const ks_counter *c);
/* Removes a row; KS_E_NOTFOUND when absent. */
int ks_store_counter_del(ks_store *st, uint8_t kind, const uint8_t id[KS_KEYID_SIZE]);
uint32_t ks_store_counter_count(const ks_store *st);
/* Row i (0 <= i < count), in no particular order; NULL past the end. */
const ks_counter *ks_store_counter_at(const ks_store *st, uint32_t i);

/* ----- settings ----- */

int ks_store_settings_set(ks_store *st, const void *blob, uint32_t len);
/* Copies up to cap bytes; returns the blob length (may exceed cap). */
uint32_t ks_store_settings_get(const ks_store *st, void *blob, uint32_t cap);

/* ----- audit ring ----- */

/*
 * Appends one record; durable on return; *seq (may be NULL) gets its
 * sequence number (1, 2, ...). When the ring is full the oldest sector is
 * erased, acknowledged or not: the reader sees the gap in sequence numbers
 * (docs/store.md explains the choice).
 */
int ks_store_audit_append(ks_store *st, const uint8_t payload[KS_AUDIT_PAYLOAD], uint64_t *seq);
/*
 * Reads the oldest record with a sequence above both after and the
 * acknowledged sequence. KS_E_NOTFOUND when none waits.
 */
int ks_store_audit_read(ks_store *st, uint64_t after, uint8_t payload[KS_AUDIT_PAYLOAD],
                        uint64_t *seq);
/* Marks every record up to seq as uploaded; durable on return. */
int ks_store_audit_ack(ks_store *st, uint64_t seq);

/* ----- what is stored (for the inspect tool) ----- */

typedef struct ks_store_info {
    unsigned flags;
    int has_snapshot;
    ks_store_commit cur;
    ks_store_commit last[2];
    uint64_t highest_version;
    uint32_t meta_block, meta_used, meta_slots;
    uint64_t meta_epoch, seq;
    uint32_t trust_count;
    uint32_t counter_count, counter_cap;
    uint32_t settings_len;
    uint64_t audit_first, audit_last, audit_acked;  /* first = oldest held, 0 none */
    uint32_t audit_capacity;                        /* entries the ring holds */
    uint32_t area_sectors, area_capacity;           /* records one area holds */
    uint32_t meta_sectors, audit_sectors, meta_blocks;
    uint32_t overlay_sectors, overlay_entries;      /* entries: in the applied overlay */
    uint32_t deny_count, deny_cap;                  /* changed-keys list */
    uint64_t deny_all;                              /* version of an all-keys change */
    int stale_deny_all;                             /* fallback refuses every key */
    uint32_t stale_denied;                          /* keys refused on the applied version */
} ks_store_info;

void ks_store_get_info(ks_store *st, ks_store_info *out);

/* Sectors in wear region r (0 for a region the geometry does not have). */
uint32_t ks_store_wear_sectors(const ks_store *st, unsigned r);
/* The device byte behind a store address (layout 4's overlay and maps are
 * virtual sectors bound to pool sectors; other layouts: the same address).
 * KS_E_STORE_CORRUPT when the address is in an unbound virtual sector. */
int ks_store_device_addr(const ks_store *st, uint32_t addr, uint32_t *dev);

/*
 * Device address of record i of commit c's base (st->cur, st->last[a]):
 * layout 1, the area's start + 128 i; layout 2, through the page map. For
 * tools and tests that point at a record on flash. KS_E_NOTFOUND past the
 * end, KS_E_STORE_CORRUPT when the map entry does not check.
 */
int ks_store_record_addr(ks_store *st, const ks_store_commit *c, uint32_t i, uint32_t *addr);

/* Records one snapshot area can hold with this geometry. */
uint32_t ks_store_area_capacity(const ks_store *st);

#ifdef __cplusplus
}
#endif
#endif
