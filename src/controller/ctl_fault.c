/*
 * ctl_fault.c - the fault hooks: test-only operations that make a running
 * agent misbehave on purpose (a skewed or reset clock, a dropped link, an
 * old protocol, a power cut k writes from now, a flipped bit in flash, a
 * short offline limit), so the e2e tests and the diagnosis scenarios reach
 * the states a field unit reaches by accident.
 *
 * They are a table apart from the operations a reader or terminal uses
 * (ctl_ops.c) and are refused unless the agent was started with
 * --enable-fault-hooks: a production unit (packaging/systemd) never has them.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "ctl_ops.h"

typedef json_t *(*fault_fn)(ctl_agent *a, json_t *req, json_t *v);

typedef struct fault_kind {
    const char *name;
    const char *value; /* what "value" means */
    fault_fn fn;
} fault_kind;

static json_t *f_skew_clock(ctl_agent *a, json_t *req, json_t *v)
{
    (void)req;
    a->rtc_skew = json_integer_value(v);
    return NULL;
}

static json_t *f_rtc_reset(ctl_agent *a, json_t *req, json_t *v)
{
    (void)req;
    a->rtc_reset = json_is_true(v);
    return NULL;
}

static json_t *f_drop_link(ctl_agent *a, json_t *req, json_t *v)
{
    (void)req;
    a->link_down = json_is_true(v);
    return NULL;
}

static json_t *f_protocol(ctl_agent *a, json_t *req, json_t *v)
{
    (void)req;
    a->o.protocol = (int)json_integer_value(v);
    return NULL;
}

/* The k-th write from now fails and the agent dies as if unplugged
 * (ctl_socket.c exits once the flash reports the power gone). */
static json_t *f_power_cut(ctl_agent *a, json_t *req, json_t *v)
{
    (void)req;
    ks_flash_emu_cut(&a->flash, (long)json_integer_value(v), KS_EMU_TORN, (uint64_t)time(NULL));
    return NULL;
}

/* Flips one bit inside the first applied record (its public key), as a
 * surge on that sector would. The store finds the record's address: in
 * layout 2 it sits in whichever pool sector its page was written to, and
 * that page may be shared with the fallback state (a fold rewrites only the
 * pages a change touches), so the damage can hit both states: the store
 * then has nothing good to fall back to and answers nothing until the full
 * download it asks for (docs/controller.md). */
static json_t *f_corrupt_sector(ctl_agent *a, json_t *req, json_t *v)
{
    (void)v;
    ks_store *st = &a->store;
    uint32_t addr = 0;
    uint64_t byte;
    if (st->cur.valid && st->cur.count > 0) {
        int err = ks_store_record_addr(st, &st->cur, 0, &addr);
        if (err)
            return ctl_fail("CONFLICT", "corrupt_sector: record 0 has no address: %s",
                            ks_err_name(err));
        byte = (uint64_t)addr + 40;
    } else if (st->ovl_n > 0) { /* every key arrived by delta: hit the overlay */
        /* on layout 4 the overlay's address is virtual: the device byte
         * behind it is what a surge would hit */
        int err = ks_store_device_addr(st, st->cfg.overlay[0].addr, &addr);
        if (err)
            return ctl_fail("CONFLICT", "corrupt_sector: the overlay has no device address: %s",
                            ks_err_name(err));
        byte = (uint64_t)addr + 40;
    } else {
        return ctl_fail("CONFLICT", "corrupt_sector: no records are applied");
    }
    uint32_t sector = (uint32_t)(byte / CTL_SECTOR_SIZE);
    ks_flash_emu_flip(&a->flash, byte * 8 + 3);
    json_object_set_new(req, "sector", json_integer(sector));
    return NULL;
}

/* Wears out the next N free pool sectors (layout 2 or 3) the store will write a
 * page to, loudly: their erases and programs fail, as worn flash does. The
 * next install or fold meets them and retires them (the health report's
 * retired_sectors, KSE-311). In RAM only, like the other faults: the image
 * file keeps no worn state. */
static json_t *f_wear_pool(ctl_agent *a, json_t *req, json_t *v)
{
    ks_store *st = &a->store;
    json_int_t n = json_integer_value(v);
    if (!st->paged)
        return ctl_fail("CONFLICT", "wear_pool: the store is layout 1 (no pool)");
    if (!json_is_integer(v) || n < 1 || n > KS_STORE_RETIRED_MAX)
        return ctl_fail("BAD_REQUEST", "value: wear_pool needs 1..%d sectors",
                        KS_STORE_RETIRED_MAX);
    json_t *arr = json_array();
    for (uint32_t t = 0; t < st->pool_sectors && n > 0; t++) {
        uint32_t s = (st->pool_next + t) % st->pool_sectors;
        if ((st->cfg.sector_map[s >> 3] >> (s & 7)) & 1)
            continue; /* applied (or already retired) */
        ks_flash_emu_wear(&a->flash, st->pool_first + s, KS_EMU_WORN_LOUD);
        json_array_append_new(arr, json_integer(st->pool_first + s));
        n--;
    }
    json_object_set_new(req, "sectors", arr);
    return NULL;
}

/* Diagnosis tests (issue 7): a maximum offline age of seconds, not a day,
 * so KSE-110 can be reached in a test. Kept in RAM only. */
static json_t *f_max_offline(ctl_agent *a, json_t *req, json_t *v)
{
    (void)req;
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return ctl_fail("BAD_REQUEST", "value: max_offline needs a number of seconds");
    a->set.max_offline = (uint32_t)json_integer_value(v);
    return NULL;
}

static const fault_kind kinds[] = {
    {"corrupt_sector", "(none)", f_corrupt_sector},
    {"skew_clock", "seconds added to the system clock (negative: behind)", f_skew_clock},
    {"rtc_reset", "true: the RTC reads as its epoch", f_rtc_reset},
    {"drop_link", "true: every request to the supervisor fails", f_drop_link},
    {"protocol", "the protocol version reported", f_protocol},
    {"power_cut", "the write (counted from now) that loses power", f_power_cut},
    {"max_offline", "seconds without a sync before KSE-110 (RAM only)", f_max_offline},
    {"wear_pool", "free pool sectors (layout 2 or 3) to wear out: the next writes retire them",
     f_wear_pool},
};

json_t *ctl_fault_kinds_json(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}", "kind", kinds[i].name, "value",
                                             kinds[i].value));
    return arr;
}

static json_t *op_fault(ctl_agent *a, json_t *req)
{
    const char *kind = json_string_value(json_object_get(req, "kind"));
    if (!kind)
        return ctl_fail("BAD_REQUEST", "kind: one of corrupt_sector, skew_clock, rtc_reset, "
                                       "drop_link, protocol, power_cut, max_offline, wear_pool");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, kind) == 0) {
            json_t *err = kinds[i].fn(a, req, json_object_get(req, "value"));
            return err ? err : json_pack("{s:b,s:s}", "ok", 1, "fault", kind);
        }
    return ctl_fail("BAD_REQUEST", "kind: unknown fault '%s'", kind);
}

const ctl_op ctl_fault_ops[] = {
    {"fault", "kind value?", 0, op_fault, "test hook: makes the agent misbehave (see fault_kinds)"},
    {NULL, NULL, 0, NULL, NULL},
};
