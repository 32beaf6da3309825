/*
 * test_api_conns.c — one client address cannot take every API connection
 * (docs/API.md "Limits"): with "api_connections_per_client": 4 in
 * config.json, a client from a non-loopback address that holds four idle
 * connections has its fifth closed at once and counted in /metrics, while
 * clients on loopback are still served; when one of its four closes, it
 * is served again. A bad value stops the node from starting, naming the
 * key. The node listens on 0.0.0.0 for the test; the limited client is
 * this machine's first non-loopback IPv4 address (skipped, saying why,
 * when it has none).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/support.h"

#define NODE_START_MS 20000
#define PER_CLIENT    4
#define PER_CLIENT_S  "4"  /* as config.json says it */
#define CLOSED_MS     3000 /* a refused connection is closed at once; this is the patience */

static struct {
    ct_net net;
    ct_node node;
    char ip[INET_ADDRSTRLEN]; /* this machine's non-loopback IPv4 address ("" when none) */
} fx;

static bool find_ip(char out[INET_ADDRSTRLEN])
{
    struct ifaddrs *all = NULL;
    out[0] = '\0';
    if (getifaddrs(&all) != 0) return false;
    for (const struct ifaddrs *i = all; i && !out[0]; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
            !(i->ifa_flags & IFF_LOOPBACK))
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr, out,
                      INET_ADDRSTRLEN);
    freeifaddrs(all);
    return out[0] != '\0';
}

/* Set "api_connections_per_client" in the node's config.json to value (JSON text). */
static int set_per_client(const char *value)
{
    char *path = ct_strf("%s/config.json", fx.net.node_dir);
    json_error_t err;
    json_t *cfg = json_load_file(path, 0, &err);
    json_t *v = json_loads(value, JSON_DECODE_ANY, &err);
    int rc = cfg && v && json_object_set_new(cfg, "api_connections_per_client", v) == 0 &&
                     json_dump_file(cfg, path, JSON_INDENT(2)) == 0
                 ? 0
                 : -1;
    json_decref(cfg);
    free(path);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    if (!find_ip(fx.ip)) return 0;
    if (ct_net_create(&fx.net, "conns") != 0 || set_per_client(PER_CLIENT_S) != 0) return -1;
    fx.node.host = "0.0.0.0";
    return ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS);
}

static int teardown(void **state)
{
    (void)state;
    if (!fx.ip[0]) return 0;
    ct_node_stop(&fx.node, SIGTERM, 10000);
    ct_net_destroy(&fx.net);
    return 0;
}

/* A TCP connection to the node from fx.ip (it picks that source itself:
 * the destination is that address); -1 on failure. */
static int connect_from_ip(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.net.api_port)};
    inet_pton(AF_INET, fx.ip, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Did the node close fd (end of stream or reset) within CLOSED_MS, having
 * sent nothing? */
static bool closed_by_node(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, CLOSED_MS) != 1) return false;
    char c;
    return recv(fd, &c, 1, 0) <= 0;
}

static long status_via(const char *host)
{
    char *url = ct_strf("http://%s:%d/v1/status", host, fx.net.api_port);
    ct_resp r = {0};
    ct_get(url, &r);
    long status = r.status;
    ct_resp_free(&r);
    free(url);
    return status;
}

static void test_one_client_cannot_take_every_connection(void **state)
{
    (void)state;
    if (!fx.ip[0]) {
        print_message("skipped: no non-loopback IPv4 address here, and loopback clients are never limited\n");
        skip();
    }
    /* No request from fx.ip before: its connection would still count
     * until the node's thread for it saw it close. */
    int held[PER_CLIENT];
    for (int i = 0; i < PER_CLIENT; i++) assert_true((held[i] = connect_from_ip()) >= 0);

    /* The kernel completes it; the node accepts connections in order, so
     * it counts the four before it looks at this one, and closes it. */
    int extra = connect_from_ip();
    assert_true(extra >= 0);
    assert_true(closed_by_node(extra));
    close(extra);
    assert_int_equal(status_via(fx.ip), 0);         /* refused too: no answer */
    assert_int_equal(status_via("127.0.0.1"), 200); /* everyone else is served */

    close(held[0]); /* served again once the node's thread for it has seen it close */
    uint64_t deadline = ct_now_ms() + CLOSED_MS;
    long status;
    while ((status = status_via(fx.ip)) != 200 && ct_now_ms() < deadline) cc_sleep_ms(50);
    assert_int_equal(status, 200);
    for (int i = 1; i < PER_CLIENT; i++) close(held[i]);

    ct_resp m = {0};
    char *url = ct_strf("http://127.0.0.1:%d/metrics", fx.net.api_port);
    assert_int_equal(ct_get(url, &m), 0);
    const char *line = strstr(m.body, "\ncarechain_http_connections_refused_total ");
    assert_non_null(line);
    assert_true(strtoll(line + strlen("\ncarechain_http_connections_refused_total "), NULL, 10) >= 2);
    ct_resp_free(&m);
    free(url);
    size_t log_len = 0;
    char *log = (char *)ct_read_file(fx.node.log_path, &log_len);
    assert_non_null(log);
    assert_non_null(strstr(log, "refused a connection from"));
    free(log);
}

/* A value that is no share of the connections: the node does not start, and says which key. */
static void test_bad_share_stops_the_start(void **state)
{
    (void)state;
    if (!fx.ip[0]) skip();
    const char *const bad[] = {"0", "257", "-1", "\"8\"", "1.5"};
    char api[32];
    snprintf(api, sizeof api, "127.0.0.1:%d", ct_free_port());
    ct_node_stop(&fx.node, SIGTERM, 10000);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(set_per_client(bad[i]), 0);
        char *out = NULL;
        int code = ct_cli(&out, NODE_START_MS, "node", "--dir", fx.net.node_dir, "--api", api, (char *)NULL);
        if (code != 1 || !strstr(out, "\"api_connections_per_client\" must be a whole number 1..256"))
            fail_msg("api_connections_per_client %s: exit %d:\n%s", bad[i], code, out ? out : "");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_client_cannot_take_every_connection),
        cmocka_unit_test(test_bad_share_stops_the_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
