/*
 * raft_match.c — the correction of raft_match.h.
 */
#include "node/raft_match.h"

raft_term cc_raft_log_term(const struct raft *r, raft_index index)
{
    const struct raft_log *l = &r->log;
    if (index == 0) return 0;
    if (index <= l->offset)
        return index == l->snapshot.last_index ? l->snapshot.last_term : CC_RAFT_TERM_COMPACTED;
    size_t count = l->back >= l->front ? l->back - l->front : l->size - l->front + l->back;
    size_t pos = (size_t)(index - l->offset - 1);
    if (pos >= count) return 0;
    return l->entries[(l->front + pos) % l->size].term;
}

/* A request of a leader in term reaches end (when r accepts it). */
static void reach(cc_raft_match *m, raft_term term, raft_index end)
{
    if (term > m->term) {
        m->term = term;
        m->matched = 0;
    }
    if (term == m->term && end > m->matched) m->matched = end;
}

void cc_raft_match_received(cc_raft_match *m, const struct raft *r, const struct raft_message *msg)
{
    if (msg->type == RAFT_IO_APPEND_ENTRIES) {
        const struct raft_append_entries *ae = &msg->append_entries;
        raft_term have = cc_raft_log_term(r, ae->prev_log_index);
        /* r accepts it when its log holds the entry the request follows
         * (raft's consistency check); an entry inside r's snapshot was
         * committed, so it is the leader's too */
        if (ae->prev_log_index == 0 || have == ae->prev_log_term || have == CC_RAFT_TERM_COMPACTED)
            reach(m, ae->term, ae->prev_log_index + ae->n_entries);
        else if (ae->term > m->term)
            reach(m, ae->term, 0);
    } else if (msg->type == RAFT_IO_INSTALL_SNAPSHOT) {
        reach(m, msg->install_snapshot.term, msg->install_snapshot.last_index);
    }
}

bool cc_raft_match_answer(cc_raft_match *m, const struct raft_message *msg, struct raft_message *fixed)
{
    const struct raft_append_entries_result *a = &msg->append_entries_result;
    /* An answer in a later term than any request seen is the follower
     * moving on: the leader steps down on it and reads nothing else. */
    if (msg->type != RAFT_IO_APPEND_ENTRIES_RESULT || a->rejected != 0 || a->term != m->term ||
        a->last_log_index <= m->matched)
        return false;
    *fixed = *msg;
    fixed->append_entries_result.last_log_index = m->matched;
    m->clamped++;
    return true;
}
