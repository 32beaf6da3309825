/*
 * node/node.c — cc_node_run: read the node directory, open the chain, start
 * the verify pool, the block producer and the HTTP API, then sleep in
 * sigwait until SIGTERM or SIGINT and stop everything in order.
 *
 * Start-up order (stop runs it backwards, with the steps in between):
 *   signals blocked -> config -> dir lock -> key, genesis -> chain -> mempool, waiters,
 *   events, metrics -> verified-txid cache, verify pool (raft's apply thread uses both)
 *   -> consensus (solo for one genesis node, else raft; a node added at runtime joins:
 *   join.c) -> producer -> HTTP -> checkpoint senders (raft)
 *
 * Stop:
 *   1. refuse new txs (stopping flag) and new connections (quiesce); stop
 *      the checkpoint senders;
 *   2. close the mempool: the producer finishes the block in flight, exits
 *      (raft: consensus stops first, bounded: the block in flight commits
 *      or fails, blocks raft committed are applied, raft closes);
 *   3. fail whatever still waits (503), end event streams, let handlers in
 *      flight answer (bounded);
 *   4. stop HTTP (joins connection threads), close consensus, then the
 *      verify pool;
 *   5. close the chain (LMDB closes cleanly), wipe the key.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "carechain/os.h"
#include "node/admission.h"
#include "node/checkpoints.h"
#include "node/http.h"
#include "node/join.h"
#include "node/log.h"
#include "node/node_internal.h"
#include "node/peer_answer.h"

#define CONFIG_MAX_BYTES  (64u * 1024)
#define TLS_PEM_MAX_BYTES (1024u * 1024) /* a certificate chain or a key */
#define STOP_DRAIN_MS     10000          /* how long requests in flight may take to answer at stop */

/* dst gets path, or dir/path when path is relative (config.json names
 * files in the node directory). */
static void node_path(const cc_node *node, const char *path, char dst[PATH_MAX])
{
    if (path[0] == '/' || strlen(node->dir) + 1 + strlen(path) >= PATH_MAX)
        snprintf(dst, PATH_MAX, "%s", path); /* too long: as given, and the open says why */
    else {
        size_t n = strlen(node->dir);
        memcpy(dst, node->dir, n);
        dst[n] = '/';
        memcpy(dst + n + 1, path, strlen(path) + 1);
    }
}

/* Read dir/config.json when present: name, api, and the TLS files (the
 * raft address and peers are read by the raft side). A missing file
 * leaves the defaults. */
static cc_err read_config(cc_node *node, cc_errbuf *eb)
{
    char path[PATH_MAX + 32];
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    cc_err rc = CC_OK;

    snprintf(path, sizeof path, "%s/config.json", node->dir);
    if (access(path, F_OK) != 0) return CC_OK;
    rc = cc_file_read(path, CONFIG_MAX_BYTES, &buf, &len, eb);
    if (rc != CC_OK) goto out;
    doc = cc_json_parse(buf, len, eb);
    if (!doc) {
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb ? eb->msg : "invalid JSON");
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%s: %s", path, why);
        goto out_after_buf;
    }
    if (!json_is_object(doc)) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%s is not a JSON object", path);
        goto out_after_doc;
    }
    /* read by the join path only, but a wrong one is refused whichever
     * path this start takes, not when it is first needed */
    const json_t *peers = json_object_get(doc, "peers"), *peer;
    size_t k;
    bool peers_ok = !peers || json_is_array(peers);
    json_array_foreach(peers, k, peer) peers_ok = peers_ok && json_is_string(peer);
    if (!peers_ok) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%s: \"peers\" must be a list of URLs", path);
        goto out_after_doc;
    }
    node->peers = json_incref((json_t *)peers);
    const json_t *name = json_object_get(doc, "name"), *api = json_object_get(doc, "api");
    if ((name && !json_is_string(name)) || (api && !json_is_string(api))) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%s: \"name\" and \"api\" must be strings", path);
        goto out_after_doc;
    }
    if (name) snprintf(node->name, sizeof node->name, "%s", json_string_value(name));
    if (api) snprintf(node->api, sizeof node->api, "%s", json_string_value(api));
    static const char *const tls_fields[] = {"tls_cert", "tls_key", "tls_ca", "tls_client_ca",
                                             "tls_client_crl"};
    char *tls_dst[] = {node->tls_cert, node->tls_key, node->tls_ca, node->tls_client_ca,
                       node->tls_client_crl};
    for (size_t i = 0; i < sizeof tls_fields / sizeof *tls_fields; i++) {
        const json_t *v = json_object_get(doc, tls_fields[i]);
        if (v && (!json_is_string(v) || !*json_string_value(v))) {
            rc = cc_errf(eb, CC_ERR_MALFORMED, "%s: \"%s\" must be a file name", path, tls_fields[i]);
            goto out_after_doc;
        }
        if (v) node_path(node, json_string_value(v), tls_dst[i]);
    }
    const json_t *per_client = json_object_get(doc, "api_connections_per_client");
    if (per_client) {
        json_int_t n = json_is_integer(per_client) ? json_integer_value(per_client) : 0;
        if (n < 1 || n > CC_NODE_DEFAULT_CONNECTIONS) {
            rc = cc_errf(eb, CC_ERR_MALFORMED,
                         "%s: \"api_connections_per_client\" must be a whole number 1..%u", path,
                         CC_NODE_DEFAULT_CONNECTIONS);
            goto out_after_doc;
        }
        node->api_connections_per_client = (unsigned)n;
    }
out_after_doc:
    json_decref(doc);
out_after_buf:
    free(buf);
out:
    return rc;
}

/* A PEM file's contents, NUL-terminated, into *out (caller frees). */
static cc_err read_pem(const char *path, char **out, cc_errbuf *eb)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_err rc = cc_file_read(path, TLS_PEM_MAX_BYTES, &buf, &len, eb);
    if (rc != CC_OK) return rc;
    char *s = realloc(buf, len + 1);
    if (!s) {
        sodium_memzero(buf, len); /* it may be a private key */
        free(buf);
        return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    }
    s[len] = '\0';
    if (!strstr(s, "-----BEGIN ")) {
        sodium_memzero(s, len);
        free(s);
        return cc_errf(eb, CC_ERR_MALFORMED, "%s is not a PEM file", path);
    }
    *out = s;
    return CC_OK;
}

/* The API's certificate and key (both or neither), the CA bundle for
 * calling peers, and the CA of the clients it answers. libmicrohttpd
 * checks that they fit when it starts. */
static cc_err load_tls(cc_node *node, cc_errbuf *eb)
{
    if (!node->tls_cert[0] != !node->tls_key[0])
        return cc_errf(eb, CC_ERR_USAGE, "HTTPS needs both a certificate (tls_cert) and its key (tls_key)");
    if (node->tls_client_ca[0] && !node->tls_cert[0])
        return cc_errf(
            eb, CC_ERR_USAGE,
            "client certificates (tls_client_ca) need the API on HTTPS: give tls_cert and tls_key");
    if (node->tls_client_crl[0] && !node->tls_client_ca[0])
        return cc_errf(eb, CC_ERR_USAGE,
                       "a revocation list (tls_client_crl) needs the CA it comes from: give tls_client_ca");
    if (node->tls_ca[0] && access(node->tls_ca, R_OK) != 0)
        return cc_errf(eb, CC_ERR_IO, "cannot read the CA bundle %s: %s", node->tls_ca, strerror(errno));
    cc_peer_set_ca(node->tls_ca);
    if (!node->tls_cert[0]) return CC_OK;
    cc_err rc = read_pem(node->tls_cert, &node->tls_cert_pem, eb);
    if (rc == CC_OK) rc = read_pem(node->tls_key, &node->tls_key_pem, eb);
    if (rc == CC_OK && node->tls_client_ca[0]) {
        rc = read_pem(node->tls_client_ca, &node->tls_client_ca_pem, eb);
        /* its peers may ask for a certificate too: this node shows its own */
        if (rc == CC_OK) cc_peer_set_client_cert(node->tls_cert, node->tls_key);
    }
    if (rc == CC_OK && node->tls_client_crl[0])
        rc = cc_client_crl_open(node->tls_client_crl, node->tls_client_ca_pem, &node->client_crl, eb);
    return rc;
}

static void free_tls(cc_node *node)
{
    cc_client_crl_close(node->client_crl);
    free(node->tls_client_ca_pem);
    free(node->tls_cert_pem);
    if (node->tls_key_pem) sodium_memzero(node->tls_key_pem, strlen(node->tls_key_pem));
    free(node->tls_key_pem);
}

/* Fill node's configuration from cfg and the node directory. */
static cc_err configure(cc_node *node, const cc_node_config *cfg, cc_errbuf *eb)
{
    if (!cfg->dir || !*cfg->dir) return cc_errf(eb, CC_ERR_USAGE, "no node directory given");
    if (strlen(cfg->dir) >= sizeof node->dir)
        return cc_errf(eb, CC_ERR_USAGE, "node directory path is too long");
    snprintf(node->dir, sizeof node->dir, "%s", cfg->dir);
    snprintf(node->api, sizeof node->api, "%s", CC_NODE_DEFAULT_API);
    cc_err rc = read_config(node, eb);
    if (rc != CC_OK) return rc;
    if (cfg->api) snprintf(node->api, sizeof node->api, "%s", cfg->api);
    if (cfg->tls_cert) snprintf(node->tls_cert, sizeof node->tls_cert, "%s", cfg->tls_cert);
    if (cfg->tls_key) snprintf(node->tls_key, sizeof node->tls_key, "%s", cfg->tls_key);
    if (cfg->tls_ca) snprintf(node->tls_ca, sizeof node->tls_ca, "%s", cfg->tls_ca);
    if (cfg->tls_client_ca)
        snprintf(node->tls_client_ca, sizeof node->tls_client_ca, "%s", cfg->tls_client_ca);
    if (cfg->tls_client_crl)
        snprintf(node->tls_client_crl, sizeof node->tls_client_crl, "%s", cfg->tls_client_crl);
    if ((rc = load_tls(node, eb)) != CC_OK) return rc;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    node->verify_threads = cfg->verify_threads ? cfg->verify_threads : (unsigned)(cores > 0 ? cores : 1);
    node->mempool_max = cfg->mempool_max ? cfg->mempool_max : CC_NODE_DEFAULT_MEMPOOL_MAX;
    node->max_connections = cfg->max_connections ? cfg->max_connections : CC_NODE_DEFAULT_CONNECTIONS;
    if (!node->api_connections_per_client) node->api_connections_per_client = node->max_connections / 2;
    if (node->api_connections_per_client > node->max_connections)
        node->api_connections_per_client = node->max_connections;
    if (!node->api_connections_per_client) node->api_connections_per_client = 1;
    node->wait_timeout_ms = cfg->wait_timeout_ms ? cfg->wait_timeout_ms : CC_NODE_DEFAULT_WAIT_MS;
    return CC_OK;
}

/* Take dir/node.lock so that no second node runs on this directory (and
 * its store). The kernel drops the lock when the process dies, kill -9
 * included. */
static cc_err lock_dir(cc_node *node, cc_errbuf *eb)
{
    char path[PATH_MAX + 32];
    struct stat st;
    /* a mistyped --dir says so, and leaves no node.lock behind in a
     * directory that is not a node's */
    if (stat(node->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cc_errf(eb, CC_ERR_USAGE,
                       "%s is not a directory (carechain init --dir NET writes NET/node1, ...)", node->dir);
    snprintf(path, sizeof path, "%s/node.key", node->dir);
    if (access(path, F_OK) != 0)
        return cc_errf(eb, CC_ERR_USAGE,
                       "%s is not a node's directory: it has no node.key (carechain init --dir NET writes "
                       "NET/node1, ...)",
                       node->dir);
    snprintf(path, sizeof path, "%s/node.lock", node->dir);
    node->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (node->lock_fd < 0) return cc_errf(eb, CC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (flock(node->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(node->lock_fd);
        node->lock_fd = -1;
        if (err == EWOULDBLOCK)
            return cc_errf(eb, CC_ERR_USAGE, "another node is already running on %s", node->dir);
        return cc_errf(eb, CC_ERR_IO, "cannot lock %s: %s", path, strerror(err));
    }
    return CC_OK;
}

static void unlock_dir(cc_node *node)
{
    if (node->lock_fd >= 0) close(node->lock_fd); /* releases the flock */
    node->lock_fd = -1;
}

/* Open the store with the genesis file and check that this node's key is
 * a node of that genesis. */
static cc_err open_chain(cc_node *node, const cc_node_config *cfg, cc_errbuf *eb)
{
    char path[PATH_MAX + 32];
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    cc_chain_options opt = {.map_size = cfg->map_size, .map_size_max = cfg->map_size_max, .readonly = false};
    cc_err rc;

    snprintf(path, sizeof path, "%s/node.key", node->dir);
    rc = cc_key_load(path, &node->key, NULL, eb);
    if (rc != CC_OK) goto out;
    cc_hex(node->key.pk, CC_PUBKEY_BYTES, node->node_id_hex);

    snprintf(path, sizeof path, "%s/genesis.json", node->dir);
    rc = cc_file_read(path, CC_GENESIS_MAX_BYTES, &genesis, &genesis_len, eb);
    if (rc != CC_OK) goto out;

    snprintf(path, sizeof path, "%s/data", node->dir);
    rc = cc_mkdirs(path, eb);
    if (rc != CC_OK) goto out_after_genesis;
    rc = cc_chain_open(path, genesis, genesis_len, &opt, &node->chain, eb);
    if (rc != CC_OK) goto out_after_genesis;

    const cc_genesis *g = cc_chain_genesis(node->chain);
    cc_hex(g->chain_id, CC_HASH_BYTES, node->chain_id_hex);
    int self = cc_genesis_node_index(g, node->key.pk);
    /* a node genesis does not list must have been added by governance:
     * start_consensus checks that (join.c) */
    if (!node->name[0] && self >= 0) snprintf(node->name, sizeof node->name, "%s", g->nodes[self].name);
    if (!node->name[0]) snprintf(node->name, sizeof node->name, "node-%.8s", node->node_id_hex);

out_after_genesis:
    free(genesis);
out:
    return rc;
}

/* Whether start_consensus picks raft (see there). */
static bool runs_raft(const cc_node *node)
{
    const cc_genesis *g = cc_chain_genesis(node->chain);
    return g->node_count > 1 || cc_genesis_node_index(g, node->key.pk) < 0;
}

/* The consensus hook for the check of this node's clock (clock_check.h). */
static cc_clock_verdict node_clock(void *ctx, size_t voters)
{
    cc_node *node = ctx;
    return cc_clocks_verdict(&node->clocks, voters, cc_mono_ns() / 1000000u);
}

/* Solo for a one-node genesis; raft for more, or for a node added at
 * runtime (not in genesis), which first learns its place (join.c). */
static cc_err start_consensus(cc_node *node, cc_errbuf *eb)
{
    const cc_genesis *g = cc_chain_genesis(node->chain);
    const cc_consensus_hooks hooks = {
        .ctx = node,
        .committed = cc_producer_committed,
        .verify = cc_admit_verify_block,
        .clock = node_clock,
    };
    if (cc_genesis_node_index(g, node->key.pk) < 0) {
        json_t *nodes = NULL;
        char raft[CC_NODE_ADDR_MAX];
        cc_err rc =
            cc_join_resolve(node->chain, &node->key, node->dir, node->peers, &nodes, raft, sizeof raft, eb);
        if (rc != CC_OK) return rc;
        const cc_raft_join join = {raft, nodes};
        rc = cc_consensus_raft_init_join(&node->consensus, node->chain, &node->key, node->dir, &hooks, &join,
                                         eb);
        json_decref(nodes);
        return rc;
    }
    if (g->node_count > 1)
        return cc_consensus_raft_init(&node->consensus, node->chain, &node->key, node->dir, &hooks, eb);
    return cc_consensus_solo_init(&node->consensus, node->chain, &node->key, node->name, eb);
}

cc_err cc_node_run(const cc_node_config *cfg)
{
    cc_node *node = calloc(1, sizeof *node);
    cc_errbuf eb = {{0}};
    sigset_t stop_signals, old_mask;
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_pipe;
    cc_tx *drained = NULL;
    int sig = 0;
    bool clean_stop = false; /* started, then stopped by a signal */
    cc_err rc;

    cc_node_log_quiet(cfg->quiet);
    if (!node) {
        cc_node_log(CC_LOG_ERROR, "node", "out of memory");
        return CC_ERR_NOMEM;
    }

    /* Every thread started from here on inherits the blocked signals, so
     * only sigwait below ever sees SIGTERM/SIGINT. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe);

    node->lock_fd = -1;
    cc_clocks_init(&node->clocks);
    rc = configure(node, cfg, &eb);
    if (rc != CC_OK) goto err;
    rc = lock_dir(node, &eb);
    if (rc != CC_OK) goto err;
    rc = open_chain(node, cfg, &eb);
    if (rc != CC_OK) goto err_after_lock;
    rc = cc_mempool_init(&node->mempool, node->mempool_max, CC_NODE_MEMPOOL_MAX_BYTES);
    if (rc != CC_OK) goto err_after_chain;
    rc = cc_waiters_init(&node->waiters);
    if (rc != CC_OK) goto err_after_mempool;
    rc = cc_events_init(&node->events);
    if (rc != CC_OK) goto err_after_waiters;
    rc = cc_metrics_init(&node->metrics);
    if (rc != CC_OK) goto err_after_events;
    /* Only raft applies blocks whose txs this node may have admitted; in
     * solo every block comes from its own mempool, verified, and an empty
     * cache (no slots) remembers nothing. */
    if (runs_raft(node) && (rc = cc_sigcache_init(&node->sigcache, CC_NODE_SIGCACHE_BITS)) != CC_OK)
        goto err_after_metrics;
    /* the pool before consensus, and stopped after it: raft's apply thread
     * verifies block signatures on it (cc_admit_verify_block) */
    rc = cc_verify_pool_start(node->verify_threads, &node->pool, &eb);
    if (rc != CC_OK) goto err_after_sigcache;
    rc = start_consensus(node, &eb);
    if (rc != CC_OK) goto err_after_pool;
    rc = cc_producer_start(node, &eb);
    if (rc != CC_OK) goto err_after_consensus;
    rc = cc_http_start(node, &eb);
    if (rc != CC_OK) goto err_after_producer;
    rc = cc_checkpoints_start(node, &node->checkpoints, &eb);
    if (rc != CC_OK) goto err_after_producer;

    cc_head head;
    cc_chain_head(node->chain, &head);
    cc_node_log(CC_LOG_INFO, "node", "%s up: chain %.16s..., height %llu, %s consensus, %u verify threads",
                node->name, node->chain_id_hex, (unsigned long long)head.height, node->consensus.mode,
                node->verify_threads);

    while (sigwait(&stop_signals, &sig) != 0) continue;
    cc_node_log(CC_LOG_INFO, "node", "%s received; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    clean_stop = true;

    /* Stop, steps 1-4 (see the top of this file). */
    atomic_store(&node->stopping, true);
    cc_http_quiesce(node);
err_after_producer : {
    cc_checkpoints_stop(node->checkpoints); /* NULL when not started */
    node->checkpoints = NULL;
    size_t n = cc_mempool_close(&node->mempool, &drained);
    if (node->consensus.stop) node->consensus.stop(&node->consensus); /* the block in flight ends */
    cc_producer_join(node);
    cc_waiters_fail(&node->waiters, drained, n, CC_ERR_UNREACHABLE);
    for (size_t i = 0; i < n; i++) cc_tx_free(&drained[i]);
    free(drained);
    if (n) cc_node_log(CC_LOG_INFO, "node", "%zu queued txs were not committed", n);
    cc_waiters_close(&node->waiters);
    cc_events_close(&node->events);
    cc_http_drain(node, STOP_DRAIN_MS);
    cc_http_stop(node);
}
err_after_consensus:
    node->consensus.close(&node->consensus);
err_after_pool:
    cc_verify_pool_stop(node->pool);
err_after_sigcache:
    cc_sigcache_destroy(&node->sigcache);
err_after_metrics:
    cc_metrics_destroy(&node->metrics);
err_after_events:
    cc_events_destroy(&node->events);
err_after_waiters:
    cc_waiters_destroy(&node->waiters);
err_after_mempool:
    cc_mempool_destroy(&node->mempool);
err_after_chain:
    cc_chain_close(node->chain);
err_after_lock:
    unlock_dir(node);
err:
    if (!clean_stop)
        cc_node_log(CC_LOG_ERROR, "node", "cannot start: %s (%s)", eb.msg[0] ? eb.msg : cc_strerror(rc),
                    cc_err_name(rc));
    else
        cc_node_log(CC_LOG_INFO, "node", "stopped cleanly");
    cc_key_wipe(&node->key);
    json_decref(node->peers);
    free_tls(node);
    cc_clocks_destroy(&node->clocks);
    free(node);
    sigaction(SIGPIPE, &old_pipe, NULL);
    /* A second SIGTERM/SIGINT sent while we stopped is already answered:
     * consume it, or restoring the mask would deliver it and kill the
     * process after a clean stop. */
    struct timespec no_wait = {0, 0};
    while (sigtimedwait(&stop_signals, NULL, &no_wait) > 0) continue;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return clean_stop ? CC_OK : rc;
}
