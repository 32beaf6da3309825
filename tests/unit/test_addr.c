/*
 * test_addr.c — the address checks (core/genesis.c) of `genesis member`,
 * `genesis new`, `genesis check`, `network propose-add` and a node's own
 * raft address: an API address may name a host, a raft address must be
 * what libraft 0.15 can dial (IPv4).
 */
#include "unit_support.h"

static void test_api_addresses(void **state)
{
    (void)state;
    static const char *const good[] = {
        "127.0.0.1:7800", "mary.example.org:443",          "[fd00::3]:7800", "h:1",
        "10.0.0.2:65535", "https://mary.example.org:7800", "http://h:1"};
    static const char *const bad[] = {
        "",
        "7800",
        ":7800",
        "host:",
        "host:0",
        "host:65536",
        "host:78x0",
        "host:-1",
        "host: 7800",
        "host:+7800",
        NULL,
        "[fd00::3]",
        "a-host-name-much-longer-than-the-sixty-four-bytes-of-a-genesis-field.example:1",
        "https://h:1/v1", /* a URL with a path */
        "ftp://h:1",
        "https://node-of-a-hospital-with-a-long-name.example-healthx:7800", /* 64 bytes with the scheme: one
                                                                               more than the genesis field
                                                                               holds */
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_true(cc_api_addr_ok(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(cc_api_addr_ok(bad[i]));
}

static void test_raft_addresses_are_ipv4(void **state)
{
    (void)state;
    assert_true(cc_raft_addr_ok("127.0.0.1:7900"));
    assert_true(cc_raft_addr_ok("10.20.30.40:1"));
    static const char *const bad[] = {"localhost:7900", "mary.example.org:7900",
                                      "[::1]:7900",     "::1:7900",
                                      "10.0.0:7900",    "10.0.0.256:7900",
                                      "10.0.0.1",       "10.0.0.1:0",
                                      " 10.0.0.1:7900", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(cc_raft_addr_ok(bad[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_addresses),
        cmocka_unit_test(test_raft_addresses_are_ipv4),
    };
    return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
