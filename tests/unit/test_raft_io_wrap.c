/*
 * test_raft_io_wrap.c — what the node's wrapper of raft_uv's I/O
 * (src/node/raft_transport.c, cc_raft_io_wrap) passes on, over an I/O of
 * fakes that count their calls:
 *
 * - a snapshot is read only once one is on disk (loaded at start, or
 *   stored since): raft_uv 0.15 answers a read with status 0 and an
 *   unfilled snapshot when it has none, and libraft crashed on it;
 * - after a failed write of the raft log, term or vote the node is out of
 *   raft: it halts, sends nothing, hands libraft nothing it receives (and
 *   frees what the message owned), writes and reads nothing more;
 * - libraft's answers pass raft_match (raft_match.h) with this node's
 *   snapshot index.
 */
#include "unit_support.h"

#include "node/raft_node.h"

typedef struct fake {
    int loads, puts, gets, sends, appends, recvs, terms, votes;
    bool load_snapshot;                /* load finds a snapshot on disk */
    int put_status;                    /* what a put's callback reports */
    int append_status;                 /* what an append's callback reports */
    int meta_status;                   /* what a write of the term or vote returns */
    struct raft_snapshot *snap;        /* the snapshot load hands over */
    struct raft_message sent;          /* the last message sent */
    const struct raft_message *answer; /* what libraft answers to what it receives (NULL: nothing) */
    struct raft_io *io;                /* the wrapped io, for that answer */
    raft_io_recv_cb recv;              /* what start was given: the wrapper's receive */
} fake;

static fake g_fake;

static int fake_load(struct raft_io *io, raft_term *term, raft_id *voted_for, struct raft_snapshot **snapshot,
                     raft_index *start_index, struct raft_entry *entries[], size_t *n_entries)
{
    (void)io;
    g_fake.loads++;
    *term = 1;
    *voted_for = 0;
    *snapshot = g_fake.load_snapshot ? g_fake.snap : NULL;
    *start_index = 1;
    *entries = NULL;
    *n_entries = 0;
    return 0;
}

static int fake_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                    const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    (void)io, (void)trailing, (void)snapshot;
    g_fake.puts++;
    cb(req, g_fake.put_status); /* raft_uv calls back later; at once is enough here */
    return 0;
}

static int fake_get(struct raft_io *io, struct raft_io_snapshot_get *req, raft_io_snapshot_get_cb cb)
{
    (void)io, (void)req, (void)cb;
    g_fake.gets++;
    return 0;
}

static int fake_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                     raft_io_send_cb cb)
{
    (void)io, (void)req, (void)cb;
    g_fake.sends++;
    g_fake.sent = *msg;
    return 0;
}

static int fake_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                       unsigned n, raft_io_append_cb cb)
{
    (void)io, (void)entries, (void)n;
    g_fake.appends++;
    req->cb = cb;
    cb(req, g_fake.append_status);
    return 0;
}

static int fake_set_term(struct raft_io *io, raft_term term)
{
    (void)io, (void)term;
    g_fake.terms++;
    return g_fake.meta_status;
}

static int fake_set_vote(struct raft_io *io, raft_id server_id)
{
    (void)io, (void)server_id;
    g_fake.votes++;
    return g_fake.meta_status;
}

static void fake_recv(struct raft_io *io, struct raft_message *msg)
{
    (void)io, (void)msg;
    g_fake.recvs++;
    if (g_fake.answer) { /* libraft answers while it handles the message */
        struct raft_io_send req = {0};
        g_fake.io->send(g_fake.io, &req, g_fake.answer, NULL);
    }
}

static int fake_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    (void)io, (void)msecs, (void)tick;
    g_fake.recv = recv;
    return 0;
}

/* libraft's side: what the callbacks it gave were told */
static int g_put_status = -1, g_append_status = -1;

static void put_done(struct raft_io_snapshot_put *req, int status)
{
    (void)req;
    g_put_status = status;
}

static void append_done(struct raft_io_append *req, int status)
{
    (void)req;
    g_append_status = status;
}

static cc_raft_node *wrapped_node(void)
{
    memset(&g_fake, 0, sizeof g_fake);
    cc_raft_node *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    snprintf(r->raft_dir, sizeof r->raft_dir, "/tmp");
    r->io.load = fake_load;
    r->io.snapshot_put = fake_put;
    r->io.snapshot_get = fake_get;
    r->io.send = fake_send;
    r->io.append = fake_append;
    r->io.start = fake_start;
    r->io.set_term = fake_set_term;
    r->io.set_vote = fake_set_vote;
    cc_raft_io_wrap(r);
    assert_int_equal(r->io.start(&r->io, 100, NULL, fake_recv), 0); /* fake_recv: libraft's */
    assert_non_null(g_fake.recv);
    return r;
}

static void node_free(cc_raft_node *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    free(r);
}

static int load(cc_raft_node *r)
{
    raft_term term;
    raft_id voted;
    struct raft_snapshot *snap;
    raft_index start;
    struct raft_entry *entries;
    size_t n;
    return r->io.load(&r->io, &term, &voted, &snap, &start, &entries, &n);
}

static int get(cc_raft_node *r)
{
    struct raft_io_snapshot_get req = {0};
    return r->io.snapshot_get(&r->io, &req, NULL);
}

static void put(cc_raft_node *r, int status)
{
    struct raft_io_snapshot_put req = {0};
    struct raft_snapshot snap = {0};
    g_fake.put_status = status;
    g_put_status = -1;
    assert_int_equal(r->io.snapshot_put(&r->io, 10, &req, &snap, put_done), 0);
    assert_int_equal(g_put_status, status); /* libraft hears what raft_uv said */
}

static void test_no_snapshot_is_read_before_one_is_on_disk(void **state)
{
    (void)state;
    cc_raft_node *r = wrapped_node();
    assert_int_equal(load(r), 0); /* none on disk at start */
    assert_int_equal(g_fake.loads, 1);
    assert_int_equal(get(r), RAFT_NOTFOUND);
    assert_int_equal(g_fake.gets, 0);
    put(r, RAFT_IOERR); /* a put that failed stored none */
    assert_int_equal(get(r), RAFT_NOTFOUND);
    assert_int_equal(g_fake.gets, 0);
    put(r, 0);
    assert_int_equal(g_fake.puts, 2);
    assert_int_equal(get(r), 0);
    assert_int_equal(g_fake.gets, 1);
    node_free(r);
}

static void test_a_snapshot_loaded_at_start_can_be_read(void **state)
{
    (void)state;
    cc_raft_node *r = wrapped_node();
    struct raft_snapshot snap = {0};
    g_fake.load_snapshot = true;
    g_fake.snap = &snap;
    assert_int_equal(load(r), 0);
    assert_int_equal(get(r), 0);
    assert_int_equal(g_fake.gets, 1);
    node_free(r);
}

/* An AppendEntries of three entries in two batches, as raft_uv decodes
 * them: the wrapper must free each batch once and the array (ASan's leak
 * and double-free checks in make asan). */
static struct raft_message received_entries(void)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_APPEND_ENTRIES;
    m.append_entries.term = 2;
    m.append_entries.n_entries = 3;
    struct raft_entry *e = raft_calloc(3, sizeof *e);
    assert_non_null(e);
    void *a = raft_malloc(64), *b = raft_malloc(64);
    assert_non_null(a);
    assert_non_null(b);
    e[0].batch = a, e[0].buf.base = a, e[0].buf.len = 32;
    e[1].batch = a, e[1].buf.base = (char *)a + 32, e[1].buf.len = 32;
    e[2].batch = b, e[2].buf.base = b, e[2].buf.len = 64;
    m.append_entries.entries = e;
    return m;
}

static void free_entries(struct raft_message *m)
{
    raft_free(m->append_entries.entries[0].batch);
    raft_free(m->append_entries.entries[2].batch);
    raft_free(m->append_entries.entries);
}

static void test_a_node_whose_raft_log_fails_leaves_raft(void **state)
{
    (void)state;
    cc_raft_node *r = wrapped_node();
    struct raft_entry entry = {0};
    struct raft_io_append req = {0};
    struct raft_io_send send = {0};
    struct raft_snapshot snap = {0};
    g_fake.load_snapshot = true;
    g_fake.snap = &snap;
    assert_int_equal(load(r), 0);

    /* before: everything passes */
    assert_int_equal(r->io.append(&r->io, &req, &entry, 1, append_done), 0);
    assert_int_equal(g_append_status, 0);
    struct raft_message msg = received_entries();
    assert_int_equal(r->io.send(&r->io, &send, &msg, NULL), 0);
    assert_int_equal(g_fake.sends, 1);
    g_fake.recv(&r->io, &msg); /* libraft gets it (and would own it) */
    assert_int_equal(g_fake.recvs, 1);
    assert_int_equal(get(r), 0);
    assert_int_equal(g_fake.gets, 1);
    assert_int_equal(r->io.set_term(&r->io, 3), 0);
    assert_int_equal(r->io.set_vote(&r->io, 2), 0);
    assert_int_equal(g_fake.terms, 1);
    assert_int_equal(g_fake.votes, 1);
    assert_false(r->halted);

    /* a write fails: libraft hears of it, and the node halts saying why */
    g_fake.append_status = RAFT_IOERR;
    assert_int_equal(r->io.append(&r->io, &req, &entry, 1, append_done), 0);
    assert_int_equal(g_append_status, RAFT_IOERR);
    assert_true(r->halted);
    assert_non_null(strstr(r->halt_reason, "cannot write its raft log in /tmp"));

    /* and it is out of raft: nothing more is written, sent, read or received */
    assert_int_equal(r->io.append(&r->io, &req, &entry, 1, append_done), RAFT_IOERR);
    assert_int_equal(g_fake.appends, 2);
    assert_int_equal(r->io.set_term(&r->io, 4), RAFT_IOERR);
    assert_int_equal(r->io.set_vote(&r->io, 1), RAFT_IOERR);
    assert_int_equal(g_fake.terms, 1);
    assert_int_equal(g_fake.votes, 1);
    assert_int_equal(r->io.send(&r->io, &send, &msg, NULL), RAFT_NOCONNECTION);
    assert_int_equal(g_fake.sends, 1);
    assert_int_equal(get(r), RAFT_NOTFOUND);
    assert_int_equal(g_fake.gets, 1);
    struct raft_message late = received_entries();
    g_fake.recv(&r->io, &late); /* dropped, and what it owned freed (ASan) */
    assert_int_equal(g_fake.recvs, 1);
    struct raft_message heartbeat;
    memset(&heartbeat, 0, sizeof heartbeat);
    heartbeat.type = RAFT_IO_APPEND_ENTRIES; /* no entries: nothing to free */
    g_fake.recv(&r->io, &heartbeat);
    assert_int_equal(g_fake.recvs, 1);

    free_entries(&msg); /* the fake libraft did not free what it got */
    node_free(r);
}

/* raft_uv writes the term and the vote at once, before libraft goes on
 * (an election): a failure there halts the node and takes it out of raft
 * too, rather than leaving libraft unavailable without a word. */
static void failed_write_of(const char *what)
{
    cc_raft_node *r = wrapped_node();
    struct raft_entry entry = {0};
    struct raft_io_append req = {0};
    struct raft_io_send send = {0};
    assert_int_equal(load(r), 0);
    g_fake.meta_status = RAFT_IOERR;
    bool term = strcmp(what, "term") == 0;
    assert_int_equal(term ? r->io.set_term(&r->io, 5) : r->io.set_vote(&r->io, 2), RAFT_IOERR);
    assert_true(r->halted);
    char want[64];
    snprintf(want, sizeof want, "cannot write its raft %s in /tmp", what);
    assert_non_null(strstr(r->halt_reason, want));

    /* out of raft: no second attempt of either, no log write, no send */
    assert_int_equal(r->io.set_term(&r->io, 6), RAFT_IOERR);
    assert_int_equal(r->io.set_vote(&r->io, 3), RAFT_IOERR);
    assert_int_equal(g_fake.terms + g_fake.votes, 1);
    assert_int_equal(r->io.append(&r->io, &req, &entry, 1, append_done), RAFT_IOERR);
    assert_int_equal(g_fake.appends, 0);
    struct raft_message heartbeat;
    memset(&heartbeat, 0, sizeof heartbeat);
    heartbeat.type = RAFT_IO_APPEND_ENTRIES;
    assert_int_equal(r->io.send(&r->io, &send, &heartbeat, NULL), RAFT_NOCONNECTION);
    assert_int_equal(g_fake.sends, 0);
    node_free(r);
}

static void test_a_node_that_cannot_write_its_term_leaves_raft(void **state)
{
    (void)state;
    failed_write_of("term");
}

static void test_a_node_that_cannot_write_its_vote_leaves_raft(void **state)
{
    (void)state;
    failed_write_of("vote");
}

/* The node hands raft_match its raft's snapshot index: libraft's refusal
 * of an entry the snapshot replaced (simulation seed 52977) goes out as an
 * acceptance up to the snapshot. */
static void test_a_refusal_below_the_snapshot_goes_out_accepted(void **state)
{
    (void)state;
    cc_raft_node *r = wrapped_node();
    g_fake.io = &r->io;
    r->raft.log.snapshot.last_index = 64;
    struct raft_message in;
    memset(&in, 0, sizeof in);
    in.type = RAFT_IO_APPEND_ENTRIES; /* a heartbeat after 54, which the snapshot replaced */
    in.append_entries.term = 5;
    in.append_entries.prev_log_index = 54;
    struct raft_message refusal;
    memset(&refusal, 0, sizeof refusal);
    refusal.type = RAFT_IO_APPEND_ENTRIES_RESULT;
    refusal.append_entries_result.term = 5;
    refusal.append_entries_result.rejected = 54;
    refusal.append_entries_result.last_log_index = 64;
    g_fake.answer = &refusal;
    g_fake.recv(&r->io, &in);
    assert_int_equal(g_fake.sends, 1);
    assert_int_equal(g_fake.sent.type, RAFT_IO_APPEND_ENTRIES_RESULT);
    assert_int_equal(g_fake.sent.append_entries_result.rejected, 0);
    assert_int_equal(g_fake.sent.append_entries_result.last_log_index, 64);
    assert_int_equal(r->match.clamped, 1);

    r->raft.log.snapshot.last_index = 0; /* no snapshot: the refusal goes out as it is */
    in.append_entries.term = 6;
    refusal.append_entries_result.term = 6;
    g_fake.recv(&r->io, &in);
    assert_int_equal(g_fake.sends, 2);
    assert_int_equal(g_fake.sent.append_entries_result.rejected, 54);
    node_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_snapshot_is_read_before_one_is_on_disk),
        cmocka_unit_test(test_a_snapshot_loaded_at_start_can_be_read),
        cmocka_unit_test(test_a_node_whose_raft_log_fails_leaves_raft),
        cmocka_unit_test(test_a_node_that_cannot_write_its_term_leaves_raft),
        cmocka_unit_test(test_a_node_that_cannot_write_its_vote_leaves_raft),
        cmocka_unit_test(test_a_refusal_below_the_snapshot_goes_out_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
