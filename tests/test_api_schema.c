/*
 * test_api_schema.c - the request decoder of declared routes (api_schema.c,
 * api_field.c; docs/api.md "Declaring a route"): defaults, "was it given",
 * the first bad input reported with its name, path ids as 404, and the
 * older getters giving the same messages, length bounds, sets of named
 * bits, an optional body, and the wiping of a secret field's request
 * (SUP_SECRET). Query parameters need a
 * libmicrohttpd connection: tests/api_schema.sh covers them on a daemon.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sup_api.h"

typedef struct t_in {
    int64_t ctrl;
    uint8_t key[4];
    uint64_t version;
    const char *name;
    uint64_t n, m;
    int flag, form;
    uint8_t pk[4];
    json_t *list;
    uint64_t privs;
} t_in;

static const char *form_name(int v) { return ks_form_name((uint8_t)v); }

static const sup_field t_fields[] = {
    SUP_P_ID("controller", t_in, ctrl),
    SUP_P_HEX("key", 4, t_in, key),
    SUP_P_INT("version", t_in, version, "a version"),
    SUP_STR("name", SUP_REQUIRED, 8, t_in, name, "a name"),
    SUP_INT("n", 0, 1, 10, 7, t_in, n, "n"),
    SUP_INT("m", 0, 0, 5, 0, t_in, m, "m"),
    SUP_BOOL("flag", 0, t_in, flag, "a flag"),
    SUP_ENUM("form", 0, form_name, KS_FORM_SOFTWARE, KS_FORM_PKCS11, KS_FORM_USB, t_in, form, "f"),
    SUP_HEX("pk", 0, 4, t_in, pk, "4 bytes"),
    SUP_ARRAY("list", 0, 2, t_in, list, "at most 2"),
    SUP_PRIVS("privs", 0, t_in, privs, "privileges"),
    SUP_END,
};
static const sup_schema t_schema = {sizeof(t_in), SUP_BODY_FIELDS, t_fields};

static const sup_field name_fields[] = {
    SUP_P_NAME("policy", 4, "abc", "[a-c]", t_in, name, "a name"), SUP_END};
static const sup_schema name_schema = {sizeof(t_in), SUP_BODY_NONE, name_fields};

/* Decodes body (NULL: none) with the path arguments a0..a2; the status
 * (0 when valid) and the error message into msg. */
static int decode(const sup_schema *sc, const char *body, const char *a0, const char *a1,
                  const char *a2, sup_req *rq, char *msg, size_t cap)
{
    sup_resp rs;
    int st;
    memset(rq, 0, sizeof *rq);
    memset(&rs, 0, sizeof rs);
    rq->body = body;
    rq->body_len = body ? strlen(body) : 0;
    rq->args[0] = a0;
    rq->args[1] = a1;
    rq->args[2] = a2;
    msg[0] = '\0';
    if (api_decode(rq, &rs, sc) == 0) {
        assert_int_equal(rs.status, 0);
        return 0;
    }
    st = rs.status;
    snprintf(msg, cap, "%s",
             json_string_value(json_object_get(json_object_get(rs.json, "error"), "message")));
    json_decref(rs.json);
    api_decode_free(rq);
    return st;
}

static int bad(const char *body, const char *a0, const char *a1, const char *a2, char *msg)
{
    sup_req rq;
    return decode(&t_schema, body, a0, a1, a2, &rq, msg, 256);
}

static void test_valid_defaults_and_given(void **state)
{
    sup_req rq;
    char msg[256];
    const t_in *in;
    (void)state;
    assert_int_equal(decode(&t_schema, "{\"name\":\"door\",\"m\":null,\"pk\":\"0a0B0c0d\","
                            "\"list\":[1],\"privs\":[\"VOID\",3]}",
                            "12", "00ff00ff", "99", &rq, msg, sizeof msg), 0);
    in = rq.in;
    assert_int_equal(in->ctrl, 12);
    assert_int_equal(in->key[1], 0xff);
    assert_int_equal(in->version, 99);
    assert_string_equal(in->name, "door");
    assert_int_equal(in->n, 7);           /* the declared default */
    assert_int_equal(in->form, KS_FORM_USB);
    assert_int_equal(in->pk[1], 0x0b);
    assert_int_equal(json_array_size(in->list), 1);
    assert_int_equal(in->privs, ks_priv_from_name("VOID", 4) | (1ull << 3));
    assert_true(api_has(&rq, "name") && api_has(&rq, "pk") && api_has(&rq, "controller"));
    assert_false(api_has(&rq, "n") || api_has(&rq, "m") || api_has(&rq, "nope"));
    api_decode_free(&rq);
    assert_null(rq.in);
    assert_null(rq.json);
}

static void test_body_errors_name_the_field(void **state)
{
    char m[256];
    (void)state;
    assert_int_equal(bad(NULL, "1", "00000000", "1", m), 400);
    assert_string_equal(m, "request body: a JSON object is required");
    assert_int_equal(bad("[1]", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "request body: must be a JSON object");
    assert_int_equal(bad("{\"n\":0}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'name' is required");
    /* the first bad field in declaration order */
    assert_int_equal(bad("{\"name\":\"x\",\"m\":9,\"n\":0}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'n' must be an integer in [1, 10]");
    assert_int_equal(bad("{\"name\":\"too long name\"}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'name' must be a non-empty string of at most 8 bytes");
    assert_int_equal(bad("{\"name\":\"x\",\"flag\":1}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'flag' must be true or false");
    assert_int_equal(bad("{\"name\":\"x\",\"form\":\"card\"}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'form' must be software, usb, nfc, physical or pkcs11");
    assert_int_equal(bad("{\"name\":\"x\",\"pk\":\"0g0b0c0d\"}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'pk' must be 8 hex digits");
    assert_int_equal(bad("{\"name\":\"x\",\"list\":[1,2,3]}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'list' must be an array of at most 2 elements");
    assert_int_equal(bad("{\"name\":\"x\",\"privs\":[\"FLY\"]}", "1", "00000000", "1", m), 400);
    assert_string_equal(m, "field 'privs': unknown privilege 'FLY'");
}

static void test_path_errors(void **state)
{
    char m[256];
    sup_req rq;
    (void)state;
    /* path before body: a bad id is 404 even with a bad body */
    assert_int_equal(bad("{", "abc", "00000000", "1", m), 404);
    assert_string_equal(m, "no controller 'abc'");
    assert_int_equal(bad("{", "0", "00000000", "1", m), 404);
    assert_int_equal(bad("{", "1", "zz", "1", m), 404);
    assert_string_equal(m, "no key 'zz' (a key id is 8 hex digits)");
    assert_int_equal(bad("{", "1", "00000000", "-1", m), 400);
    assert_string_equal(m, "path: version '-1' must be a number");
    assert_int_equal(decode(&name_schema, NULL, "abd", NULL, NULL, &rq, m, sizeof m), 400);
    assert_string_equal(m, "path: policy name must be at most 4 of [a-c]");
    assert_int_equal(decode(&name_schema, NULL, "cab", NULL, NULL, &rq, m, sizeof m), 0);
    assert_string_equal(((const t_in *)rq.in)->name, "cab");
    api_decode_free(&rq);
}

/* A password-like field (length bounds, secret), a set of named bits, and
 * a body that may be left out. */
typedef struct s_in {
    const char *pw;
    uint64_t feat;
} s_in;

static const char *const s_names[] = {"a", "b", "c"};
static const char *s_name(int bit) { return bit >= 0 && bit < 3 ? s_names[bit] : NULL; }
static int s_parse(const char *n)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(n, s_names[i]) == 0)
            return i;
    return -1;
}

static const sup_field s_fields[] = {
    SUP_STR_LEN("pw", SUP_SECRET, 4, 8, s_in, pw, "a secret"),
    SUP_SET("feat", 0, s_name, s_parse, 0, 7, s_in, feat, "bits"),
    SUP_END,
};
static const sup_schema s_schema = {sizeof(s_in), SUP_BODY_OPTIONAL, s_fields};
static const sup_field plain_fields[] = {
    SUP_STR_LEN("pw", 0, 4, 8, s_in, pw, "not a secret"),
    SUP_END,
};
static const sup_schema plain_schema = {sizeof(s_in), SUP_BODY_FIELDS, plain_fields};

/* decode with s_schema, from a writable copy: its secret is wiped in place. */
static int sdec(const char *lit, sup_req *rq, char *m)
{
    static char buf[128];
    if (!lit)
        return decode(&s_schema, NULL, NULL, NULL, NULL, rq, m, 256);
    snprintf(buf, sizeof buf, "%s", lit);
    return decode(&s_schema, buf, NULL, NULL, NULL, rq, m, 256);
}

static void test_lengths_sets_optional_body(void **state)
{
    sup_req rq;
    char m[256];
    (void)state;
    assert_int_equal(sdec(NULL, &rq, m), 0);
    assert_false(api_has(&rq, "pw") || api_has(&rq, "feat"));
    api_decode_free(&rq);
    assert_int_equal(sdec("{\"pw\":\"abc\"}", &rq, m), 400);
    assert_string_equal(m, "field 'pw' must be a string of 4 to 8 bytes");
    assert_int_equal(sdec("{\"feat\":[]}", &rq, m), 400);
    assert_string_equal(m, "field 'feat' must be a non-empty array of names (a, b or c) or bit"
                           " numbers in [0, 7]");
    assert_int_equal(sdec("{\"feat\":[\"a\",8]}", &rq, m), 400);
    assert_string_equal(m, "field 'feat': element 1 is neither a known name nor a bit number in"
                           " [0, 7]");
    assert_int_equal(sdec("{\"feat\":[\"d\"]}", &rq, m), 400);
    assert_int_equal(sdec("{\"pw\":\"abcd\",\"feat\":[\"b\",7]}", &rq, m), 0);
    assert_string_equal(((const s_in *)rq.in)->pw, "abcd");
    assert_int_equal(((const s_in *)rq.in)->feat, (1u << 1) | (1u << 7));
    api_decode_free(&rq);
}

/* 1 when the n bytes at p are all zero. */
static int zero(const char *p, size_t n)
{
    while (n--)
        if (*p++)
            return 0;
    return 1;
}

static void test_secret_body_wiped(void **state)
{
    char body[64], m[256];
    sup_req rq;
    (void)state;
    /* valid: wiped when the request ends */
    snprintf(body, sizeof body, "{\"pw\":\"hunter22\"}");
    assert_int_equal(decode(&s_schema, body, NULL, NULL, NULL, &rq, m, sizeof m), 0);
    assert_false(zero(body, strlen("{\"pw\":\"hunter22\"}")));
    api_decode_free(&rq);
    assert_true(zero(body, strlen("{\"pw\":\"hunter22\"}")));
    /* refused (too long): wiped all the same */
    snprintf(body, sizeof body, "{\"pw\":\"hunter22-too-long\"}");
    assert_int_equal(decode(&s_schema, body, NULL, NULL, NULL, &rq, m, sizeof m), 400);
    assert_true(zero(body, strlen("{\"pw\":\"hunter22-too-long\"}")));
    /* a schema without a secret field leaves the body alone */
    snprintf(body, sizeof body, "{\"pw\":\"hunter22\"}");
    assert_int_equal(decode(&plain_schema, body, NULL, NULL, NULL, &rq, m, sizeof m), 0);
    api_decode_free(&rq);
    assert_string_equal(body, "{\"pw\":\"hunter22\"}");
}

/* Handlers that read their own input get the same checks and messages. */
static void test_getters(void **state)
{
    sup_resp rs;
    json_t *o = json_pack("{s:s,s:i,s:n}", "s", "abc", "i", 5, "z");
    const char *s = NULL;
    uint64_t u = 0;
    int b = 0;
    (void)state;
    memset(&rs, 0, sizeof rs);
    assert_int_equal(api_str(&rs, o, "s", 1, 8, &s), 0);
    assert_string_equal(s, "abc");
    assert_int_equal(api_u64(&rs, o, "z", 0, 0, 9, &u), 1); /* null is absent */
    assert_int_equal(api_bool(&rs, o, "none", 0, &b), 1);
    assert_int_equal(rs.status, 0);
    assert_int_equal(api_u64(&rs, o, "i", 1, 0, 4, &u), -1);
    assert_int_equal(rs.status, 400);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rs.json, "error"),
                                                          "message")),
                        "field 'i' must be an integer in [0, 4]");
    json_decref(rs.json);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_defaults_and_given),
        cmocka_unit_test(test_body_errors_name_the_field),
        cmocka_unit_test(test_path_errors),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_lengths_sets_optional_body),
        cmocka_unit_test(test_secret_body_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
