/*
 * carechain.h — the public core API: errors, keys, transactions, blocks,
 * Merkle trees, proofs and the genesis document.
 *
 * Everything declared here is pure: no disk, network, clock or randomness.
 * Those reach the core through arguments (a seed, a time, a node source).
 * The byte layouts are specified in docs/PROTOCOL.md.
 */
#ifndef CARECHAIN_H
#define CARECHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CC_WUR __attribute__((warn_unused_result))

/* ---- sizes ------------------------------------------------------------ */

/* The build's version. 0.2.0: raft links are encrypted, and 0.1.x nodes
 * cannot join the raft of a 0.2 network (docs/CONSENSUS.md). */
#define CC_VERSION "0.2.0"

#define CC_HASH_BYTES   32
#define CC_HASH_HEX     65 /* 64 hex digits and a NUL */
#define CC_PUBKEY_BYTES 32
#define CC_SECKEY_BYTES 64 /* libsodium form: seed || public key */
#define CC_SEED_BYTES   32
#define CC_SIG_BYTES    64

#define CC_TX_VERSION     1
#define CC_TX_TYPE_MAX    64            /* bytes in a tx type name */
#define CC_PAYLOAD_MAX    (64 * 1024)   /* bytes of payload JSON */
#define CC_ATTACHMENT_MAX (1024 * 1024) /* bytes of one attachment */
#define CC_TX_MAX_BYTES   (1 + 32 + 1 + CC_TX_TYPE_MAX + 32 + 24 + 4 + CC_PAYLOAD_MAX + 1 + 4 + 32 + 64)
#define CC_RESULT_MSG_MAX 200 /* bytes of a tx result message */

#define CC_TX_PAST_WINDOW_MS  (5 * 60 * 1000)    /* block time may precede created by this */
#define CC_TX_MAX_LIFETIME_MS (24 * 3600 * 1000) /* expiry - created */

#define CC_BLOCK_VERSION     1
#define CC_HEADER_BYTES      (1 + 32 + 8 + 32 + 8 + 4 + 4 * 32 + 32 + 64)
#define CC_BLOCK_MAX_TXS     2000
#define CC_BLOCK_MAX_BYTES   (4 * 1024 * 1024)
#define CC_BLOCK_RANGE_MAX   256               /* blocks in one GET /v1/blocks/raw answer */
#define CC_BLOCK_RANGE_BYTES (8 * 1024 * 1024) /* its bytes, past the first block */

#define CC_MERKLE_PATH_MAX 64 /* hashes in an audit path of any tree */

/* ---- errors ------------------------------------------------------------- */

/* One enum for every layer. Codes are stable: they appear in tx results. */
typedef enum cc_err {
    CC_OK = 0,
    CC_ERR_NOMEM,           /* out of memory */
    CC_ERR_MALFORMED,       /* bytes or JSON that do not parse */
    CC_ERR_TOO_LARGE,       /* over a size limit */
    CC_ERR_VERSION,         /* unknown format version */
    CC_ERR_SIGNATURE,       /* signature does not verify */
    CC_ERR_CHAIN_ID,        /* tx or block of another chain */
    CC_ERR_EXPIRED,         /* block time after tx expiry */
    CC_ERR_FUTURE,          /* tx created too far after block time */
    CC_ERR_LIFETIME,        /* expiry before created or more than 24 h after */
    CC_ERR_UNKNOWN_SIGNER,  /* signer is not a registered identity */
    CC_ERR_REVOKED,         /* signer was revoked */
    CC_ERR_FORBIDDEN,       /* signer's role may not do this */
    CC_ERR_UNKNOWN_TYPE,    /* no handler for this tx type */
    CC_ERR_DUPLICATE,       /* txid already committed or queued */
    CC_ERR_NOT_FOUND,       /* no such object */
    CC_ERR_CONFLICT,        /* state forbids it (already exists, wrong state) */
    CC_ERR_INVALID,         /* well-formed but breaks a rule of its type */
    CC_ERR_ATTACHMENT,      /* attachment missing or its hash does not match */
    CC_ERR_IO,              /* disk or system call failed */
    CC_ERR_STORE_FULL,      /* LMDB map full and may not grow */
    CC_ERR_BUSY,            /* mempool or queue full; retry later */
    CC_ERR_TIMEOUT,         /* waited too long */
    CC_ERR_UNREACHABLE,     /* node cannot be reached */
    CC_ERR_VERIFY,          /* proof or chain verification failed */
    CC_ERR_USAGE,           /* bad command-line or API usage */
    CC_ERR_CORRUPT,         /* stored data is inconsistent */
    CC_ERR_UNAUTHENTICATED, /* a request's signature is missing, bad, stale or replayed */
    CC_ERR_GONE,            /* the object existed but was erased */
    CC_ERR__COUNT
} cc_err;

/* Human sentence for an error ("signature does not verify"). Never NULL. */
const char *cc_strerror(cc_err e);
/* Stable snake_case name ("signature"), used as the JSON error code. */
const char *cc_err_name(cc_err e);

/* A human message that says why something failed. Functions that take a
 * cc_errbuf * fill it on error; NULL means the caller does not care. */
typedef struct cc_errbuf {
    char msg[256];
} cc_errbuf;

/* printf into eb (when eb is not NULL) and return e. */
cc_err cc_errf(cc_errbuf *eb, cc_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- bytes -------------------------------------------------------------- */

/* Lowercase hex of n bytes into out (2n+1 bytes). Returns out. */
char *cc_hex(const uint8_t *bin, size_t n, char *out);
/* Parse exactly n bytes of hex (2n digits, either case). */
cc_err cc_unhex(const char *hex, uint8_t *bin, size_t n) CC_WUR;
/* SHA-256 of data (libcrypto: the CPU's SHA extensions where it has them). */
void cc_sha256(const uint8_t *data, size_t len, uint8_t out[CC_HASH_BYTES]);
/* SHA-256 of the concatenation of n byte ranges. */
typedef struct cc_span {
    const uint8_t *data;
    size_t len;
} cc_span;
void cc_sha256_parts(const cc_span *parts, size_t n, uint8_t out[CC_HASH_BYTES]);
/* Standard base64 (with padding). Caller frees with free(). NULL on OOM. */
char *cc_base64(const uint8_t *bin, size_t n);
/* Decode standard base64; caller frees *out with free(). */
cc_err cc_unbase64(const char *b64, uint8_t **out, size_t *n) CC_WUR;

/* ---- JSON --------------------------------------------------------------- */

/* Parse JSON strictly: duplicate keys, invalid UTF-8 and trailing data are
 * errors. Caller owns the result (json_decref). */
json_t *cc_json_parse(const uint8_t *buf, size_t len, cc_errbuf *eb);
/* Canonical payload form: a JSON object, compact, keys sorted bytewise,
 * no real numbers (money is integer cents). *out is malloc'd,
 * NUL-terminated; caller frees with free(). */
cc_err cc_json_canonical(const uint8_t *buf, size_t len, char **out, size_t *out_len, cc_errbuf *eb) CC_WUR;
/* The same, also handing back the parsed object (*parsed, caller decrefs)
 * so that callers need not parse the payload again. It is parsed from the
 * canonical text: its keys iterate in the order they have there. */
cc_err cc_json_canonical_parse(const uint8_t *buf, size_t len, char **out, size_t *out_len, json_t **parsed,
                               cc_errbuf *eb) CC_WUR;
/* Check that buf is exactly the canonical form of a payload (as
 * cc_json_canonical would write it) without writing that form: the dump is
 * compared with buf as it is produced. *parsed (when not NULL) gets the
 * parsed object; caller decrefs. CC_ERR_MALFORMED when buf is not JSON, not
 * an object, holds a real number or is not canonical; CC_ERR_NOMEM. */
cc_err cc_json_canonical_check(const uint8_t *buf, size_t len, json_t **parsed, cc_errbuf *eb) CC_WUR;
/* Dump a JSON value in canonical form (compact, sorted). Caller frees. */
char *cc_json_dump(const json_t *v);
/* True when the canonical dump of the JSON string s is s itself between
 * quotes: s is printable ASCII without '"' or '\\' (conservative: any other
 * byte, even one jansson would keep as is, answers false). For writers that
 * format canonical JSON directly on their fast path. */
bool cc_json_str_plain(const char *s);

/* ---- keys --------------------------------------------------------------- */

typedef struct cc_key {
    uint8_t pk[CC_PUBKEY_BYTES];
    uint8_t sk[CC_SECKEY_BYTES];
} cc_key;

/* Derive a key pair from a 32-byte seed (the caller supplies randomness). */
void cc_key_from_seed(const uint8_t seed[CC_SEED_BYTES], cc_key *k);
/* Wipe a key's secret. */
void cc_key_wipe(cc_key *k);
/* Key file JSON: {"type":"ed25519","id":hex pk,"secret":hex seed, ...}.
 * extra (may be NULL) is merged in (name, role, org). Caller frees. */
char *cc_key_to_json(const cc_key *k, const json_t *extra);
/* Parse a key file; *extra (when not NULL) receives the whole object
 * (caller decrefs). Checks that the secret matches the id. */
cc_err cc_key_from_json(const uint8_t *buf, size_t len, cc_key *k, json_t **extra, cc_errbuf *eb) CC_WUR;

/* ---- transactions --------------------------------------------------------- */

typedef struct cc_tx {
    uint8_t version;
    uint8_t chain_id[CC_HASH_BYTES];
    char type[CC_TX_TYPE_MAX + 1];
    uint8_t signer[CC_PUBKEY_BYTES];
    uint64_t created_ms;
    uint64_t expiry_ms;
    uint64_t nonce;
    char *payload; /* owned, NUL-terminated canonical JSON object */
    uint32_t payload_len;
    bool has_attachment;
    uint32_t attachment_len;
    uint8_t attachment_hash[CC_HASH_BYTES];
    uint8_t sig[CC_SIG_BYTES];

    /* derived by decode / create */
    uint8_t txid[CC_HASH_BYTES]; /* SHA-256 of raw */
    uint8_t *raw;                /* owned: the signed encoding */
    uint32_t raw_len;
    bool sig_checked;     /* this process verified sig (admission pool) */
    bool payload_checked; /* this process ran the type's payload rules */
    uint8_t *attachment;  /* owned bytes when this process has them, else NULL */
    json_t *json;         /* owned parsed payload (a reference), or NULL */
} cc_tx;

typedef struct cc_tx_params {
    const uint8_t *chain_id; /* CC_HASH_BYTES */
    const char *type;
    const char *payload; /* any JSON object text; canonicalised */
    size_t payload_len;
    uint64_t created_ms;
    uint64_t expiry_ms;
    uint64_t nonce;
    const uint8_t *attachment; /* NULL for none */
    size_t attachment_len;
} cc_tx_params;

/* Build and sign a tx. out is filled (caller frees with cc_tx_free). */
cc_err cc_tx_create(const cc_tx_params *p, const cc_key *key, cc_tx *out, cc_errbuf *eb) CC_WUR;
/* Decode exactly one tx from buf (no trailing bytes). Does not verify the
 * signature. On success the caller frees with cc_tx_free. */
cc_err cc_tx_decode(const uint8_t *buf, size_t len, cc_tx *out, cc_errbuf *eb) CC_WUR;
/* Length of the tx encoding that starts buf, read from its length fields
 * (no other checks): lets a caller split "tx || attachment". false when buf
 * is too short to hold one. */
bool cc_tx_encoded_len(const uint8_t *buf, size_t len, size_t *out);
/* Verify the Ed25519 signature over the signed part. */
bool cc_tx_verify_sig(const cc_tx *tx) CC_WUR;
/* Release what a tx owns; safe on a zeroed tx. */
void cc_tx_free(cc_tx *tx);
/* Deep copy (caller frees dst with cc_tx_free). */
cc_err cc_tx_copy(cc_tx *dst, const cc_tx *src) CC_WUR;
/* Check the tx type name syntax: 1..64 of [a-z0-9._-], starting a-z. */
bool cc_tx_type_valid(const char *type);

/* ---- results -------------------------------------------------------------- */

typedef struct cc_result {
    uint16_t code; /* cc_err; CC_OK for success */
    char message[CC_RESULT_MSG_MAX + 1];
} cc_result;

/* Merkle leaf hash of a tx result: H(0x00 || txid || u16 code || u16 n || msg). */
void cc_result_leaf(const uint8_t txid[CC_HASH_BYTES], const cc_result *r, uint8_t out[CC_HASH_BYTES]);

/* ---- blocks ---------------------------------------------------------------- */

typedef struct cc_header {
    uint8_t version;
    uint8_t chain_id[CC_HASH_BYTES];
    uint64_t height;
    uint8_t prev_hash[CC_HASH_BYTES];
    uint64_t time_ms;
    uint32_t tx_count;
    uint8_t tx_root[CC_HASH_BYTES];
    uint8_t results_root[CC_HASH_BYTES];
    uint8_t state_root[CC_HASH_BYTES];
    uint8_t blocks_root[CC_HASH_BYTES]; /* history root over block hashes 0..height-1 */
    uint8_t proposer[CC_PUBKEY_BYTES];
    uint8_t sig[CC_SIG_BYTES];
} cc_header;

void cc_header_encode(const cc_header *h, uint8_t out[CC_HEADER_BYTES]);
cc_err cc_header_decode(const uint8_t *buf, size_t len, cc_header *h, cc_errbuf *eb) CC_WUR;
/* Block hash: SHA-256 of the header without its signature. */
void cc_header_hash(const cc_header *h, uint8_t out[CC_HASH_BYTES]);
/* Sign the header's hash; sets proposer to key->pk. */
void cc_header_sign(cc_header *h, const cc_key *key);
bool cc_header_verify_sig(const cc_header *h) CC_WUR;

typedef struct cc_block {
    cc_header h;
    cc_tx *txs; /* owned array of tx_count txs */
    size_t tx_count;
} cc_block;

/* header || u32 count || (u32 len || tx)*; caller frees *out with free(). */
cc_err cc_block_encode(const cc_block *b, uint8_t **out, size_t *len) CC_WUR;
/* Decode a block and its txs (signatures are not verified). */
cc_err cc_block_decode(const uint8_t *buf, size_t len, cc_block *b, cc_errbuf *eb) CC_WUR;
void cc_block_free(cc_block *b);
/* The txids of an encoded block's txs, in order, without decoding the txs
 * (only the block's framing is read): *out gets a malloc'd array of *n
 * hashes. CC_ERR_MALFORMED when the framing is broken. */
cc_err cc_block_txids(const uint8_t *buf, size_t len, uint8_t (**out)[CC_HASH_BYTES], size_t *n) CC_WUR;
/* The txid of tx number index of an encoded block; CC_ERR_NOT_FOUND past
 * its last tx. */
cc_err cc_block_txid_at(const uint8_t *buf, size_t len, uint32_t index, uint8_t out[CC_HASH_BYTES]) CC_WUR;
/* Merkle root over the txids of txs (leaf = H(0x00 || txid)). */
void cc_block_tx_root(const cc_tx *txs, size_t n, uint8_t out[CC_HASH_BYTES]);

/* ---- Merkle trees (RFC 6962 / 9162 shape) --------------------------------- */

/* leaf = SHA-256(0x00 || data); node = SHA-256(0x01 || left || right);
 * the empty tree hashes to SHA-256(""). */
void cc_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[CC_HASH_BYTES]);
void cc_merkle_node(const uint8_t left[CC_HASH_BYTES], const uint8_t right[CC_HASH_BYTES],
                    uint8_t out[CC_HASH_BYTES]);

/* A source of perfect-subtree hashes: get(level, index) returns the hash of
 * the subtree over leaves [index << level, (index + 1) << level). Lets the
 * same code serve an in-memory array and the block history kept on disk. */
typedef struct cc_merkle_source {
    void *ctx;
    cc_err (*get)(void *ctx, unsigned level, uint64_t index, uint8_t out[CC_HASH_BYTES]);
} cc_merkle_source;

/* Root of the tree of size leaves. */
cc_err cc_merkle_root_src(const cc_merkle_source *src, uint64_t size, uint8_t out[CC_HASH_BYTES]);
/* Audit path of leaf index in a tree of size leaves (leaf's sibling first). */
cc_err cc_merkle_path_src(const cc_merkle_source *src, uint64_t size, uint64_t index,
                          uint8_t path[][CC_HASH_BYTES], size_t *path_len);

/* The same over an array of leaf hashes held in memory. */
void cc_merkle_root(const uint8_t (*leaves)[CC_HASH_BYTES], size_t n, uint8_t out[CC_HASH_BYTES]);
cc_err cc_merkle_path(const uint8_t (*leaves)[CC_HASH_BYTES], size_t n, size_t index,
                      uint8_t path[][CC_HASH_BYTES], size_t *path_len);

/* Check an audit path (RFC 9162 2.1.3.2). */
bool cc_merkle_verify(const uint8_t leaf[CC_HASH_BYTES], uint64_t index, uint64_t size,
                      const uint8_t path[][CC_HASH_BYTES], size_t path_len,
                      const uint8_t root[CC_HASH_BYTES]) CC_WUR;

/* After appending leaf number index (0-based) to an append-only tree, the
 * perfect subtrees it completes: calls put(level, index, hash) for each,
 * starting with the leaf itself at level 0. get must return earlier nodes. */
cc_err cc_merkle_append(const cc_merkle_source *src, uint64_t index, const uint8_t leaf[CC_HASH_BYTES],
                        cc_err (*put)(void *ctx, unsigned level, uint64_t index,
                                      const uint8_t h[CC_HASH_BYTES]),
                        void *put_ctx);

/* ---- state commitment ------------------------------------------------------ */

/* The state root is a homomorphic multiset hash (LtHash, 1024 lanes of
 * 16 bits) over every (key, value) pair in the state, so a block updates it
 * in O(writes). See docs/PROTOCOL.md "State root". */
#define CC_LTHASH_BYTES 2048

typedef struct cc_lthash {
    uint16_t lane[CC_LTHASH_BYTES / 2];
} cc_lthash;

void cc_lthash_add(cc_lthash *acc, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
void cc_lthash_sub(cc_lthash *acc, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
/* root = SHA-256("carechain/state/v1" || lanes little-endian) */
void cc_lthash_root(const cc_lthash *acc, uint8_t out[CC_HASH_BYTES]);
void cc_lthash_encode(const cc_lthash *acc, uint8_t out[CC_LTHASH_BYTES]);
void cc_lthash_decode(const uint8_t in[CC_LTHASH_BYTES], cc_lthash *acc);

/* ---- checkpoints ----------------------------------------------------------- */

/* A node's signature that (height, block hash, state root) is the chain,
 * and that the nodes named by the members hash are its consensus nodes
 * after that block. */
typedef struct cc_checkpoint_sig {
    uint8_t node[CC_PUBKEY_BYTES];
    uint8_t sig[CC_SIG_BYTES];
} cc_checkpoint_sig;

#define CC_MEMBERS_MAX 64 /* consensus nodes of one network */

/* The hash of a set of consensus nodes, their keys in ascending byte order:
 * SHA-256("carechain/members/v1" || u32 n || key_1 || ... || key_n). */
void cc_members_hash(const uint8_t (*keys)[CC_PUBKEY_BYTES], size_t n, uint8_t out[CC_HASH_BYTES]);

/* A set of consensus nodes: their keys, ascending, and its hash. */
typedef struct cc_members {
    size_t count;
    uint8_t key[CC_MEMBERS_MAX][CC_PUBKEY_BYTES];
    uint8_t hash[CC_HASH_BYTES];
} cc_members;

/* Fill m with n keys given in any order: 1..CC_MEMBERS_MAX keys, no key
 * twice (CC_ERR_MALFORMED otherwise). */
cc_err cc_members_set(cc_members *m, const uint8_t (*keys)[CC_PUBKEY_BYTES], size_t n) CC_WUR;
/* Position of pk in m, or -1. */
int cc_members_index(const cc_members *m, const uint8_t pk[CC_PUBKEY_BYTES]);

/* The signed message: "carechain/checkpoint/v2" || chain id || u64 height ||
 * block hash || state root || members hash. */
void cc_checkpoint_sign(const cc_header *h, const uint8_t members[CC_HASH_BYTES], const cc_key *node_key,
                        cc_checkpoint_sig *out);
bool cc_checkpoint_verify(const cc_header *h, const uint8_t members[CC_HASH_BYTES],
                          const cc_checkpoint_sig *s) CC_WUR;
/* A signature of the format-1 checkpoint message, which named no nodes:
 * "carechain/checkpoint/v1" || chain id || u64 height || block hash ||
 * state root. Nodes sign v2 only; verifiers accept v1 in format-1 proofs,
 * signed by the genesis nodes. */
bool cc_checkpoint_verify_v1(const cc_header *h, const cc_checkpoint_sig *s) CC_WUR;

/* ---- genesis --------------------------------------------------------------- */

typedef struct cc_genesis_org {
    char id[64];
    char name[128];
    char kind[32]; /* hospital, payer, manufacturer, ... */
} cc_genesis_org;

typedef struct cc_genesis_node {
    char name[64];
    uint8_t pk[CC_PUBKEY_BYTES];
    char org[64];
    char api[64];  /* host:port */
    char raft[64]; /* host:port */
} cc_genesis_node;

typedef struct cc_genesis_identity {
    uint8_t pk[CC_PUBKEY_BYTES];
    char role[16];
    char org[64];
    char name[64];
} cc_genesis_identity;

/* Rulesets: the rules by which blocks execute. A chain starts on its
 * genesis's "ruleset" (1 when the genesis names none) and moves to a later
 * one by governance, from a height the organisations agree on
 * (network.propose "upgrade"; docs/OPERATIONS.md "Upgrading carechain"). This build
 * executes every ruleset from 1 to CC_RULESET_CURRENT:
 *   1  the rules of the last build before rulesets (a89fe3f, 2026-11-28),
 *      result messages included, which also takes upgrade proposals
 *   2  network.propose checks the action first and names all three
 * Every change to what a block computes (a check, a state write, a result
 * message: the results root commits to the messages) goes into a new
 * ruleset, with the old behaviour kept for the old ones. */
#define CC_RULESET_CURRENT 2
#define CC_RULESET_MAX     1000000 /* the largest ruleset number a chain may name */

typedef struct cc_genesis {
    uint8_t chain_id[CC_HASH_BYTES]; /* SHA-256 of the file's bytes */
    char chain_name[64];
    uint64_t time_ms;
    uint32_t ruleset; /* the ruleset of block 1: "ruleset", or 1 when absent (any, known or not) */
    cc_genesis_org *orgs;
    size_t org_count;
    cc_genesis_node *nodes;
    size_t node_count;
    cc_genesis_identity *identities;
    size_t identity_count;
} cc_genesis;

#define CC_GENESIS_MAX_BYTES (16u * 1024 * 1024) /* the largest genesis.json anything reads */

/* Parse genesis.json bytes (schema in docs/PROTOCOL.md). Caller frees with
 * cc_genesis_free. */
cc_err cc_genesis_parse(const uint8_t *buf, size_t len, cc_genesis *g, cc_errbuf *eb) CC_WUR;
void cc_genesis_free(cc_genesis *g);
/* Index of the node with public key pk, or -1. */
int cc_genesis_node_index(const cc_genesis *g, const uint8_t pk[CC_PUBKEY_BYTES]);
/* Whether addr is a raft address libraft can use: "a.b.c.d:port", port
 * 1..65535. libraft 0.15's TCP transport dials and binds IPv4 literals
 * only (uv_ip4_addr): a host name or an IPv6 address never connects. The
 * genesis parser leaves addresses alone (a node's parse of its genesis is
 * a rule of the chain); the tools and the node check them with this. */
bool cc_raft_addr_ok(const char *addr);
/* Whether addr can be a node's "api" in a genesis or a proposal:
 * "host:port" (host a name, an IPv4 address or [IPv6]), or
 * "https://host:port" for a node that serves HTTPS ("http://" is the
 * default), port 1..65535, and the whole shorter than the genesis field. */
bool cc_api_addr_ok(const char *addr);
/* The genesis nodes as a set (the consensus nodes at height 0). */
void cc_genesis_members(const cc_genesis *g, cc_members *m);

/* ---- roles ----------------------------------------------------------------- */

typedef enum cc_role {
    CC_ROLE_ADMIN = 1u << 0,
    CC_ROLE_CLINICIAN = 1u << 1,
    CC_ROLE_PATIENT = 1u << 2,
    CC_ROLE_PAYER = 1u << 3,
    CC_ROLE_MANUFACTURER = 1u << 4,
    CC_ROLE_DISTRIBUTOR = 1u << 5,
    CC_ROLE_PHARMACY = 1u << 6,
    CC_ROLE_SPONSOR = 1u << 7,
    CC_ROLE_RESEARCHER = 1u << 8,
    CC_ROLE_REGULATOR = 1u << 9,
    CC_ROLE_AUDITOR = 1u << 10,
    CC_ROLE_NODE = 1u << 11, /* a consensus node's own key */
} cc_role;

#define CC_ROLES_PEOPLE 0x7ffu /* every role but node */
#define CC_ROLES_ALL    0xfffu

/* "admin" -> CC_ROLE_ADMIN; 0 for an unknown name. */
unsigned cc_role_parse(const char *name);
/* CC_ROLE_ADMIN -> "admin"; "?" for anything that is not one role. */
const char *cc_role_name(unsigned role);

/* ---- proofs ---------------------------------------------------------------- */

/* A self-contained proof that a tx (and its result) is in block h, and that
 * block h is in the history of a checkpoint signed by a majority of the
 * consensus nodes a verifier who knows only the genesis can trust: the
 * genesis nodes, or the set a chain of signed membership steps leads to.
 * JSON schema in docs/PROTOCOL.md "Proofs". */
typedef struct cc_proof_report {
    uint64_t height;            /* block holding the tx */
    uint64_t checkpoint_height; /* block whose signatures anchor it */
    uint8_t txid[CC_HASH_BYTES];
    cc_result result;
    char type[CC_TX_TYPE_MAX + 1];
    uint64_t block_time_ms;
    size_t signatures; /* valid distinct node signatures on the checkpoint */
    size_t trusted;    /* nodes of the set those signatures are a majority of */
    size_t steps;      /* membership steps from the genesis nodes to that set */
    int format;        /* carechain_proof: 2, or 1 for a proof made before checkpoints named their nodes */
} cc_proof_report;

/* Verify a proof document against the genesis file's bytes. Fills report on
 * success; eb says which check failed. */
cc_err cc_proof_verify(const json_t *proof, const uint8_t *genesis, size_t genesis_len,
                       cc_proof_report *report, cc_errbuf *eb) CC_WUR;

/* Whether proof, verified as cc_proof_verify does against the parsed
 * genesis g, shows that pk was no consensus node at a height >= min_height:
 * CC_OK when its checkpoint is at min_height or above and its (signed)
 * member list leaves pk out. Otherwise the proof's error, or CC_ERR_VERIFY
 * for an older checkpoint or one naming pk; eb says which. A node that
 * missed the block removing it takes such a proof from a peer, with
 * min_height above what it applied, as its removal. */
cc_err cc_proof_shows_removal(const json_t *proof, const cc_genesis *g, const uint8_t pk[CC_PUBKEY_BYTES],
                              uint64_t min_height, cc_proof_report *report, cc_errbuf *eb) CC_WUR;

#ifdef __cplusplus
}
#endif
#endif /* CARECHAIN_H */
