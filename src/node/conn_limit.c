/*
 * node/conn_limit.c — connections per client address (conn_limit.h). A
 * linear table: it holds at most one slot per open connection (256 by
 * default), and each lookup is a handful of cache lines next to the cost
 * of accepting a TCP connection and starting its thread.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "node/conn_limit.h"

cc_err cc_conn_limit_init(cc_conn_limit *l, unsigned per_client, size_t cap)
{
    memset(l, 0, sizeof *l);
    if (per_client == 0 || cap == 0) return CC_ERR_USAGE;
    l->clients = calloc(cap, sizeof *l->clients);
    if (!l->clients) return CC_ERR_NOMEM;
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l->clients);
        l->clients = NULL;
        return CC_ERR_NOMEM;
    }
    l->per_client = per_client;
    l->cap = cap;
    return CC_OK;
}

void cc_conn_limit_destroy(cc_conn_limit *l)
{
    if (!l->clients) return;
    pthread_mutex_destroy(&l->mu);
    free(l->clients);
    l->clients = NULL;
}

bool cc_conn_limit_key(const struct sockaddr *sa, socklen_t len, uint8_t key[CC_CONN_KEY_BYTES])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!sa) return false;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(key, mapped, sizeof mapped);
        memcpy(key + sizeof mapped, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(key, &in6->sin6_addr, CC_CONN_KEY_BYTES);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return false;
    } else {
        return false;
    }
    return !(memcmp(key, mapped, sizeof mapped) == 0 && key[12] == 127); /* 127.0.0.0/8 */
}

/* The slot of key, or NULL (mu held). */
static cc_conn_client *find_locked(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES])
{
    for (size_t i = 0; i < l->cap; i++)
        if (l->clients[i].count > 0 && memcmp(l->clients[i].key, key, CC_CONN_KEY_BYTES) == 0)
            return &l->clients[i];
    return NULL;
}

bool cc_conn_limit_admit(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES])
{
    pthread_mutex_lock(&l->mu);
    const cc_conn_client *c = find_locked(l, key);
    bool ok = !c || c->count < l->per_client;
    pthread_mutex_unlock(&l->mu);
    return ok;
}

bool cc_conn_limit_opened(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES])
{
    pthread_mutex_lock(&l->mu);
    cc_conn_client *c = find_locked(l, key);
    for (size_t i = 0; !c && i < l->cap; i++)
        if (l->clients[i].count == 0) {
            c = &l->clients[i];
            memcpy(c->key, key, CC_CONN_KEY_BYTES);
        }
    if (c) c->count++;
    pthread_mutex_unlock(&l->mu);
    return c != NULL;
}

void cc_conn_limit_closed(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES])
{
    pthread_mutex_lock(&l->mu);
    cc_conn_client *c = find_locked(l, key);
    if (c) c->count--;
    pthread_mutex_unlock(&l->mu);
}

unsigned cc_conn_limit_count(cc_conn_limit *l, const uint8_t key[CC_CONN_KEY_BYTES])
{
    pthread_mutex_lock(&l->mu);
    const cc_conn_client *c = find_locked(l, key);
    unsigned n = c ? c->count : 0;
    pthread_mutex_unlock(&l->mu);
    return n;
}
