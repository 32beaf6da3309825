/*
 * raft_match.h — corrects libraft 0.15's answers to AppendEntries before
 * they leave a follower (docs/CONSENSUS.md "The commit rule").
 *
 * A follower that accepts an AppendEntries answers with last_log_index,
 * which the leader takes as the end of the follower's log that matches its
 * own and counts towards committing. Raft says that end is the request's
 * prev_log_index plus its entries. libraft 0.15 sends the end of the
 * follower's whole stored log instead, and when that log still holds
 * entries of an older term past what the leader sent (a tail no request
 * has overwritten yet), the leader counts them as its own: it can commit
 * an entry only a minority of logs hold, and a later leader can then
 * commit a different block at that height (tests/sim/sim_raft.c saw it).
 *
 * So each node watches what it receives and what it sends, through its
 * raft_io: per leader term, the end of what the requests it accepts cover
 * (an AppendEntries whose prev_log_index/prev_log_term its log holds, or
 * an InstallSnapshot), and an accepting answer that claims more than that
 * is sent claiming exactly that. One thread (the one that runs raft).
 */
#ifndef CC_NODE_RAFT_MATCH_H
#define CC_NODE_RAFT_MATCH_H

#include <stdbool.h>

#include <raft.h>

typedef struct cc_raft_match {
    raft_term term;             /* the newest term a leader's request carried */
    raft_index matched;         /* in that term: how far requests it accepts reach */
    unsigned long long clamped; /* answers corrected so far */
} cc_raft_match;

/* The term of the entry at index in r's log: 0 when r has no such entry,
 * CC_RAFT_TERM_COMPACTED when a snapshot replaced it (the snapshot's own
 * last index reports the snapshot's term). Reads libraft 0.15's struct
 * raft_log, which raft.h exposes. */
#define CC_RAFT_TERM_COMPACTED ((raft_term)-1)
raft_term cc_raft_log_term(const struct raft *r, raft_index index);

/* msg arrived for r; call before r sees it. */
void cc_raft_match_received(cc_raft_match *m, const struct raft *r, const struct raft_message *msg);

/* r is about to send msg. true when msg is an accepting AppendEntries
 * answer that claims more than matched: *fixed is then the copy to send. */
bool cc_raft_match_answer(cc_raft_match *m, const struct raft_message *msg, struct raft_message *fixed);

#endif
