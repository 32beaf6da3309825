/*
 * node/reqauth.h — the accountability of the signed read endpoints
 * (docs/RECORDS.md "Signed requests" and "Endpoints"):
 *
 *   1. who asks: the request's RFC 9421 signature verified against the raw
 *      request target and the node's clock, a signature never seen before
 *      (replay cache), by an identity active in the chain;
 *   2. the audit event every authenticated request leaves: an audit.access
 *      tx signed by this node and committed before the answer is sent.
 *
 * The replay cache is process-wide (one node per process): it remembers the
 * SHA-256 of every accepted signature for at least CC_REQAUTH_REPLAY_MS, in
 * two generations of CC_REQAUTH_REPLAY_MAX entries each, under one mutex.
 * A signature verifies only while its created time is within
 * CC_REQSIG_SKEW_S of the clock, a window of 2 * CC_REQSIG_SKEW_S (plus
 * the rounding of whole seconds), so once forgotten it is stale for good.
 */
#ifndef CC_NODE_REQAUTH_H
#define CC_NODE_REQAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "carechain.h"
#include "carechain/chain.h"
#include "carechain/records.h"
#include "node/node_internal.h"

typedef struct cc_http_req cc_http_req;

#define CC_REQAUTH_REPLAY_MAX   (1u << 17) /* signatures remembered per generation */
#define CC_REQAUTH_REPLAY_MS    ((2u * CC_REQSIG_SKEW_S + 2) * 1000) /* + whole-second rounding */
#define CC_REQAUTH_AUDIT_TTL_MS (10u * 60 * 1000)                    /* expiry - created of an audit tx */

/* The replay cache: allocated by cc_http_start, freed by cc_http_stop. */
cc_err cc_reqauth_start(cc_errbuf *eb) CC_WUR;
void cc_reqauth_stop(void);

/* An authenticated requester. */
typedef struct cc_reqauth {
    uint8_t requester[CC_PUBKEY_BYTES];
    char requester_hex[CC_HASH_HEX];
    char request_hex[CC_HASH_HEX]; /* SHA-256 of the signature bytes, for the audit event */
    unsigned role;                 /* one cc_role bit */
    char org[64];                  /* "" when none */
} cc_reqauth;

/* Authenticate req against the state that view reads: the three signature
 * headers over the raw request target and the body, created within
 * CC_REQSIG_SKEW_S of the node's clock, by an identity registered and
 * active, and a signature not seen before (remembered from here on).
 * CC_ERR_UNAUTHENTICATED with the reason in eb; CC_ERR_BUSY when the replay
 * cache is full; other errors when the state cannot be read. */
cc_err cc_reqauth_check(cc_http_req *req, cc_chain_view *view, cc_reqauth *out, cc_errbuf *eb) CC_WUR;

/* What an audit event says (docs/RECORDS.md "audit.access"). */
typedef struct cc_reqauth_event {
    const char *patient;  /* hex id */
    const char *record;   /* 32 hex, or NULL for a patient-level request */
    const char *endpoint; /* "GET /v1/records/{id}" */
    const char *purpose;  /* one of CC_PURPOSES, or NULL when the endpoint takes none */
    bool granted;
    const char *reason; /* why (denied), or how (granted) */
    bool emergency;
} cc_reqauth_event;

/* Sign a tx of type with payload (a JSON object's text) with the node's
 * key, submit it through the admission path and wait for its commit.
 * CC_OK once it committed, with its result in *result (which may be a
 * refusal by exec); otherwise the admission refusal, CC_ERR_TIMEOUT or the
 * commit error, and why in eb. txid is set either way. */
cc_err cc_reqauth_submit(cc_node *node, const char *type, const char *payload, uint8_t txid[CC_HASH_BYTES],
                         cc_result *result, cc_errbuf *eb) CC_WUR;

/* Build the audit.access tx of an authenticated request, sign it with the
 * node's key and submit it through the admission path, waiting for its
 * commit. CC_OK with txid filled once it committed with result ok;
 * otherwise the error (CC_ERR_TIMEOUT, CC_ERR_UNREACHABLE, the admission or
 * exec refusal) and why in eb: the caller must then answer 503 without data. */
cc_err cc_reqauth_audit(cc_node *node, const cc_reqauth *who, const cc_reqauth_event *ev,
                        uint8_t txid[CC_HASH_BYTES], cc_errbuf *eb) CC_WUR;

#endif
