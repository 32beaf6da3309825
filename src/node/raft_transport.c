/*
 * node/raft_transport.c — raft_uv's TCP transport, wrapped: Nagle off, every
 * connection authenticated (raft_auth.h) and then encrypted (raft_link.h);
 * and raft_uv's io, wrapped to correct libraft's answers to AppendEntries
 * (raft_match.h) and to drop the vote requests a rejoining node must not
 * grant (raft_rejoin.h), to halt the node and take it out of raft when it cannot
 * write its raft log, term or vote, and to read no snapshot before one is
 * on disk.
 * Loop thread only.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/log.h"
#include "node/raft_node.h"

/* ---- the transport: libraft's TCP one, Nagle off, peers authenticated, encrypted ------- */

/* libraft 0.15's TCP transport never sets TCP_NODELAY, and it sends each
 * direction of a pair of servers over its own connection, so the receiver
 * never has data to piggyback its ACKs on: a small message written while
 * an earlier one is unacknowledged waits for the receiver's delayed ACK
 * (up to 40 ms on Linux). Every message here is latency-bound, so wrap the
 * transport's connect and listen and set TCP_NODELAY on each stream it
 * hands to raft_uv.
 *
 * The same wrapper makes every connection prove, before raft_uv sees a
 * byte of it, that both ends are nodes of the network (raft_auth.h):
 * libraft trusts what arrives on its port, and a malformed message from
 * anyone who can reach it crashes the node. After libraft's handshake the
 * accepting side writes a hello with a fresh ephemeral key, the connecting
 * side answers with its own and its node key's signature over both, and
 * the accepting side checks that key is the one of the raft id the
 * handshake claimed (a genesis node or one network/config lists) and
 * writes its admit, signed with its node key, which the connecting side
 * checks the same way. Every read asks for exactly the bytes still
 * missing, and neither side sends a raft byte before that, so none is
 * consumed here. A connection that does not finish within RAFT_AUTH_MS is
 * closed. The stream is then handed to a link (raft_link.h), and raft_uv
 * gets the link's plain end: every raft byte on the wire is encrypted. */

#define RAFT_AUTH_MS     3000  /* the whole exchange, on either side */
#define RAFT_AUTH_LOG_MS 10000 /* at most one "refused" line per this long */

typedef struct auth_conn {
    cc_raft_node *r;
    struct auth_conn *next; /* r->auth_pending */
    struct uv_stream_s *stream;
    uv_timer_t timer;
    uv_write_t writes[2];          /* a side writes at most twice; a request is not reused */
    unsigned written;              /* writes queued so far */
    bool accepting;                /* this node accepted the connection (else it connected) */
    bool done;                     /* finished: handed on or failed */
    int open;                      /* callbacks still due: timer close, write, stream close */
    raft_id id;                    /* the peer's raft id */
    char address[MEMBER_ADDR_MAX]; /* the address libraft's handshake named ('?' for odd bytes) */
    char peer[64];                 /* accepting: where the connection really comes from */
    uint8_t *into;                 /* the read in progress: into[have..need) */
    size_t have, need;
    void (*on_read)(struct auth_conn *ac); /* called when into is full */
    cc_raft_hs hs;
    uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES];
    uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES];
    uint8_t admit[CC_RAFT_AUTH_ADMIT_BYTES];
    struct raft_uv_connect *outer; /* connecting: raft_uv's request and callback */
    raft_uv_connect_cb cb;
} auth_conn;

static cc_raft_node *rr_of_transport(struct raft_uv_transport *t)
{
    return (cc_raft_node *)(void *)((char *)t - offsetof(cc_raft_node, transport));
}

/* ---- libraft's answers to AppendEntries, corrected (raft_match.h) ---- */

static cc_raft_node *rr_of_io(struct raft_io *io)
{
    return (cc_raft_node *)(void *)((char *)io - offsetof(cc_raft_node, io));
}

/* Free what a received message owns, as libraft does with one it drops:
 * an AppendEntries' entries array and the batches their bytes were
 * decoded into (several entries share one), an InstallSnapshot's
 * configuration and data. */
static void message_free(struct raft_message *msg)
{
    if (msg->type == RAFT_IO_APPEND_ENTRIES) {
        struct raft_entry *e = msg->append_entries.entries;
        unsigned n = msg->append_entries.n_entries;
        for (unsigned i = 0; i < n; i++) {
            bool freed = e[i].batch == NULL;
            for (unsigned k = 0; k < i && !freed; k++) freed = e[k].batch == e[i].batch;
            if (!freed) raft_free(e[i].batch);
        }
        raft_free(e);
    } else if (msg->type == RAFT_IO_INSTALL_SNAPSHOT) {
        raft_configuration_close(&msg->install_snapshot.conf);
        raft_free(msg->install_snapshot.data.base);
    }
}

static void match_recv(struct raft_io *io, struct raft_message *msg)
{
    cc_raft_node *r = rr_of_io(io);
    if (r->out_of_raft) { /* out of raft: see "writes of the raft log" below */
        message_free(msg);
        return;
    }
    if (cc_raft_rejoin_refuse(&r->rejoin, msg)) { /* rejoining: see raft_rejoin.h */
        message_free(msg);
        return;
    }
    cc_raft_rejoin_heard(&r->rejoin, msg);
    cc_raft_match_received(&r->match, msg);
    r->raft_recv(io, msg);
    cc_raft_match_handled(&r->match);
    if (cc_raft_rejoin_caught_up(&r->rejoin, raft_last_applied(&r->raft))) cc_raft_rejoined(r);
}

void cc_raft_rejoined(cc_raft_node *r)
{
    cc_raft_mark(r, CC_RAFT_REJOIN_MARK, NULL, false);
    cc_node_log(CC_LOG_INFO, "raft",
                "holds everything committed (raft index %llu, term %llu): votes as raft says",
                (unsigned long long)raft_last_applied(&r->raft), (unsigned long long)r->raft.current_term);
}

static int match_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    cc_raft_node *r = rr_of_io(io);
    r->raft_recv = recv;
    return r->io_start(io, msecs, tick, match_recv);
}

static int match_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                      raft_io_send_cb cb)
{
    cc_raft_node *r = rr_of_io(io);
    struct raft_message fixed;
    if (r->out_of_raft) return RAFT_NOCONNECTION; /* out of raft: see "writes of the raft log" below */
    return cc_raft_match_answer(&r->match, msg, r->raft.log.snapshot.last_index, &fixed)
               ? r->io_send(io, req, &fixed, cb)
               : r->io_send(io, req, msg, cb);
}

static void stream_nodelay(struct uv_stream_s *s)
{
    if (s && s->type == UV_TCP) (void)uv_tcp_nodelay((uv_tcp_t *)s, 1); /* best effort */
}

static void auth_free_if_idle(auth_conn *ac)
{
    if (ac->open > 0) return;
    sodium_memzero(&ac->hs, sizeof ac->hs); /* an exchange that failed still holds its ephemeral secret */
    free(ac);
}

static void auth_timer_closed(uv_handle_t *h)
{
    auth_conn *ac = h->data;
    ac->open--;
    auth_free_if_idle(ac);
}

static void auth_stream_closed(uv_handle_t *h)
{
    auth_conn *ac = h->data;
    raft_free(h); /* libraft's TCP transport allocated it */
    ac->open--;
    auth_free_if_idle(ac);
}

/* Take ac off the pending list and close its timer; the stream stays ours
 * until the caller hands it on or closes it. */
static void auth_finish(auth_conn *ac)
{
    ac->done = true;
    for (auth_conn **p = &ac->r->auth_pending; *p; p = &(*p)->next)
        if (*p == ac) {
            *p = ac->next;
            break;
        }
    uv_timer_stop(&ac->timer);
    uv_close((uv_handle_t *)&ac->timer, auth_timer_closed);
}

/* The node is stopping, or raft_uv closed the transport: hand nothing on. */
static bool auth_stopping(const cc_raft_node *r)
{
    return r->closing || r->auth_stopped;
}

static void auth_fail(auth_conn *ac, const char *why)
{
    if (ac->done) return;
    cc_raft_node *r = ac->r;
    ac->open++; /* held until the end of this function */
    auth_finish(ac);
    uint64_t now = cc_now_ms();
    bool stopping = auth_stopping(r);
    if (!stopping) {
        pthread_mutex_lock(&r->mu);
        r->auth_failed++;
        pthread_mutex_unlock(&r->mu);
    }
    if (!stopping && now - r->auth_logged_ms >= RAFT_AUTH_LOG_MS) {
        r->auth_logged_ms = now;
        if (ac->accepting)
            cc_node_log(CC_LOG_WARN, "raft",
                        "refused a raft connection from %s claiming raft id %llu (%s): %s", ac->peer,
                        (unsigned long long)ac->id, ac->address, why);
        else
            cc_node_log(CC_LOG_WARN, "raft", "raft connection to id %llu dropped: %s",
                        (unsigned long long)ac->id, why);
    }
    uv_read_stop(ac->stream);
    ac->stream->data = ac;
    ac->open++;
    uv_close((uv_handle_t *)ac->stream, auth_stream_closed);
    if (!ac->accepting) ac->cb(ac->outer, NULL, stopping ? RAFT_CANCELED : RAFT_NOCONNECTION);
    ac->open--;
    auth_free_if_idle(ac);
}

/* The exchange is over and the peer is who it says: hand the stream on. */
static void auth_succeed(auth_conn *ac)
{
    if (ac->done) return;
    cc_raft_node *r = ac->r;
    if (auth_stopping(r)) {
        auth_fail(ac, "this node is stopping");
        return;
    }
    cc_raft_cipher send, recv;
    if (!cc_raft_hs_keys(&ac->hs, &send, &recv)) {
        auth_fail(ac, "the peer's session key is unusable");
        return;
    }
    ac->open++;
    auth_finish(ac);
    char who[80];
    if (ac->accepting)
        snprintf(who, sizeof who, "raft id %llu (%s)", (unsigned long long)ac->id, ac->peer);
    else
        snprintf(who, sizeof who, "raft id %llu", (unsigned long long)ac->id);
    uv_stream_t *side;
    int rv =
        cc_raft_link_start(&r->loop, &r->links, ac->stream, &send, &recv, who, &side); /* owns the stream */
    sodium_memzero(&send, sizeof send);
    sodium_memzero(&recv, sizeof recv);
    if (rv != 0) {
        cc_node_log(CC_LOG_WARN, "raft", "raft connection with %s dropped: %s", who, uv_strerror(rv));
        if (!ac->accepting) ac->cb(ac->outer, NULL, RAFT_NOCONNECTION);
    } else if (ac->accepting) {
        r->tcp_accepted(&r->transport, ac->id, ac->address, side);
    } else {
        ac->cb(ac->outer, side, 0);
    }
    ac->open--;
    auth_free_if_idle(ac);
}

static void auth_timeout(uv_timer_t *t)
{
    auth_fail(t->data, "no answer in time");
}

static void auth_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    auth_conn *ac = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)ac->into + ac->have, (unsigned)(ac->need - ac->have)); /* no more */
}

static void auth_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    auth_conn *ac = s->data;
    (void)buf;
    if (ac->done) return;
    if (n < 0) {
        auth_fail(ac, n == UV_EOF ? "the peer closed the connection" : uv_strerror((int)n));
        return;
    }
    ac->have += (size_t)n;
    if (ac->have < ac->need) return;
    uv_read_stop(s);
    ac->on_read(ac);
}

/* Read exactly need bytes into into, then call then. */
static void auth_expect(auth_conn *ac, uint8_t *into, size_t need, void (*then)(auth_conn *))
{
    ac->into = into;
    ac->have = 0;
    ac->need = need;
    ac->on_read = then;
    int rv = uv_read_start(ac->stream, auth_alloc, auth_read);
    if (rv != 0) auth_fail(ac, uv_strerror(rv));
}

static void auth_written(uv_write_t *w, int status)
{
    auth_conn *ac = w->data;
    ac->open--;
    if (status != 0 && !ac->done)
        auth_fail(ac, uv_strerror(status));
    else
        auth_free_if_idle(ac);
}

/* Queue n bytes of buf (which lives in ac) for writing. */
static void auth_send(auth_conn *ac, const uint8_t *buf, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
    uv_write_t *w = &ac->writes[ac->written++]; /* its callback may not have run yet */
    w->data = ac;
    ac->open++;
    int rv = uv_write(w, ac->stream, &b, 1, auth_written);
    if (rv != 0) {
        ac->open--;
        auth_fail(ac, uv_strerror(rv));
    }
}

static auth_conn *auth_start(cc_raft_node *r, struct uv_stream_s *stream, bool accepting, raft_id id,
                             const char *address)
{
    auth_conn *ac = calloc(1, sizeof *ac);
    if (!ac) return NULL;
    ac->r = r;
    ac->stream = stream;
    ac->accepting = accepting;
    ac->id = id;
    /* both go into the log: no control characters from the wire */
    snprintf(ac->address, sizeof ac->address, "%s", address ? address : "");
    for (char *c = ac->address; *c; c++)
        if (*c < 0x21 || *c > 0x7e) *c = '?';
    snprintf(ac->peer, sizeof ac->peer, "an unknown address");
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (accepting && stream->type == UV_TCP &&
        uv_tcp_getpeername((uv_tcp_t *)stream, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48] = "";
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
        if (ip[0]) snprintf(ac->peer, sizeof ac->peer, "%s", ip);
    }
    stream->data = ac;
    uv_timer_init(&r->loop, &ac->timer);
    ac->timer.data = ac;
    ac->open = 1; /* the timer's close */
    uv_timer_start(&ac->timer, auth_timeout, RAFT_AUTH_MS, 0);
    ac->next = r->auth_pending;
    r->auth_pending = ac;
    return ac;
}

/* Is pk the node key of raft id id: a node network/config lists (or a
 * peer named at join, or vouched for), or a genesis node governance has
 * not removed? */
static bool auth_peer_known(cc_raft_node *r, raft_id id, const uint8_t pk[CC_PUBKEY_BYTES])
{
    pthread_mutex_lock(&r->mu);
    const member *m = cc_raft_member_by_id_locked(r, id);
    bool ok = m && memcmp(m->pk, pk, CC_PUBKEY_BYTES) == 0;
    pthread_mutex_unlock(&r->mu);
    if (!ok && id >= 1 && id <= r->g->node_count) /* a genesis node, unless governance removed it */
        ok = memcmp(r->g->nodes[id - 1].pk, pk, CC_PUBKEY_BYTES) == 0 && !cc_chain_node_removed(r->chain, pk);
    return ok;
}

/* A key this node does not know, under the raft id derived from it, may
 * be a node added while this one was away (it has not applied that block,
 * and cannot while that node leads): keep it for vouch_probe. True when
 * kept. */
static bool auth_note_unknown(cc_raft_node *r, raft_id id, const uint8_t pk[CC_PUBKEY_BYTES])
{
    if (id <= r->g->node_count || cc_raft_id_of(r->g, pk) != id) return false;
    pthread_mutex_lock(&r->mu);
    bool unknown = !cc_raft_member_by_id_locked(r, id);
    if (unknown) {
        memset(&r->unvouched, 0, sizeof r->unvouched);
        r->unvouched.id = id;
        memcpy(r->unvouched.pk, pk, CC_PUBKEY_BYTES);
        r->unvouched_set = true;
    }
    pthread_mutex_unlock(&r->mu);
    return unknown;
}

/* Is pk the node key of the peer's raft id? If not, the exchange fails,
 * saying why. */
static bool auth_peer_checked(auth_conn *ac, const uint8_t pk[CC_PUBKEY_BYTES])
{
    char hex[CC_HASH_HEX], why[200];
    if (auth_peer_known(ac->r, ac->id, pk)) return true;
    if (auth_note_unknown(ac->r, ac->id, pk))
        snprintf(why, sizeof why,
                 "raft id %llu (key %.16s...) is no node this node knows (yet); the other nodes are "
                 "asked once no leader is heard",
                 (unsigned long long)ac->id, cc_hex(pk, CC_PUBKEY_BYTES, hex));
    else
        snprintf(why, sizeof why, "key %.16s... is not the node key of that raft id",
                 cc_hex(pk, CC_PUBKEY_BYTES, hex));
    auth_fail(ac, why);
    return false;
}

/* accepting: the answer is in */
static void auth_check_answer(auth_conn *ac)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    if (!cc_raft_hs_check_answer(&ac->hs, ac->answer, pk)) {
        auth_fail(ac, "the answer's signature does not verify");
        return;
    }
    if (!auth_peer_checked(ac, pk)) return;
    cc_raft_hs_admit(&ac->hs, ac->r->key, ac->admit);
    auth_send(ac, ac->admit, sizeof ac->admit);
    auth_succeed(ac); /* the admit is queued ahead of every frame */
}

/* connecting: the admit is in; the accepting node must be the raft id
 * this node meant to reach, or the link would be encrypted to a stranger */
static void auth_check_admit(auth_conn *ac)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    if (!cc_raft_hs_check_admit(&ac->hs, ac->admit, pk)) {
        auth_fail(ac, "the peer did not admit this node, or its admit does not verify");
        return;
    }
    if (!auth_peer_checked(ac, pk)) return;
    auth_succeed(ac);
}

/* connecting: the hello is in */
static void auth_answer_hello(auth_conn *ac)
{
    cc_raft_node *r = ac->r;
    if (!cc_raft_hs_answer(&ac->hs, r->key, r->g->chain_id, ac->id, ac->hello, ac->answer)) {
        auth_fail(ac, "the peer's hello is not a carechain raft2 hello (a node of another version?)");
        return;
    }
    auth_send(ac, ac->answer, sizeof ac->answer);
    if (!ac->done) auth_expect(ac, ac->admit, sizeof ac->admit, auth_check_admit);
}

typedef struct auth_connect {
    struct raft_uv_connect req; /* first: the transport's callback gets &req */
    struct raft_uv_connect *outer;
    raft_uv_connect_cb cb;
    raft_id id;
    cc_raft_node *r;
} auth_connect;

static void auth_connected(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    auth_connect *c = (auth_connect *)req;
    struct raft_uv_connect *outer = c->outer;
    raft_uv_connect_cb cb = c->cb;
    raft_id id = c->id;
    cc_raft_node *r = c->r;
    free(c);
    if (status != 0) {
        cb(outer, stream, status);
        return;
    }
    stream_nodelay(stream);
    auth_conn *ac = auth_start(r, stream, false, id, NULL);
    if (!ac) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        cb(outer, NULL, RAFT_NOMEM);
        return;
    }
    ac->outer = outer;
    ac->cb = cb;
    auth_expect(ac, ac->hello, sizeof ac->hello, auth_answer_hello);
}

static int auth_connect_start(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                              const char *address, raft_uv_connect_cb cb)
{
    cc_raft_node *r = rr_of_transport(t);
    auth_connect *c = calloc(1, sizeof *c);
    if (!c) return RAFT_NOMEM;
    c->r = r;
    c->outer = req;
    c->cb = cb;
    c->id = id;
    int rv = r->tcp_connect(t, &c->req, id, address, auth_connected);
    if (rv != 0) free(c);
    return rv;
}

static void auth_accepted(struct raft_uv_transport *t, raft_id id, const char *address,
                          struct uv_stream_s *stream)
{
    cc_raft_node *r = rr_of_transport(t);
    stream_nodelay(stream);
    auth_conn *ac = auth_start(r, stream, true, id, address);
    if (!ac) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        return;
    }
    cc_raft_hs_hello(&ac->hs, r->g->chain_id, r->self_id, ac->hello);
    auth_send(ac, ac->hello, sizeof ac->hello);
    if (!ac->done) auth_expect(ac, ac->answer, sizeof ac->answer, auth_check_answer);
}

static int auth_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    cc_raft_node *r = rr_of_transport(t);
    r->tcp_accepted = cb;
    return r->tcp_listen(t, auth_accepted);
}

/* Closing the transport: every exchange still running ends now (a
 * connecting one tells raft_uv its request was cancelled). */
static void auth_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    cc_raft_node *r = rr_of_transport(t);
    r->auth_stopped = true;
    while (r->auth_pending) auth_fail(r->auth_pending, "this node is stopping");
    cc_raft_links_close(&r->links);
    r->tcp_close(t, cb);
}

void cc_raft_transport_wrap(cc_raft_node *r)
{
    r->tcp_listen = r->transport.listen;
    r->tcp_connect = r->transport.connect;
    r->tcp_close = r->transport.close;
    r->transport.listen = auth_listen;
    r->transport.connect = auth_connect_start;
    r->transport.close = auth_close;
}

/* ---- writes of the raft log, watched ----
 * After a failed write (a full disk, say) raft_uv fails every later one,
 * even once the disk has room again. libraft does not stop for it: a
 * follower rejects every AppendEntries from then on and falls behind
 * without a word, and a leader commits nothing more. So the first failed
 * write halts the node, saying why in its status and log.
 *
 * The node also leaves raft: from then on it sends no message (match_send),
 * hands libraft none it receives (match_recv) and writes nothing more
 * (log_append). Handing leadership on did not work here: libraft 0.15
 * drops the entries it failed to write from its log in memory, a transfer
 * waits for a follower whose log matches the leader's, and none did in
 * test_disk_full, while the halted leader's heartbeats kept the others
 * from electing another leader. And what libraft did next with a log it
 * could not write was not safe: a halted leader that only stopped sending
 * freed the same memory twice while handling a message it received
 * (AddressSanitizer, inside libraft's receive path). Out of raft, it is a
 * node that is down: the others elect a leader among themselves, and it
 * casts no vote it cannot store. It keeps serving reads; a restart, once
 * the disk has room, brings it back (it catches up from its peers). */

typedef struct log_write {
    struct raft_io_append req; /* first: raft_uv calls back with &req */
    struct raft_io_append *outer;
    raft_io_append_cb cb;
    cc_raft_node *r;
} log_write;

/* A write of the raft log, term or vote (what) failed: halt, and leave raft. */
static void raft_write_failed(cc_raft_node *r, const char *what, int status)
{
    if (r->closing || status == RAFT_CANCELED || r->out_of_raft) return;
    r->out_of_raft = true;
    char room[64];
    /* raft_uv's message says what failed; its code alone is often "unknown error" */
    cc_raft_halt(r,
                 "this node cannot write its raft %s in %s: %s%s; it is a fault of this node: repair or free "
                 "its disk, then restart the node; it catches up from its peers",
                 what, r->raft_dir, r->io.errmsg[0] ? r->io.errmsg : raft_strerror(status),
                 cc_disk_room(r->raft_dir, room, sizeof room));
}

/* rv is what raft_uv returned for a write of what, started or done at
 * once: any failure but no memory (libraft retries that) halts the node
 * and takes it out of raft. */
static int write_watched(cc_raft_node *r, const char *what, int rv)
{
    if (rv != 0 && rv != RAFT_NOMEM) raft_write_failed(r, what, rv);
    return rv;
}

static void log_written(struct raft_io_append *req, int status)
{
    log_write *w = (log_write *)(void *)req;
    struct raft_io_append *outer = w->outer;
    raft_io_append_cb cb = w->cb;
    cc_raft_node *r = w->r;
    free(w);
    if (status != 0) raft_write_failed(r, "log", status);
    cb(outer, status);
}

static int log_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                      unsigned n, raft_io_append_cb cb)
{
    cc_raft_node *r = rr_of_io(io);
    if (r->out_of_raft) return RAFT_IOERR;
    log_write *w = malloc(sizeof *w);
    if (!w) return RAFT_NOMEM;
    w->req.data = req->data;
    w->outer = req;
    w->cb = cb;
    w->r = r;
    int rv = r->io_append(io, &w->req, entries, n, log_written);
    if (rv != 0) free(w);
    return write_watched(r, "log", rv);
}

/* The current term and the vote, which raft_uv writes at once (its
 * metadata files) before libraft goes on: a failure halts the node and
 * takes it out of raft as a failed log write does (libraft would only
 * turn unavailable, saying nothing). Out of raft, neither is written: a
 * vote it casts could not reach anyone, and a term it takes alone would
 * disturb the others when it comes back. */
static int term_set(struct raft_io *io, raft_term term)
{
    cc_raft_node *r = rr_of_io(io);
    return r->out_of_raft ? RAFT_IOERR : write_watched(r, "term", r->io_set_term(io, term));
}

static int vote_set(struct raft_io *io, raft_id server_id)
{
    cc_raft_node *r = rr_of_io(io);
    return r->out_of_raft ? RAFT_IOERR : write_watched(r, "vote", r->io_set_vote(io, server_id));
}

/* ---- snapshots, read only when there is one ----
 * raft_uv 0.15 answers a snapshot_get with status 0 and a snapshot it
 * never filled when it finds none on disk. libraft asks for one when a
 * follower needs an entry its log no longer holds, which without a
 * snapshot should not happen; but when a leader's write of its log fails,
 * libraft drops the unwritten entries from its log in memory, and a
 * follower that already has them is then "missing" entries the leader
 * lacks. A leader whose disk filled before its first snapshot then read
 * that unfilled snapshot's configuration and data pointers and crashed
 * (cores of test_disk_full: a SIGSEGV in libraft's send of the snapshot,
 * the snapshot's fields left over from freed memory). So a read is handed
 * to raft_uv only once a snapshot is on disk, loaded at start or stored
 * since (raft_uv keeps the last two, so one stays); otherwise it fails at
 * once, and libraft goes back to probing that follower. */

typedef struct snapshot_store {
    struct raft_io_snapshot_put req; /* first: raft_uv calls back with &req */
    struct raft_io_snapshot_put *outer;
    raft_io_snapshot_put_cb cb;
    cc_raft_node *r;
} snapshot_store;

static int snapshot_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                         struct raft_snapshot **snapshot, raft_index *start_index,
                         struct raft_entry *entries[], size_t *n_entries)
{
    cc_raft_node *r = rr_of_io(io);
    int rv = r->io_load(io, term, voted_for, snapshot, start_index, entries, n_entries);
    if (rv == 0 && *snapshot) r->snapshot_stored = true;
    return rv;
}

static void snapshot_stored(struct raft_io_snapshot_put *req, int status)
{
    snapshot_store *w = (snapshot_store *)(void *)req;
    struct raft_io_snapshot_put *outer = w->outer;
    raft_io_snapshot_put_cb cb = w->cb;
    if (status == 0) w->r->snapshot_stored = true;
    free(w);
    cb(outer, status);
}

static int snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                        const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    cc_raft_node *r = rr_of_io(io);
    snapshot_store *w = malloc(sizeof *w);
    if (!w) return RAFT_NOMEM;
    w->req.data = req->data;
    w->outer = req;
    w->cb = cb;
    w->r = r;
    int rv = r->io_snapshot_put(io, trailing, &w->req, snapshot, snapshot_stored);
    if (rv != 0) free(w);
    return rv;
}

static int snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req, raft_io_snapshot_get_cb cb)
{
    cc_raft_node *r = rr_of_io(io);
    if (r->out_of_raft) return RAFT_NOTFOUND; /* out of raft: it would not send it */
    if (r->snapshot_stored) return r->io_snapshot_get(io, req, cb);
    if (!r->snapshot_refused) {
        r->snapshot_refused = true;
        cc_node_log(CC_LOG_WARN, "raft",
                    "raft asked for a snapshot to send a follower, and this node has none on disk; "
                    "it sends none");
    }
    return RAFT_NOTFOUND;
}

void cc_raft_io_wrap(cc_raft_node *r)
{
    r->io_start = r->io.start;
    r->io_send = r->io.send;
    r->io_append = r->io.append;
    r->io_load = r->io.load;
    r->io_snapshot_put = r->io.snapshot_put;
    r->io_snapshot_get = r->io.snapshot_get;
    r->io_set_term = r->io.set_term;
    r->io_set_vote = r->io.set_vote;
    r->io.start = match_start;
    r->io.send = match_send;
    r->io.append = log_append;
    r->io.load = snapshot_load;
    r->io.snapshot_put = snapshot_put;
    r->io.snapshot_get = snapshot_get;
    r->io.set_term = term_set;
    r->io.set_vote = vote_set;
}
