/*
 * cli/cmd_devnet.c — `carechain devnet`: a network of N nodes on this
 * machine. Initialises the directory when it is absent or empty (as
 * `carechain init`), starts every node of its genesis as a child process,
 * says where each listens, and stops them all on Ctrl-C or SIGTERM.
 *
 * Layout: D/genesis.json, D/nodeI/ (as init), D/nodeI.log (each node's
 * warnings and errors: the nodes run with --quiet).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define DEVNET_DEFAULT_NODES 3
#define DEVNET_NODES_MAX     16
#define DEVNET_BASE_PORT     7800
#define DEVNET_RAFT_OFFSET   100 /* raft ports start this far above the API ports */
#define DEVNET_READY_MS      20000
#define DEVNET_STOP_MS       15000
#define DEVNET_PATH_BYTES    4096

typedef struct devnet_node {
    char name[64];
    char dir[DEVNET_PATH_BYTES];
    char log[DEVNET_PATH_BYTES];
    char api[64];
    char url[96];
    pid_t pid;
} devnet_node;

/* Read D/genesis.json: the nodes to run. */
static cc_err read_nodes(const char *dir, devnet_node *nodes, size_t *count, cc_errbuf *eb)
{
    char path[DEVNET_PATH_BYTES];
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_genesis g;
    snprintf(path, sizeof path, "%s/genesis.json", dir);
    cc_err rc = cc_file_read(path, CC_GENESIS_MAX_BYTES, &buf, &len, eb);
    if (rc != CC_OK) return rc;
    rc = cc_genesis_parse(buf, len, &g, eb);
    free(buf);
    if (rc != CC_OK) return rc;
    if (g.node_count > DEVNET_NODES_MAX) {
        rc = cc_errf(eb, CC_ERR_USAGE, "the genesis has %zu nodes; devnet runs at most %d", g.node_count,
                     DEVNET_NODES_MAX);
    } else {
        for (size_t i = 0; i < g.node_count; i++) {
            devnet_node *n = &nodes[i];
            memset(n, 0, sizeof *n);
            snprintf(n->name, sizeof n->name, "%s", g.nodes[i].name);
            snprintf(n->dir, sizeof n->dir, "%s/%s", dir, g.nodes[i].name);
            snprintf(n->log, sizeof n->log, "%s/%s.log", dir, g.nodes[i].name);
            snprintf(n->api, sizeof n->api, "%s", g.nodes[i].api);
            snprintf(n->url, sizeof n->url, "http://%s", g.nodes[i].api);
        }
        *count = g.node_count;
    }
    cc_genesis_free(&g);
    return rc;
}

static void stop_all(devnet_node *nodes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (nodes[i].pid > 0) kill(nodes[i].pid, SIGTERM);
    for (size_t i = 0; i < count; i++) {
        if (nodes[i].pid <= 0) continue;
        int st = cc_cli_node_stop(nodes[i].pid, DEVNET_STOP_MS);
        printf("%s stopped (%s %d).\n", nodes[i].name, WIFSIGNALED(st) ? "signal" : "exit status",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        nodes[i].pid = 0;
    }
}

/* Sleep in sigwait until Ctrl-C or SIGTERM; say when a node exits. */
static void wait_for_stop(devnet_node *nodes, size_t count, const sigset_t *signals)
{
    for (;;) {
        int sig = 0;
        if (sigwait(signals, &sig) != 0) continue;
        if (sig != SIGCHLD) {
            printf("\n%s: stopping the network.\n", sig == SIGINT ? "Ctrl-C" : "SIGTERM");
            return;
        }
        size_t alive = 0;
        for (size_t i = 0; i < count; i++) {
            int st;
            if (nodes[i].pid > 0 && waitpid(nodes[i].pid, &st, WNOHANG) == nodes[i].pid) {
                printf("%s exited (%s %d); see %s\n", nodes[i].name,
                       WIFSIGNALED(st) ? "signal" : "exit status",
                       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), nodes[i].log);
                nodes[i].pid = 0;
            }
            alive += nodes[i].pid > 0;
        }
        fflush(stdout);
        if (alive == 0) {
            printf("Every node has exited.\n");
            return;
        }
    }
}

int cc_cmd_devnet(int argc, char **argv)
{
    const char *dir = NULL, *nodes_s = NULL, *port_s = NULL;
    const cc_cli_opt opts[] = {
        {"dir", "DIR", "the network directory (initialised when absent or empty)", &dir},
        {"nodes", "N", "number of nodes when initialising (default 3)", &nodes_s},
        {"base-port", "P", "API ports P..P+N-1, raft ports P+100.. (default 7800)", &port_s},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "devnet",
        "--dir D [--nodes N] [--base-port P]",
        "Run a network of N nodes on this machine until Ctrl-C or SIGTERM.",
        opts,
        0,
        0,
        false,
        false,
        "A directory that already holds a network is run as it is (its genesis fixes the nodes and\n"
        "ports). Each node's warnings and errors go to D/<node>.log (its routine lines are left out:\n"
        "the node runs with --quiet). With more than one node the nodes agree through raft;\n"
        "any node accepts txs (followers forward them to the leader).\n"};
    cc_cli_ctx ctx;
    devnet_node nodes[DEVNET_NODES_MAX];
    size_t count = 0;
    cc_errbuf eb = {{0}};
    sigset_t signals, old_mask;
    int exit_code = CC_EXIT_OK;

    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!dir) return cc_cli_usage(ctx.cmd, "missing --dir");
    uint64_t want = DEVNET_DEFAULT_NODES, port = DEVNET_BASE_PORT;
    if (nodes_s && (!cc_cli_parse_u64(nodes_s, false, &want) || want < 1 || want > DEVNET_NODES_MAX))
        return cc_cli_usage(ctx.cmd, "--nodes must be a number from 1 to %d", DEVNET_NODES_MAX);
    if (port_s &&
        (!cc_cli_parse_u64(port_s, false, &port) || port < 1 || port + want - 1 + DEVNET_RAFT_OFFSET > 65535))
        return cc_cli_usage(ctx.cmd, "--base-port must leave room for %llu API and raft ports below 65536",
                            (unsigned long long)want);

    char genesis[DEVNET_PATH_BYTES];
    snprintf(genesis, sizeof genesis, "%s/genesis.json", dir);
    if (access(genesis, F_OK) != 0) {
        cc_err e = cc_cli_net_init_ports(dir, (unsigned)want, NULL, (unsigned)port,
                                         (unsigned)port + DEVNET_RAFT_OFFSET, &eb);
        if (e != CC_OK) {
            fprintf(stderr, "carechain devnet: %s\n", eb.msg);
            return e == CC_ERR_CONFLICT || e == CC_ERR_USAGE ? CC_EXIT_USAGE : CC_EXIT_FAIL;
        }
        printf("Initialised a %llu-node network in %s (keys in %s/keys).\n", (unsigned long long)want, dir,
               dir);
    } else if (nodes_s || port_s) {
        printf("%s already holds a network: --nodes and --base-port are ignored.\n", dir);
    }
    if (read_nodes(dir, nodes, &count, &eb) != CC_OK) {
        fprintf(stderr, "carechain devnet: %s\n", eb.msg);
        return CC_EXIT_FAIL;
    }

    /* Ctrl-C and SIGTERM reach sigwait below, not a default handler;
     * SIGCHLD says a node exited. The children unblock nothing: a node
     * blocks these itself and waits in sigwait too. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGCHLD);
    sigprocmask(SIG_BLOCK, &signals, &old_mask);

    for (size_t i = 0; i < count; i++) {
        if (cc_cli_node_spawn(nodes[i].dir, nodes[i].api, nodes[i].log, &nodes[i].pid, &eb) != CC_OK) {
            fprintf(stderr, "carechain devnet: cannot start %s: %s\n", nodes[i].name, eb.msg);
            exit_code = CC_EXIT_FAIL;
            goto stop;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (cc_cli_node_wait_ready(nodes[i].url, nodes[i].pid, DEVNET_READY_MS, &eb) != CC_OK) {
            fprintf(stderr, "carechain devnet: %s did not start: %s (its log: %s)\n", nodes[i].name, eb.msg,
                    nodes[i].log);
            nodes[i].pid = nodes[i].pid > 0 && kill(nodes[i].pid, 0) == 0 ? nodes[i].pid : 0;
            exit_code = CC_EXIT_FAIL;
            goto stop;
        }
        printf("%s: API %s (process %d, log %s)\n", nodes[i].name, nodes[i].url, (int)nodes[i].pid,
               nodes[i].log);
    }
    printf("%zu node%s running (%s consensus). Try: carechain status --node %s\nCtrl-C stops them all.\n",
           count, count == 1 ? "" : "s", count == 1 ? "solo" : "raft", nodes[0].url);
    fflush(stdout);
    wait_for_stop(nodes, count, &signals);
stop:
    stop_all(nodes, count);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    return exit_code;
}
