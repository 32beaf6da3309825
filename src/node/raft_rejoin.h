/*
 * raft_rejoin.h — a node whose raft state started empty votes for no
 * candidate with a history until it holds everything committed before it
 * started (docs/CONSENSUS.md "A node that lost its data").
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
 * So a node that starts with an empty raft directory writes
 * raft/rejoining and, while it is there, drops every vote and pre-vote
 * request from a candidate whose log goes past the bootstrap entry (index
 * 1). A candidate as new as itself still gets its vote, so a new network,
 * or one restored from backups (every log one bootstrap entry), elects its
 * first leader as before. The node leaves the state once it has applied,
 * in one leader's term T, both the leader_commit of the first
 * AppendEntries of T that reached it and the first entry of term T it
 * saw:
 *   - a leader elected before the node started afresh commits every entry
 *     committed until then, so its commit index, sent afterwards, covers
 *     them;
 *   - a leader elected after was elected without this node's vote (it had
 *     a history), so it holds every committed entry, all before its own
 *     first entry of T.
 * Either way the node then holds everything committed before it started
 * and votes as raft says again. A node that is elected itself (by nodes as
 * new as it) leaves the state once its own first entry of the term is
 * committed: it leads, and its log is the network's. Two nodes of three wiped at once are a
 * majority that lost its state; nothing here can save that.
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
    bool rejoining;             /* raft/rejoining is there */
    raft_term term;             /* the newest leader term heard from while catching up */
    bool heard;                 /* an AppendEntries of that term arrived */
    raft_index leader_commit;   /* the leader_commit of the first one */
    raft_index own_entry;       /* the first index seen holding an entry of that term, or 0 */
    unsigned long long refused; /* vote and pre-vote requests dropped so far */
} cc_raft_rejoin;

/* Should libraft not see msg? true for a vote or pre-vote request from a
 * candidate whose log goes past index 1, while catching up (counted in
 * refused). */
bool cc_raft_rejoin_refuse(cc_raft_rejoin *j, const struct raft_message *msg);

/* Note what a leader's AppendEntries or InstallSnapshot says of its term;
 * call for every message libraft is about to handle. */
void cc_raft_rejoin_heard(cc_raft_rejoin *j, const struct raft_message *msg);

/* Has the node, now that libraft applied up to last_applied, caught up
 * (see above)? true once, when it just did: rejoining is then false. */
bool cc_raft_rejoin_caught_up(cc_raft_rejoin *j, raft_index last_applied);

/* This node leads, and its first entry of the term is committed. true
 * once, when that ends the state. */
bool cc_raft_rejoin_led(cc_raft_rejoin *j);

#endif
