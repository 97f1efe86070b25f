/*
 * auth_util.h - fixtures for the authentication engine tests: a store on
 * emulated flash holding a small credential database with one key for each
 * refusal, a fake HAL (settable RTC, seal switch, monotonic tick), and
 * helpers that run a whole challenge-response.
 */
#ifndef KS_AUTH_UTIL_H
#define KS_AUTH_UTIL_H

#include "ks_test_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "ks_flash_file.h"

#define AT_SECTOR 4096u
#define AT_SECTORS 12u
#define AT_COUNTERS 32u
#define AT_T0 1750000000ull   /* the tests' "now" */
#define AT_SCOPE 7u
#define AT_MINFMT 2u

/* Key numbers (kt_keypair seeds) and what their records say. */
enum {
    K_OP = 1,        /* operator only */
    K_SUP1 = 2,      /* supervisor with every privilege */
    K_SUP2 = 3,      /* a second such supervisor */
    K_STRIPPED = 4,  /* VOID but the SUPERVISOR flag stripped */
    K_REVOKED = 5,
    K_EXPIRED = 6,   /* valid_until = T0 - 1000 */
    K_OLDFMT = 7,    /* key_format 1 < controller minimum 2 */
    K_SCOPE = 8,     /* scope 99, controller scope 7 */
    K_FUTURE = 9,    /* valid_from = T0 + 10000 */
    K_FLOOR = 10,    /* counter_floor 1000 */
    K_SUSPENDED = 11,
    K_EDGE = 12,     /* valid_until = T0 - 30 (inside the 60 s skew) */
    K_NKEYS = 12,
    K_UNKNOWN = 50   /* never enrolled */
};

#define ALL_PRIVS 0xFFFull

typedef struct at_fix {
    ks_crypto c;
    ks_flash_emu emu;
    ks_store st;
    ks_store_cfg scfg;
    ks_counter counters[AT_COUNTERS];
    uint8_t buf[AT_SECTOR];
    ks_trust trust;
    uint8_t spk[32], ssk[64];        /* the supervisor (server) key */
    uint8_t snap[KS_SNAP_HEADER_SIZE + 16 * KS_RECORD_SIZE];
    uint32_t nrec;

    ks_auth a;
    ks_auth_cfg acfg;
    ks_auth_session sessions[4];
    ks_auth_pending pending[4];

    /* fake HAL */
    uint64_t rtc;
    int rtc_fail;
    int seal;
    uint64_t mono;
    int use_mono;
    uint32_t deny;                   /* lockout threshold override, 0 = default */
    uint64_t counter[64];            /* next use counter per key number */
} at_fix;

static const uint8_t RA[16] = "reader-A-------";
static const uint8_t RB[16] = "reader-B-------";
static const uint8_t CTRL[16] = "controller-0001";

static int at_rtc(void *ctx, uint64_t *t)
{
    at_fix *f = ctx;
    if (f->rtc_fail)
        return KS_E_IO;
    *t = f->rtc;
    return 0;
}

static int at_rng(void *ctx, uint8_t *b, size_t n)
{
    (void)ctx;
    randombytes_buf(b, n);
    return 0;
}

static int at_seal(void *ctx)
{
    return ((at_fix *)ctx)->seal;
}

static int at_mono(void *ctx, uint64_t *s)
{
    *s = ((at_fix *)ctx)->mono;
    return 0;
}

static inline void at_key_id(at_fix *f, uint32_t n, uint8_t id[16])
{
    uint8_t pk[32], sk[64];
    kt_keypair(n, pk, sk);
    ks_key_id(&f->c, id, pk);
}

static inline void at_rec(at_fix *f, uint32_t n, uint8_t out[KS_RECORD_SIZE])
{
    ks_record r;
    uint8_t sk[64];
    memset(&r, 0, sizeof r);
    kt_keypair(n, r.public_key, sk);
    ks_key_id(&f->c, r.key_id, r.public_key);
    r.privileges = ALL_PRIVS;
    r.valid_from = 1700000000u;
    r.holder_id = n;
    r.record_version = KS_RECORD_VERSION;
    r.key_format = AT_MINFMT;
    r.algorithm = KS_ALG_ED25519;
    r.state = KS_STATE_ACTIVE;
    r.form_factor = KS_FORM_USB;
    switch (n) {
    case K_OP: r.privileges = KS_PRIV_OPERATOR; break;
    case K_STRIPPED: r.privileges = KS_PRIV_OPERATOR | KS_PRIV_VOID; break;
    case K_REVOKED: r.state = KS_STATE_REVOKED; break;
    case K_SUSPENDED: r.state = KS_STATE_SUSPENDED; break;
    case K_EXPIRED: r.valid_until = AT_T0 - 1000; break;
    case K_EDGE: r.valid_until = AT_T0 - 30; break;
    case K_OLDFMT: r.key_format = 1; break;
    case K_SCOPE: r.scope = 99; break;
    case K_FUTURE: r.valid_from = AT_T0 + 10000; break;
    case K_FLOOR: r.counter_floor = 1000; break;
    default: break;
    }
    ks_record_encode(&r, out);
}

static inline void at_cfg_store(at_fix *f)
{
    memset(&f->scfg, 0, sizeof f->scfg);
    f->scfg.flash = &f->emu.flash;
    f->scfg.crypto = &f->c;
    f->scfg.meta_sectors = 2;
    f->scfg.audit_sectors = 4;
    f->scfg.counters = f->counters;
    f->scfg.counter_cap = AT_COUNTERS;
    f->scfg.buf = f->buf;
    f->scfg.buf_size = sizeof f->buf;
}

static inline void at_cfg_auth(at_fix *f)
{
    ks_auth_cfg_default(&f->acfg);
    memcpy(f->acfg.controller_id, CTRL, 16);
    f->acfg.scope = AT_SCOPE;
    f->acfg.min_key_format = AT_MINFMT;
    f->acfg.sessions = f->sessions;
    f->acfg.session_cap = 4;
    f->acfg.pending = f->pending;
    f->acfg.pending_cap = 4;
    f->acfg.crypto = &f->c;
    f->acfg.store = &f->st;
    f->acfg.hal.ctx = f;
    f->acfg.hal.rtc = at_rtc;
    f->acfg.hal.rng = at_rng;
    f->acfg.hal.seal = at_seal;
    f->acfg.hal.mono = f->use_mono ? at_mono : NULL;
    if (f->deny)
        f->acfg.deny = f->deny;
}

/* Restarts the engine (not the store) after a change to f's settings. */
static inline void at_restart(at_fix *f)
{
    at_cfg_auth(f);
    assert_int_equal(ks_auth_init(&f->a, &f->acfg), 0);
}

/* Formats a store, installs the database, starts the engine at T0. */
static inline void at_setup(at_fix *f)
{
    ks_recsrc src;
    ks_snap_header h;
    uint8_t *recs = f->snap + KS_SNAP_HEADER_SIZE;

    memset(f, 0, sizeof *f);
    assert_int_equal(ks_sodium_crypto(&f->c), 0);
    kt_keypair(9000, f->spk, f->ssk);
    ks_trust_init(&f->trust);
    assert_int_equal(ks_trust_add(&f->trust, &f->c, f->spk), 0);
    assert_int_equal(ks_flash_emu_init(&f->emu, AT_SECTOR, AT_SECTORS, 16, 0xFF), 0);
    at_cfg_store(f);
    assert_int_equal(ks_store_format(&f->st, &f->scfg, &f->trust), 0);

    f->nrec = K_NKEYS;
    for (uint32_t i = 0; i < f->nrec; i++)
        at_rec(f, i + 1, recs + (size_t)i * KS_RECORD_SIZE);
    qsort(recs, f->nrec, KS_RECORD_SIZE, kt_cmp_rec);
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.created_at = AT_T0 - 100;
    assert_int_equal(ks_snapshot_write(&f->c, &h, recs, f->nrec, f->ssk, f->snap,
                                       KS_SNAP_HEADER_SIZE + (size_t)f->nrec * KS_RECORD_SIZE),
                     0);
    ks_recsrc_mem(&src, recs, f->nrec);
    assert_int_equal(ks_store_install(&f->st, f->snap, &src, AT_T0, NULL), 0);

    f->rtc = AT_T0;
    for (uint32_t i = 0; i < 64; i++)
        f->counter[i] = 1;
    f->counter[K_FLOOR] = 1001;
    at_cfg_auth(f);
    assert_int_equal(ks_auth_init(&f->a, &f->acfg), 0);
}

/* Power cut: RAM is gone; mount the same flash again and restart the engine. */
static inline void at_reboot(at_fix *f)
{
    memset(&f->st, 0, sizeof f->st);
    memset(f->counters, 0, sizeof f->counters);
    memset(&f->a, 0, sizeof f->a);
    at_cfg_store(f);
    {
        /* A cut mid-write may leave a torn record that mount skips. */
        int err = ks_store_mount(&f->st, &f->scfg, NULL);
        assert_true(err == KS_OK || (err == KS_E_STORE_CORRUPT && f->st.mounted));
    }
    at_cfg_auth(f);
    assert_int_equal(ks_auth_init(&f->a, &f->acfg), 0);
}

static inline void at_teardown(at_fix *f)
{
    ks_flash_emu_close(&f->emu);
}

/* cmocka fixtures over the at_fix a test's initial state points at
 * (AT_TEST(test, setup, &F) below):
 * a fresh engine; the same with refusals that never add up to a lockout
 * (deny 1000, for the tests of the decision order, whose refusals would
 * otherwise lock the reader); and the teardown. */
static inline int at_cm_setup(void **state)
{
    at_setup(*state);
    return 0;
}

static inline int at_cm_setup_nolock(void **state)
{
    at_fix *f = *state;
    at_setup(f);
    f->deny = 1000;
    at_restart(f);
    return 0;
}

static inline int at_cm_teardown(void **state)
{
    at_teardown(*state);
    return 0;
}

/* One test on fixture fix (an at_fix *), set up by setup, torn down. */
#define AT_TEST(test, setup, fix) \
    cmocka_unit_test_prestate_setup_teardown(test, setup, at_cm_teardown, fix)

/* Key n answers challenge ch with counter ctr. */
static inline void at_answer(at_fix *f, uint32_t n, const uint8_t ch[32], uint64_t ctr,
                             uint8_t resp[KS_RESPONSE_SIZE])
{
    uint8_t pk[32], sk[64];
    kt_keypair(n, pk, sk);
    assert_int_equal(ks_response_make(&f->c, ch, ctr, pk, sk, resp), 0);
    sodium_memzero(sk, sizeof sk);
}

/* A whole presentation of key n for action at reader, with its next counter. */
static inline int at_present(at_fix *f, const uint8_t reader[16], uint16_t action, uint32_t n,
                             unsigned flags, ks_auth_result *res)
{
    uint8_t ch[32], resp[KS_RESPONSE_SIZE];
    int err = ks_auth_challenge(&f->a, reader, action, ch);
    if (err)
        return err;
    at_answer(f, n, ch, f->counter[n < 64 ? n : 63]++, resp);
    return ks_auth_respond(&f->a, reader, resp, sizeof resp, flags, res);
}

/* The newest audit record (fails the test when there is none). */
static inline void at_last_audit(at_fix *f, ks_audit_rec *r)
{
    uint8_t p[KS_AUDIT_PAYLOAD];
    ks_store_info info;
    uint64_t seq;
    ks_store_get_info(&f->st, &info);
    assert_true(info.audit_last > 0);
    assert_int_equal(ks_store_audit_read(&f->st, info.audit_last - 1, p, &seq), 0);
    assert_int_equal(ks_audit_decode(r, p, NULL), 0);
}

/* Every unacknowledged audit record, oldest first, into out; returns the count. */
static inline size_t at_all_audit(at_fix *f, uint8_t *out, size_t cap)
{
    uint64_t after = 0, seq;
    size_t n = 0;
    while (n < cap && ks_store_audit_read(&f->st, after, out + n * KS_AUDIT_PAYLOAD, &seq) == 0) {
        after = seq;
        n++;
    }
    return n;
}

/* A time token signed by key n (9000 = the pinned supervisor). */
static inline void at_token(at_fix *f, uint32_t n, const uint8_t ctrl[16], uint64_t t,
                            const uint8_t *nonce, uint8_t out[KS_TIME_TOKEN_SIZE])
{
    ks_time_token tok;
    uint8_t pk[32], sk[64];
    kt_keypair(n, pk, sk);
    memset(&tok, 0, sizeof tok);
    memcpy(tok.controller_id, ctrl, 16);
    tok.time = t;
    if (nonce)
        memcpy(tok.nonce, nonce, 16);
    assert_int_equal(ks_time_token_make(&f->c, &tok, sk, out), 0);
}

/* The licence fields both versions share, signed by key n (sk out). */
static inline void at_licence_fill(uint32_t n, const uint8_t ctrl[16], uint64_t features,
                                   uint64_t expires, ks_licence *l, uint8_t sk[64])
{
    uint8_t pk[32];
    kt_keypair(n, pk, sk);
    memset(l, 0, sizeof *l);
    memcpy(l->controller_id, ctrl, 16);
    l->features = features;
    l->issued_at = AT_T0 - 10;
    l->expires_at = expires;
}

static inline void at_licence(at_fix *f, uint32_t n, const uint8_t ctrl[16], uint64_t features,
                              uint64_t expires, uint8_t out[KS_LICENCE_SIZE])
{
    ks_licence l;
    uint8_t sk[64];
    at_licence_fill(n, ctrl, features, expires, &l, sk);
    assert_int_equal(ks_licence_make(&f->c, &l, sk, out), 0);
}

/* A version 2 licence (serial), bound to key number `bound` (0: unbound)
 * for `window` seconds. */
static inline void at_licence2(at_fix *f, uint32_t n, const uint8_t ctrl[16], uint64_t features,
                               uint64_t expires, uint64_t serial, uint32_t bound,
                               uint32_t window, uint8_t out[KS_LICENCE_SIZE_V2])
{
    ks_licence l;
    uint8_t sk[64];
    at_licence_fill(n, ctrl, features, expires, &l, sk);
    l.serial = serial;
    if (bound) {
        at_key_id(f, bound, l.bound_key);
        l.bound_window = window;
    }
    assert_int_equal(ks_licence_make_v2(&f->c, &l, sk, out), 0);
}

#endif
