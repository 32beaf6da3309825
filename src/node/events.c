/*
 * node/events.c — ring of recent SSE frames with blocking readers (see
 * events.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carechain/os.h"
#include "node/events.h"

cc_err cc_events_init(cc_events *ev)
{
    pthread_condattr_t attr;
    memset(ev, 0, sizeof *ev);
    if (pthread_mutex_init(&ev->mu, NULL) != 0) return CC_ERR_NOMEM;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&ev->published, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&ev->mu);
        return CC_ERR_NOMEM;
    }
    return CC_OK;
}

void cc_events_destroy(cc_events *ev)
{
    for (size_t i = 0; i < CC_EVENTS_RING; i++) free(ev->ring[i]);
    pthread_cond_destroy(&ev->published);
    pthread_mutex_destroy(&ev->mu);
}

void cc_events_publish(cc_events *ev, char *frame, size_t len)
{
    pthread_mutex_lock(&ev->mu);
    size_t at = (size_t)(ev->next_seq % CC_EVENTS_RING);
    free(ev->ring[at]);
    ev->ring[at] = frame;
    ev->ring_len[at] = len;
    ev->next_seq++;
    pthread_cond_broadcast(&ev->published);
    pthread_mutex_unlock(&ev->mu);
}

void cc_events_close(cc_events *ev)
{
    pthread_mutex_lock(&ev->mu);
    ev->closed = true;
    pthread_cond_broadcast(&ev->published);
    pthread_mutex_unlock(&ev->mu);
}

uint64_t cc_events_tail(cc_events *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t seq = ev->next_seq;
    pthread_mutex_unlock(&ev->mu);
    return seq;
}

cc_events_next_rc cc_events_next(cc_events *ev, uint64_t *seq, unsigned timeout_ms, char **out, size_t *len)
{
    static const char skipped[] = ": some events were skipped (reader too slow)\n\n";
    cc_events_next_rc rc;
    const struct timespec until = cc_time_after_ms(CLOCK_MONOTONIC, timeout_ms);

    pthread_mutex_lock(&ev->mu);
    while (!ev->closed && *seq >= ev->next_seq) {
        if (pthread_cond_timedwait(&ev->published, &ev->mu, &until) == ETIMEDOUT) break;
    }
    if (ev->closed) {
        rc = CC_EVENTS_CLOSED;
    } else if (*seq >= ev->next_seq) {
        rc = CC_EVENTS_IDLE;
    } else if (ev->next_seq - *seq > CC_EVENTS_RING) {
        *seq = ev->next_seq - CC_EVENTS_RING;
        *out = strdup(skipped);
        *len = sizeof skipped - 1;
        rc = *out ? CC_EVENTS_FRAME : CC_EVENTS_NOMEM;
    } else {
        size_t at = (size_t)(*seq % CC_EVENTS_RING);
        *out = malloc(ev->ring_len[at] + 1);
        if (*out) {
            memcpy(*out, ev->ring[at], ev->ring_len[at] + 1);
            *len = ev->ring_len[at];
            (*seq)++;
            rc = CC_EVENTS_FRAME;
        } else {
            rc = CC_EVENTS_NOMEM;
        }
    }
    pthread_mutex_unlock(&ev->mu);
    return rc;
}
