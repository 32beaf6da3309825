/*
 * carechain/node.h — run a node: HTTP API, mempool, signature verification
 * pool, block producer and consensus (solo here), over one cc_chain.
 *
 * A node directory holds genesis.json, node.key (the node's Ed25519 key),
 * config.json ({"name","api","raft"}), data/ (the LMDB store) and node.lock
 * (held with flock while a node runs, so two nodes never share a store).
 */
#ifndef CARECHAIN_NODE_H
#define CARECHAIN_NODE_H

#include "carechain.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cc_node_config {
    const char *dir;          /* node directory */
    const char *api;          /* "host:port"; NULL = config.json, else 127.0.0.1:7800 */
    size_t map_size;          /* 0 = default */
    size_t map_size_max;      /* 0 = default */
    unsigned verify_threads;  /* 0 = one per core */
    size_t mempool_max;       /* txs; 0 = 200,000 */
    unsigned max_connections; /* 0 = 256 */
    unsigned wait_timeout_ms; /* ?wait=commit limit; 0 = 30,000 */
    bool quiet;               /* no log lines on stderr */
    /* HTTPS (docs/OPERATIONS.md "The links between the nodes"): PEM files;
     * NULL = config.json's "tls_cert", "tls_key", "tls_ca",
     * "tls_client_ca", else none. With cert and key the API serves HTTPS
     * only; tls_ca is the CA bundle this node trusts when it calls its
     * peers' APIs (else the system's); with tls_client_ca the API answers
     * only clients that present a certificate of that CA, and this node
     * presents its own certificate when it calls its peers; tls_client_crl
     * (config.json "tls_client_crl") is that CA's revocation list, whose
     * certificates are refused (re-read when the file changes). */
    const char *tls_cert, *tls_key, *tls_ca, *tls_client_ca, *tls_client_crl;
} cc_node_config;

/* Run until SIGTERM or SIGINT, then stop gracefully (the block in flight
 * finishes, the store closes cleanly). Returns CC_OK after a clean stop,
 * else why the node could not start (the reason is logged on stderr):
 * CC_ERR_USAGE when it was started wrongly (cfg->dir is not a node's
 * directory, another node runs on it, an option or config.json value that
 * does not fit, a node not (or no longer) in the network), CC_ERR_IO,
 * CC_ERR_CORRUPT, CC_ERR_UNREACHABLE (no peer to join through), ... */
cc_err cc_node_run(const cc_node_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
