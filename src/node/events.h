/*
 * node/events.h — the fan-out behind GET /v1/events: the producer publishes
 * one server-sent-event frame per committed block; each subscriber reads
 * frames in order from a ring of the most recent ones.
 *
 * A subscriber that falls more than CC_EVENTS_RING frames behind skips to
 * the oldest frame still held (it is told with an SSE comment). Publishing
 * never waits for subscribers.
 */
#ifndef CC_NODE_EVENTS_H
#define CC_NODE_EVENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"

#define CC_EVENTS_RING 1024

typedef struct cc_events {
    pthread_mutex_t mu;
    pthread_cond_t published;
    char *ring[CC_EVENTS_RING]; /* owned frames; frame seq lives at seq % RING */
    size_t ring_len[CC_EVENTS_RING];
    uint64_t next_seq; /* sequence number of the next frame */
    bool closed;
} cc_events;

cc_err cc_events_init(cc_events *ev) CC_WUR;
void cc_events_destroy(cc_events *ev);

/* Publish one complete SSE frame ("event: ...\ndata: ...\n\n"), len bytes
 * followed by a NUL. Takes ownership of frame (malloc'd). */
void cc_events_publish(cc_events *ev, char *frame, size_t len);
/* Wake every subscriber and make them end their streams. */
void cc_events_close(cc_events *ev);

/* Sequence number a new subscriber starts from (only future frames). */
uint64_t cc_events_tail(cc_events *ev);

typedef enum cc_events_next_rc {
    CC_EVENTS_FRAME,  /* *out is a copy of the next frame; caller frees */
    CC_EVENTS_IDLE,   /* nothing within timeout_ms */
    CC_EVENTS_CLOSED, /* the node is stopping */
    CC_EVENTS_NOMEM,
} cc_events_next_rc;

/* Next frame for a subscriber at *seq (advanced past it). */
cc_events_next_rc cc_events_next(cc_events *ev, uint64_t *seq, unsigned timeout_ms, char **out, size_t *len);

#endif
