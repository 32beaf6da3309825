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

#define CC_HTTP_TX_BODY_MAX    (2u * 1024 * 1024)  /* POST /v1/tx */
#define CC_HTTP_BATCH_BODY_MAX (64u * 1024 * 1024) /* POST /v1/txs */
#define CC_HTTP_BATCH_MAX_TXS  10000
#define CC_HTTP_ARG_MAX        128 /* bytes of the {param} path segment */

typedef struct cc_http_req {
    cc_node *node;
    struct MHD_Connection *conn;
    const struct cc_http_route *route;
    char arg[CC_HTTP_ARG_MAX]; /* the path segment matched by '*' */

    uint8_t *body; /* owned; the upload so far */
    size_t body_len, body_cap, body_limit;
    size_t budget;       /* bytes reserved from node->upload_bytes (== body_cap) */
    cc_err body_refusal; /* CC_ERR_TOO_LARGE (over body_limit) or CC_ERR_BUSY (over
                          * the node's upload budget): the rest is discarded */
    size_t discarded;
} cc_http_req;

typedef enum MHD_Result (*cc_http_handler)(cc_http_req *req);

typedef struct cc_http_route {
    const char *method;  /* "GET" (also serves HEAD) or "POST" */
    const char *pattern; /* '*' matches one non-empty path segment */
    cc_http_handler handler;
    size_t body_limit; /* bytes; 0 = no body expected */
} cc_http_route;

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

/* HTTP status for an error code (docs/API.md "Errors"). */
unsigned cc_http_status_of(cc_err e);
/* Query parameter or NULL. */
const char *cc_http_query(cc_http_req *req, const char *key);
/* Request header or NULL. */
const char *cc_http_header(cc_http_req *req, const char *key);

/* ---- handlers ---- */

/* http_tx.c */
enum MHD_Result cc_http_post_tx(cc_http_req *req);
enum MHD_Result cc_http_post_txs(cc_http_req *req);
/* http_query.c */
enum MHD_Result cc_http_get_status(cc_http_req *req);
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
/* http_network.c */
enum MHD_Result cc_http_get_network(cc_http_req *req);
enum MHD_Result cc_http_get_network_node(cc_http_req *req);
enum MHD_Result cc_http_get_network_proposal(cc_http_req *req);
/* http_events.c */
enum MHD_Result cc_http_get_events(cc_http_req *req);

#endif
