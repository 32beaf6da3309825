/*
 * raft_rejoin.h — a node whose raft state started empty votes only for a
 * candidate whose log reaches everything committed before it started,
 * until its own log does (docs/CONSENSUS.md "A node that lost its data").
 *
 * Raft's safety rests on every node keeping what it stored: a vote is
 * granted only to a candidate whose log is at least as new as the voter's,
 * so every majority that elects a leader holds a node that has each
 * committed entry. A node whose data and raft directories were wiped (the
 * documented way back for a node with a broken disk) starts again with an
 * empty log, as a voter, and would grant its vote to any candidate. With
 * the leader B and this node A holding a block that the follower C lacks,
 * A wiped and B cut off, C is elected with A's vote, commits its own block
 * at that height, and every note acknowledged in B's block is gone
 * (tests/integration/test_raft_rejoin.c did exactly that before this).
 *
 * So a node whose raft log holds nothing past the bootstrap entry when it
 * starts (consensus_raft.c) writes raft/rejoining and, while that is
 * there, learns from the first leader it hears a bound that every entry
 * committed before it started lies within, and drops, unanswered, every
 * vote and pre-vote request from a candidate whose log may not reach it.
 * The bound: in a leader's term T, the leader_commit of the first
 * AppendEntries of T that reached this node, and the first entry of term
 * T it saw, whichever is higher:
 *   - a leader that led when the node lost its data had committed every
 *     entry committed until then, so its commit index, sent afterwards,
 *     covers them;
 *   - a leader elected after holds every committed entry, all before its
 *     own first entry of T: it was elected without this node's vote (any
 *     majority without this node holds a node that has each committed
 *     entry), or with it, by the rule here.
 * A candidate reaches the bound when its last entry is of a term after T,
 * or of T at or past the bound's index (that entry is the leader's of T,
 * so the candidate's log is the leader's up to there). A candidate whose
 * log ends at the bootstrap entry also gets the vote, so a new network, or
 * one restored from backups (every log one bootstrap entry), elects its
 * first leader as before; before the bound is known, that is the only
 * vote the node gives. The state ends once libraft has applied up to the
 * bound: the node's own log then reaches it, and raft's own rule says the
 * rest. A node that is elected itself leaves the state once its own first
 * entry of the term is committed: it leads, and its log is the network's.
 * Two nodes of three wiped at once are a majority that lost its state;
 * nothing here can save that.
 *
 * Only libraft's messages are read (raft.h). One thread: the one that runs
 * raft.
 */
#ifndef CC_NODE_RAFT_REJOIN_H
#define CC_NODE_RAFT_REJOIN_H

#include <stdbool.h>

#include <raft.h>

#define CC_RAFT_REJOIN_MARK "rejoining" /* in raft/: the state survives a restart */

typedef struct cc_raft_rejoin {
    bool rejoining; /* raft/rejoining is there */
    /* the bound, once known (bound_index 0: not yet) */
    raft_term bound_term;
    raft_index bound_index;
    /* learning it: the newest leader term heard from, and in that term */
    raft_term term;
    bool heard;                 /* an AppendEntries arrived */
    raft_index leader_commit;   /* the leader_commit of the first one */
    raft_index own_entry;       /* the first index seen holding an entry of the term, or 0 */
    unsigned long long refused; /* vote and pre-vote requests dropped so far */
} cc_raft_rejoin;

/* Should libraft not see msg? true for a vote or pre-vote request from a
 * candidate whose log goes past the bootstrap entry without reaching the
 * bound (or before it is known), while rejoining (counted in refused). */
bool cc_raft_rejoin_refuse(cc_raft_rejoin *j, const struct raft_message *msg);

/* Learn the bound from a leader's AppendEntries or InstallSnapshot; call
 * for every message libraft is about to handle. */
void cc_raft_rejoin_heard(cc_raft_rejoin *j, const struct raft_message *msg);

/* Has libraft applied up to the bound (last_applied)? true once, when that
 * ends the state: rejoining is then false. */
bool cc_raft_rejoin_caught_up(cc_raft_rejoin *j, raft_index last_applied);

/* This node leads, and its first entry of the term is committed. true
 * once, when that ends the state. */
bool cc_raft_rejoin_led(cc_raft_rejoin *j);

#endif
