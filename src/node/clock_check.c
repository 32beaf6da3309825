/*
 * node/clock_check.c — is this node's clock off from the network's
 * (clock_check.h)?
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "node/clock_check.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool fresh(const cc_clock_reading *r, uint64_t now_ms, uint64_t within_ms)
{
    return r->at_ms >= now_ms || now_ms - r->at_ms <= within_ms;
}

static int64_t distance(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}

cc_clock_verdict cc_clock_judge(const cc_clock_reading *r, size_t n, size_t voters, uint64_t now_ms)
{
    cc_clock_verdict v = {0};
    int64_t clocks[CC_CLOCK_PEERS_MAX + 1] = {0}; /* this node's own clock is clocks[0]: offset 0 */
    size_t m = 1, ahead = 0, behind = 0;          /* peers beyond the limit, on either side */

    if (n > CC_CLOCK_PEERS_MAX) n = CC_CLOCK_PEERS_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!fresh(&r[i], now_ms, CC_CLOCK_FRESH_MS)) continue;
        int64_t err = (int64_t)(r[i].rtt_ms / 2); /* the reading is this far from the truth at most */
        clocks[m++] = r[i].offset_ms;
        if (r[i].offset_ms - err > CC_CLOCK_SKEW_MAX_MS) ahead++;
        if (r[i].offset_ms + err < -CC_CLOCK_SKEW_MAX_MS) behind++;
    }
    v.fresh = m - 1;
    size_t majority = voters / 2 + 1;
    v.known = voters > 1 && m >= majority;
    qsort(clocks, m, sizeof clocks[0], cmp_i64);
    int64_t middle = m % 2 ? clocks[m / 2] : (clocks[m / 2 - 1] + clocks[m / 2]) / 2;
    v.skew_ms = -middle;
    v.off = voters > 1 && (ahead >= majority || behind >= majority);
    if (!v.off) return v;

    /* the peer read last among those whose clock is near the middle (it
     * answers, and will not hand on in turn), else the nearest */
    const cc_clock_reading *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!fresh(&r[i], now_ms, CC_CLOCK_LIVE_MS)) continue;
        if (!best) {
            best = &r[i];
            continue;
        }
        int64_t d = distance(r[i].offset_ms, middle), bd = distance(best->offset_ms, middle);
        bool near = d <= CC_CLOCK_SKEW_MAX_MS, best_near = bd <= CC_CLOCK_SKEW_MAX_MS;
        if (near != best_near ? near : near ? r[i].at_ms > best->at_ms : d < bd) best = &r[i];
    }
    if (best) snprintf(v.prefer, sizeof v.prefer, "%s", best->peer);
    return v;
}

void cc_clocks_init(cc_clocks *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

void cc_clocks_destroy(cc_clocks *c)
{
    pthread_mutex_destroy(&c->mu);
}

void cc_clocks_record(cc_clocks *c, const char *peer, uint64_t peer_ms, uint64_t sent_ms, uint64_t got_ms,
                      uint64_t now_ms)
{
    if (got_ms < sent_ms || got_ms - sent_ms > CC_CLOCK_RTT_MAX_MS) return; /* slow, or the clock moved */
    /* the peer read its clock somewhere in the round trip: say at its middle */
    int64_t offset = (int64_t)peer_ms - (int64_t)(sent_ms + (got_ms - sent_ms) / 2);
    pthread_mutex_lock(&c->mu);
    size_t i = 0;
    while (i < c->count && strcmp(c->r[i].peer, peer) != 0) i++;
    if (i == c->count && c->count < CC_CLOCK_PEERS_MAX)
        snprintf(c->r[c->count++].peer, CC_HASH_HEX, "%s", peer);
    if (i < c->count) {
        c->r[i].offset_ms = offset;
        c->r[i].rtt_ms = got_ms - sent_ms;
        c->r[i].at_ms = now_ms;
    }
    pthread_mutex_unlock(&c->mu);
}

int64_t cc_clock_correction(const cc_clock_verdict *v)
{
    return v->off ? -v->skew_ms : 0;
}

cc_clock_verdict cc_clocks_verdict(cc_clocks *c, size_t voters, uint64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    c->voters = voters;
    cc_clock_verdict v = cc_clock_judge(c->r, c->count, voters, now_ms);
    pthread_mutex_unlock(&c->mu);
    return v;
}

uint64_t cc_clocks_now_ms(cc_clocks *c)
{
    uint64_t now = cc_now_ms();
    pthread_mutex_lock(&c->mu);
    cc_clock_verdict v = cc_clock_judge(c->r, c->count, c->voters, cc_mono_ns() / 1000000u);
    pthread_mutex_unlock(&c->mu);
    return now + (uint64_t)cc_clock_correction(&v); /* wraps back for a negative correction */
}
