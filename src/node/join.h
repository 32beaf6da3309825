/*
 * node/join.h — how a node that genesis does not list (one added later by
 * network governance) finds its place in the network before raft starts.
 */
#ifndef CC_NODE_JOIN_H
#define CC_NODE_JOIN_H

#include <stddef.h>

#include "carechain.h"
#include "carechain/chain.h"

/* Resolve this node's membership. peers, dir/config.json "peers" as the
 * node read and checked them (an array of API URLs, "http://" optional;
 * NULL: none; dir is named in messages), are asked in turn for GET /v1/network: the first
 * that lists this node gives its approved raft address (or, when it says
 * removed, an error) and *nodes that answer's "nodes" array (caller
 * decrefs); peers that answer without listing it make an error. Only when there are no peers or none answers,
 * the node's own applied state decides (node/<own id> active: a restart);
 * *nodes is then NULL. Peers come first because a node's own state may lag:
 * a node taken out of raft never receives the block that removed it.
 * raft receives the address (cap bytes).
 * Errors: CC_ERR_USAGE (not a member, removed, or no peers to ask; eb says
 * what to do), CC_ERR_UNREACHABLE (no peer answered). */
cc_err cc_join_resolve(cc_chain *chain, const cc_key *key, const char *dir, const json_t *peers,
                       json_t **nodes, char *raft, size_t cap, cc_errbuf *eb) CC_WUR;

#endif
