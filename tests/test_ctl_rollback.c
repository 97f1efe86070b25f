/*
 * test_ctl_rollback.c - the controller's rollback guards (ctl_rollback.c,
 * docs/security.md "Rollback"): settings version 4 and its codec, which
 * licence-policy answers may replace the one applied (KSE-802), which
 * licence file may be loaded offline (KSE-803), and settings of an older
 * version written over version 4 (the identity file's floor): the
 * protection is kept, not dropped.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_agent.h"
#include "ctl_codec.h"
#include "ctl_rollback.h"
#include "kt_tmpdir.h"


static void fill(ctl_settings *s)
{
    memset(s, 0, sizeof *s);
    s->controller_id = 42;
    s->scope = 7;
    memset(s->device_seed, 0xAB, 32);
    s->min_key_format = 1;
    s->max_offline = 86400;
    s->unit_tag = 5;
    s->lic_enforce = KS_FEAT_CALIBRATION;
    s->lic_grace = 77;
    s->lic_seq = 1700000123;
    s->lic_held = CTL_LIC_HELD_HASH;
    memset(s->lic_hash, 0x5C, 16);
}

static void test_codec_v4(void **state)
{
    ctl_settings s, r;
    uint8_t b[CTL_SETTINGS_SIZE];
    (void)state;
    fill(&s);
    ctl_settings_encode(&s, b);
    assert_int_equal(b[4], 4);
    assert_int_equal(ctl_settings_decode(&r, b, sizeof b), KS_OK);
    assert_int_equal(r.version, 4);
    assert_true(r.lic_seq == 1700000123u);
    assert_int_equal(r.lic_held, CTL_LIC_HELD_HASH);
    assert_memory_equal(r.lic_hash, s.lic_hash, 16);
    assert_int_equal(r.lic_enforce, KS_FEAT_CALIBRATION);
    /* a v4 blob cut to v3's size, a hash beside "none", a reserved byte set,
     * an unknown "held" value: all refused */
    assert_int_equal(ctl_settings_decode(&r, b, CTL_SETTINGS_SIZE_V2), KS_E_FORMAT);
    b[152] = CTL_LIC_HELD_NONE;
    assert_int_equal(ctl_settings_decode(&r, b, sizeof b), KS_E_FORMAT);
    b[152] = CTL_LIC_HELD_HASH;
    b[155] = 1;
    assert_int_equal(ctl_settings_decode(&r, b, sizeof b), KS_E_FORMAT);
    b[155] = 0;
    b[152] = 3;
    assert_int_equal(ctl_settings_decode(&r, b, sizeof b), KS_E_FORMAT);
    /* version 3 (144 bytes) reads with no sequence and any licence */
    b[152] = 0;
    b[4] = 3;
    assert_int_equal(ctl_settings_decode(&r, b, CTL_SETTINGS_SIZE_V2), KS_OK);
    assert_int_equal(r.version, 3);
    assert_true(r.lic_seq == 0);
    assert_int_equal(r.lic_held, CTL_LIC_HELD_ANY);
    assert_int_equal(r.lic_enforce, KS_FEAT_CALIBRATION);
}

static void test_policy_take(void **state)
{
    ctl_settings s;
    uint8_t en = KS_FEAT_CALIBRATION;
    (void)state;
    fill(&s);
    /* an older answer (a restored supervisor, a replay): refused */
    assert_int_equal(ctl_policy_take(&s, s.lic_seq - 1, 0, 0), KS_E_LICENCE_POLICY_OLD);
    assert_int_equal(ctl_policy_take(&s, 0, 0, 0), KS_E_LICENCE_POLICY_OLD);
    /* the same number with other content: a number reused, refused */
    assert_int_equal(ctl_policy_take(&s, s.lic_seq, 0, 77), KS_E_LICENCE_POLICY_OLD);
    assert_int_equal(ctl_policy_take(&s, s.lic_seq, en, 78), KS_E_LICENCE_POLICY_OLD);
    /* the same: nothing to do; a newer one, even with the same content: taken */
    assert_int_equal(ctl_policy_take(&s, s.lic_seq, en, 77), 1);
    assert_int_equal(ctl_policy_take(&s, s.lic_seq + 1, 0, 0), KS_OK);
    assert_int_equal(ctl_policy_take(&s, s.lic_seq + 1, en, 77), KS_OK);
    /* no number yet (upgraded controller, older supervisor): content decides */
    s.lic_seq = 0;
    assert_int_equal(ctl_policy_take(&s, 0, 0, 0), KS_OK);
    assert_int_equal(ctl_policy_take(&s, 0, en, 77), 1);
}

static void open_unit(ctl_agent *a, ctl_opts *o, char *flash, char *id)
{
    path(flash, 128, "ctl.img");
    path(id, 128, "ctl.img.id");
    memset(o, 0, sizeof *o);
    o->flash_path = flash;
    o->identity_path = id;
    o->flash_sectors = 256;
    memset(a, 0, sizeof *a);
    assert_int_equal(ctl_open(a, o, 1), KS_OK);
}

static void test_licence_file(void **state)
{
    static ctl_agent a;
    ctl_opts o;
    char flash[128], id[128];
    const uint8_t lic1[] = "licence one", lic2[] = "licence two";
    const char *why;
    (void)state;
    open_unit(&a, &o, flash, id);
    a.set.lic_held = CTL_LIC_HELD_ANY;
    assert_int_equal(ctl_licence_file_ok(&a, lic1, sizeof lic1, &why), KS_OK);
    a.set.lic_held = CTL_LIC_HELD_HASH;
    ctl_licence_hash(&a, lic1, sizeof lic1, a.set.lic_hash);
    assert_int_equal(ctl_licence_file_ok(&a, lic1, sizeof lic1, &why), KS_OK);
    /* another file (the one it replaced, a revoked one) put back offline */
    assert_int_equal(ctl_licence_file_ok(&a, lic2, sizeof lic2, &why), KS_E_LICENCE_REPLACED);
    assert_string_equal(why, "licence.not_held");
    /* the supervisor took the licence away: no file at all */
    a.set.lic_held = CTL_LIC_HELD_NONE;
    assert_int_equal(ctl_licence_file_ok(&a, lic1, sizeof lic1, &why), KS_E_LICENCE_REPLACED);
    assert_string_equal(why, "licence.taken_away");
    ctl_close(&a);
    unlink(flash);
    unlink(id);
}

/* Writes settings of version v (2 or 3) with what a is, as an older
 * binary (or someone with the flash) would. */
static void write_old(ctl_agent *a, unsigned v)
{
    uint8_t b[CTL_SETTINGS_SIZE];
    ctl_settings_encode(&a->set, b);
    b[4] = (uint8_t)v;
    if (v == 2)
        memset(b + 73, 0, 7); /* no enforcement fields */
    assert_int_equal(ks_store_settings_set(&a->store, b, CTL_SETTINGS_SIZE_V2), KS_OK);
}

static void enrol(ctl_agent *a)
{
    a->set.controller_id = 42;
    a->set.scope = 7;
    memset(a->set.device_seed, 0xAB, 32);
    ctl_identity_new(a);
    a->set.lic_enforce = KS_FEAT_CALIBRATION;
    a->set.lic_seq = 1700000123;
    a->set.lic_held = CTL_LIC_HELD_HASH;
    memset(a->set.lic_hash, 0x5C, 16);
    assert_int_equal(ctl_settings_save(a), KS_OK);
    assert_int_equal(ctl_identity_save(a), KS_OK);
}

static void test_downgrade(void **state)
{
    static ctl_agent a;
    ctl_opts o;
    char flash[128], id[128];
    uint8_t idb[CTL_ID_SIZE];
    FILE *f;
    (void)state;
    open_unit(&a, &o, flash, id);
    enrol(&a);
    f = fopen(id, "rb");
    assert_non_null(f);
    assert_int_equal(fread(idb, 1, sizeof idb, f), sizeof idb);
    fclose(f);
    assert_int_equal(idb[20], CTL_SETTINGS_VERSION); /* the floor is on the identity file */

    /* version 2 (knows no enforcement) and version 3 (no sequence, any
     * licence file) written over version 4: the protection is kept */
    for (unsigned v = 2; v <= 3; v++) {
        enrol(&a);
        write_old(&a, v);
        a.set_floor = 0;
        a.set_written = 0;
        assert_int_equal(ctl_settings_load(&a), KS_OK);
        assert_int_equal(a.set.version, v);
        assert_int_equal(ctl_identity_bind(&a, KS_OK, NULL), KS_OK);
        assert_string_equal(a.identity_state, "settings_rolled_back");
        assert_int_equal(a.set.lic_enforce, 0xFF);
        assert_int_equal(a.set.lic_held, CTL_LIC_HELD_NONE);
        assert_non_null(strstr(a.identity_note, "KSE-802"));
        /* and it is on flash: the next start keeps it too */
        assert_int_equal(ctl_settings_load(&a), KS_OK);
        assert_int_equal(a.set.version, CTL_SETTINGS_VERSION);
        assert_int_equal(a.set.lic_enforce, 0xFF);
        assert_int_equal(ctl_identity_bind(&a, KS_OK, NULL), KS_OK);
        assert_string_equal(a.identity_state, "ok");
    }

    /* an upgrade: version 3 settings under an identity file written before
     * the floor existed read as before, and are written back as version 4
     * with the floor raised */
    enrol(&a);
    write_old(&a, 3);
    a.set_written = 0;
    a.set_floor = 0;
    assert_int_equal(ctl_identity_save(&a), KS_OK); /* floor 0, as an older binary wrote */
    assert_int_equal(ctl_settings_load(&a), KS_OK);
    a.set_written = 0;
    assert_int_equal(ctl_identity_bind(&a, KS_OK, NULL), KS_OK);
    assert_string_equal(a.identity_state, "ok");
    assert_int_equal(a.set.lic_enforce, KS_FEAT_CALIBRATION);
    assert_int_equal(a.set.version, CTL_SETTINGS_VERSION);
    f = fopen(id, "rb");
    assert_non_null(f);
    assert_int_equal(fread(idb, 1, sizeof idb, f), sizeof idb);
    fclose(f);
    assert_int_equal(idb[20], CTL_SETTINGS_VERSION);
    ctl_close(&a);
    unlink(flash);
    unlink(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_v4),
        cmocka_unit_test(test_policy_take),
        cmocka_unit_test(test_licence_file),
        cmocka_unit_test(test_downgrade),
    };
    return kt_run_in_tmpdir("rollback", tests, sizeof tests / sizeof tests[0]);
}
