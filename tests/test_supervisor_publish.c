/*
 * test_supervisor_publish.c - the incremental publisher against the
 * reference. A seeded random sequence of enrol / revoke / grant / suspend /
 * resume / validity / touch changes across scopes 0..3 (scope 0 = valid
 * everywhere), with a bulk enrolment (forces the full-rebuild fallback), an
 * injected store failure (the old version stays, the mark stays pending) and
 * a restart (the chain is replayed from the database). After every round
 * each scope's published image must equal, byte for byte, what
 * ks_snapshot_write makes from the database read in full, and a delta from
 * every retained version must turn that version into the current one.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "sup_pubstore.h"
#include "sup_util.h"

#define NSCOPES 4
#define RETAIN 4
#define ROUNDS 120

static sup_ctx S;
static char dir[64];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* Images of the retained versions per scope, oldest first. */
typedef struct hist {
    uint8_t *img[RETAIN];
    size_t len[RETAIN];
    uint64_t ver[RETAIN];
} hist;
static hist H[NSCOPES];

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* ----- the reference: read everything, ks_snapshot_write ----- */

typedef struct ref_ctx {
    uint8_t *b;
    uint32_t n, cap;
} ref_ctx;

static int ref_row(void *ctx, int ncol, const sup_dbv *c, const char *const *names)
{
    ref_ctx *r = ctx;
    ks_record k;
    (void)ncol;
    (void)names;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->b = realloc(r->b, (size_t)r->cap * KS_RECORD_SIZE);
    }
    memset(&k, 0, sizeof k);
    memcpy(k.key_id, c[0].p, KS_KEYID_SIZE);
    memcpy(k.public_key, c[1].p, KS_PUBKEY_SIZE);
    k.privileges = (uint64_t)c[2].i;
    k.valid_from = (uint64_t)c[3].i;
    k.valid_until = (uint64_t)c[4].i;
    k.counter_floor = (uint64_t)c[5].i;
    k.holder_id = c[6].type == KS_DBV_INT ? (uint64_t)c[6].i : 0;
    k.scope = (uint32_t)c[7].i;
    k.key_format = (uint8_t)c[8].i;
    k.state = (uint8_t)c[9].i;
    k.form_factor = (uint8_t)c[10].i;
    k.record_version = KS_RECORD_VERSION;
    k.algorithm = KS_ALG_ED25519;
    ks_record_encode(&k, r->b + (size_t)r->n * KS_RECORD_SIZE);
    r->n++;
    return 0;
}

static void check_scope(uint32_t scope)
{
    uint8_t *img = NULL, *ref;
    size_t len = 0;
    uint64_t ver = 0;
    ks_snap_header h, rh;
    ref_ctx r = {NULL, 0, 0};
    sup_dbv q = sup_dbv_int(scope);
    ks_trust t;
    ks_policy pol = {&t, 0, 0, 0};

    assert_int_equal(sup_pub_snapshot(&S, scope, &img, &len, &ver), KS_OK);
    assert_int_equal(ks_snap_header_decode(&h, img, NULL), KS_OK);
    pthread_mutex_lock(&S.lock); /* the publisher thread shares the handle */
    assert_int_equal(sup_db_exec(S.db, "SELECT key_id, public_key, privileges, valid_from,"
                                      " valid_until, counter_floor, holder_id, scope, key_format,"
                                      " state, form_factor FROM keys WHERE scope = 0 OR scope = ?"
                                      " ORDER BY key_id", &q, 1, ref_row, &r), 0);
    pthread_mutex_unlock(&S.lock);
    memset(&rh, 0, sizeof rh);
    rh.version = h.version;
    rh.created_at = h.created_at;
    rh.expires_at = h.expires_at;
    rh.scope = scope;
    ref = malloc(KS_SNAP_HEADER_SIZE + (size_t)r.n * KS_RECORD_SIZE + 1);
    assert_int_equal(ks_snapshot_write(&S.crypto, &rh, r.b, r.n, S.sk, ref,
                                       KS_SNAP_HEADER_SIZE + (size_t)r.n * KS_RECORD_SIZE), KS_OK);
    assert_int_equal(len, KS_SNAP_HEADER_SIZE + (size_t)r.n * KS_RECORD_SIZE);
    assert_memory_equal(img, ref, len);
    ks_trust_init(&t);
    assert_int_equal(ks_trust_add(&t, &S.crypto, S.pk), KS_OK);
    assert_int_equal(ks_snapshot_verify(&S.crypto, img, len, &pol, NULL, NULL), KS_OK);

    /* History: drop the oldest when a new version arrived. */
    hist *hs = &H[scope];
    if (hs->ver[RETAIN - 1] != ver) {
        free(hs->img[0]);
        memmove(hs->img, hs->img + 1, (RETAIN - 1) * sizeof hs->img[0]);
        memmove(hs->len, hs->len + 1, (RETAIN - 1) * sizeof hs->len[0]);
        memmove(hs->ver, hs->ver + 1, (RETAIN - 1) * sizeof hs->ver[0]);
        hs->img[RETAIN - 1] = img;
        hs->len[RETAIN - 1] = len;
        hs->ver[RETAIN - 1] = ver;
        img = NULL;
    }
    free(img);
    free(ref);
    free(r.b);
}

/* Every retained older version: delta applies and lands on the current image. */
static void check_deltas(uint32_t scope)
{
    hist *hs = &H[scope];
    const uint8_t *cur = hs->img[RETAIN - 1];
    size_t cur_len = hs->len[RETAIN - 1];
    for (int i = 0; i < RETAIN - 1; i++) {
        uint8_t *d = NULL, *merged;
        size_t dl = 0;
        uint64_t v = 0;
        ks_delta dlt;
        ks_recsrc base;
        uint32_t cap;
        int64_t n;
        if (!hs->img[i] || hs->ver[RETAIN - 1] - hs->ver[i] >= RETAIN)
            continue;
        assert_int_equal(sup_pub_delta(&S, scope, hs->ver[i], &d, &dl, &v), KS_OK);
        assert_int_equal(v, hs->ver[RETAIN - 1]);
        assert_int_equal(ks_delta_parse(&dlt, d, dl, NULL), KS_OK);
        assert_int_equal(dlt.base_version, hs->ver[i]);
        assert_memory_equal(dlt.base_root, hs->img[i] + 64, KS_HASH_SIZE);
        assert_memory_equal(dlt.target_raw, cur, KS_SNAP_HEADER_SIZE);
        ks_recsrc_mem(&base, hs->img[i] + KS_SNAP_HEADER_SIZE,
                      (uint32_t)((hs->len[i] - KS_SNAP_HEADER_SIZE) / KS_RECORD_SIZE));
        cap = base.count + dlt.n_upserts;
        merged = malloc((size_t)cap * KS_RECORD_SIZE + 1);
        n = ks_delta_merge(&base, &dlt, merged, cap);
        assert_true(n >= 0);
        assert_int_equal((size_t)n * KS_RECORD_SIZE, cur_len - KS_SNAP_HEADER_SIZE);
        assert_memory_equal(merged, cur + KS_SNAP_HEADER_SIZE, (size_t)n * KS_RECORD_SIZE);
        free(merged);
        free(d);
    }
    /* Older than snapshot_retain: a full download. */
    if (hs->ver[RETAIN - 1] > RETAIN) {
        uint8_t *d = NULL;
        size_t dl = 0;
        uint64_t v = 0;
        assert_int_equal(sup_pub_delta(&S, scope, hs->ver[RETAIN - 1] - RETAIN, &d, &dl, &v),
                         KS_E_NOTFOUND);
    }
}

/* ----- changes, as the API makes them: row change + mark, one transaction ----- */

static void enrol(uint32_t scope)
{
    uint8_t pk[32], id[16];
    randombytes_buf(pk, sizeof pk);
    ks_key_id(&S.crypto, id, pk);
    sup_dbv p[5] = {sup_dbv_blob(id, 16), sup_dbv_blob(pk, 32), sup_dbv_int(1 + rnd(4096)),
                   sup_dbv_int(scope), sup_dbv_int(rnd(1000))};
    assert_int_equal(sup_db_exec(S.db, "INSERT INTO keys(key_id, public_key, privileges,"
                                      " holder_id, valid_from, valid_until, state, scope,"
                                      " form_factor, key_format, created_at, updated_at)"
                                      " VALUES (?,?,?,NULL,?,0,0,?,1,1,0,0)",
                                (sup_dbv[]){p[0], p[1], p[2], p[4], p[3]}, 5, NULL, NULL), 0);
    assert_int_equal(sup_pub_mark(&S, scope), 0);
}

/* Applies `set` to a random key and marks its scope. */
static void change(const char *set, int64_t a, int64_t b, int nargs)
{
    int64_t n = 0, id = 0, scope = 0;
    char sql[160];
    sup_db_int(S.db, "SELECT COUNT(*) FROM keys", NULL, 0, &n);
    if (n == 0)
        return;
    sup_dbv off = sup_dbv_int(rnd((uint32_t)n));
    sup_db_int(S.db, "SELECT id FROM keys ORDER BY id LIMIT 1 OFFSET ?", &off, 1, &id);
    sup_dbv idv = sup_dbv_int(id);
    sup_db_int(S.db, "SELECT scope FROM keys WHERE id = ?", &idv, 1, &scope);
    sup_dbv p[3] = {sup_dbv_int(a), sup_dbv_int(b), idv};
    p[nargs] = idv;
    snprintf(sql, sizeof sql, "UPDATE keys SET %s, updated_at = updated_at + 1 WHERE id = ?", set);
    assert_int_equal(sup_db_exec(S.db, sql, p, nargs + 1, NULL, NULL), 0);
    assert_int_equal(sup_pub_mark(&S, (uint32_t)scope), 0);
}

static void random_change(void)
{
    switch (rnd(8)) {
    case 0:
    case 1: enrol(rnd(NSCOPES)); break;
    case 2: change("state = ?", KS_STATE_REVOKED, 0, 1); break;
    case 3: change("privileges = (privileges | ?)", (int64_t)1 << rnd(16), 0, 1); break;
    case 4: change("state = ?", KS_STATE_SUSPENDED, 0, 1); break;
    case 5: change("state = ?", KS_STATE_ACTIVE, 0, 1); break;
    case 6: {
        int64_t from = rnd(1000);
        change("valid_from = ?, valid_until = ?", from, from + 1 + rnd(1000), 2);
        break;
    }
    default: change("label = label", 0, 0, 0); break; /* a write that changes no record */
    }
}

static void publish_and_check(void)
{
    assert_true(sup_pub_run_once(&S) >= 0);
    for (uint32_t sc = 0; sc < NSCOPES; sc++) {
        int64_t dirty = -1;
        sup_dbv q = sup_dbv_int(sc);
        pthread_mutex_lock(&S.lock);
        sup_db_int(S.db, "SELECT dirty FROM scopes WHERE scope = ?", &q, 1, &dirty);
        pthread_mutex_unlock(&S.lock);
        assert_int_equal(dirty, 0);
        check_scope(sc);
        check_deltas(sc);
    }
}

static void restart(void)
{
    sup_pub_stop(&S);
    assert_int_equal(sup_pub_start(&S), KS_OK);
}

static void test_incremental_equals_full(void **state)
{
    uint64_t inc = 0, full = 0;
    (void)state;
    pthread_mutex_lock(&S.lock);
    for (uint32_t sc = 0; sc < NSCOPES; sc++)
        assert_int_equal(sup_pub_mark(&S, sc), 0);
    pthread_mutex_unlock(&S.lock);
    publish_and_check();
    for (int round = 0; round < ROUNDS; round++) {
        int n = 1 + (int)rnd(4);
        pthread_mutex_lock(&S.lock);
        assert_int_equal(sup_db_begin(S.db), 0);
        for (int i = 0; i < n; i++)
            random_change();
        if (round == 40) {
            /* More than the incremental limit for every scope: the full
             * rebuild fallback. */
            for (int i = 0; i < 4200; i++)
                enrol(0);
        }
        assert_int_equal(sup_db_commit(S.db), 0);
        pthread_mutex_unlock(&S.lock);
        if (round == 60) {
            /* A store that fails: nothing changes, the marks stay. */
            uint64_t v1 = sup_pub_version(&S, 1, NULL);
            int64_t dirty = 0;
            sup_dbv q = sup_dbv_int(1);
            pthread_mutex_lock(&S.lock);
            assert_int_equal(sup_db_exec(S.db, "CREATE TRIGGER fail_pub BEFORE INSERT ON"
                                              " snapshot_versions BEGIN SELECT RAISE(ABORT,"
                                              " 'injected'); END", NULL, 0, NULL, NULL), 0);
            pthread_mutex_unlock(&S.lock);
            assert_true(sup_pub_run_once(&S) < 0);
            assert_int_equal(sup_pub_version(&S, 1, NULL), v1);
            pthread_mutex_lock(&S.lock);
            sup_db_int(S.db, "SELECT dirty FROM scopes WHERE scope = 1", &q, 0, &dirty);
            assert_true(dirty > 0);
            assert_int_equal(sup_db_exec(S.db, "DROP TRIGGER fail_pub", NULL, 0, NULL, NULL), 0);
            pthread_mutex_unlock(&S.lock);
        }
        if (round == 90) {
            sup_pub_stats(&S, &inc, &full);
            print_message("before the restart: %llu incremental, %llu full publishes\n",
                          (unsigned long long)inc, (unsigned long long)full);
            assert_true(inc > 100);
            assert_true(full >= 2 * NSCOPES); /* the first, the bulk, the failed one */
            restart(); /* the cache comes back from the stored chain */
        }
        publish_and_check();
    }
    sup_pub_stats(&S, &inc, &full);
    print_message("after the restart: %llu incremental, %llu full publishes\n",
                  (unsigned long long)inc, (unsigned long long)full);
    assert_true(inc > 0);
    assert_int_equal(full, 0); /* the stored chain was enough */
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ks_test_pub_XXXXXX");
    if (sup_fixture_open(&S, dir) != 0)
        return -1;
    S.cfg.snapshot_retain = RETAIN;
    return sup_pub_start(&S) == KS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NSCOPES; i++)
        for (int j = 0; j < RETAIN; j++)
            free(H[i].img[j]);
    return sup_fixture_close(&S, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_incremental_equals_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
