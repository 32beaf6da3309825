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
 * The second correction is of a refusal. libraft 0.15 refuses an
 * AppendEntries whose prev_log_index its log no longer holds because a
 * snapshot of this node replaced it, although every entry a snapshot
 * replaces was committed, so the leader's entry there is the same. The
 * leader then steps back one entry per answer, reaches the start of its own
 * log and sends its snapshot, which this node ignores as older than its
 * own, answering that it holds up to the leader's snapshot; the next
 * AppendEntries starts after that and is refused again, and so on for
 * good: this node never caught up again (the simulation's seed 52977: a
 * follower whose answers were lost while it kept receiving entries
 * snapshotted past what the leader knew of it). Such a refusal is sent as
 * an acceptance up to this node's snapshot, which is true of any leader's
 * log; the leader goes on from there.
 *
 * Only libraft's messages are read (raft.h), nothing of its internals,
 * besides the snapshot index its caller passes in (a field of struct raft
 * that raft.h declares). One thread: the one that runs raft.
 */
#ifndef CC_NODE_RAFT_MATCH_H
#define CC_NODE_RAFT_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <raft.h>

typedef struct cc_raft_match {
    raft_term term;             /* the newest term of a request libraft accepted or refused */
    raft_index matched;         /* in that term: how far the requests it accepted reach */
    unsigned long long clamped; /* answers corrected so far (both corrections) */
    /* the request libraft is handling now (between received and handled) */
    bool handling, answered;
    raft_term request_term;
    raft_index request_prev; /* an AppendEntries' prev_log_index (0 for a snapshot) */
    raft_index request_end;
} cc_raft_match;

/* msg arrived; call just before libraft handles it. */
void cc_raft_match_received(cc_raft_match *m, const struct raft_message *msg);

/* libraft has handled the message passed to cc_raft_match_received. */
void cc_raft_match_handled(cc_raft_match *m);

/* libraft is about to send msg; snapshot_index is the last index this
 * node's newest snapshot replaces (struct raft's log.snapshot.last_index,
 * 0 for none). true when msg is an accepting AppendEntries answer that
 * claims more than the accepted requests reach, or a refusal of an entry
 * that snapshot replaced: *fixed is then the copy to send. */
bool cc_raft_match_answer(cc_raft_match *m, const struct raft_message *msg, raft_index snapshot_index,
                          struct raft_message *fixed);

#endif
