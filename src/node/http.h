/*
 * node/http.h — what the HTTP handlers share: the per-request context, the
 * responders (every answer goes through them, so status metrics and the
 * JSON error shape are uniform), and the handlers of the route table in
 * http.c. The API itself is specified in docs/API.md.
 */
#ifndef CC_NODE_HTTP_H
#define CC_NODE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "carechain.h"
#include "node/node_internal.h"
#include "node/reqauth.h"

#define CC_HTTP_TX_BODY_MAX    (2u * 1024 * 1024)  /* POST /v1/tx */
#define CC_HTTP_BATCH_BODY_MAX (64u * 1024 * 1024) /* POST /v1/txs */
#define CC_HTTP_BATCH_MAX_TXS  10000
#define CC_HTTP_ARG_MAX        128 /* bytes of the {param} path segment */
#define CC_HTTP_METHOD_MAX     16  /* bytes of a method we keep (longer ones get 405) */
#define CC_HTTP_ALLOW_MAX      32  /* bytes of a 405's Allow header: "GET, HEAD, POST" */

typedef struct cc_http_req {
    cc_node *node;
    struct MHD_Connection *conn;
    /* the route matched (a 405's: one of the path's); signed reads take
     * their query parameters and audited endpoint from it */
    const struct cc_http_route *route;
    char arg[CC_HTTP_ARG_MAX];       /* the path segment matched by '*' */
    char method[CC_HTTP_METHOD_MAX]; /* as sent ("HEAD" too) */
    char *uri;                       /* owned: the request target exactly as sent, query included
                                      * (signed requests cover it); NULL when it could not be kept */
    bool started;                    /* begin_request ran */
    bool close;                      /* the answer closes the connection (its framing is not to be trusted) */
    char allow[CC_HTTP_ALLOW_MAX];   /* a 405's Allow header: the path's methods */
    char audit_txid[CC_HASH_HEX];    /* set: every answer carries X-Audit-Txid */

    uint8_t *body; /* owned; the upload so far */
    size_t body_len, body_cap, body_limit;
    size_t budget;       /* bytes reserved from node->upload_bytes (== body_cap) */
    cc_err body_refusal; /* CC_ERR_TOO_LARGE (over body_limit) or CC_ERR_BUSY (over
                          * the node's upload budget), or a refusal decided before
                          * the body came (refusal_msg): the rest is discarded */
    size_t discarded;
    char refusal_msg[512]; /* the message of a refusal answered at the body's end; "" when none */
} cc_http_req;

typedef enum MHD_Result (*cc_http_handler)(cc_http_req *req);

/* The query parameters a route takes: names (NULL-terminated), each at
 * most once; any other, or one given twice, is a 400 usage error. */
typedef struct cc_http_params {
    const char *const *names;
    /* The route is a signed read: its handler opens with
     * cc_signed_read_begin, which checks names after the signature, so
     * that an unsigned caller learns first that it must sign. For any
     * other route the router checks them before the handler runs. */
    bool signed_read;
} cc_http_params;

typedef struct cc_http_route {
    const char *method;  /* "GET" (also serves HEAD) or "POST" */
    const char *pattern; /* '*' matches one non-empty path segment */
    cc_http_handler handler;
    size_t body_limit;           /* bytes; 0 = no body expected */
    const cc_http_params *query; /* NULL: any (the explorer's files) */
} cc_http_route;

/* Whether every query parameter of req is one of allowed (NULL-terminated)
 * and none is given twice; if not, why, in one line, into msg. */
bool cc_http_query_check(cc_http_req *req, const char *const *allowed, char *msg, size_t cap);

/* The node's routing table (n receives its length): what the API serves,
 * for tests that must cover every route. */
const cc_http_route *cc_http_routes(size_t *n);

/* ---- responders (each queues exactly one response) ---- */

/* body is owned by the response afterwards (freed with free()). */
enum MHD_Result cc_http_send(cc_http_req *req, unsigned status, const char *content_type, char *body,
                             size_t len);
/* Steals the reference to v. */
enum MHD_Result cc_http_send_json(cc_http_req *req, unsigned status, json_t *v);
/* {"error":{"code","message"}} (plus "txid" when txid is not NULL) with the
 * status of docs/API.md for e. */
enum MHD_Result cc_http_send_error(cc_http_req *req, cc_err e, const uint8_t *txid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with an explicit status (405). */
enum MHD_Result cc_http_send_error_status(cc_http_req *req, unsigned status, cc_err e, const char *message);
/* The same plus "audit": the txid (hex) of the audit event of a signed
 * read (audit may be NULL). */
enum MHD_Result cc_http_send_error_audited(cc_http_req *req, unsigned status, cc_err e, const char *message,
                                           const char *audit);

/* HTTP status for an error code (docs/API.md "Errors"). */
unsigned cc_http_status_of(cc_err e);
/* Query parameter or NULL. */
const char *cc_http_query(cc_http_req *req, const char *key);
/* s (a query value or path segment) as a decimal integer in min..max into
 * *out: digits only, no sign, space or suffix. false, *out unchanged, when
 * s is NULL, not such a number, or out of range (past 2^64 - 1 included:
 * never capped). Every integer an endpoint reads goes through it. */
bool cc_http_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) CC_WUR;
/* Request header or NULL. */
const char *cc_http_header(cc_http_req *req, const char *key);

/* ---- handlers ---- */

/* http_tx.c */
enum MHD_Result cc_http_post_tx(cc_http_req *req);
enum MHD_Result cc_http_post_txs(cc_http_req *req);
/* http_query.c */
enum MHD_Result cc_http_get_status(cc_http_req *req);
enum MHD_Result cc_http_get_time(cc_http_req *req);
enum MHD_Result cc_http_get_tx(cc_http_req *req);
enum MHD_Result cc_http_get_proof(cc_http_req *req);
enum MHD_Result cc_http_get_block(cc_http_req *req);
enum MHD_Result cc_http_get_block_raw(cc_http_req *req);
enum MHD_Result cc_http_get_blocks(cc_http_req *req);
enum MHD_Result cc_http_get_checkpoint(cc_http_req *req);
enum MHD_Result cc_http_get_identity(cc_http_req *req);
enum MHD_Result cc_http_get_orgs(cc_http_req *req);
enum MHD_Result cc_http_get_org(cc_http_req *req);
enum MHD_Result cc_http_get_metrics(cc_http_req *req);
/* http_checkpoints.c */
enum MHD_Result cc_http_post_checkpoint_sigs(cc_http_req *req);
enum MHD_Result cc_http_get_checkpoint_sigs(cc_http_req *req);
enum MHD_Result cc_http_get_evidence(cc_http_req *req);
/* http_replica.c */
enum MHD_Result cc_http_get_attachment(cc_http_req *req);
enum MHD_Result cc_http_get_blocks_raw(cc_http_req *req);
/* http_network.c */
enum MHD_Result cc_http_get_network(cc_http_req *req);
/* The rulesets as GET /v1/status and GET /v1/network show them (http_network.c):
 * {"active": the next block's, "supported": this build's newest[, "next", "from"]}. */
json_t *cc_http_ruleset_json(cc_node *node);
enum MHD_Result cc_http_get_network_node(cc_http_req *req);
enum MHD_Result cc_http_get_network_proposal(cc_http_req *req);
enum MHD_Result cc_http_get_network_proposals(cc_http_req *req);
/* http_events.c */
enum MHD_Result cc_http_get_events(cc_http_req *req);
/* http_drugs.c, http_epcis.c (docs/SUPPLY.md) */
enum MHD_Result cc_http_get_drug_verify(cc_http_req *req);
enum MHD_Result cc_http_get_drug_alerts(cc_http_req *req);
enum MHD_Result cc_http_post_epcis_capture(cc_http_req *req);
enum MHD_Result cc_http_get_epcis_events(cc_http_req *req);
enum MHD_Result cc_http_get_epcis_epc_events(cc_http_req *req);
/* ---- signed reads (http_records.c; docs/RECORDS.md "Endpoints") ---- */

/* The frame of a signed, audited read: a consistent view of the state, the
 * authenticated requester, and how errors are answered (JSON or FHIR
 * OperationOutcome). */
typedef struct cc_signed_read {
    cc_http_req *req;
    cc_chain_view *view; /* open from begin until the answer */
    cc_reqauth who;
    bool fhir;
    uint64_t now_ms;   /* the view's block time: access decisions use it */
    char endpoint[96]; /* "GET /v1/records/{id}": the audited endpoint */
    /* FHIR answers: how the body becomes text (NULL: compact JSON). Claims
     * set cc_claims_fhir_dump, whose decimals are held as strings. */
    char *(*fhir_dump)(const json_t *body);
} cc_signed_read;

/* Open a view, authenticate the request (401 on failure, not audited) and
 * check its query against its route's (400). For the handlers of signed
 * reads (query->signed_read); the audited endpoint is the method and the
 * route's pattern, its '*' written {id}. false when it answered already
 * (*answered). */
bool cc_signed_read_begin(cc_http_req *req, bool fhir, cc_signed_read *sr, enum MHD_Result *answered);
/* Answer without an audit event (400 bad query, 404 unknown object, 5xx)
 * and close the view. */
enum MHD_Result cc_signed_read_fail(cc_signed_read *sr, cc_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Close the view, commit the audit event ev, then answer: e == CC_OK
 * sends body (stolen; JSON answers get "audit": txid), any other e the
 * error (message, or ev->reason when NULL) with its status; every answer
 * carries X-Audit-Txid. 503 without data when the audit cannot commit. */
enum MHD_Result cc_signed_read_answer(cc_signed_read *sr, const cc_reqauth_event *ev, cc_err e,
                                      const char *message, json_t *body);
/* Check that hex is a patient's id (64 lowercase hex digits of an identity
 * with role patient): CC_ERR_USAGE or CC_ERR_NOT_FOUND with why in eb. */
cc_err cc_signed_read_patient(cc_signed_read *sr, const char *hex, cc_errbuf *eb) CC_WUR;

/* http_fhir.c: an OperationOutcome with the status of e. */
enum MHD_Result cc_http_send_fhir_error(cc_http_req *req, cc_err e, unsigned status, const char *message);

/* http_claims.c */
enum MHD_Result cc_http_get_plan(cc_http_req *req);
enum MHD_Result cc_http_get_claim(cc_http_req *req);
enum MHD_Result cc_http_get_patient_claims(cc_http_req *req);
enum MHD_Result cc_http_post_claim_simulate(cc_http_req *req);
enum MHD_Result cc_http_get_fhir_eob(cc_http_req *req);

/* http_ui.c: the explorer's files (web/) and the genesis file */
enum MHD_Result cc_http_get_ui(cc_http_req *req);
enum MHD_Result cc_http_get_ui_redirect(cc_http_req *req);
enum MHD_Result cc_http_get_genesis(cc_http_req *req);

/* http_trials.c (docs/TRIALS.md) */
enum MHD_Result cc_http_get_trial(cc_http_req *req);
enum MHD_Result cc_http_get_trial_integrity(cc_http_req *req);
enum MHD_Result cc_http_get_trial_stats(cc_http_req *req);
enum MHD_Result cc_http_get_fhir_research_study(cc_http_req *req);
enum MHD_Result cc_http_get_fhir_research_subjects(cc_http_req *req);

/* http_records.c */
enum MHD_Result cc_http_get_record(cc_http_req *req);
enum MHD_Result cc_http_get_patient_records(cc_http_req *req);
enum MHD_Result cc_http_get_patient_readers(cc_http_req *req);
enum MHD_Result cc_http_get_patient_alerts(cc_http_req *req);
/* http_fhir.c */
enum MHD_Result cc_http_get_fhir_consents(cc_http_req *req);
enum MHD_Result cc_http_get_fhir_consent(cc_http_req *req);
enum MHD_Result cc_http_get_fhir_audit_events(cc_http_req *req);

#endif
