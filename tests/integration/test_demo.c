/*
 * test_demo.c — `carechain demo`, what `make demo` runs, end to end: on one
 * node and on a three-node raft network. Each step must say what the issue
 * promises (refusals with reasons, an offline proof, a sound chain), and
 * the demo refuses to wipe a directory it did not make.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/support.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_TIMEOUT_MS 180000

static void run_demo(const char *nodes, int port)
{
    char *dir = ct_tmpdir("demo"), *out = NULL, port_s[16];
    char *net = ct_strf("%s/net", dir);
    snprintf(port_s, sizeof port_s, "%d", port);
    int code = ct_cli(&out, DEMO_TIMEOUT_MS, "demo", "--dir", net, "--nodes", nodes, "--port", port_s, NULL);
    if (code != 0) fprintf(stderr, "demo --nodes %s exited %d:\n%s\n", nodes, code, out ? out : "");
    assert_int_equal(code, 0);
    const char *expect[] = {"forbidden",
                            "duplicate",
                            "revoked",
                            "Checked offline",
                            "NOT verified",
                            "sound",
                            "Done.",
                            "byte-identical",
                            "with no consent, reads it for HRESCH: denied",
                            "was revoked",
                            "via break-glass, EMERGENCY",
                            "1 emergency access",
                            "deny, CARC 18",
                            "pend, CARC 133",
                            "EFT-DEMO-0001",
                            "2 of them paid",
                            "GENUINE \u2014 saleable",
                            "flags it as a clone",
                            "verified but NOT SALEABLE: Recalled",
                            "- clone: unit 00312345678906.SN1001"};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        if (!strstr(out, expect[i])) fail_msg("demo output lacks \"%s\":\n%s", expect[i], out);
    }
    free(out);
    /* the genesis names the port the node listened on (a solo demo wrote
     * 7800 whatever --port said) */
    char *genesis_path = ct_strf("%s/genesis.json", net), *api = ct_strf("\"127.0.0.1:%d\"", port);
    size_t glen = 0;
    char *genesis = (char *)ct_read_file(genesis_path, &glen);
    assert_non_null(genesis);
    if (!strstr(genesis, api)) fail_msg("genesis lacks %s:\n%s", api, genesis);
    free(genesis);
    free(genesis_path);
    free(api);
    /* a second run wipes and re-creates its own network */
    code = ct_cli(&out, DEMO_TIMEOUT_MS, "demo", "--dir", net, "--nodes", nodes, "--port", port_s, NULL);
    assert_int_equal(code, 0);
    free(out);
    free(net);
    ct_rmtree(dir);
    free(dir);
}

/* Can we listen on 127.0.0.1:port right now (as a node would, with
 * SO_REUSEADDR)? */
static bool port_free(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A base port for count nodes (API at p.., raft at p+100..), below the
 * kernel's ephemeral range so that no outgoing connection takes one of
 * them between this check and the demo's start. */
static int free_base_port(unsigned count)
{
    for (int tries = 0; tries < 200; tries++) {
        int p = 20000 + (int)((ct_now_ms() * 7919u + (unsigned)tries * 104729u) % 9000u);
        bool ok = true;
        for (unsigned i = 0; i < count && ok; i++) ok = port_free(p + (int)i) && port_free(p + 100 + (int)i);
        if (ok) return p;
    }
    return -1;
}

static void test_demo_one_node(void **state)
{
    (void)state;
    int port = free_base_port(1);
    assert_true(port > 0);
    run_demo("1", port);
}

static void test_demo_three_nodes(void **state)
{
    (void)state;
    int port = free_base_port(3);
    assert_true(port > 0);
    run_demo("3", port);
}

static void test_demo_refuses_foreign_dir(void **state)
{
    (void)state;
    char *dir = ct_tmpdir("demo-foreign"), *out = NULL;
    char *file = ct_strf("%s/precious.txt", dir);
    assert_int_equal(ct_write_file(file, "keep me", 7), 0);
    int code = ct_cli(&out, 20000, "demo", "--dir", dir, NULL);
    assert_int_equal(code, 2);
    size_t n = 0;
    uint8_t *kept = ct_read_file(file, &n);
    assert_non_null(kept);
    assert_int_equal(n, 7);
    free(kept);
    free(out);
    free(file);
    ct_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_one_node),
        cmocka_unit_test(test_demo_three_nodes),
        cmocka_unit_test(test_demo_refuses_foreign_dir),
    };
    return cmocka_run_group_tests_name("demo", tests, NULL, NULL);
}
