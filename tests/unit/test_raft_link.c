/*
 * test_raft_link.c — the pump of an encrypted raft link (src/node/raft_link.c)
 * on a real libuv loop, with a Unix socket pair as the "TCP" connection:
 *   - two links back to back carry 24 MiB one way and 3 MiB the other, in
 *     order and intact, while the receiving end is not read for the first
 *     300 ms (so both links hold their readers back and resume); when
 *     libraft closes its end at one node, the other node's end sees the
 *     connection end;
 *   - after a good frame, a frame with one bit changed, a frame sealed
 *     under another key, and a head announcing a frame longer than any
 *     frame each close the link: the good frame's bytes arrive, nothing
 *     after them, libraft's end sees the connection end, and every handle
 *     closes.
 */
#include "raft_pair.h"

#include <sys/socket.h>

#include <raft.h>
#include <sodium.h>
#include <uv.h>

#include "node/raft_link.h"

#define BULK_AB  (24u << 20)
#define BULK_BA  (3u << 20)
#define HOLD_MS  300
#define GUARD_MS 20000 /* a test that hangs fails instead */

/* One end libraft would hold: what it wrote and what it read. */
typedef struct end {
    uv_stream_t *s;
    uint8_t *got;
    size_t got_len, got_cap;
    bool eof;
} end;

static void end_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    end *e = h->data;
    (void)suggested;
    if (e->got_cap - e->got_len < 65536) {
        e->got_cap = e->got_cap ? 2 * e->got_cap : 1u << 20;
        e->got = realloc(e->got, e->got_cap);
    }
    *buf = uv_buf_init((char *)e->got + e->got_len, (unsigned)(e->got_cap - e->got_len));
}

static void end_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    end *e = s->data;
    (void)buf;
    if (n > 0) e->got_len += (size_t)n;
    if (n < 0) {
        e->eof = true;
        uv_read_stop(s);
    }
}

static void free_handle(uv_handle_t *h)
{
    raft_free(h);
}

static void written(uv_write_t *w, int status)
{
    assert_int_equal(status, 0);
    free(w);
}

static void end_write(end *e, const uint8_t *bytes, size_t n)
{
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)n);
    assert_int_equal(uv_write(w, e->s, &b, 1, written), 0);
}

/* A "TCP" stream as libraft's transport would allocate it, over fd. */
static uv_stream_t *wire_stream(uv_loop_t *loop, uv_os_sock_t fd)
{
    uv_pipe_t *p = raft_malloc(sizeof *p);
    assert_non_null(p);
    assert_int_equal(uv_pipe_init(loop, p, 0), 0);
    assert_int_equal(uv_pipe_open(p, fd), 0);
    return (uv_stream_t *)p;
}

/* The keys of both sides of one exchange. */
static void keys(cc_raft_cipher *a_send, cc_raft_cipher *a_recv, cc_raft_cipher *c_send,
                 cc_raft_cipher *c_recv)
{
    ut_raft_pair p;
    ut_raft_exchange(&p);
    *a_send = p.a_send;
    *a_recv = p.a_recv;
    *c_send = p.c_send;
    *c_recv = p.c_recv;
}

static void guard_fired(uv_timer_t *t)
{
    (void)t;
    fail_msg("the loop did not finish in %d ms", GUARD_MS);
}

/* ---- two links back to back --------------------------------------------------------- */

typedef struct bulk {
    end a, b; /* libraft's ends at node A and node B */
    uv_timer_t hold;
} bulk;

static void start_reading(uv_timer_t *t)
{
    bulk *k = t->data;
    assert_int_equal(uv_read_start(k->b.s, end_alloc, end_read), 0);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_two_links_carry_bulk_both_ways_in_order(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_timer_t guard;
    uv_os_sock_t wire[2];
    cc_raft_cipher a_send, a_recv, c_send, c_recv;
    cc_raft_links links_a = {0}, links_b = {0};
    bulk k = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    keys(&a_send, &a_recv, &c_send, &c_recv);
    assert_int_equal(uv_socketpair(SOCK_STREAM, 0, wire, 0, 0), 0);
    assert_int_equal(
        cc_raft_link_start(&loop, &links_a, wire_stream(&loop, wire[0]), &a_send, &a_recv, "B", &k.a.s), 0);
    assert_int_equal(
        cc_raft_link_start(&loop, &links_b, wire_stream(&loop, wire[1]), &c_send, &c_recv, "A", &k.b.s), 0);
    k.a.s->data = &k.a;
    k.b.s->data = &k.b;

    uint8_t *ab = malloc(BULK_AB), *ba = malloc(BULK_BA);
    assert_non_null(ab);
    assert_non_null(ba);
    randombytes_buf(ab, BULK_AB);
    randombytes_buf(ba, BULK_BA);
    /* in pieces of odd sizes, so frames and reads never line up */
    for (size_t off = 0, step = 1; off < BULK_AB; off += step, step = step * 3 % 200003 + 1)
        end_write(&k.a, ab + off, off + step > BULK_AB ? BULK_AB - off : step);
    end_write(&k.b, ba, BULK_BA);
    assert_int_equal(uv_read_start(k.a.s, end_alloc, end_read), 0);
    /* B's end is not read at first: both links must hold back, then resume */
    uv_timer_init(&loop, &k.hold);
    k.hold.data = &k;
    uv_timer_start(&k.hold, start_reading, HOLD_MS, 0);
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, guard_fired, GUARD_MS, 0);
    uv_unref((uv_handle_t *)&guard);

    while (k.b.got_len < BULK_AB || k.a.got_len < BULK_BA) {
        assert_false(k.a.eof || k.b.eof);
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(k.b.got_len, BULK_AB);
    assert_memory_equal(k.b.got, ab, BULK_AB);
    assert_int_equal(k.a.got_len, BULK_BA);
    assert_memory_equal(k.a.got, ba, BULK_BA);

    /* libraft closes its end at A: the link at A closes, so does B's, and
     * B's end sees the connection end */
    uv_close((uv_handle_t *)k.a.s, free_handle);
    while (!k.b.eof) uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)k.b.s, free_handle);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_null(links_a.head);
    assert_null(links_b.head);
    assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
    free(ab);
    free(ba);
    free(k.a.got);
    free(k.b.got);
}

/* ---- one link, the test on the wire ------------------------------------------------- */

/* One link at node A, with the test as node C on the wire: write bytes
 * (frames C sealed, and whatever follows them), end C's side, and expect
 * exactly expect_plain to reach libraft's end before the link closes. */
static void wire_case(const cc_raft_cipher *a_send, const cc_raft_cipher *a_recv, const uint8_t *bytes,
                      size_t n, const char *expect_plain)
{
    uv_loop_t loop;
    uv_timer_t guard;
    uv_os_sock_t wire[2];
    cc_raft_links links = {0};
    end e = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_socketpair(SOCK_STREAM, 0, wire, 0, 0), 0);
    assert_int_equal(
        cc_raft_link_start(&loop, &links, wire_stream(&loop, wire[0]), a_send, a_recv, "C", &e.s), 0);
    e.s->data = &e;
    assert_int_equal(uv_read_start(e.s, end_alloc, end_read), 0);
    assert_int_equal(write(wire[1], bytes, n), (ssize_t)n);
    shutdown(wire[1], SHUT_WR); /* then C is done: only the good frames may arrive */
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, guard_fired, GUARD_MS, 0);
    uv_unref((uv_handle_t *)&guard);
    while (!e.eof) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(e.got_len, strlen(expect_plain));
    assert_memory_equal(e.got, expect_plain, e.got_len);
    assert_null(links.head);
    uv_close((uv_handle_t *)e.s, free_handle);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(wire[1]);
    free(e.got);
}

/* C's next frame of plain, appended to wire at *len. */
static void add_frame(cc_raft_cipher *c_send, const char *plain, uint8_t *wire, size_t *len)
{
    size_t n = strlen(plain);
    memcpy(wire + *len + CC_RAFT_FRAME_HEAD_BYTES, plain, n);
    *len += cc_raft_frame_seal(c_send, wire + *len, n);
}

static void test_a_bad_frame_closes_the_link(void **state)
{
    (void)state;
    cc_raft_cipher a_send, a_recv, c_send, c_recv, other_send, other_recv, x, y;
    uint8_t wire[512];
    size_t len;

    /* the control: two good frames arrive, then C closes */
    keys(&a_send, &a_recv, &c_send, &c_recv);
    len = 0;
    add_frame(&c_send, "append ", wire, &len);
    add_frame(&c_send, "entries", wire, &len);
    wire_case(&a_send, &a_recv, wire, len, "append entries");

    /* one bit of the second frame's ciphertext */
    keys(&a_send, &a_recv, &c_send, &c_recv);
    len = 0;
    add_frame(&c_send, "append ", wire, &len);
    size_t second = len;
    add_frame(&c_send, "entries", wire, &len);
    wire[second + CC_RAFT_FRAME_HEAD_BYTES + 2] ^= 0x08;
    add_frame(&c_send, "more", wire, &len); /* never reaches libraft */
    wire_case(&a_send, &a_recv, wire, len, "append ");

    /* the second frame sealed under another connection's key */
    keys(&a_send, &a_recv, &c_send, &c_recv);
    keys(&x, &y, &other_send, &other_recv);
    len = 0;
    add_frame(&c_send, "append ", wire, &len);
    other_send.counter = c_send.counter;
    add_frame(&other_send, "entries", wire, &len);
    wire_case(&a_send, &a_recv, wire, len, "append ");

    /* the first frame twice (a replay) */
    keys(&a_send, &a_recv, &c_send, &c_recv);
    len = 0;
    add_frame(&c_send, "append ", wire, &len);
    memcpy(wire + len, wire, len);
    len *= 2;
    wire_case(&a_send, &a_recv, wire, len, "append ");
}

static void test_an_overlong_frame_head_closes_the_link(void **state)
{
    (void)state;
    cc_raft_cipher a_send, a_recv, c_send, c_recv;
    uint8_t wire[512];
    size_t len = 0;
    keys(&a_send, &a_recv, &c_send, &c_recv);
    add_frame(&c_send, "append ", wire, &len);
    /* a head of 65,553 bytes of ciphertext: one more than any frame */
    uint32_t body = CC_RAFT_FRAME_PLAIN_MAX + CC_RAFT_FRAME_TAG_BYTES + 1;
    wire[len++] = (uint8_t)(body >> 24);
    wire[len++] = (uint8_t)(body >> 16);
    wire[len++] = (uint8_t)(body >> 8);
    wire[len++] = (uint8_t)body;
    wire_case(&a_send, &a_recv, wire, len, "append ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_links_carry_bulk_both_ways_in_order),
        cmocka_unit_test(test_a_bad_frame_closes_the_link),
        cmocka_unit_test(test_an_overlong_frame_head_closes_the_link),
    };
    return cmocka_run_group_tests_name("raft_link", tests, NULL, NULL);
}
