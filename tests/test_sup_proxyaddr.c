/*
 * test_sup_proxyaddr.c - X-Forwarded-For's last hop (sup_proxyaddr.c): the
 * hop the trusted proxy appended is the one taken, whatever the client put
 * before it; a last hop that is no address is refused (the sign-in then
 * counts as the proxy's), never read as a prefix of one.
 * attack_familiar_e2e runs the console sign-in behind a "proxy".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sup_proxyaddr.h"

static void last_hop(void **state)
{
    sup_client c;
    static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 0, 2};
    (void)state;
    assert_int_equal(sup_proxyaddr_last_hop("10.9.0.2", &c), 0);
    assert_memory_equal(c.ip, v4, 16);
    assert_string_equal(c.text, "10.9.0.2");
    assert_int_not_equal(c.tag, 0);
    /* the client's own hops come first; the proxy's is last */
    assert_int_equal(sup_proxyaddr_last_hop("1.2.3.4, 127.0.0.1 ,  10.9.0.2 ", &c), 0);
    assert_string_equal(c.text, "10.9.0.2");
    assert_int_equal(sup_proxyaddr_last_hop("10.9.0.1,2001:db8::7", &c), 0);
    assert_string_equal(c.text, "2001:db8::7");
    /* not an address: refused, not cut down to one */
    assert_int_equal(sup_proxyaddr_last_hop("10.9.0.1, ", &c), -1);
    assert_int_equal(sup_proxyaddr_last_hop("", &c), -1);
    assert_int_equal(sup_proxyaddr_last_hop("10.9.0.2 junk", &c), -1);
    assert_int_equal(sup_proxyaddr_last_hop("10.9.0.2:443", &c), -1);
    assert_int_equal(sup_proxyaddr_last_hop("unknown", &c), -1);
    assert_int_equal(sup_proxyaddr_last_hop("1.2.3.4, 999.1.1.1", &c), -1);
    assert_int_equal(sup_proxyaddr_last_hop("1.2.3.4, 2001:db8::7::1", &c), -1);
    assert_int_equal(sup_proxyaddr_last_hop("1.2.3.4,"
                                            "0000:0000:0000:0000:0000:0000:0000:0000:0000", &c), -1);
}

int main(void)
{
    const struct CMUnitTest t[] = {cmocka_unit_test(last_hop)};
    return cmocka_run_group_tests(t, NULL, NULL);
}
