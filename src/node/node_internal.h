/*
 * node/node_internal.h — the running node's state, shared by the files of
 * src/node/ (not part of the public API; see include/carechain/node.h).
 *
 * Threads and what they own:
 *   main       cc_node_run: starts everything, waits for SIGTERM/SIGINT with
 *              sigwait, then stops everything in order (node.c).
 *   producer   cuts blocks from the mempool and proposes them to consensus;
 *              the only writer of the chain in solo; with raft it proposes
 *              when this node leads and forwards txs to the leader when it
 *              does not (producer.c, forward.c).
 *   raft loop, raft apply   with raft only (consensus_raft.c): the libuv
 *              loop that runs raft, and the one writer of the chain, which
 *              commits every committed entry in log order.
 *   verify     the admission pool: decode, admission checks, Ed25519
 *              (verify_pool.c, admission.c).
 *   http       libmicrohttpd, one thread per connection (http*.c); handlers
 *              may block (on the verify pool, on ?wait=commit, on SSE).
 *
 * Lock order (never take a lock to the left while holding one to its right):
 *   mempool -> waiters -> events -> metrics. Each is held only briefly.
 */
#ifndef CC_NODE_INTERNAL_H
#define CC_NODE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "carechain.h"
#include "carechain/chain.h"
#include "carechain/node.h"
#include "node/conn_limit.h"
#include "node/client_crl.h"
#include "node/clock_check.h"
#include "node/consensus.h"
#include "node/events.h"
#include "node/mempool.h"
#include "node/metrics.h"
#include "node/sigcache.h"
#include "node/verify_pool.h"
#include "node/waiters.h"

#define CC_NODE_DEFAULT_API         "127.0.0.1:7800"
#define CC_NODE_DEFAULT_MEMPOOL_MAX 200000
#define CC_NODE_MEMPOOL_MAX_BYTES   (1024u * 1024 * 1024) /* queued tx bytes (attachments count) */
#define CC_NODE_UPLOAD_MAX_BYTES    (1024u * 1024 * 1024) /* request bodies held at once, all connections */
#define CC_NODE_DEFAULT_CONNECTIONS 256
#define CC_NODE_DEFAULT_WAIT_MS     30000
#define CC_NODE_PLACE_GIVEUP_MS     10000 /* raft: drop txs no leader took for this long */
#define CC_NODE_SIGCACHE_BITS       20    /* 1 Mi remembered verified txids (32 MiB; docs/CONSENSUS.md) */
#define CC_NODE_PLACE_RETRY_MS      20    /* raft: pause before placing them again */
#define CC_NODE_NAME_MAX            64
#define CC_NODE_ADDR_MAX            128

struct MHD_Daemon;

typedef struct cc_node {
    /* configuration, defaults resolved (node.c) */
    char dir[PATH_MAX];
    char name[CC_NODE_NAME_MAX];
    char api[CC_NODE_ADDR_MAX];
    unsigned verify_threads;
    size_t mempool_max;
    unsigned max_connections;
    unsigned api_connections_per_client; /* config.json; 0 = half of max_connections */
    unsigned wait_timeout_ms;
    char tls_cert[PATH_MAX], tls_key[PATH_MAX], tls_ca[PATH_MAX], tls_client_ca[PATH_MAX]; /* "" = none */
    char tls_client_crl[PATH_MAX];    /* the client CA's revocation list ("" = none) */
    json_t *peers;                    /* config.json "peers", a list of strings (NULL: none); owned */
    char *tls_cert_pem, *tls_key_pem; /* their contents, NUL-terminated, when the API serves HTTPS */
    char *tls_client_ca_pem;          /* clients must present a certificate of this CA (NULL: none asked) */
    cc_client_crl *client_crl;        /* ... not revoked by it (NULL: no list given) */

    int lock_fd; /* flock on dir/node.lock: one node per directory */
    cc_key key;  /* the node's signing key; wiped at exit */
    char node_id_hex[CC_HASH_HEX];
    char chain_id_hex[CC_HASH_HEX];

    cc_chain *chain;
    cc_consensus consensus;
    cc_mempool mempool;
    cc_waiters waiters;
    cc_events events;
    cc_metrics metrics;
    cc_verify_pool *pool;
    cc_sigcache sigcache; /* txids whose signature admission verified (raft only; solo: empty) */
    cc_clocks clocks;     /* raft: the last reading of each peer's clock (clock_check.h) */

    pthread_t producer;
    struct cc_checkpoints *checkpoints; /* raft: the checkpoint signature senders */
    struct MHD_Daemon *httpd;
    cc_conn_limit conn_limit;                    /* API connections per client address (http.c) */
    atomic_uint_fast64_t conn_refused_logged_ms; /* cc_now_ms of the last "refused a connection" line */
    atomic_uint_fast64_t httpd_log_window_ms; /* start of the window libmicrohttpd's lines are counted in */
    atomic_uint httpd_log_lines;              /* its lines logged in that window */
    atomic_uint httpd_log_dropped;            /* and left out, told when the next window opens */

    atomic_size_t upload_bytes;  /* request body bytes buffered, all connections */
    atomic_uint active_handlers; /* HTTP handlers running now */
    atomic_bool stopping;        /* SIGTERM seen: refuse new txs */
    atomic_bool store_full;      /* a commit failed for lack of space */
} cc_node;

/* ---- producer.c ---- */

/* Start the block producer thread. */
cc_err cc_producer_start(cc_node *node, cc_errbuf *eb) CC_WUR;
/* Wait for the producer to finish its block in flight and exit (the
 * mempool must be closed first). */
void cc_producer_join(cc_node *node);
/* The consensus hook for a block no local proposal waited for: wake its
 * waiters, publish it on the event stream, count it. ctx is the cc_node. */
void cc_producer_committed(void *ctx, const cc_header *h, const cc_tx *txs, size_t n,
                           const cc_result *results);

/* ---- http.c ---- */

/* Start the HTTP API on node->api, HTTPS only when node->tls_cert_pem is
 * set. CC_ERR_IO with the reason in eb. */
cc_err cc_http_start(cc_node *node, cc_errbuf *eb) CC_WUR;
/* "https" when the API serves HTTPS, else "http" (for URLs it writes). */
const char *cc_http_scheme(const cc_node *node);
/* Stop accepting connections (requests on open ones are still served). */
void cc_http_quiesce(cc_node *node);
/* Wait (at most timeout_ms) until no handler is running, so requests in
 * flight get their answer before the connections close. */
void cc_http_drain(cc_node *node, unsigned timeout_ms);
/* Close every connection and join the HTTP threads. */
void cc_http_stop(cc_node *node);

#endif
