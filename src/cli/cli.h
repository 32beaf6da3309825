/*
 * cli/cli.h — what the `carechain` subcommands share: exit codes, the option
 * parser, output helpers, the libcurl HTTP client, building and posting txs,
 * the demo network (orgs and keyring) and running a node as a child process.
 *
 * Every command is `int cc_cmd_<name>(int argc, char **argv)` where argv[0]
 * is the command's own name; it returns the process exit code.
 */
#ifndef CARECHAIN_CLI_H
#define CARECHAIN_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "carechain.h"

/* ---- exit codes (DESIGN.md "Interface contract") ------------------------- */

#define CC_EXIT_OK          0 /* done */
#define CC_EXIT_FAIL        1 /* rejected, failed result, verification failed */
#define CC_EXIT_USAGE       2 /* bad command line, refused to overwrite */
#define CC_EXIT_UNREACHABLE 3 /* the node did not answer */

#define CC_CLI_DEFAULT_NODE "http://127.0.0.1:7800"
#define CC_CLI_POS_MAX      32 /* positional arguments a command may take */

/* ---- option parsing ------------------------------------------------------- */

/* One long option. A value option stores into *(const char **)dest (a
 * pointer into argv); a flag (metavar NULL) stores true into *(bool *)dest. */
typedef struct cc_cli_opt {
    const char *name;    /* without the dashes: "key" */
    const char *metavar; /* "FILE"; NULL for a flag */
    const char *help;
    void *dest;
} cc_cli_opt;

typedef struct cc_cli_spec {
    const char *cmd;        /* "tx send" */
    const char *usage;      /* what follows the command in the usage line */
    const char *summary;    /* one sentence */
    const cc_cli_opt *opts; /* terminated by an entry with name NULL */
    unsigned pos_min, pos_max;
    bool node;        /* accepts --node URL */
    bool json;        /* accepts --json */
    const char *more; /* extra help text after the options (may be NULL) */
} cc_cli_spec;

/* What every command gets besides its own options. */
typedef struct cc_cli_ctx {
    const char *cmd;  /* for messages */
    const char *node; /* base URL of the node */
    bool json;
    const char *pos[CC_CLI_POS_MAX];
    unsigned pos_count;
} cc_cli_ctx;

/* Parse argv[1..argc) against spec. Returns -1 to go on, CC_EXIT_OK after
 * printing --help, or CC_EXIT_USAGE after a one-line message on stderr. */
int cc_cli_parse(const cc_cli_spec *spec, int argc, char **argv, cc_cli_ctx *ctx);
/* "carechain CMD: <message> (try carechain CMD --help)" on stderr; returns
 * CC_EXIT_USAGE. */
int cc_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse an unsigned integer with an optional K/M/G/T suffix (binary units
 * when bytes is true). false when str is not such a number. */
bool cc_cli_parse_u64(const char *str, bool bytes, uint64_t *out);
/* true when hex is exactly n bytes of hex (2n digits): an id, a txid. */
#define CC_CLI_HEX_MAX_BYTES 64
bool cc_cli_hex_ok(const char *hex, size_t n);

/* Percent-encode s for a URL path segment or query value: everything but
 * A-Z a-z 0-9 - . _ ~ becomes %XX. out (cap bytes) is always terminated;
 * cap = 3 * strlen(s) + 1 always fits. */
void cc_cli_url_encode(const char *s, char *out, size_t cap);

/* ---- output ----------------------------------------------------------------- */

/* "3f1c…e2": the first 4 and last 2 hex digits. out holds 16 bytes. */
#define CC_CLI_SHORT_BYTES 16
const char *cc_cli_short(const char *hex, char out[CC_CLI_SHORT_BYTES]);
/* UTC time "2025-11-25 17:30:00.123 UTC" from ms since the epoch. */
const char *cc_cli_time(uint64_t ms, char out[40]);
/* Print v on stdout, indented, with a newline. */
void cc_cli_print_json(const json_t *v);
/* Accessors that tolerate a missing field. */
const char *cc_cli_jstr(const json_t *obj, const char *key, const char *dflt);
uint64_t cc_cli_juint(const json_t *obj, const char *key);

/* ---- HTTP client (libcurl) --------------------------------------------------- */

typedef struct cc_cli_http cc_cli_http;

typedef struct cc_cli_resp {
    long status; /* HTTP status; 0 when unreachable */
    char *body;  /* owned, NUL-terminated */
    size_t len;
    json_t *json; /* owned parsed body, NULL when not JSON */
} cc_cli_resp;

/* The environment variable naming a CA bundle (PEM) to trust for a node's
 * HTTPS certificate, besides nothing else: curl's --cacert. Unset: the
 * system's bundle. */
#define CC_CLI_CACERT_ENV "CARECHAIN_CACERT"
/* the client certificate and its key (PEM files) for a node that asks for
 * one (its tls_client_ca) */
#define CC_CLI_CERT_ENV "CARECHAIN_CLIENT_CERT"
#define CC_CLI_KEY_ENV  "CARECHAIN_CLIENT_KEY"

/* Can url be a node's base URL: http or https (none: http), a host and a
 * port that fits, as libcurl parses it? false with why (a phrase, in why_cap
 * bytes) when not. cc_cli_parse checks --node with it. */
bool cc_cli_node_url_ok(const char *url, char *why, size_t why_cap);

/* A client for one node; keeps its connection alive between requests. Not
 * thread safe: one per thread. base is copied. NULL on OOM. */
cc_cli_http *cc_cli_http_new(const char *base);
void cc_cli_http_free(cc_cli_http *h);
/* Set the request timeout (default 60 s). */
void cc_cli_http_timeout(cc_cli_http *h, long timeout_ms);
/* raw: answers are not parsed (resp->json stays NULL; read resp->body).
 * Default false: JSON answers are parsed into resp->json. */
void cc_cli_http_raw(cc_cli_http *h, bool raw);
/* GET (body NULL) or POST path. CC_OK with resp filled whatever the status;
 * CC_ERR_UNREACHABLE when no HTTP answer came (eb says why). The caller
 * releases resp with cc_cli_resp_free. */
cc_err cc_cli_http_request(cc_cli_http *h, const char *path, const char *content_type, const void *body,
                           size_t len, cc_cli_resp *resp, cc_errbuf *eb) CC_WUR;
/* A GET signed with key (docs/RECORDS.md "Signed requests"); path may
 * carry a query string, which is signed as it is sent. As
 * cc_cli_http_request. */
#define CC_CLI_PATH_MAX 1024
cc_err cc_cli_http_signed_get(cc_cli_http *h, const cc_key *key, const char *path, cc_cli_resp *resp,
                              cc_errbuf *eb) CC_WUR;
/* A signed POST of body (GET when body is NULL). */
cc_err cc_cli_http_signed(cc_cli_http *h, const cc_key *key, const char *path, const char *content_type,
                          const void *body, size_t len, cc_cli_resp *resp, cc_errbuf *eb) CC_WUR;
void cc_cli_resp_free(cc_cli_resp *r);
/* The error code and message of an error body ("unreachable"/"http 500"
 * when the body has none). Valid while resp lives. */
const char *cc_cli_resp_code(const cc_cli_resp *r);
const char *cc_cli_resp_message(const cc_cli_resp *r);

/* GET path on ctx->node, expecting JSON. Returns -1 with *out set (caller
 * decrefs) on 2xx; otherwise prints why (stderr, or the JSON with --json)
 * and returns the exit code (1 for an HTTP error, 3 unreachable). */
int cc_cli_get_json(const cc_cli_ctx *ctx, const char *path, json_t **out, long *status);
/* The same as a signed request (key: the requester; NULL = unsigned). */
int cc_cli_get_signed_json(const cc_cli_ctx *ctx, const cc_key *key, const char *path, json_t **out,
                           long *status);
/* The same signed with the key in keyfile (loaded for the request, then
 * wiped); NULL keyfile = unsigned. */
int cc_cli_get_json_as(const cc_cli_ctx *ctx, const char *keyfile, const char *path, json_t **out);

/* ---- transactions -------------------------------------------------------------- */

/* Where a tx goes: the chain id comes from genesis (SHA-256 of the file) or
 * from the node's GET /v1/status. */
cc_err cc_cli_chain_id(cc_cli_http *h, const char *genesis_path, uint8_t chain_id[CC_HASH_BYTES],
                       cc_errbuf *eb) CC_WUR;

/* Build and sign a tx now: created = cc_now_ms(), expiry = created + 1 h,
 * nonce random. payload is a JSON object text. out: caller cc_tx_free()s. */
cc_err cc_cli_tx_build(const uint8_t chain_id[CC_HASH_BYTES], const cc_key *key, const char *type,
                       const char *payload, const uint8_t *attachment, size_t attachment_len, cc_tx *out,
                       cc_errbuf *eb) CC_WUR;

/* What the node said about one tx. */
typedef struct cc_cli_sent {
    char txid[CC_HASH_HEX];
    long status;    /* HTTP status */
    bool accepted;  /* 2xx */
    bool committed; /* ?wait=commit answered with a height */
    uint64_t height;
    uint32_t index;
    char code[40]; /* result code ("ok") or the error code */
    char message[256];
    json_t *json; /* the whole answer (owned; cc_cli_sent_free) */
} cc_cli_sent;

/* POST /v1/tx as octet-stream (tx bytes then the attachment). CC_OK with
 * out filled whatever the node answered; CC_ERR_UNREACHABLE otherwise. */
cc_err cc_cli_tx_post(cc_cli_http *h, const cc_tx *tx, bool wait, cc_cli_sent *out, cc_errbuf *eb) CC_WUR;
void cc_cli_sent_free(cc_cli_sent *s);
/* true when the tx was accepted and, if it committed, with result ok. */
bool cc_cli_sent_ok(const cc_cli_sent *s);
/* Print the outcome as a sentence (or the JSON) and return the exit code. */
int cc_cli_sent_report(const cc_cli_ctx *ctx, const cc_cli_sent *s, const char *what);

/* Append one tx (u32 big-endian length || tx || attachment) to a batch
 * buffer for POST /v1/txs. */
cc_err cc_cli_batch_add(uint8_t **buf, size_t *len, size_t *cap, const cc_tx *tx) CC_WUR;

/* Load a key file, printing why not (stderr). Returns false on failure.
 * *extra may be NULL. */
bool cc_cli_key_load(const char *cmd, const char *path, cc_key *k, json_t **extra);

/* ---- write commands (member, note, network, tx send) ------------------------------ */

/* The options every write command shares. Pointers into argv. */
typedef struct cc_cli_write {
    const char *key;     /* --key FILE: the signer; required */
    const char *genesis; /* --genesis FILE: the chain id from this file, not the node */
    bool no_wait;        /* --no-wait (tx send sets it when --wait is absent) */
} cc_cli_write;

/* The option table entries of --no-wait and --genesis, the same in every
 * write command (--key's help differs: each command says whose key). */
/* clang-format off */
#define CC_CLI_OPT_NO_WAIT(w) {"no-wait", NULL, "do not wait for the block", &(w)->no_wait}
#define CC_CLI_OPT_GENESIS(w) \
    {"genesis", "FILE", "take the chain id from this genesis file, not the node", &(w)->genesis}
/* clang-format on */

/* cc_cli_parse, then "missing --key" unless w->key was given (before the
 * command's own checks). Returns as cc_cli_parse. */
int cc_cli_parse_write(const cc_cli_spec *spec, int argc, char **argv, cc_cli_ctx *ctx,
                       const cc_cli_write *w);

/* Load w->key, take the chain id from w->genesis or the node, build and
 * sign a tx of type with payload (JSON object text, signed as it is) and
 * the attachment (may be NULL), POST it and wait for its block unless
 * w->no_wait. Returns -1 with *out filled when the node answered (caller
 * cc_cli_sent_free()s); otherwise says why (stderr, or the JSON with
 * --json) and returns the exit code: 1, 2 for a tx that cannot be built,
 * 3 when the node is unreachable. */
int cc_cli_send(const cc_cli_ctx *ctx, const cc_cli_write *w, const char *type, const char *payload,
                const uint8_t *attachment, size_t attachment_len, cc_cli_sent *out);
/* cc_cli_send, then cc_cli_sent_report (as a "tx"): the whole of a write
 * command after its own checks. Returns the exit code. */
int cc_cli_send_and_report(const cc_cli_ctx *ctx, const cc_cli_write *w, const char *type,
                           const char *payload, const uint8_t *attachment, size_t attachment_len);
/* The same with a payload built with jansson, which it takes (NULL, as
 * after a failed json_pack: exit 1). */
int cc_cli_send_json(const cc_cli_ctx *ctx, const cc_cli_write *w, const char *type, json_t *payload);
/* Build and sign a tx of type with payload (taken, signed as
 * cc_cli_json_text makes it), POST it with ?wait=commit. CC_OK only when it
 * committed with result ok; otherwise eb says why ("code: message" when the
 * node answered). txid (may be NULL) gets the tx's id once it was sent. The
 * demos and the tests commit their setup txs with it. */
cc_err cc_cli_commit_json(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *key,
                          const char *type, json_t *payload, char txid[CC_HASH_HEX], cc_errbuf *eb) CC_WUR;
/* A payload as the write commands sign it: compact JSON, keys sorted.
 * Takes payload (may be NULL). NULL when payload is NULL or on OOM;
 * caller frees. */
char *cc_cli_json_text(json_t *payload);

/* ---- health records (records_client.c) -------------------------------------------- */

/* A signed GET expecting JSON. CC_OK with *out (caller decrefs) on 2xx;
 * otherwise the node's reason in eb, with CC_ERR_UNAUTHENTICATED (401),
 * CC_ERR_FORBIDDEN (403), CC_ERR_NOT_FOUND (404), CC_ERR_GONE (410),
 * CC_ERR_USAGE (400), CC_ERR_UNREACHABLE, or CC_ERR_INVALID. */
cc_err cc_cli_signed_json(cc_cli_http *h, const cc_key *key, const char *path, json_t **out, long *status,
                          cc_errbuf *eb) CC_WUR;

/* What record put encrypts and for whom. */
typedef struct cc_cli_record_in {
    const char *patient; /* hex id */
    const char *record;  /* the record to update (hex), or NULL for a new one */
    const uint8_t *plain;
    size_t len;
    const char *resource_type, *category, *purpose;
} cc_cli_record_in;

/* Encrypt in->plain under a fresh data key, wrap it for every reader the
 * node names (GET /v1/patients/{id}/readers), and send the record.put with
 * the ciphertext as its attachment. record_id receives the id (new or
 * in->record). As cc_cli_tx_post once the tx is built. */
cc_err cc_cli_record_put(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *author,
                         const cc_cli_record_in *in, bool wait, cc_cli_sent *out, char record_id[33],
                         cc_errbuf *eb) CC_WUR;

/* Fetch a record (signed, audited), check its ciphertext against the
 * ledger's hash, open the wrapped key (with reader's key, or org_key when
 * the node serves the organisation's copy) and decrypt. *plain and
 * *answer (the node's JSON) are the caller's. */
cc_err cc_cli_record_get(cc_cli_http *h, const cc_key *reader, const cc_key *org_key, const char *record,
                         const char *purpose, uint8_t **plain, size_t *len, json_t **answer,
                         cc_errbuf *eb) CC_WUR;

/* Send a consent.grant (payload without keys; taken). A read permit first
 * re-wraps the signer's keys of every covered record for the grantee. */
cc_err cc_cli_consent_grant(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *signer,
                            json_t *consent, bool wait, cc_cli_sent *out, cc_errbuf *eb) CC_WUR;

/* A key, a client and the chain id: what a records command works with. */
typedef struct cc_cli_session {
    cc_cli_http *h;
    cc_key key;
    uint8_t chain_id[CC_HASH_BYTES];
} cc_cli_session;

/* Load keyfile, open a client to ctx->node, learn the chain id (from
 * genesis when not NULL). -1 when ready; otherwise it said why and returns
 * the exit code. */
int cc_cli_session_open(const cc_cli_ctx *ctx, const char *keyfile, const char *genesis, cc_cli_session *s);
void cc_cli_session_close(cc_cli_session *s);
/* The options of a command that reads one patient's data, after
 * cc_cli_parse: --key is required, and the patient is --patient (a hex id)
 * or else the id of the key in keyfile (a patient looking at their own
 * data). -1 with the id in id and *patient pointing at it; otherwise it
 * said why and returns the exit code. */
int cc_cli_patient_opts(const cc_cli_ctx *ctx, const char *keyfile, const char **patient,
                        char id[CC_HASH_HEX]);
/* Say why a command failed (stderr, or {"error"} with --json) and return
 * its exit code: 3 unreachable, 2 usage, 1 otherwise. */
int cc_cli_fail(const cc_cli_ctx *ctx, cc_err e, const char *message);

/* ---- the demo network ------------------------------------------------------------ */

/* The health records scenario of the demo (demo_records.c), on a network
 * made by cc_cli_net_init whose keyring members are registered. */
int cc_cli_demo_records(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir);
/* The claims scenario of the demo (demo_claims.c), after the records one. */
int cc_cli_demo_claims(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir);
/* The drug supply chain scenario of the demo (demo_drugs.c), after claims. */
int cc_cli_demo_drugs(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir);
/* carechain bench --drugs N (bench_drugs.c): commissioned serials/s, then
 * verification answers/s over HTTP, on one node. */
int cc_cli_bench_drugs(uint64_t n, bool json_out);
/* A GET /v1/drugs/verify answer in plain words into out: "GENUINE — saleable",
 * "NOT VERIFIED: <reason>" or "verified but NOT SALEABLE: <info, ...>".
 * true when verified and saleable. (cmd_drug.c) */
bool cc_cli_drug_verdict(const json_t *ans, char *out, size_t cap);
/* One alert of GET /v1/drugs/alerts as a line into out ("clone: unit
 * 00312345678906.SN1 — presenter_org drugstore, ..."). Returns out. */
const char *cc_cli_drug_alert_text(const json_t *alert, char *out, size_t cap);
/* The clinical research scenario of the demo (demo_trials.c), after the claims one. */
int cc_cli_demo_trials(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir);
/* carechain bench --claims N (bench_claims.c): adjudicated claims/s on one node. */
int cc_cli_bench_claims(uint64_t n, bool json_out);

typedef struct cc_cli_org {
    const char *id, *name, *kind;
} cc_cli_org;

/* A keyring identity that init writes but genesis does not hold: the demo
 * registers it with member.register, signed by the admin of its org. */
typedef struct cc_cli_member {
    const char *role, *org, *name;
    const char *key; /* the key file keys/<key>.key; NULL = the role (a second
                        member with a role already taken needs its own name) */
} cc_cli_member;

/* The key file name of a keyring member (without .key). */
const char *cc_cli_member_key(const cc_cli_member *m);

extern const cc_cli_org cc_cli_orgs[];
extern const size_t cc_cli_org_count;
extern const cc_cli_member cc_cli_members[];
extern const size_t cc_cli_member_count;

/* Write a fresh network into dir (must be absent or empty): genesis.json,
 * node1..N, keys/, the marker. chain_name NULL = "carechain-demo". */
cc_err cc_cli_net_init(const char *dir, unsigned nodes, const char *chain_name, cc_errbuf *eb) CC_WUR;
/* The same with node I's API on api_base+I-1 and raft on raft_base+I-1
 * (cc_cli_net_init uses 7800 and 7900). */
cc_err cc_cli_net_init_ports(const char *dir, unsigned nodes, const char *chain_name, unsigned api_base,
                             unsigned raft_base, cc_errbuf *eb) CC_WUR;
#define CC_CLI_NET_MARKER ".carechain-net"

/* The member.register payload for a keyring member's key file. Caller frees. */
char *cc_cli_member_payload(const cc_key *k, const char *role, const char *name);

/* Register every keyring member of the network in net_dir, each signed by
 * the admin of its org, in one POST /v1/txs?wait=commit. *answer gets the
 * node's answer ({accepted, rejected, results: [...]} in cc_cli_members
 * order; caller decrefs). CC_ERR_INVALID when the node refused the batch. */
cc_err cc_cli_keyring_register(cc_cli_http *h, const char *net_dir, const uint8_t chain_id[CC_HASH_BYTES],
                               json_t **answer, cc_errbuf *eb) CC_WUR;

/* Remove a directory tree (like rm -rf). */
cc_err cc_cli_rmtree(const char *path, cc_errbuf *eb) CC_WUR;

/* verify-chain of a node directory (genesis.json, data/) with a scratch
 * store under mkdtemp, removed afterwards. As cc_chain_verify. */
struct cc_verify_report;
cc_err cc_cli_verify_dir(const char *dir, struct cc_verify_report *rep, cc_errbuf *eb) CC_WUR;

/* ---- a node as a child process ---------------------------------------------------- */

/* fork/exec /proc/self/exe node --dir DIR --api API --quiet; the child's
 * stderr goes to log_path when not NULL. */
cc_err cc_cli_node_spawn(const char *dir, const char *api, const char *log_path, pid_t *pid,
                         cc_errbuf *eb) CC_WUR;
/* Wait until GET /v1/status answers (or the child dies, or timeout). */
cc_err cc_cli_node_wait_ready(const char *base, pid_t pid, unsigned timeout_ms, cc_errbuf *eb) CC_WUR;
/* SIGTERM then wait (SIGKILL after timeout_ms). Returns the exit status
 * as waitpid reported it, or -1. */
int cc_cli_node_stop(pid_t pid, unsigned timeout_ms);
/* A TCP port on 127.0.0.1 that was free a moment ago; 0 on failure. */
unsigned cc_cli_free_port(void);
/* true when nothing listens on 127.0.0.1:port right now. */
bool cc_cli_port_free(unsigned port);

/* ---- commands ------------------------------------------------------------------------ */

int cc_cmd_keygen(int argc, char **argv);
int cc_cmd_init(int argc, char **argv);
int cc_cmd_genesis(int argc, char **argv);
int cc_cmd_node(int argc, char **argv);
int cc_cmd_status(int argc, char **argv);
int cc_cmd_tx(int argc, char **argv);
int cc_cmd_block(int argc, char **argv);
int cc_cmd_proof(int argc, char **argv);
int cc_cmd_verify_proof(int argc, char **argv);
int cc_cmd_verify_chain(int argc, char **argv);
int cc_cmd_backup(int argc, char **argv);
int cc_cmd_restore(int argc, char **argv);
int cc_cmd_member(int argc, char **argv);
int cc_cmd_note(int argc, char **argv);
int cc_cmd_patient(int argc, char **argv);
int cc_cmd_record(int argc, char **argv);
int cc_cmd_consent(int argc, char **argv);
int cc_cmd_audit(int argc, char **argv);
int cc_cmd_alerts(int argc, char **argv);
int cc_cmd_plan(int argc, char **argv);
int cc_cmd_coverage(int argc, char **argv);
int cc_cmd_claim(int argc, char **argv);
int cc_cmd_priorauth(int argc, char **argv);
int cc_cmd_payment(int argc, char **argv);
int cc_cmd_trial(int argc, char **argv);
int cc_cmd_network(int argc, char **argv);
/* The "ruleset" object of GET /v1/status or /v1/network in sentences, with a
 * warning when the network moves to a ruleset this build does not know
 * (cmd_network.c). Prints nothing for NULL. */
void cc_cli_print_ruleset(const json_t *ruleset);
int cc_cmd_demo(int argc, char **argv);
int cc_cmd_devnet(int argc, char **argv);
int cc_cmd_bench(int argc, char **argv);
int cc_cmd_drug(int argc, char **argv);
int cc_cmd_epcis(int argc, char **argv);

/* Dispatch "GROUP SUB ..." to one of subs (NULL-terminated names). */
typedef struct cc_cli_sub {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cc_cli_sub;
int cc_cli_dispatch(const char *group, const cc_cli_sub *subs, int argc, char **argv);

#endif
