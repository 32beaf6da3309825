/*
 * raft_link.c — the pump of an encrypted raft link (see raft_link.h).
 *
 * Two directions, each read from one end and written to the other:
 *
 *   out: libraft's bytes, read from our end of the socket pair at most a
 *        frame's worth at a time into a buffer that already has room for
 *        the frame's head and tag, sealed in place and written to TCP;
 *   in:  TCP bytes gathered in `in` until a whole frame is there, opened
 *        in place, and the plain bytes copied into a buffer written to our
 *        end of the pair.
 *
 * Every write owns its buffer until its callback. When a destination has
 * more than LINK_QUEUE_HIGH bytes waiting, the other end is not read until
 * it is down to LINK_QUEUE_LOW, so a slow peer holds libraft up (as a full
 * TCP socket did) instead of growing the queue without bound.
 */
#include "node/raft_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <raft.h>
#include <sodium.h>

#include "node/log.h"

#define LINK_QUEUE_HIGH (8u << 20)
#define LINK_QUEUE_LOW  (1u << 20)
#define LINK_IN_BYTES   (2 * CC_RAFT_FRAME_MAX) /* a whole frame and the start of the next always fit */

struct cc_raft_link {
    cc_raft_links *all;
    cc_raft_link *next;
    uv_stream_t *tcp;
    uv_pipe_t mine; /* our end of the socket pair */
    cc_raft_cipher send, recv;
    bool closing;
    bool tcp_paused, mine_paused; /* not read while the other end's queue drains */
    int open;                     /* handle closes and writes still to come back */
    struct link_write *reading;   /* the buffer for the next read from our end */
    char who[80];
    size_t in_have;
    uint8_t in[LINK_IN_BYTES];
};

/* A buffer on its way to one end. */
typedef struct link_write {
    uv_write_t req;
    cc_raft_link *link;
    uint8_t bytes[];
} link_write;

static void link_free_if_idle(cc_raft_link *l)
{
    if (!l->closing || l->open > 0) return;
    sodium_memzero(&l->send, sizeof l->send);
    sodium_memzero(&l->recv, sizeof l->recv);
    free(l->reading);
    free(l);
}

static void tcp_closed(uv_handle_t *h)
{
    cc_raft_link *l = h->data;
    raft_free(h); /* libraft's TCP transport allocated it */
    l->open--;
    link_free_if_idle(l);
}

static void mine_closed(uv_handle_t *h)
{
    cc_raft_link *l = h->data;
    l->open--;
    link_free_if_idle(l);
}

/* Close both ends; why, when not NULL, is logged (an end closing is not
 * worth a line: peers come and go, and libraft logs nothing for it either). */
static void link_close(cc_raft_link *l, const char *why)
{
    if (l->closing) return;
    l->closing = true;
    for (cc_raft_link **p = &l->all->head; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    if (why) cc_node_log(CC_LOG_WARN, "raft", "raft link with %s closed: %s", l->who, why);
    l->open += 2;
    uv_close((uv_handle_t *)l->tcp, tcp_closed);
    uv_close((uv_handle_t *)&l->mine, mine_closed);
}

/* The peer sent what no carechain node sends: bytes changed or injected
 * on the way, or a peer that is not following the protocol. */
static void link_refuse(cc_raft_link *l, const char *why)
{
    atomic_fetch_add(&l->all->frames_refused, 1);
    link_close(l, why);
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void mine_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void mine_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* A paused end whose destination has drained is read again. */
static void link_resume(cc_raft_link *l)
{
    if (l->closing) return;
    if (l->mine_paused && uv_stream_get_write_queue_size(l->tcp) <= LINK_QUEUE_LOW) {
        l->mine_paused = false;
        if (uv_read_start((uv_stream_t *)&l->mine, mine_alloc, mine_read) != 0) link_close(l, "cannot read");
    }
    if (!l->closing && l->tcp_paused &&
        uv_stream_get_write_queue_size((uv_stream_t *)&l->mine) <= LINK_QUEUE_LOW) {
        l->tcp_paused = false;
        if (uv_read_start(l->tcp, tcp_alloc, tcp_read) != 0) link_close(l, "cannot read");
    }
}

static void link_written(uv_write_t *req, int status)
{
    link_write *w = req->data;
    cc_raft_link *l = w->link;
    free(w);
    l->open--;
    if (status != 0 && !l->closing)
        link_close(l, status == UV_EPIPE || status == UV_ECONNRESET ? NULL : uv_strerror(status));
    link_resume(l);
    link_free_if_idle(l);
}

/* Write the first n bytes of w to one end (to_tcp: TCP, else ours); w is
 * freed whatever happens. */
static void link_send(cc_raft_link *l, link_write *w, size_t n, bool to_tcp)
{
    uv_stream_t *to = to_tcp ? l->tcp : (uv_stream_t *)&l->mine;
    uv_buf_t b = uv_buf_init((char *)w->bytes, (unsigned)n);
    w->link = l;
    w->req.data = w;
    l->open++;
    int rv = uv_write(&w->req, to, &b, 1, link_written);
    if (rv != 0) {
        l->open--;
        free(w);
        link_close(l, uv_strerror(rv));
        return;
    }
    if (uv_stream_get_write_queue_size(to) <= LINK_QUEUE_HIGH) return;
    /* hold the end that feeds this one */
    if (to_tcp && !l->mine_paused) {
        l->mine_paused = true;
        uv_read_stop((uv_stream_t *)&l->mine);
    } else if (!to_tcp && !l->tcp_paused) {
        l->tcp_paused = true;
        uv_read_stop(l->tcp);
    }
}

/* ---- out: libraft -> TCP ---------------------------------------------------------------- */

/* libuv asks for a buffer before each read and hands it to mine_read; it
 * is kept in l->reading in between, and for the next read when unused. */
static void mine_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cc_raft_link *l = h->data;
    (void)suggested;
    if (!l->reading) l->reading = malloc(sizeof *l->reading + CC_RAFT_FRAME_MAX);
    *buf = l->reading
               ? uv_buf_init((char *)l->reading->bytes + CC_RAFT_FRAME_HEAD_BYTES, CC_RAFT_FRAME_PLAIN_MAX)
               : uv_buf_init(NULL, 0); /* libuv then reports UV_ENOBUFS */
}

static void mine_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    cc_raft_link *l = s->data;
    (void)buf;
    if (n < 0) link_close(l, n == UV_EOF ? NULL : uv_strerror((int)n)); /* EOF: libraft closed it */
    if (n <= 0 || l->closing) return;
    link_write *w = l->reading;
    l->reading = NULL;
    size_t len = cc_raft_frame_seal(&l->send, w->bytes, (size_t)n);
    link_send(l, w, len, true);
}

/* ---- in: TCP -> libraft ----------------------------------------------------------------- */

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cc_raft_link *l = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)l->in + l->in_have, (unsigned)(sizeof l->in - l->in_have));
}

static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    cc_raft_link *l = s->data;
    (void)buf;
    if (l->closing) return;
    if (n < 0) {
        link_close(l, n == UV_EOF || n == UV_ECONNRESET ? NULL : uv_strerror((int)n));
        return;
    }
    l->in_have += (size_t)n;
    size_t off = 0;
    while (!l->closing && l->in_have - off >= CC_RAFT_FRAME_HEAD_BYTES) {
        size_t len = cc_raft_frame_len(l->in + off), plain;
        if (len == 0) {
            link_refuse(l, "the peer sent a frame of a length no carechain node sends");
            return;
        }
        if (l->in_have - off < len) break;
        if (!cc_raft_frame_open(&l->recv, l->in + off, len, &plain)) {
            link_refuse(l, "a frame did not open: changed on the way, or not sealed by that node");
            return;
        }
        link_write *w = malloc(sizeof *w + plain);
        if (!w) {
            link_close(l, "out of memory");
            return;
        }
        memcpy(w->bytes, l->in + off + CC_RAFT_FRAME_HEAD_BYTES, plain);
        link_send(l, w, plain, false);
        off += len;
    }
    if (l->closing) return;
    memmove(l->in, l->in + off, l->in_have - off);
    l->in_have -= off;
}

/* ---- the links of a transport ----------------------------------------------------------- */

/* A handle allocated with raft_malloc (libraft frees it so in turn). */
static void raft_handle_closed(uv_handle_t *h)
{
    raft_free(h);
}

int cc_raft_link_start(uv_loop_t *loop, cc_raft_links *all, uv_stream_t *tcp, const cc_raft_cipher *send,
                       const cc_raft_cipher *recv, const char *who, uv_stream_t **raft_side)
{
    uv_os_sock_t fds[2];
    cc_raft_link *l = calloc(1, sizeof *l);
    uv_pipe_t *theirs = raft_malloc(sizeof *theirs);
    int rv = l && theirs ? uv_socketpair(SOCK_STREAM, 0, fds, UV_NONBLOCK_PIPE, UV_NONBLOCK_PIPE) : UV_ENOMEM;
    if (rv != 0) {
        free(l);
        raft_free(theirs);
        uv_close((uv_handle_t *)tcp, raft_handle_closed);
        return rv;
    }
    l->all = all;
    l->tcp = tcp;
    l->send = *send;
    l->recv = *recv;
    snprintf(l->who, sizeof l->who, "%s", who);
    tcp->data = l;
    uv_pipe_init(loop, &l->mine, 0);
    l->mine.data = l;
    uv_pipe_init(loop, theirs, 0);
    l->next = all->head;
    all->head = l;
    int rv_mine = uv_pipe_open(&l->mine, fds[0]), rv_theirs = uv_pipe_open(theirs, fds[1]);
    if (rv_mine != 0) close(fds[0]);
    if (rv_theirs != 0) close(fds[1]);
    rv = rv_mine != 0 ? rv_mine : rv_theirs;
    if (rv == 0) rv = uv_read_start(tcp, tcp_alloc, tcp_read);
    if (rv == 0) rv = uv_read_start((uv_stream_t *)&l->mine, mine_alloc, mine_read);
    if (rv != 0) {
        link_close(l, uv_strerror(rv));
        uv_close((uv_handle_t *)theirs, raft_handle_closed);
        return rv;
    }
    *raft_side = (uv_stream_t *)theirs;
    return 0;
}

void cc_raft_links_close(cc_raft_links *all)
{
    while (all->head) link_close(all->head, NULL);
}
