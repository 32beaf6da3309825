/*
 * node/raft_rejoin.c — a node whose raft state started empty votes only
 * for candidates whose log reaches what was committed before it started
 * (raft_rejoin.h).
 */
#include "node/raft_rejoin.h"

#define BOOTSTRAP_INDEX 1 /* a log that holds only raft_bootstrap's configuration entry */

bool cc_raft_rejoin_refuse(cc_raft_rejoin *j, const struct raft_message *msg)
{
    if (!j->rejoining || msg->type != RAFT_IO_REQUEST_VOTE) return false;
    const struct raft_request_vote *rv = &msg->request_vote;
    if (rv->last_log_index <= BOOTSTRAP_INDEX) return false; /* as new as this node */
    if (j->bound_index && (rv->last_log_term > j->bound_term ||
                           (rv->last_log_term == j->bound_term && rv->last_log_index >= j->bound_index)))
        return false; /* it reaches the bound */
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
    if (!j->rejoining || j->bound_index) return;
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
    if (j->heard && j->own_entry) {
        j->bound_term = j->term;
        j->bound_index = j->leader_commit > j->own_entry ? j->leader_commit : j->own_entry;
    }
}

bool cc_raft_rejoin_caught_up(cc_raft_rejoin *j, raft_index last_applied)
{
    if (!j->rejoining || !j->bound_index || last_applied < j->bound_index) return false;
    j->rejoining = false;
    return true;
}

bool cc_raft_rejoin_led(cc_raft_rejoin *j)
{
    if (!j->rejoining) return false;
    j->rejoining = false;
    return true;
}
