/*
 * clock_check.h — is this node's clock off from the network's?
 *
 * The leader dates every block with its own clock, and a follower halts
 * on a block dated more than 2 s ahead of its clock (docs/CONSENSUS.md
 * "The apply path", rule 6). So one node whose clock ran ahead (a broken
 * time source, a wrong manual setting) would, once elected, halt every
 * other node with its first block; a clock that ran behind would stamp
 * every record, consent and access with a wrong time, and past five
 * minutes fail every fresh tx as dated in the future. Clocks are checked
 * so that such a node never dates a block:
 *
 *   - every raft node reads each peer's clock once a second (GET /v1/time,
 *     from that peer's checkpoint sender, checkpoints.c) and keeps the last
 *     reading: the peer's clock minus this node's at the middle of the
 *     round trip, wrong by at most half the round trip;
 *   - this node's clock is *off* when a majority of the voters, not
 *     counting itself, read more than CC_CLOCK_SKEW_MAX_MS away from it,
 *     all on the same side (round trip allowed for). One outlier is found
 *     by the others; the node in the middle of the clocks never is, so
 *     leadership handed from an off node ends at one that is not;
 *   - a leader whose clock is off proposes nothing and hands leadership on
 *     (consensus_raft.c), to the peer read last among those that answered
 *     lately with a clock near the middle of the network's; nor does one
 *     in its first seconds after a start, before it could read them;
 *   - while its clock is off, the node reads the network's time instead of
 *     its own (its clock minus the skew): in the time rule for the blocks
 *     it applies, so that one whose clock is behind follows instead of
 *     halting on every block, and wherever it judges or stamps a client's
 *     request (cc_clocks_now_ms).
 *
 * What it cannot do: in a network of two, or with too few readings (peers
 * down longer than CC_CLOCK_FRESH_MS), nobody can tell which clock is
 * wrong; the check then says "unknown" and the leader goes on as before.
 * Readings are taken over the API, so a slow answer (over
 * CC_CLOCK_RTT_MAX_MS) counts for nothing. The reported skew is this
 * node's clock minus the median of all fresh clocks, itself included.
 *
 * Pure (cc_clock_judge) plus a table under a mutex (cc_clocks), written by
 * the checkpoint senders and read by the raft loop and the API.
 */
#ifndef CC_NODE_CLOCK_CHECK_H
#define CC_NODE_CLOCK_CHECK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"

#define CC_CLOCK_SKEW_MAX_MS 1000  /* half a follower's 2 s limit: room for the reading's error */
#define CC_CLOCK_RTT_MAX_MS  250   /* a slower answer says too little about the peer's clock */
#define CC_CLOCK_FRESH_MS    30000 /* a reading counts this long (a peer that just went down too) */
#define CC_CLOCK_LIVE_MS     1500  /* a peer read this lately answers: a target for a hand-on */
#define CC_CLOCK_PROBE_MS    1000  /* how often each peer's clock is read */
#define CC_CLOCK_PEERS_MAX   128

/* The last reading of one peer's clock. */
typedef struct cc_clock_reading {
    char peer[CC_HASH_HEX]; /* its node id (hex public key) */
    int64_t offset_ms;      /* its clock minus this node's */
    uint64_t rtt_ms;        /* the round trip it was read in */
    uint64_t at_ms;         /* when (monotonic ms) */
} cc_clock_reading;

typedef struct cc_clock_verdict {
    size_t fresh;             /* readings that count */
    bool known;               /* fresh readings from a majority of the voters, itself included */
    int64_t skew_ms;          /* this node's clock minus the median of the fresh clocks (0 when none) */
    bool off;                 /* a majority of the voters read more than the limit away, one side */
    char prefer[CC_HASH_HEX]; /* when off: the peer to hand leadership to ("" when none answers) */
} cc_clock_verdict;

/* The verdict on this node's clock from readings r[0..n) in a network of
 * `voters` voters (this node among them), at monotonic time now_ms. */
cc_clock_verdict cc_clock_judge(const cc_clock_reading *r, size_t n, size_t voters, uint64_t now_ms);

/* What to add to this node's clock to read the network's time: minus the
 * skew while the clock is off, else 0. */
int64_t cc_clock_correction(const cc_clock_verdict *v);

/* The readings of this node, one per peer. */
typedef struct cc_clocks {
    pthread_mutex_t mu;
    size_t voters; /* in the network, as raft last said (0: not known yet) */
    size_t count;
    cc_clock_reading r[CC_CLOCK_PEERS_MAX];
} cc_clocks;

void cc_clocks_init(cc_clocks *c);
void cc_clocks_destroy(cc_clocks *c);

/* Record a reading of peer's clock: the peer said peer_ms, asked at this
 * node's wall clock sent_ms and answered at got_ms (cc_now_ms), at
 * monotonic time now_ms. A round trip of more than CC_CLOCK_RTT_MAX_MS is
 * dropped. A table that is full drops the reading. */
void cc_clocks_record(cc_clocks *c, const char *peer, uint64_t peer_ms, uint64_t sent_ms, uint64_t got_ms,
                      uint64_t now_ms);

/* cc_clock_judge over the table in a network of `voters` voters, which the
 * table remembers for cc_clocks_now_ms. */
cc_clock_verdict cc_clocks_verdict(cc_clocks *c, size_t voters, uint64_t now_ms);

/* The network's time as this node reads it: cc_now_ms() plus
 * cc_clock_correction, judged with the voters last given to
 * cc_clocks_verdict (none yet: cc_now_ms()). For what a node judges or
 * stamps by the clock (request signatures, drug expiry, audit times);
 * GET /v1/time answers the node's own clock, which is what its peers read. */
uint64_t cc_clocks_now_ms(cc_clocks *c);

#endif
