/*
 * node/consensus_solo.c — consensus for a network of one node: a proposed
 * block is executed, signed and committed at once (cc_chain_produce), on
 * the producer's thread. See consensus.h for the protocol.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/consensus.h"

typedef struct solo {
    cc_chain *chain;
    const cc_key *key;
    char name[64];
} solo;

static cc_err solo_propose(cc_consensus *cs, cc_proposal *p)
{
    solo *s = cs->impl;
    p->eb.msg[0] = '\0';
    p->err =
        cc_chain_produce(s->chain, p->txs, p->tx_count, p->time_ms, s->key, &p->header, p->results, &p->eb);
    p->done(p);
    return CC_OK;
}

static bool solo_is_leader(cc_consensus *cs)
{
    (void)cs;
    return true;
}

static void solo_leader(cc_consensus *cs, char *out, size_t n)
{
    solo *s = cs->impl;
    snprintf(out, n, "%s", s->name);
}

static void solo_close(cc_consensus *cs)
{
    free(cs->impl);
    cs->impl = NULL;
}

cc_err cc_consensus_solo_init(cc_consensus *cs, cc_chain *chain, const cc_key *key, const char *name,
                              cc_errbuf *eb)
{
    solo *s = calloc(1, sizeof *s);
    if (!s) return cc_errf(eb, CC_ERR_NOMEM, "no memory for solo consensus");
    s->chain = chain;
    s->key = key;
    snprintf(s->name, sizeof s->name, "%s", name);
    cs->mode = "solo";
    cs->impl = s;
    cs->propose = solo_propose;
    cs->is_leader = solo_is_leader;
    cs->leader = solo_leader;
    cs->status = NULL; /* nothing to report beyond mode and leader */
    cs->stop = NULL;
    cs->close = solo_close;
    return CC_OK;
}
