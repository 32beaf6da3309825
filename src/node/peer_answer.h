/*
 * peer_answer.h — one request to a peer node over libcurl, with a bounded
 * buffer for its answer (forwarding, checkpoint exchange, joining, block
 * catch-up). Shared so every peer client caps, times out and collects
 * answers the same way.
 */
#ifndef CC_NODE_PEER_ANSWER_H
#define CC_NODE_PEER_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "carechain.h"

typedef struct cc_peer_answer {
    char *buf; /* NUL-terminated body so far; caller frees */
    size_t len;
    size_t max;    /* the body may not be longer than this */
    bool too_long; /* the peer sent more than max (the transfer was cut) */
    /* Optional: asked while the request waits; true abandons it
     * (CURLE_ABORTED_BY_CALLBACK). libcurl asks at least about once a
     * second, so a stopping node need not sit out a hung peer's timeout. */
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
} cc_peer_answer;

/* Into url (cap bytes): a peer's API address api ("host:port", or a URL
 * with its scheme; "http://" is put in front when it has none), followed
 * by the path printf'd from fmt. Truncated to cap like snprintf. */
void cc_peer_url(char *url, size_t cap, const char *api, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The CA bundle (a PEM file) to trust for peers' HTTPS APIs, instead of
 * the system's; NULL or "" = the system's. Set once, before any request. */
void cc_peer_set_ca(const char *path);

/* The certificate and key (PEM files) this node presents when a peer's
 * HTTPS API asks for a client certificate; NULL = none. Set once, before
 * any request. */
void cc_peer_set_client_cert(const char *cert, const char *key);

/* CURLOPT_WRITEFUNCTION for a cc_peer_answer (CURLOPT_WRITEDATA). */
size_t cc_peer_answer_write(char *data, size_t size, size_t nmemb, void *answer);

/* Perform a request on c to url, collecting the body into a, within
 * timeout_ms (connecting within connect_ms). A POST sets its method, body
 * and headers on c before the call. *status gets the HTTP status (0 when
 * there was no answer). Returns libcurl's result. */
CURLcode cc_peer_perform(CURL *c, const char *url, long timeout_ms, long connect_ms, cc_peer_answer *a,
                         long *status);

/* GET url on c and parse the answer: the JSON document when the peer
 * answered 200 with one, else NULL (caller decrefs). a gives the cap and
 * the cancel hook; the body it collects is freed here. */
json_t *cc_peer_get_json(CURL *c, const char *url, long timeout_ms, long connect_ms, cc_peer_answer *a);

#endif
