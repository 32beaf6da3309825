/*
 * node/conn_limit.h — how many API connections one client address may hold
 * open at once. The node serves at most max_connections (one thread each);
 * without a share per client, one host that opens that many and sends
 * nothing keeps every other client out until the idle timeout, and again
 * after it. Loopback clients (the node's own machine: a reverse proxy in
 * front of it, the bench, devnet's nodes forwarding to each other) are
 * never limited: a proxy limits its own clients.
 *
 * Invariants:
 *   1. A client's count is the number of its connections libmicrohttpd
 *      told the node it opened and has not told it closed.
 *   2. No count passes per_client: admit refuses an address that holds
 *      that many, and libmicrohttpd calls admit and then opened for each
 *      connection on its one listening thread, so no other connection is
 *      counted in between.
 * Thread-safe; libmicrohttpd calls admit and opened from its listening
 * thread, closed from a connection's thread.
 */
#ifndef CC_NODE_CONN_LIMIT_H
#define CC_NODE_CONN_LIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "carechain.h"

#define CC_CONN_KEY_BYTES 16 /* an IPv6 address; IPv4 as ::ffff:a.b.c.d */

typedef struct cc_conn_client {
    uint8_t key[CC_CONN_KEY_BYTES];
    unsigned count; /* 0: a free slot */
} cc_conn_client;

typedef struct cc_conn_limit {
    pthread_mutex_t mu;
    unsigned per_client;
    cc_conn_client *clients; /* one slot per connection the node may hold */
    size_t cap;
} cc_conn_limit;

/* Room for cap connections at once, at most per_client (>= 1) of them from
 * one address. CC_ERR_NOMEM. */
cc_err cc_conn_limit_init(cc_conn_limit *l, unsigned per_client, size_t cap) CC_WUR;
void cc_conn_limit_destroy(cc_conn_limit *l);

/* The address of a client as a key, into key. False when it is never
 * limited: loopback (127.0.0.0/8, ::1, and IPv4-mapped 127/8) or not IP. */
bool cc_conn_limit_key(const struct sockaddr *sa, socklen_t len, uint8_t key[CC_CONN_KEY_BYTES]);

/* May one more connection from key open now (fewer than per_client open)? */
bool cc_conn_limit_admit(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES]);
/* A connection from key opened; false (nothing counted) when every slot is
 * taken, which cannot happen while the node holds at most cap connections. */
bool cc_conn_limit_opened(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES]);
/* One that opened_() counted closed. */
void cc_conn_limit_closed(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES]);
/* Connections from key open now. */
unsigned cc_conn_limit_count(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES]);

#endif
