/*
 * raft_link.h — the encrypted raft connection between two nodes, once the
 * handshake (raft_auth.h) is done.
 *
 * libraft's TCP transport writes and reads its messages in the clear on the
 * stream it is given. So it is given one end of a socket pair instead, and
 * a link pumps the bytes between the other end and the TCP connection on
 * the loop thread: what libraft writes goes out sealed in frames of at most
 * 64 KiB, and what arrives is opened, in order, before libraft sees it. A
 * frame that does not open (changed, dropped, repeated, or from someone
 * else), or an end closing on either side, closes the whole link; libraft
 * then sees its connection end and reconnects as it always does.
 *
 * Loop thread only.
 */
#ifndef CC_NODE_RAFT_LINK_H
#define CC_NODE_RAFT_LINK_H

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "node/raft_auth.h"

typedef struct cc_raft_link cc_raft_link;

/* The open links of one transport. */
typedef struct cc_raft_links {
    cc_raft_link *head;
    _Atomic uint64_t frames_refused; /* links closed for a frame that did not open or could not be one */
} cc_raft_links;

/* Start pumping between tcp (the link owns it from now on and closes it,
 * freeing it with raft_free as libraft's transport allocated it) and a new
 * socket pair; *raft_side receives the other end, allocated with
 * raft_malloc, for libraft. who names the peer in log lines. Returns 0 or
 * a libuv error; on error tcp has been closed. */
int cc_raft_link_start(uv_loop_t *loop, cc_raft_links *all, uv_stream_t *tcp, const cc_raft_cipher *send,
                       const cc_raft_cipher *recv, const char *who, uv_stream_t **raft_side);

/* Close every link of all (the transport is closing). */
void cc_raft_links_close(cc_raft_links *all);

#endif
