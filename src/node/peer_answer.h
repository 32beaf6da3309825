/*
 * peer_answer.h — a bounded buffer for the body a peer node sends back over
 * libcurl (forwarding, checkpoint exchange, joining). Shared so the three
 * clients cap and collect answers the same way.
 */
#ifndef CC_NODE_PEER_ANSWER_H
#define CC_NODE_PEER_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cc_peer_answer {
    char *buf; /* NUL-terminated body so far; caller frees */
    size_t len;
    size_t max;    /* the body may not be longer than this */
    bool too_long; /* the peer sent more than max (the transfer was cut) */
} cc_peer_answer;

/* CURLOPT_WRITEFUNCTION for a cc_peer_answer (CURLOPT_WRITEDATA). */
size_t cc_peer_answer_write(char *data, size_t size, size_t nmemb, void *answer);

#endif
