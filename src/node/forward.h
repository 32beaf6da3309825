/*
 * node/forward.h — a follower hands the txs it admitted to the leader: one
 * POST /v1/txs (octet-stream batch, no wait) on the leader's API, over a
 * kept-alive libcurl connection. The leader verifies everything again
 * (DESIGN.md invariant 3); the follower's ?wait=commit waiters fire when
 * the block holding the txs commits here.
 *
 * Used by the producer thread only (not thread safe).
 */
#ifndef CC_NODE_FORWARD_H
#define CC_NODE_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "carechain.h"

typedef struct cc_forward cc_forward;

/* A forwarder; NULL on OOM. cancelled (may be NULL) is asked while a
 * batch waits for the leader's answer: true abandons it, so a stopping
 * node does not wait out a hung leader (cc_peer_answer.cancelled). */
cc_forward *cc_forward_new(bool (*cancelled)(void *ctx), void *ctx);
void cc_forward_free(cc_forward *f);

/* Per tx, what the leader said. */
typedef enum cc_forward_outcome {
    CC_FORWARD_UNSENT = 0, /* not sent yet, or to be sent again (busy, no answer) */
    CC_FORWARD_TAKEN,      /* queued by the leader, or already queued or committed there */
    CC_FORWARD_REFUSED,    /* refused for good; err says why */
} cc_forward_outcome;

typedef struct cc_forward_state {
    cc_forward_outcome outcome;
    cc_err err; /* with CC_FORWARD_REFUSED */
} cc_forward_state;

/* Send the txs whose state is CC_FORWARD_UNSENT to the node whose API
 * listens on api ("host:port") and update their states. CC_OK when the
 * leader answered (some txs may still be UNSENT: it was busy);
 * CC_ERR_UNREACHABLE (eb says why) when no usable answer came. */
cc_err cc_forward_send(cc_forward *f, const char *api, const cc_tx *txs, size_t n, cc_forward_state *st,
                       size_t *sent, cc_errbuf *eb) CC_WUR;

#endif
