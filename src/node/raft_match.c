/*
 * raft_match.c — the correction of raft_match.h.
 */
#include "node/raft_match.h"

/* libraft accepted a request of a leader in term that reaches end. */
static void reach(cc_raft_match *m, raft_term term, raft_index end)
{
    if (term > m->term) {
        m->term = term;
        m->matched = 0;
    }
    if (term == m->term && end > m->matched) m->matched = end;
}

void cc_raft_match_received(cc_raft_match *m, const struct raft_message *msg)
{
    m->handling = false;
    if (msg->type == RAFT_IO_APPEND_ENTRIES) {
        m->request_term = msg->append_entries.term;
        m->request_prev = msg->append_entries.prev_log_index;
        m->request_end = msg->append_entries.prev_log_index + msg->append_entries.n_entries;
    } else if (msg->type == RAFT_IO_INSTALL_SNAPSHOT) {
        m->request_term = msg->install_snapshot.term;
        m->request_prev = 0;
        m->request_end = msg->install_snapshot.last_index;
    } else {
        return;
    }
    m->handling = true;
    m->answered = false;
}

void cc_raft_match_handled(cc_raft_match *m)
{
    /* not answered while handled: libraft writes the entries or the
     * snapshot first, and answers once they are stored */
    if (m->handling && !m->answered) reach(m, m->request_term, m->request_end);
    m->handling = false;
}

bool cc_raft_match_answer(cc_raft_match *m, const struct raft_message *msg, raft_index snapshot_index,
                          struct raft_message *fixed)
{
    if (msg->type != RAFT_IO_APPEND_ENTRIES_RESULT) return false;
    const struct raft_append_entries_result *a = &msg->append_entries_result;
    if (m->handling && !m->answered) { /* the answer to the request being handled */
        m->answered = true;
        /* A refusal, in the leader's own term (not one that tells it of a
         * newer term), of an AppendEntries whose prev_log_index this node's
         * snapshot replaced: its entries through the snapshot are committed,
         * so they are the leader's too. */
        if (a->rejected != 0 && a->term == m->request_term && m->request_prev != 0 &&
            m->request_prev < snapshot_index) {
            reach(m, m->request_term, snapshot_index);
            *fixed = *msg;
            fixed->append_entries_result.rejected = 0;
            fixed->append_entries_result.last_log_index = snapshot_index;
            m->clamped++;
            return true;
        }
        if (a->rejected == 0)
            reach(m, m->request_term, m->request_end);
        else if (m->request_term > m->term)
            reach(m, m->request_term, 0); /* a new leader whose request did not match: nothing yet */
    }
    /* An answer in a later term than any request is the follower moving
     * on: the leader steps down on it and reads nothing else. */
    if (a->rejected != 0 || a->term != m->term || a->last_log_index <= m->matched) return false;
    *fixed = *msg;
    fixed->append_entries_result.last_log_index = m->matched;
    m->clamped++;
    return true;
}
