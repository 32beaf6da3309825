/*
 * test_conn_limit.c — API connections per client address
 * (src/node/conn_limit.c): which addresses are limited (not loopback, in
 * either family or IPv4-mapped), each address counted on its own up to its
 * share and no further, slots given back when a client's last connection
 * closes, and a full table refusing to count.
 */
#include "unit_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "node/conn_limit.h"

/* The key of an IPv4 or IPv6 address in text; *limited says whether it is one. */
static void key_of(const char *text, uint8_t key[CC_CONN_KEY_BYTES], bool *limited)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
        *limited = cc_conn_limit_key((struct sockaddr *)&in, sizeof in, key);
    else if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
        *limited = cc_conn_limit_key((struct sockaddr *)&in6, sizeof in6, key);
    else
        fail_msg("not an address: %s", text);
}

static void test_loopback_is_never_limited(void **state)
{
    (void)state;
    static const char *const loopback[] = {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1",
                                           "::ffff:127.0.0.1"};
    static const char *const limited[] = {"192.0.2.7",   "10.0.0.1",         "128.0.0.1", "126.255.255.255",
                                          "2001:db8::1", "::ffff:192.0.2.7", "::2",       "fe80::1"};
    uint8_t key[CC_CONN_KEY_BYTES];
    bool is;
    for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++) {
        key_of(loopback[i], key, &is);
        if (is) fail_msg("%s is loopback", loopback[i]);
    }
    for (size_t i = 0; i < sizeof limited / sizeof *limited; i++) {
        key_of(limited[i], key, &is);
        if (!is) fail_msg("%s is not loopback", limited[i]);
    }
    /* not IP, too short, or none at all */
    struct sockaddr un = {.sa_family = AF_UNIX};
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xc0000207)};
    assert_false(cc_conn_limit_key(&un, sizeof un, key));
    assert_false(cc_conn_limit_key((struct sockaddr *)&in, sizeof in - 1, key));
    assert_false(cc_conn_limit_key(NULL, 0, key));
}

/* An IPv4 client is the same client when it arrives IPv4-mapped on an IPv6 socket. */
static void test_ipv4_and_mapped_are_one_client(void **state)
{
    (void)state;
    uint8_t a[CC_CONN_KEY_BYTES], b[CC_CONN_KEY_BYTES], c[CC_CONN_KEY_BYTES];
    bool is;
    key_of("192.0.2.7", a, &is);
    key_of("::ffff:192.0.2.7", b, &is);
    key_of("192.0.2.8", c, &is);
    assert_memory_equal(a, b, CC_CONN_KEY_BYTES);
    assert_memory_not_equal(a, c, CC_CONN_KEY_BYTES);
}

static void test_each_client_up_to_its_share(void **state)
{
    (void)state;
    cc_conn_limit l;
    uint8_t a[CC_CONN_KEY_BYTES], b[CC_CONN_KEY_BYTES];
    bool is;
    key_of("192.0.2.7", a, &is);
    key_of("2001:db8::1", b, &is);
    assert_int_equal(cc_conn_limit_init(&l, 3, 16), CC_OK);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(cc_conn_limit_admit(&l, a));
        assert_true(cc_conn_limit_opened(&l, a));
    }
    assert_int_equal(cc_conn_limit_count(&l, a), 3);
    assert_false(cc_conn_limit_admit(&l, a)); /* its share is taken */
    assert_true(cc_conn_limit_admit(&l, b));  /* another client's is not */
    assert_true(cc_conn_limit_opened(&l, b));
    assert_int_equal(cc_conn_limit_count(&l, b), 1);
    cc_conn_limit_closed(&l, a);
    assert_int_equal(cc_conn_limit_count(&l, a), 2);
    assert_true(cc_conn_limit_admit(&l, a)); /* one closed: one may open */
    cc_conn_limit_destroy(&l);
}

/* A client whose last connection closed gives its slot back; with every
 * slot held, a new client is not counted (the node never holds more
 * connections than slots). */
static void test_slots_come_back(void **state)
{
    (void)state;
    cc_conn_limit l;
    uint8_t k[3][CC_CONN_KEY_BYTES];
    bool is;
    key_of("192.0.2.1", k[0], &is);
    key_of("192.0.2.2", k[1], &is);
    key_of("192.0.2.3", k[2], &is);
    assert_int_equal(cc_conn_limit_init(&l, 2, 2), CC_OK);
    assert_true(cc_conn_limit_opened(&l, k[0]));
    assert_true(cc_conn_limit_opened(&l, k[1]));
    assert_false(cc_conn_limit_opened(&l, k[2])); /* both slots held */
    assert_int_equal(cc_conn_limit_count(&l, k[2]), 0);
    cc_conn_limit_closed(&l, k[0]);
    assert_int_equal(cc_conn_limit_count(&l, k[0]), 0);
    assert_true(cc_conn_limit_opened(&l, k[2])); /* k[0]'s slot */
    assert_int_equal(cc_conn_limit_count(&l, k[2]), 1);
    cc_conn_limit_closed(&l, k[0]); /* not counted any more: nothing changes */
    assert_int_equal(cc_conn_limit_count(&l, k[1]), 1);
    assert_int_equal(cc_conn_limit_count(&l, k[2]), 1);
    cc_conn_limit_destroy(&l);
}

static void test_init_refuses_nothing_to_share(void **state)
{
    (void)state;
    cc_conn_limit l;
    assert_int_equal(cc_conn_limit_init(&l, 0, 8), CC_ERR_USAGE);
    assert_int_equal(cc_conn_limit_init(&l, 1, 0), CC_ERR_USAGE);
    cc_conn_limit_destroy(&l); /* harmless after a failed init */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_is_never_limited),
        cmocka_unit_test(test_ipv4_and_mapped_are_one_client),
        cmocka_unit_test(test_each_client_up_to_its_share),
        cmocka_unit_test(test_slots_come_back),
        cmocka_unit_test(test_init_refuses_nothing_to_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
