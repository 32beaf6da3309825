/*
 * ct_proxy.c — a loopback TCP proxy whose links a test can cut and restore,
 * and a raft "mesh" that routes every ordered pair of a network's nodes
 * through its own link, so a test can partition nodes without root.
 *
 * A node binds its genesis "raft" address and bootstraps its raft
 * configuration from genesis on first start (docs/CONSENSUS.md); peers then
 * dial the addresses in that stored configuration. The mesh writes each
 * node's raft directory before its first start with libraft itself
 * (raft_bootstrap), naming every peer at the port of the link from this node
 * to that peer; the node then keeps that configuration (RAFT_CANTBOOTSTRAP).
 *
 * One thread serves every link with poll(2); each connection has a bounded
 * buffer per direction, so a stopped peer never blocks the others. Cutting
 * a link closes its open connections and closes every new one at once.
 *
 * A test can also watch for byte strings in what passes (ct_proxy_watch):
 * each direction of a connection keeps the last bytes it passed, so a
 * string split between two reads is still found.
 */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define PROXY_LINKS_MAX 64
#define PROXY_CONNS_MAX 256
#define PROXY_BUF_BYTES (256 * 1024)
#define PROXY_POLL_MS   50
#define PROXY_BACKLOG   64
#define RAFT_ADDR_BYTES 64
#define RAFT_DIR_NAME   "raft"
#define RAFT_DIR_MODE   0700
#define WATCH_MAX       4
#define WATCH_BYTES     64

typedef struct pipe_buf {
    uint8_t data[PROXY_BUF_BYTES];
    size_t len; /* bytes waiting to be written */
    size_t off; /* first unwritten byte */
    bool eof;   /* the reading side ended */
} pipe_buf;

typedef struct conn {
    int link;
    int fd[2];                    /* [0] the accepted client, [1] the connection to the target */
    pipe_buf buf[2];              /* buf[k] holds bytes read from fd[k], to write to fd[1 - k] */
    uint8_t tail[2][WATCH_BYTES]; /* the last bytes read from fd[k], for the watches */
    size_t tail_len[2];
} conn;

typedef struct watch {
    uint8_t needle[WATCH_BYTES];
    size_t len;
    uint64_t seen; /* occurrences, under mu */
} watch;

typedef struct proxy_link {
    int listen_fd;
    int listen_port;
    int target_port;
    bool cut;
} proxy_link;

struct ct_proxy {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int wake[2]; /* a pipe: the test thread writes a byte to wake the loop */
    bool stop;
    uint64_t gen_wanted, gen_done; /* set_cut waits until the loop caught up */
    proxy_link links[PROXY_LINKS_MAX];
    int link_count;
    conn *conns[PROXY_CONNS_MAX];
    watch watches[WATCH_MAX]; /* set under mu */
    int watch_count;
    uint64_t bytes; /* passed, under mu */
};

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void conn_close(ct_proxy *p, int slot)
{
    conn *c = p->conns[slot];
    for (int k = 0; k < 2; k++)
        if (c->fd[k] >= 0) close(c->fd[k]);
    free(c);
    p->conns[slot] = NULL;
}

/* Connect to 127.0.0.1:port (blocking; loopback answers at once). -1 on error. */
static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblock(fd);
    return fd;
}

static void accept_on(ct_proxy *p, int l, bool cut)
{
    int fd = accept4(p->links[l].listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    if (cut) {
        close(fd);
        return;
    }
    int slot = -1;
    for (int i = 0; i < PROXY_CONNS_MAX && slot < 0; i++)
        if (!p->conns[i]) slot = i;
    int up = slot >= 0 ? dial(p->links[l].target_port) : -1;
    conn *c = up >= 0 ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (up >= 0) close(up);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblock(fd);
    c->link = l;
    c->fd[0] = fd;
    c->fd[1] = up;
    p->conns[slot] = c;
}

/* Count the watched strings in the n bytes just read from side k of c
 * (those that start in them, or in the tail before them). */
static void conn_watch(ct_proxy *p, conn *c, int k, const uint8_t *data, size_t n)
{
    pthread_mutex_lock(&p->mu);
    p->bytes += n;
    for (int w = 0; w < p->watch_count; w++) {
        watch *wt = &p->watches[w];
        uint8_t joint[2 * WATCH_BYTES];
        size_t head = n < wt->len - 1 ? n : wt->len - 1;
        memcpy(joint, c->tail[k], c->tail_len[k]);
        memcpy(joint + c->tail_len[k], data, head);
        for (size_t i = 0; i + wt->len <= c->tail_len[k] + head; i++)
            if (i + wt->len > c->tail_len[k] && memcmp(joint + i, wt->needle, wt->len) == 0) wt->seen++;
        for (const uint8_t *at = data; (at = memmem(at, n - (size_t)(at - data), wt->needle, wt->len)); at++)
            wt->seen++;
    }
    pthread_mutex_unlock(&p->mu);
    size_t keep = WATCH_BYTES - 1;
    if (n >= keep) {
        memcpy(c->tail[k], data + n - keep, keep);
        c->tail_len[k] = keep;
    } else {
        size_t drop = c->tail_len[k] + n > keep ? c->tail_len[k] + n - keep : 0;
        memmove(c->tail[k], c->tail[k] + drop, c->tail_len[k] - drop);
        memcpy(c->tail[k] + c->tail_len[k] - drop, data, n);
        c->tail_len[k] = c->tail_len[k] - drop + n;
    }
}

/* Move bytes for one connection after poll; false when it is finished. */
static bool conn_pump(ct_proxy *p, conn *c, const struct pollfd *pf)
{
    for (int k = 0; k < 2; k++) {
        pipe_buf *b = &c->buf[k];
        if (pf[k].revents & (POLLERR | POLLNVAL)) return false;
        if (b->len > 0 && (pf[k].revents & POLLHUP)) return false; /* cannot read it now: drop */
        if (!b->eof && b->len == 0 && (pf[k].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(c->fd[k], b->data, sizeof b->data);
            if (n > 0) {
                b->len = (size_t)n;
                b->off = 0;
                conn_watch(p, c, k, b->data, (size_t)n);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                b->eof = true;
            }
        }
        if (b->len > 0) {
            ssize_t n = write(c->fd[1 - k], b->data + b->off, b->len);
            if (n > 0) {
                b->off += (size_t)n;
                b->len -= (size_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                return false;
            }
        }
    }
    /* either side gone and nothing left to pass on: finish the connection */
    return !((c->buf[0].eof && c->buf[0].len == 0) || (c->buf[1].eof && c->buf[1].len == 0));
}

static void *proxy_main(void *arg)
{
    ct_proxy *p = arg;
    struct pollfd pf[1 + PROXY_LINKS_MAX + 2 * PROXY_CONNS_MAX];
    int who[1 + PROXY_LINKS_MAX + 2 * PROXY_CONNS_MAX];
    bool cut[PROXY_LINKS_MAX];

    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        int links = p->link_count;
        for (int l = 0; l < links; l++) cut[l] = p->links[l].cut;
        uint64_t gen = p->gen_wanted;
        pthread_mutex_unlock(&p->mu);

        /* apply cuts before anything else, then tell set_cut it took effect */
        for (int i = 0; i < PROXY_CONNS_MAX; i++)
            if (p->conns[i] && cut[p->conns[i]->link]) conn_close(p, i);
        pthread_mutex_lock(&p->mu);
        p->gen_done = gen;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->mu);

        int n = 0;
        pf[n] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        who[n++] = -1;
        for (int l = 0; l < links; l++) {
            pf[n] = (struct pollfd){.fd = p->links[l].listen_fd, .events = POLLIN};
            who[n++] = l;
        }
        int first_conn = n;
        for (int i = 0; i < PROXY_CONNS_MAX; i++) {
            conn *c = p->conns[i];
            if (!c) continue;
            for (int k = 0; k < 2; k++) {
                short ev = 0;
                if (!c->buf[k].eof && c->buf[k].len == 0) ev |= POLLIN;
                if (c->buf[1 - k].len > 0) ev |= POLLOUT;
                pf[n] = (struct pollfd){.fd = c->fd[k], .events = ev};
                who[n++] = i;
            }
        }
        if (poll(pf, (nfds_t)n, PROXY_POLL_MS) < 0 && errno != EINTR) break;
        if (pf[0].revents & POLLIN) {
            char drain[64];
            while (read(p->wake[0], drain, sizeof drain) > 0) {
            }
        }
        for (int j = 1; j < first_conn; j++)
            if (pf[j].revents & POLLIN) accept_on(p, who[j], cut[who[j]]);
        for (int j = first_conn; j < n; j += 2) {
            int slot = who[j];
            if (p->conns[slot] && !conn_pump(p, p->conns[slot], &pf[j])) conn_close(p, slot);
        }
    }
    for (int i = 0; i < PROXY_CONNS_MAX; i++)
        if (p->conns[i]) conn_close(p, i);
    return NULL;
}

ct_proxy *ct_proxy_new(void)
{
    ct_proxy *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (pthread_create(&p->thread, NULL, proxy_main, p) != 0) {
        close(p->wake[0]);
        close(p->wake[1]);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

static void wake_and_wait(ct_proxy *p)
{
    /* called with p->mu held */
    uint64_t gen = ++p->gen_wanted;
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
    while (p->gen_done < gen && !p->stop) pthread_cond_wait(&p->cond, &p->mu);
}

int ct_proxy_add(ct_proxy *p, int target_port, int *listen_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, PROXY_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        fprintf(stderr, "proxy: cannot listen on loopback: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    pthread_mutex_lock(&p->mu);
    int l = p->link_count;
    if (l == PROXY_LINKS_MAX) {
        pthread_mutex_unlock(&p->mu);
        close(fd);
        return -1;
    }
    p->links[l] = (proxy_link){.listen_fd = fd, .listen_port = ntohs(a.sin_port), .target_port = target_port};
    p->link_count++;
    wake_and_wait(p);
    pthread_mutex_unlock(&p->mu);
    *listen_port = ntohs(a.sin_port);
    return l;
}

void ct_proxy_set_cut(ct_proxy *p, int link_index, bool cut)
{
    pthread_mutex_lock(&p->mu);
    if (link_index >= 0 && link_index < p->link_count) {
        p->links[link_index].cut = cut;
        wake_and_wait(p);
    }
    pthread_mutex_unlock(&p->mu);
}

int ct_proxy_watch(ct_proxy *p, const void *needle, size_t len)
{
    int w = -1;
    if (len == 0 || len > WATCH_BYTES) return -1;
    pthread_mutex_lock(&p->mu);
    if (p->watch_count < WATCH_MAX) {
        w = p->watch_count++;
        memcpy(p->watches[w].needle, needle, len);
        p->watches[w].len = len;
        p->watches[w].seen = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return w;
}

uint64_t ct_proxy_seen(ct_proxy *p, int w)
{
    pthread_mutex_lock(&p->mu);
    uint64_t n = w >= 0 && w < p->watch_count ? p->watches[w].seen : 0;
    pthread_mutex_unlock(&p->mu);
    return n;
}

uint64_t ct_proxy_bytes(ct_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->bytes;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void ct_proxy_free(ct_proxy *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
    pthread_join(p->thread, NULL);
    for (int l = 0; l < p->link_count; l++) close(p->links[l].listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* ---- the raft mesh ------------------------------------------------------------ */

static void on_bootstrap_closed(struct raft *raft)
{
    (void)raft;
}

int ct_raft_mesh_bootstrap(const ct_raft_mesh *m, const ct_net *net, unsigned node)
{
    char *dir = ct_strf("%s/%s", net->node_dirs[node], RAFT_DIR_NAME);
    char self_addr[RAFT_ADDR_BYTES];
    snprintf(self_addr, sizeof self_addr, "127.0.0.1:%d", net->raft_ports[node]);
    struct uv_loop_s loop;
    struct raft_uv_transport transport = {0};
    struct raft_io io = {0};
    struct raft_fsm fsm = {0};
    struct raft raft;
    struct raft_configuration conf;
    int rv = -1;

    if (mkdir(dir, RAFT_DIR_MODE) != 0 && errno != EEXIST) {
        fprintf(stderr, "mesh: mkdir %s: %s\n", dir, strerror(errno));
        free(dir);
        return -1;
    }
    if (uv_loop_init(&loop) != 0) goto out_dir;
    if (raft_uv_tcp_init(&transport, &loop) != 0) goto out_loop;
    if (raft_uv_init(&io, &loop, dir, &transport) != 0) {
        raft_uv_tcp_close(&transport);
        goto out_loop;
    }
    if (raft_init(&raft, &io, &fsm, node + 1, self_addr) != 0) {
        fprintf(stderr, "mesh: raft_init %s: %s\n", dir, raft_errmsg(&raft));
        raft_uv_close(&io);
        raft_uv_tcp_close(&transport);
        goto out_loop;
    }
    raft_configuration_init(&conf);
    rv = 0;
    for (unsigned j = 0; j < net->node_count && rv == 0; j++) {
        char addr[RAFT_ADDR_BYTES];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", j == node ? net->raft_ports[j] : m->port[node][j]);
        rv = raft_configuration_add(&conf, j + 1, addr, RAFT_VOTER);
    }
    if (rv == 0) rv = raft_bootstrap(&raft, &conf);
    if (rv != 0) fprintf(stderr, "mesh: raft_bootstrap %s: %s\n", dir, raft_strerror(rv));
    raft_configuration_close(&conf);
    raft_close(&raft, on_bootstrap_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    raft_uv_close(&io);
    raft_uv_tcp_close(&transport);
out_loop:
    uv_loop_close(&loop);
out_dir:
    free(dir);
    return rv == 0 ? 0 : -1;
}

int ct_raft_mesh_create(ct_raft_mesh *m, const ct_net *net)
{
    memset(m, 0, sizeof *m);
    m->node_count = net->node_count;
    m->proxy = ct_proxy_new();
    if (!m->proxy) return -1;
    for (unsigned i = 0; i < net->node_count; i++)
        for (unsigned j = 0; j < net->node_count; j++) {
            m->link[i][j] = -1;
            if (i == j) continue;
            m->link[i][j] = ct_proxy_add(m->proxy, net->raft_ports[j], &m->port[i][j]);
            if (m->link[i][j] < 0) return -1;
        }
    for (unsigned i = 0; i < net->node_count; i++)
        if (ct_raft_mesh_bootstrap(m, net, i) != 0) return -1;
    return 0;
}

void ct_raft_mesh_isolate(ct_raft_mesh *m, unsigned node, bool cut)
{
    for (unsigned j = 0; j < m->node_count; j++) {
        if (j == node) continue;
        ct_proxy_set_cut(m->proxy, m->link[node][j], cut);
        ct_proxy_set_cut(m->proxy, m->link[j][node], cut);
    }
}

void ct_raft_mesh_destroy(ct_raft_mesh *m)
{
    ct_proxy_free(m->proxy);
    memset(m, 0, sizeof *m);
}
