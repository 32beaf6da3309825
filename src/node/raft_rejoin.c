/*
 * node/raft_rejoin.c — no vote for a candidate with a history until this
 * node, started with an empty raft directory, holds everything committed
 * before (raft_rejoin.h).
 */
#include "node/raft_rejoin.h"

#define BOOTSTRAP_INDEX 1 /* a log that holds only raft_bootstrap's configuration entry */

bool cc_raft_rejoin_refuse(cc_raft_rejoin *j, const struct raft_message *msg)
{
    if (!j->rejoining || msg->type != RAFT_IO_REQUEST_VOTE) return false;
    if (msg->request_vote.last_log_index <= BOOTSTRAP_INDEX) return false; /* as new as this node */
    j->refused++;
    return true;
}

/* A message of leader term t: a newer term starts over. false for an
 * older term, which tells nothing. */
static bool heard_term(cc_raft_rejoin *j, raft_term t)
{
    if (t < j->term) return false;
    if (t > j->term) {
        j->term = t;
        j->heard = false;
        j->leader_commit = 0;
        j->own_entry = 0;
    }
    return true;
}

void cc_raft_rejoin_heard(cc_raft_rejoin *j, const struct raft_message *msg)
{
    if (!j->rejoining) return;
    if (msg->type == RAFT_IO_APPEND_ENTRIES) {
        const struct raft_append_entries *ae = &msg->append_entries;
        if (!heard_term(j, ae->term)) return;
        if (!j->heard) {
            j->heard = true;
            j->leader_commit = ae->leader_commit;
        }
        for (unsigned i = 0; i < ae->n_entries && !j->own_entry; i++)
            if (ae->entries[i].term == ae->term) j->own_entry = ae->prev_log_index + 1 + i;
    } else if (msg->type == RAFT_IO_INSTALL_SNAPSHOT) {
        const struct raft_install_snapshot *is = &msg->install_snapshot;
        if (!heard_term(j, is->term)) return;
        /* a snapshot that ends in the leader's term holds its first entry of it */
        if (!j->own_entry && is->last_term == is->term) j->own_entry = is->last_index;
    }
}

bool cc_raft_rejoin_caught_up(cc_raft_rejoin *j, raft_index last_applied)
{
    if (!j->rejoining || !j->heard || !j->own_entry) return false;
    raft_index need = j->leader_commit > j->own_entry ? j->leader_commit : j->own_entry;
    if (last_applied < need) return false;
    j->rejoining = false;
    return true;
}

bool cc_raft_rejoin_led(cc_raft_rejoin *j)
{
    if (!j->rejoining) return false;
    j->rejoining = false;
    return true;
}
