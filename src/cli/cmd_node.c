/*
 * cli/cmd_node.c — `carechain node` (fills cc_node_config and runs the
 * node), and running a node as a child process for demo and bench.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carechain/node.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define POLL_MS          50
#define READY_REQUEST_MS 1000L

int cc_cmd_node(int argc, char **argv)
{
    const char *dir = NULL, *api = NULL, *map_s = NULL, *map_max_s = NULL, *tls_cert = NULL, *tls_key = NULL,
               *tls_ca = NULL, *tls_client_ca = NULL, *tls_client_crl = NULL;
    bool quiet = false;
    const cc_cli_opt opts[] = {
        {"dir", "DIR", "the node directory (genesis.json, node.key, config.json, data/)", &dir},
        {"api", "ADDR:PORT", "where the HTTP API listens (default: config.json, else 127.0.0.1:7800)", &api},
        {"map-size", "BYTES", "initial LMDB map size, e.g. 64M (default 64 MiB)", &map_s},
        {"map-size-max", "BYTES", "the map grows up to this, e.g. 8G (default 64 GiB)", &map_max_s},
        {"tls-cert", "PEM", "serve the API over HTTPS with this certificate (chain)", &tls_cert},
        {"tls-key", "PEM", "and this private key (default: config.json tls_cert/tls_key)", &tls_key},
        {"tls-ca", "PEM",
         "CA bundle to trust for peers' HTTPS APIs (default: config.json, else the system's)", &tls_ca},
        {"tls-client-ca", "PEM",
         "answer only clients with a certificate of this CA (default: config.json, else anyone)",
         &tls_client_ca},
        {"tls-client-crl", "PEM",
         "and refuse those on this revocation list of that CA, re-read when it changes (default: "
         "config.json)",
         &tls_client_crl},
        {"quiet", NULL, "no log lines on stderr", &quiet},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "node",
        "--dir D [--api ADDR:PORT] [--map-size BYTES] [--map-size-max BYTES]\n"
        "       [--tls-cert PEM --tls-key PEM] [--tls-ca PEM] [--tls-client-ca PEM [--tls-client-crl PEM]]\n"
        "       [--quiet]",
        "Run a node until SIGTERM or Ctrl-C, then stop gracefully.",
        opts,
        0,
        0,
        false,
        false,
        NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!dir) return cc_cli_usage(ctx.cmd, "missing --dir");
    uint64_t map = 0, map_max = 0;
    if (map_s && !cc_cli_parse_u64(map_s, true, &map))
        return cc_cli_usage(ctx.cmd, "--map-size wants a size in bytes such as 64M, not '%s'", map_s);
    if (map_max_s && !cc_cli_parse_u64(map_max_s, true, &map_max))
        return cc_cli_usage(ctx.cmd, "--map-size-max wants a size in bytes such as 8G, not '%s'", map_max_s);
    if (map && map_max && map > map_max)
        return cc_cli_usage(ctx.cmd, "--map-size is larger than --map-size-max");
    if (api && !strchr(api, ':')) return cc_cli_usage(ctx.cmd, "--api wants ADDR:PORT, not '%s'", api);

    cc_node_config cfg = {0};
    cfg.dir = dir;
    cfg.api = api;
    cfg.map_size = (size_t)map;
    cfg.map_size_max = (size_t)map_max;
    cfg.quiet = quiet;
    cfg.tls_cert = tls_cert;
    cfg.tls_key = tls_key;
    cfg.tls_ca = tls_ca;
    cfg.tls_client_ca = tls_client_ca;
    cfg.tls_client_crl = tls_client_crl;
    /* how it was started (no node directory, another node on it, a bad
     * option or config.json value) is a usage error, as the log line says */
    cc_err e = cc_node_run(&cfg);
    return e == CC_OK ? CC_EXIT_OK : e == CC_ERR_USAGE ? CC_EXIT_USAGE : CC_EXIT_FAIL;
}

cc_err cc_cli_node_spawn(const char *dir, const char *api, const char *log_path, pid_t *pid, cc_errbuf *eb)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) return cc_errf(eb, CC_ERR_IO, "fork: %s", strerror(errno));
    if (p == 0) {
        /* the node must not outlive the demo or bench that started it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1);
        /* its own process group: Ctrl-C goes to the parent, which stops it */
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
        }
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (fd >= 0) dup2(fd, STDERR_FILENO);
        }
        char *args[] = {"carechain", "node", "--dir", (char *)dir, "--api", (char *)api, "--quiet", NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    *pid = p;
    return CC_OK;
}

cc_err cc_cli_node_wait_ready(const char *base, pid_t pid, unsigned timeout_ms, cc_errbuf *eb)
{
    cc_err rc = CC_ERR_TIMEOUT;
    uint64_t deadline = cc_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
    cc_cli_http *h = cc_cli_http_new(base);
    if (!h) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    cc_cli_http_timeout(h, READY_REQUEST_MS);
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rc = cc_errf(eb, CC_ERR_IO, "the node exited before it answered (%s %d)",
                         WIFEXITED(status) ? "exit status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            break;
        }
        cc_cli_resp r;
        cc_errbuf ignored;
        if (cc_cli_http_request(h, "/v1/status", NULL, NULL, 0, &r, &ignored) == CC_OK) {
            bool up = r.status == 200;
            cc_cli_resp_free(&r);
            if (up) {
                rc = CC_OK;
                break;
            }
        }
        if (cc_mono_ns() > deadline) {
            rc = cc_errf(eb, CC_ERR_TIMEOUT, "the node at %s did not answer within %u ms", base, timeout_ms);
            break;
        }
        cc_sleep_ms(POLL_MS);
    }
    cc_cli_http_free(h);
    return rc;
}

int cc_cli_node_stop(pid_t pid, unsigned timeout_ms)
{
    int status = -1;
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    for (unsigned waited = 0;; waited += POLL_MS) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) return status;
        if (w < 0 && errno != EINTR) return -1;
        if (waited >= timeout_ms) break;
        cc_sleep_ms(POLL_MS);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* Ports for the nodes the bench starts: below Linux's ephemeral range
 * (32768 and up by default), from which bind(0) would pick, so that no
 * outgoing connection (the nodes' own raft and forwarding links, the
 * bench's clients) can take the port between the probe and the node's
 * bind; and below 20000, where the test suite picks its own. */
#define FREE_PORT_LOW   10000u
#define FREE_PORT_HIGH  20000u
#define FREE_PORT_TRIES 200

unsigned cc_cli_free_port(void)
{
    static unsigned seed;
    if (!seed) seed = (unsigned)getpid() ^ (unsigned)cc_mono_ns();
    for (unsigned t = 0; t < FREE_PORT_TRIES; t++) {
        unsigned port = FREE_PORT_LOW + (unsigned)rand_r(&seed) % (FREE_PORT_HIGH - FREE_PORT_LOW);
        if (cc_cli_port_free(port)) return port;
    }
    return 0;
}

bool cc_cli_port_free(unsigned port)
{
    struct sockaddr_in a = {0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return true; /* cannot tell: let the node try */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 || errno != EADDRINUSE;
    close(fd);
    return ok;
}
