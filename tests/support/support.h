/*
 * support.h — helpers shared by carechain's integration tests: temporary
 * directories, free ports, a network directory made without the CLI, node
 * processes, HTTP over libcurl, signed test txs, CLI runs, a loopback proxy
 * and a cluster of raft nodes polled as one.
 *
 * Helpers never call cmocka; they return an error (and print why on stderr)
 * so tests assert on what they get. Everything they allocate is the
 * caller's, freed as each function says. Node processes and temporary
 * directories still alive at exit are killed and removed by an atexit hook
 * (set CT_KEEP=1 to keep the directories for a post-mortem).
 */
#ifndef CARECHAIN_TEST_SUPPORT_H
#define CARECHAIN_TEST_SUPPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "carechain.h"
#include "carechain/os.h"

#define CT_URL_MAX        64
#define CT_TX_LIFETIME_MS (3600 * 1000) /* expiry - created of ordinary test txs */

/* ---- files and directories (ct_fs.c) ---------------------------------------- */

/* A new directory /tmp/carechain-<tag>-XXXXXX; caller frees the string and
 * removes the directory with ct_rmtree (or leaves it to the exit hook). */
char *ct_tmpdir(const char *tag);
/* rm -rf path. 0 on success. */
int ct_rmtree(const char *path);
/* cp -a src dst (dst must not exist). 0 on success. */
int ct_copytree(const char *src, const char *dst);
/* asprintf that aborts on OOM; caller frees. */
char *ct_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write / read a whole file. ct_read_file NUL-terminates; caller frees. */
int ct_write_file(const char *path, const void *data, size_t len);
uint8_t *ct_read_file(const char *path, size_t *len);
/* Does any regular file under path (a file or a directory, recursively;
 * symbolic links are not followed) contain needle? Names the file holding it
 * on stderr. The canary tests use it to look for health data on disk. */
bool ct_tree_contains(const char *path, const char *needle);
/* The same for bytes: does any file hold needle, or with part > 0 any of
 * the part-byte slices it is cut into (a copy partly overwritten counts)? */
bool ct_tree_holds(const char *path, const void *needle, size_t len, size_t part);
/* A TCP port on 127.0.0.1 that was free a moment ago. -1 on error. */
int ct_free_port(void);
/* Wall clock in ms. */
uint64_t ct_now_ms(void);

/* ---- keys, network directories and txs (ct_net.c) ----------------------------- */

/* A deterministic key: seed = SHA-256("carechain-test/" label). */
void ct_key(const char *label, cc_key *k);
/* Lowercase hex of a public key into out (65 bytes). Returns out. */
char *ct_pk_hex(const cc_key *k, char out[CC_HASH_HEX]);

#define CT_NET_NODES_MAX 7

typedef struct ct_net {
    char *dir;          /* the network directory (temporary) */
    char *node_dir;     /* dir/node1: genesis.json, node.key, config.json */
    char *genesis_path; /* dir/genesis.json */
    uint8_t *genesis;   /* its bytes */
    size_t genesis_len;
    uint8_t chain_id[CC_HASH_BYTES];
    cc_key admin;       /* the hospital's admin (genesis identity) */
    cc_key payer_admin; /* the payer's admin (genesis identity) */
    cc_key node_key;
    int api_port;
    int raft_port;
    char url[CT_URL_MAX]; /* http://127.0.0.1:api_port */
    /* every node, node1 first (the fields above repeat node1's) */
    unsigned node_count;
    char *node_dirs[CT_NET_NODES_MAX]; /* dir/nodeI */
    cc_key node_keys[CT_NET_NODES_MAX];
    int api_ports[CT_NET_NODES_MAX];
    int raft_ports[CT_NET_NODES_MAX];
} ct_net;

/* Make a one-node network directory under a new temporary directory: keys
 * from fixed seeds, genesis.json (also copied byte for byte into the node
 * directory), node.key and config.json. Checks the genesis parses with
 * cc_genesis_parse. 0 on success. */
int ct_net_create(ct_net *net, const char *tag);
/* The same with nodes (1..CT_NET_NODES_MAX) nodes node1..nodeN, each with
 * its own directory, key (label "nodeI"), free API and raft ports; more
 * than one node makes a raft network. nodes = 1 writes exactly what
 * ct_net_create writes. */
int ct_net_create_nodes(ct_net *net, const char *tag, unsigned nodes);
/* Make every node of net serve its API over HTTPS: the genesis names the
 * nodes' APIs https://127.0.0.1:port (a new chain id; net's genesis bytes
 * and every node's copy follow), and each config.json gets tls_cert,
 * tls_key and tls_ca (PEM paths), and tls_client_ca unless client_ca is
 * NULL. Before any node starts. 0 on success. */
int ct_net_use_https(ct_net *net, const char *cert, const char *key, const char *ca, const char *client_ca);
/* Set key to value (a reference this takes) in node_dir/config.json. 0 on
 * success. */
int ct_node_config_set(const char *node_dir, const char *key, json_t *value);
/* Set "raft_snapshot_threshold" and "raft_snapshot_trailing" there. */
int ct_node_config_snapshots(const char *node_dir, int threshold, int trailing);
/* Free what net holds and remove its directory. */
void ct_net_destroy(ct_net *net);

/* Build and sign a tx of net's chain (chain_id NULL) or of another chain.
 * created_ms 0 means now; lifetime_ms 0 means CT_TX_LIFETIME_MS. The nonce
 * is taken from a process-wide counter. Caller frees out with cc_tx_free. */
int ct_tx_make(const ct_net *net, const uint8_t *chain_id, const cc_key *signer, const char *type,
               const char *payload, uint64_t created_ms, uint64_t lifetime_ms, cc_tx *out);
/* note.put {"kind":"doc","sha256": SHA-256 of (tag, n)} signed by signer. */
int ct_tx_note(const ct_net *net, const cc_key *signer, uint64_t n, cc_tx *out);
/* member.register {"id": hex pk, "role": role} signed by admin. */
int ct_tx_register(const ct_net *net, const cc_key *admin, const uint8_t pk[CC_PUBKEY_BYTES],
                   const char *role, cc_tx *out);
/* member.revoke {"id": hex pk} signed by admin. */
int ct_tx_revoke(const ct_net *net, const cc_key *admin, const uint8_t pk[CC_PUBKEY_BYTES], cc_tx *out);
/* Hex txid (65 bytes). Returns out. */
char *ct_txid_hex(const cc_tx *tx, char out[CC_HASH_HEX]);

/* ---- processes (ct_proc.c) --------------------------------------------------- */

/* The build directory (env BUILD, default "build") made absolute, and the
 * carechain binary in it. Static strings. */
const char *ct_build_dir(void);
const char *ct_carechain_bin(void);
/* The test-only node binary with fault hooks (Makefile: carechain-faults). */
const char *ct_carechain_faults_bin(void);

typedef struct ct_node {
    pid_t pid; /* 0 when not running */
    int port;
    char url[CT_URL_MAX];
    char *dir;        /* copied */
    char *log_path;   /* the node's stdout+stderr, in dir/../<name>.log */
    int exit_status;  /* last exit: code, or 128 + signal */
    const char *bin;  /* the binary to run; NULL: ct_carechain_bin() (not copied) */
    bool https;       /* its config.json has tls_cert/tls_key: url is https:// */
    const char *host; /* the IPv4 address it listens on and is reached at; NULL: 127.0.0.1 (not copied) */
} ct_node;

/* Spawn `carechain node --dir DIR --api HOST:PORT --quiet` (HOST n->host or 127.0.0.1; adding
 * --map-size and --map-size-max when map_size is not 0) and wait up to
 * timeout_ms for GET /v1/status to answer 200. 0 on success; on failure
 * the process is killed and its log printed on stderr. */
int ct_node_start(ct_node *n, const char *dir, int port, size_t map_size, size_t map_size_max,
                  unsigned timeout_ms);
/* Send sig and wait up to timeout_ms for the process to end (then SIGKILL).
 * Returns the exit code (128 + signal number when killed by one). */
int ct_node_stop(ct_node *n, int sig, unsigned timeout_ms);
/* Is the process still running (not exited, not a zombie)? */
bool ct_node_alive(ct_node *n);
/* Print the node's log on stderr (for a failing test). */
void ct_node_dump_log(const ct_node *n);
void ct_node_free(ct_node *n);

/* Run the carechain CLI with the NULL-terminated arguments after the
 * program name; *out (may be NULL) receives stdout and stderr together
 * (caller frees). Returns the exit code, or -1 when it could not run or was
 * killed after timeout_ms. */
int ct_cli(char **out, unsigned timeout_ms, ...) __attribute__((sentinel));
/* `carechain proof txid --out file --node url`, asked again every 200 ms
 * until it succeeds or timeout_ms pass: a node answers 404 until a
 * majority's signatures of a checkpoint covering the tx (and of every
 * membership step before it) have reached it. The last exit code; *out
 * (may be NULL) gets the last output (caller frees). */
int ct_cli_proof(char **out, unsigned timeout_ms, const char *url, const char *txid, const char *file);

/* ---- HTTP (ct_http.c) ------------------------------------------------------- */

typedef struct ct_resp {
    long status; /* 0 when there was no HTTP answer */
    char *body;  /* NUL-terminated; owned */
    size_t len;
    json_t *json; /* the body parsed, when it is JSON; owned */
    char curl_error[256];
} ct_resp;

void ct_resp_free(ct_resp *r);
/* error.code of a JSON error body, or "" when there is none. */
const char *ct_resp_error_code(const ct_resp *r);
/* error.message of a JSON error body, or "". */
const char *ct_resp_error_message(const ct_resp *r);
/* o[key] as a string, or "" when it is missing or not a string (o may be
 * NULL). Valid while o is. */
const char *ct_json_str(const json_t *o, const char *key);
/* o[key] as an integer, or -1 when it is missing or not an integer. */
int64_t ct_json_int(const json_t *o, const char *key);

/* A reusable connection (keep-alive); one per thread. */
typedef struct ct_http ct_http;
ct_http *ct_http_new(void);
void ct_http_free(ct_http *h);

/* One request. method is "GET" or "POST"; ctype NULL for none; timeout_ms 0
 * for 60 s. Returns 0 when an HTTP answer came back (r->status set), -1 on
 * a transport error (r->curl_error says which). r is always initialised. */
int ct_http_do(ct_http *h, const char *method, const char *url, const char *ctype, const void *body,
               size_t len, unsigned timeout_ms, ct_resp *r);
/* The same on a one-off connection. */
int ct_get(const char *url, ct_resp *r);
int ct_post(const char *url, const char *ctype, const void *body, size_t len, ct_resp *r);

/* POST a tx as application/octet-stream to base/v1/tx (?wait=commit). */
int ct_submit(ct_http *h, const char *base, const cc_tx *tx, bool wait_commit, ct_resp *r);
/* The octet-stream batch body for POST /v1/txs: (u32 BE length || tx)*.
 * Caller frees. */
uint8_t *ct_batch_body(const cc_tx *txs, size_t n, size_t *len);
/* Poll GET /v1/status until "height" >= height; 0 when it did in time. */
int ct_wait_height(const char *base, uint64_t height, unsigned timeout_ms);
/* GET /v1/status "height" (or -1). */
int64_t ct_status_height(const char *base);
/* The value of the sample named exactly name in GET base/metrics, or -1. */
long ct_metric(const char *base, const char *name);

/* ---- a loopback TCP proxy with links that can be cut (ct_proxy.c) ------------ */

/* One thread forwards every link; bounded buffers, so a stopped peer does not
 * stall the others. Freed (thread stopped, sockets closed) by ct_proxy_free. */
typedef struct ct_proxy ct_proxy;
ct_proxy *ct_proxy_new(void);
/* A link: listen on 127.0.0.1 (a port the kernel picks, in *listen_port) and
 * forward each connection to 127.0.0.1:target_port. Returns the link's
 * index, or -1 on error. */
int ct_proxy_add(ct_proxy *p, int target_port, int *listen_port);
/* Cut a link (its open connections are closed, new ones closed at once) or
 * restore it. Takes effect before it returns. */
void ct_proxy_set_cut(ct_proxy *p, int link_index, bool cut);
/* Count the occurrences of needle (1..64 bytes) in every byte that passes
 * from now on, either way, on every link; the watch's index, or -1. */
int ct_proxy_watch(ct_proxy *p, const void *needle, size_t len);
/* Occurrences of watch w so far. */
uint64_t ct_proxy_seen(ct_proxy *p, int w);
/* Bytes passed on every link so far. */
uint64_t ct_proxy_bytes(ct_proxy *p);
void ct_proxy_free(ct_proxy *p);

/* Raft traffic of a network routed through one proxy link per ordered pair
 * of nodes. A node binds its genesis raft address and peers dial what its
 * stored raft configuration says, so the mesh bootstraps each node's raft
 * directory (before its first start) with a configuration naming peer j at
 * port[i][j], the link from i to j. */
typedef struct ct_raft_mesh {
    ct_proxy *proxy;
    unsigned node_count;
    int link[CT_NET_NODES_MAX][CT_NET_NODES_MAX]; /* link index i -> j; -1 on the diagonal */
    int port[CT_NET_NODES_MAX][CT_NET_NODES_MAX]; /* its listening port */
} ct_raft_mesh;

/* Make the links and bootstrap every node's raft directory. Call after
 * ct_net_create_nodes and before the nodes start. 0 on success. */
int ct_raft_mesh_create(ct_raft_mesh *m, const ct_net *net);
/* Bootstrap node's (empty) raft directory again, e.g. after it was wiped. */
int ct_raft_mesh_bootstrap(const ct_raft_mesh *m, const ct_net *net, unsigned node);
/* Cut (or restore) every link to and from node. */
void ct_raft_mesh_isolate(ct_raft_mesh *m, unsigned node, bool cut);
void ct_raft_mesh_destroy(ct_raft_mesh *m);

/* ---- a raft port, knocked on (ct_raftport.c) --------------------------------- */

/* Connect to 127.0.0.1:port, the node of raft id target, as raft id id
 * from address and answer the node's hello with key (src/node/raft_auth.c).
 * key NULL sends no answer but a message libraft 0.15 crashed on. 1 when
 * the node admitted the connection (and its admit verifies), 0 when it did
 * not, -1 when nothing listens there. */
int ct_raft_knock(int port, const uint8_t chain_id[CC_HASH_BYTES], uint64_t id, uint64_t target,
                  const char *address, const cc_key *key);
/* The same, and once admitted, send that message in the clear where a
 * frame is due: 1 when the node then closed the connection without a byte
 * in answer (within 5 s). */
int ct_raft_knock_inject(int port, const uint8_t chain_id[CC_HASH_BYTES], uint64_t id, uint64_t target,
                         const char *address, const cc_key *key);

/* ---- nodes governance adds (ct_join.c) ------------------------------------------ */

/* A node the genesis does not list, in a directory under the network's. */
typedef struct ct_joiner {
    char name[16];
    char *dir, *key_path;
    int api, raft; /* free ports: its API and raft addresses on 127.0.0.1 */
    cc_key key;    /* ct_key(name) */
    char hex[CC_HASH_HEX];
} ct_joiner;

/* The directory of node `name` under net's: the genesis, its node.key and
 * two free ports. 0 on success; free j with ct_joiner_free either way. */
int ct_joiner_prepare(const ct_net *net, const char *name, ct_joiner *j);
/* Its config.json for joining: name, addresses, and "peers" (peers_json: a
 * JSON array of the API addresses it asks). 0 on success. */
int ct_joiner_config(const ct_joiner *j, const char *peers_json);
void ct_joiner_free(ct_joiner *j);
/* Write k to path as a key file (mode 0600). 0 on success. */
int ct_key_save(const char *path, const cc_key *k);
/* The txid on the "proposal <txid>" line that `carechain network
 * propose-*` prints; false when there is none. */
bool ct_proposal_of(const char *out, char txid[CC_HASH_HEX]);

/* ---- test hosts in network namespaces (ct_netns.c) ------------------------------ */

/* One network namespace per node, joined by veth pairs to a bridge in the
 * test's namespace: node i listens at host[i], and the test reaches it
 * there. Root only. */
typedef struct ct_netns {
    unsigned count;
    char prefix[16];                 /* "cc<pid>": the bridge <prefix>b, namespaces <prefix>n<i> */
    unsigned subnet;                 /* 10.213.<subnet>.0/24 */
    char host[CT_NET_NODES_MAX][16]; /* node i's address */
    char *wrapper[CT_NET_NODES_MAX]; /* a script that runs carechain in namespace i (ct_node.bin) */
    bool made;                       /* the bridge exists: destroy removes it */
} ct_netns;

/* Make count namespaces, their links and their wrapper scripts (in dir). 0
 * on success; otherwise why says what is missing (not root, no bridges) and
 * ct_netns_destroy removes what was made. */
int ct_netns_create(ct_netns *m, unsigned count, const char *dir, char *why, size_t why_len);
/* Drop every packet between node and the other nodes, silently, both ways
 * (the test still reaches every node); cut false delivers them again. 0 on
 * success. */
int ct_netns_isolate(ct_netns *m, unsigned node, bool cut);
void ct_netns_destroy(ct_netns *m);
/* Make net's nodes listen and be reached at hosts[i] (API and raft, in the
 * genesis, which gets a new chain id, and in each config.json). Before any
 * node starts. 0 on success. */
int ct_net_use_hosts(ct_net *net, const char (*hosts)[16]);

/* ---- a network of node processes polled as one (ct_cluster.c) ------------------- */

#define CT_CLUSTER_POLL_MS 20 /* default pause between two polls */

/* The nodes of a ct_net as processes, and what a test asks of all of them
 * at once: who leads, whether they hold the same chain. A node "left out"
 * (not started yet, stopped, killed, SIGSTOPped or cut off) is skipped by
 * the leader and convergence polls; the test says so in out[]. Every wait
 * polls with a deadline and, when it gives up, prints on stderr what each
 * node answered. Nodes are named node1..nodeN after their index + 1. */
typedef struct ct_cluster {
    ct_net net;
    unsigned count;                 /* node slots: net's nodes, then nodes the test adds itself */
    ct_node node[CT_NET_NODES_MAX]; /* node[i] runs net.node_dirs[i] for i < net.node_count */
    bool out[CT_NET_NODES_MAX];     /* left out of the polls; true until the node starts */
    unsigned status_timeout_ms;     /* one GET /v1/status; 0 (the default) for ct_http_do's */
    unsigned poll_ms;               /* CT_CLUSTER_POLL_MS unless the test changes it */
} ct_cluster;

/* A network of nodes (1..slots) nodes made by ct_net_create_nodes, with
 * slots (<= CT_NET_NODES_MAX) node slots: those past the network's nodes
 * are for nodes the test makes and starts itself, and stay left out until
 * it clears out[i]. Nothing runs yet. 0 on success. */
int ct_cluster_create(ct_cluster *c, const char *tag, unsigned nodes, unsigned slots);
/* ct_cluster_create (nodes nodes, as many slots) with status_ms as the
 * cluster's status_timeout_ms, and every node's raft traffic through m
 * (ct_raft_mesh_create). A test may still change the nodes' config.json
 * before ct_cluster_start. 0 on success; on failure says why on stderr. */
int ct_cluster_create_meshed(ct_cluster *c, ct_raft_mesh *m, const char *tag, unsigned nodes,
                             unsigned status_ms);
/* Start every node of the network (each must answer within start_ms) and
 * wait up to leader_ms for them to agree on a leader (ct_cluster_wait_leader)
 * and, as long again, for none to be rejoining (GET /v1/status
 * "raft_rejoining").
 * 0 on success; on failure says why on stderr, with the nodes' logs. */
int ct_cluster_start(ct_cluster *c, unsigned start_ms, unsigned leader_ms);
/* Start (or restart) network node i in its directory; it is no longer left
 * out. ct_node_start's result. */
int ct_cluster_start_node(ct_cluster *c, int i, unsigned timeout_ms);
/* ct_node_stop node i and leave it out. Its exit code (128 + signal). */
int ct_cluster_stop_node(ct_cluster *c, int i, int sig, unsigned timeout_ms);
/* Stop node i with SIGTERM when it runs (it must exit 0 within stop_ms),
 * and start it again (within start_ms) with its wall clock clock_off_ms
 * off the machine's: the test-only binary with
 * CARECHAIN_TEST_CLOCK_OFFSET_MS (src/store/os.c), or for 0 the normal
 * binary. 0 on success; on failure says why on stderr. */
int ct_cluster_restart_clocked(ct_cluster *c, int i, int clock_off_ms, unsigned stop_ms, unsigned start_ms);
/* Stop every node not left out with sig. The number that did not exit 0
 * (each named on stderr). */
int ct_cluster_stop_all(ct_cluster *c, int sig, unsigned timeout_ms);
/* Kill what still runs (continuing SIGSTOPped nodes first), free the nodes
 * and destroy the network. */
void ct_cluster_destroy(ct_cluster *c);
/* ct_cluster_destroy, then ct_raft_mesh_destroy. */
void ct_cluster_destroy_meshed(ct_cluster *c, ct_raft_mesh *m);

/* GET /v1/status of node i: the JSON body on 200, NULL otherwise. Caller
 * decrefs. */
json_t *ct_cluster_status(const ct_cluster *c, int i);
/* The index of the node that every node not left out names as leader,
 * when they agree and that node says it leads; -1 otherwise (one poll,
 * nothing printed). */
int ct_cluster_leader_now(const ct_cluster *c);
/* ct_cluster_leader_now, polled until it names one; -1 after timeout_ms
 * (saying on stderr what each node answered). */
int ct_cluster_wait_leader(const ct_cluster *c, unsigned timeout_ms);
/* Does node i say it is rejoining (GET /v1/status "raft_rejoining"), or
 * not answer? */
bool ct_cluster_rejoining(const ct_cluster *c, int i);
/* The first of nodes 0..among-1 not left out that says it leads (the others
 * are not asked to agree); -1 after timeout_ms. */
int ct_cluster_wait_any_leader(const ct_cluster *c, unsigned among, unsigned timeout_ms);
/* The first node that is not leader and not left out, or -1. */
int ct_cluster_follower(const ct_cluster *c, int leader);
/* Wait until every node not left out reports the same height (>= min_height),
 * head hash and state root. On true *out (may be NULL) gets the first such
 * node's status (caller decrefs). */
bool ct_cluster_wait_converged(const ct_cluster *c, int64_t min_height, json_t **out, unsigned timeout_ms);
/* One line per node on stderr: role, height, head, term, leader. */
void ct_cluster_print_status(const ct_cluster *c);
/* Every started node's log on stderr (for a failing test). */
void ct_cluster_dump_logs(const ct_cluster *c);
/* Sign a new note.put (the nonce is ++*nonce) and submit it to node i with
 * ?wait=commit (timeout_ms for the request; 0 = the HTTP default). Returns
 * the height it committed at, or -1 after printing the answer, the
 * cluster's status and the node logs on stderr. txid (may be NULL) gets
 * the tx's id. */
int64_t ct_cluster_commit_note(ct_cluster *c, int i, uint64_t *nonce, unsigned timeout_ms,
                               char txid[CC_HASH_HEX]);
/* `carechain verify-chain --dir` on every network node's directory (the
 * nodes should be stopped). The number that failed (each output printed). */
int ct_cluster_verify_chains(const ct_cluster *c, unsigned timeout_ms);
/* GET path of node i within timeout_ms: the JSON body on 200, else NULL
 * (caller decrefs). */
json_t *ct_cluster_get_json(const ct_cluster *c, int i, const char *path, unsigned timeout_ms);
/* Read blocks 1..height from node i and count, per txid, the blocks whose
 * result for it is "ok". The number of txids committed ok more than once
 * (each printed on stderr), or -1 when a block could not be read. */
int ct_cluster_double_commits(const ct_cluster *c, int i, int64_t height);
/* Is txid committed on node i (GET /v1/tx/{txid} within timeout_ms)? */
bool ct_cluster_committed(const ct_cluster *c, int i, const char *txid, unsigned timeout_ms);

/* A client load that retries: a thread signs new notes (net's admin, nonces
 * from first_nonce) and sends each with ?wait=commit to first_node; on any
 * answer but "committed" it sends the same tx to the next node, and the
 * next, up to attempts times (a "duplicate" after an earlier attempt means
 * that attempt got it in: not acknowledged, not retried). What a client of
 * the issue does when a node dies under it. */
#define CT_LOAD_TXS_MAX 4096

typedef struct ct_load_tx {
    char txid[CC_HASH_HEX];
    bool acked; /* answered 200 "committed" */
} ct_load_tx;

typedef struct ct_load {
    /* set before ct_load_start */
    ct_cluster *cl;
    int first_node;
    uint64_t first_nonce;
    unsigned attempts; /* per tx */
    unsigned http_ms;  /* per attempt */
    unsigned pause_ms; /* between two txs */
    /* the thread's */
    atomic_bool stop;
    ct_load_tx txs[CT_LOAD_TXS_MAX];
    size_t count;        /* read once the thread is joined, */
    atomic_size_t acked; /* except acked: also while it runs */
    size_t retries, gave_up;
    pthread_t thread;
} ct_load;

/* Start l's thread. 0 on success. */
int ct_load_start(ct_load *l);
/* Tell it to stop after the tx in hand, and join it. */
void ct_load_stop(ct_load *l);
/* The acknowledged txs of l that node i does not hold committed (each named
 * on stderr); a node that does not answer holds none. */
size_t ct_load_missing(const ct_load *l, int i, unsigned timeout_ms);

#endif
