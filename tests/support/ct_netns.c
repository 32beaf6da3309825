/*
 * ct_netns.c — test hosts in network namespaces (support.h): one namespace
 * per node, each joined to a bridge in the test's own namespace by a veth
 * pair, so that the nodes reach each other and the test reaches every one
 * of them at its own address, as on separate machines. Needs root and
 * iproute2's `ip`. Cutting a node off routes its packets to the other
 * nodes, and theirs to it, through a gateway address nobody answers for:
 * they vanish without an error, as on a real network whose link failed.
 */
#include "support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NETNS_SUBNET_FIRST 20  /* 10.213.<n>.0/24, n from the pid: */
#define NETNS_SUBNETS      200 /* two runs at once rarely share one */
#define NETNS_BRIDGE_HOST  254 /* the test's address on the bridge */
#define NETNS_NOWHERE_HOST 250 /* the gateway nobody answers for */
#define NETNS_CMD_MAX      512

/* Run an `ip` command, quietly; 0 when it exited 0. The names in it are
 * this file's own (prefix, numbers), never a test's input. */
static int ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ip(const char *fmt, ...)
{
    char cmd[NETNS_CMD_MAX];
    int n = snprintf(cmd, sizeof cmd, "ip ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    strncat(cmd, " >/dev/null 2>&1", sizeof cmd - strlen(cmd) - 1);
    return system(cmd) == 0 ? 0 : -1;
}

int ct_netns_create(ct_netns *m, unsigned count, const char *dir, char *why, size_t why_len)
{
    memset(m, 0, sizeof *m);
    if (geteuid() != 0) {
        snprintf(why, why_len, "not root: network namespaces need CAP_SYS_ADMIN");
        return -1;
    }
    if (count == 0 || count > CT_NET_NODES_MAX) {
        snprintf(why, why_len, "%u nodes", count);
        return -1;
    }
    m->count = count;
    snprintf(m->prefix, sizeof m->prefix, "cc%d", (int)getpid() % 1000000);
    m->subnet = NETNS_SUBNET_FIRST + (unsigned)getpid() % NETNS_SUBNETS;
    if (ip("link add %sb type bridge", m->prefix) != 0) {
        snprintf(why, why_len, "`ip link add ... type bridge` failed (no iproute2, or no bridges here)");
        return -1;
    }
    m->made = true;
    if (ip("addr add 10.213.%u.%d/24 dev %sb", m->subnet, NETNS_BRIDGE_HOST, m->prefix) != 0 ||
        ip("link set %sb up", m->prefix) != 0) {
        snprintf(why, why_len, "cannot bring the bridge %sb up", m->prefix);
        return -1;
    }
    for (unsigned i = 0; i < count; i++) {
        const char *p = m->prefix;
        snprintf(m->host[i], sizeof m->host[i], "10.213.%u.%u", m->subnet, i + 1);
        if (ip("netns add %sn%u", p, i) != 0 ||
            ip("link add %sh%u type veth peer name %sp%u", p, i, p, i) != 0 ||
            ip("link set %sp%u netns %sn%u", p, i, p, i) != 0 ||
            ip("link set %sh%u master %sb", p, i, p) != 0 || ip("link set %sh%u up", p, i) != 0 ||
            ip("-n %sn%u addr add %s/24 dev %sp%u", p, i, m->host[i], p, i) != 0 ||
            ip("-n %sn%u link set %sp%u up", p, i, p, i) != 0 || ip("-n %sn%u link set lo up", p, i) != 0) {
            snprintf(why, why_len, "cannot make namespace %sn%u and its veth pair", p, i);
            return -1;
        }
        /* carechain, run inside the namespace: what ct_node_start execs */
        m->wrapper[i] = ct_strf("%s/in-%sn%u.sh", dir, p, i);
        char *script = ct_strf("#!/bin/sh\nexec ip netns exec %sn%u '%s' \"$@\"\n", p, i, ct_carechain_bin());
        int rc = ct_write_file(m->wrapper[i], script, strlen(script));
        free(script);
        if (rc != 0 || chmod(m->wrapper[i], 0700) != 0) {
            snprintf(why, why_len, "cannot write %s", m->wrapper[i]);
            return -1;
        }
    }
    return 0;
}

int ct_netns_isolate(ct_netns *m, unsigned node, bool cut)
{
    int rc = 0;
    for (unsigned j = 0; j < m->count; j++) {
        if (j == node) continue;
        if (cut) {
            rc |= ip("-n %sn%u route replace %s/32 via 10.213.%u.%d", m->prefix, node, m->host[j], m->subnet,
                     NETNS_NOWHERE_HOST);
            rc |= ip("-n %sn%u route replace %s/32 via 10.213.%u.%d", m->prefix, j, m->host[node], m->subnet,
                     NETNS_NOWHERE_HOST);
        } else { /* a route that is not there is healed already */
            ip("-n %sn%u route del %s/32", m->prefix, node, m->host[j]);
            ip("-n %sn%u route del %s/32", m->prefix, j, m->host[node]);
        }
    }
    return rc;
}

void ct_netns_destroy(ct_netns *m)
{
    for (unsigned i = 0; i < m->count; i++) {
        if (m->made) ip("netns del %sn%u", m->prefix, i); /* takes the veth pair with it */
        if (m->wrapper[i]) unlink(m->wrapper[i]);
        free(m->wrapper[i]);
        m->wrapper[i] = NULL;
    }
    if (m->made) ip("link del %sb", m->prefix);
    m->made = false;
}
