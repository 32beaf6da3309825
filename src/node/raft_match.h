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
 * So each node watches, through its raft_io, the requests it receives and
 * what libraft makes of them, and keeps per leader term how far the
 * requests libraft accepted reach: an AppendEntries reaches prev_log_index
 * plus its entries, an InstallSnapshot its last index. libraft answers a
 * request it refuses, or accepts without writing anything, while it
 * handles it; one whose entries or snapshot it has to write first it
 * answers later, and only if the write succeeds. So a request counts as
 * accepted when its answer, given while it is handled, accepts, or when no
 * answer was given then. An accepting answer that claims more than the
 * accepted requests reach is sent claiming exactly that.
 *
 * Only libraft's messages are read (raft.h), nothing of its internals. One
 * thread: the one that runs raft.
 */
#ifndef CC_NODE_RAFT_MATCH_H
#define CC_NODE_RAFT_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <raft.h>

typedef struct cc_raft_match {
    raft_term term;             /* the newest term of a request libraft accepted or refused */
    raft_index matched;         /* in that term: how far the requests it accepted reach */
    unsigned long long clamped; /* answers corrected so far */
    /* the request libraft is handling now (between received and handled) */
    bool handling, answered;
    raft_term request_term;
    raft_index request_end;
} cc_raft_match;

/* msg arrived; call just before libraft handles it. */
void cc_raft_match_received(cc_raft_match *m, const struct raft_message *msg);

/* libraft has handled the message passed to cc_raft_match_received. */
void cc_raft_match_handled(cc_raft_match *m);

/* libraft is about to send msg. true when msg is an accepting
 * AppendEntries answer that claims more than the accepted requests reach:
 * *fixed is then the copy to send. */
bool cc_raft_match_answer(cc_raft_match *m, const struct raft_message *msg, struct raft_message *fixed);

#endif
