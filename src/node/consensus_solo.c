/*
 * node/consensus_solo.c — consensus for a network of one node: a proposed
 * block is executed, signed and committed at once (cc_chain_produce), on
 * the producer's thread. See consensus.h for the protocol.
 *
 * A block this build cannot execute (the network moved to a ruleset it
 * does not know) stops the node applying: it keeps serving reads, and
 * takes txs again once restarted on a build that knows the ruleset.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/consensus.h"
#include "node/log.h"

typedef struct solo {
    cc_chain *chain;
    const cc_key *key;
    char name[64];
    pthread_mutex_t lock;                   /* guards halt_reason */
    char halt_reason[CC_HALT_REASON_BYTES]; /* empty: applying */
} solo;

static void halt(solo *s, const char *why)
{
    pthread_mutex_lock(&s->lock);
    bool first = s->halt_reason[0] == '\0';
    if (first) snprintf(s->halt_reason, sizeof s->halt_reason, "%s", why);
    pthread_mutex_unlock(&s->lock);
    if (first)
        cc_node_log(CC_LOG_ERROR, "block",
                    "applying stopped: %s; the node serves reads but applies no more blocks", why);
}

/* Stop when this build does not know the ruleset of the next block: at
 * start, and after each block (it would fail every block from there). */
static void ruleset_check(solo *s)
{
    cc_errbuf eb = {""};
    if (cc_chain_next_ruleset_known(s->chain, &eb) == CC_ERR_VERSION) halt(s, eb.msg);
}

static cc_err solo_propose(cc_consensus *cs, cc_proposal *p)
{
    solo *s = cs->impl;
    p->eb.msg[0] = '\0';
    p->err =
        cc_chain_produce(s->chain, p->txs, p->tx_count, p->time_ms, s->key, &p->header, p->results, &p->eb);
    if (p->err == CC_ERR_VERSION) halt(s, p->eb.msg);
    if (p->err == CC_OK) ruleset_check(s);
    p->done(p);
    return CC_OK;
}

static bool solo_halted(cc_consensus *cs, char *reason, size_t cap)
{
    solo *s = cs->impl;
    pthread_mutex_lock(&s->lock);
    bool halted = s->halt_reason[0] != '\0';
    if (halted) snprintf(reason, cap, "%s", s->halt_reason);
    pthread_mutex_unlock(&s->lock);
    return halted;
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
    solo *s = cs->impl;
    pthread_mutex_destroy(&s->lock);
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
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->name, sizeof s->name, "%s", name);
    ruleset_check(s);
    cs->mode = "solo";
    cs->impl = s;
    cs->propose = solo_propose;
    cs->is_leader = solo_is_leader;
    cs->leader = solo_leader;
    cs->halted = solo_halted;
    cs->status = NULL; /* nothing to report beyond mode and leader */
    cs->stop = NULL;
    cs->close = solo_close;
    return CC_OK;
}
