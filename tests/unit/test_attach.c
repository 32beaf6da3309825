/*
 * test_attach.c — attachments kept in segment files beside data.mdb
 * (src/store/attach.c): erased bytes are overwritten on disk, bytes of a
 * txn that never committed do not stay behind, a crash in either window
 * is repaired by the next open, a backup copies only what is held, and a
 * store made before the segment files is read and then moved into them.
 *
 * "Nowhere on disk" is checked by reading every file under the store's
 * directory for any 64-byte slice of the bytes (a copy partly overwritten
 * still counts), after the same scan found them there before.
 */
#include "unit_support.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <sodium.h>

#include "store/store.h"
#include "support/support.h"

#define ATT_BYTES 3000
#define SLICE     64

typedef struct att {
    uint8_t bytes[ATT_BYTES];
    uint8_t hash[CC_HASH_BYTES];
    size_t len;
} att;

typedef struct fixture {
    char *dir;
    cc_store *s;
} fixture;

static void att_new(att *a, size_t len)
{
    a->len = len;
    randombytes_buf(a->bytes, len);
    cc_sha256(a->bytes, len, a->hash);
}

static cc_store *open_store(const char *dir, bool readonly)
{
    cc_store *s = NULL;
    cc_errbuf eb = {""};
    if (cc_store_open(dir, 0, 0, readonly, &s, &eb) != CC_OK) fail_msg("opening %s: %s", dir, eb.msg);
    return s;
}

/* Put the attachments in one write txn and commit it. */
static void put(cc_store *s, att **as, size_t n)
{
    MDB_txn *txn;
    cc_errbuf eb = {""};
    assert_int_equal(cc_store_begin(s, true, &txn, &eb), CC_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cc_store_attach_put(s, txn, as[i]->hash, as[i]->bytes, as[i]->len, &eb), CC_OK);
    if (cc_store_commit(s, txn, &eb) != CC_OK) fail_msg("commit: %s", eb.msg);
}

static void erase(cc_store *s, const att *a)
{
    MDB_txn *txn;
    cc_errbuf eb = {""};
    assert_int_equal(cc_store_begin(s, true, &txn, &eb), CC_OK);
    assert_int_equal(cc_store_attach_erase(s, txn, a->hash, &eb), CC_OK);
    if (cc_store_commit(s, txn, &eb) != CC_OK) fail_msg("commit: %s", eb.msg);
}

/* CC_OK with the right bytes, or what get answered. */
static cc_err get(cc_store *s, const att *a)
{
    MDB_txn *txn;
    uint8_t *b = NULL;
    size_t n = 0;
    assert_int_equal(cc_store_begin(s, false, &txn, NULL), CC_OK);
    cc_err rc = cc_store_attach_get(s, txn, a->hash, &b, &n);
    cc_store_abort(s, txn);
    if (rc == CC_OK) {
        assert_int_equal(n, a->len);
        assert_memory_equal(b, a->bytes, n);
    }
    free(b);
    return rc;
}

/* How many attachments check reads, all sound. */
static uint64_t check(cc_store *s)
{
    MDB_txn *txn;
    uint64_t n = 0;
    uint8_t bad[CC_HASH_BYTES];
    assert_int_equal(cc_store_begin(s, false, &txn, NULL), CC_OK);
    assert_int_equal(cc_store_attach_check(s, txn, &n, bad), CC_OK);
    cc_store_abort(s, txn);
    return n;
}

/* The child process pid ended with exit status 0. */
static void wait_ok(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Erased ranges the store still has to overwrite. */
static size_t shred_entries(cc_store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(cc_store_begin(s, false, &txn, NULL), CC_OK);
    assert_int_equal(mdb_stat(txn, s->shred, &st), 0);
    cc_store_abort(s, txn);
    return st.ms_entries;
}

static bool on_disk(const char *dir, const att *a)
{
    return ct_tree_holds(dir, a->bytes, a->len, SLICE);
}

/* Bytes in dir/attachments, and how many segment files hold them. */
static uint64_t segment_bytes(const char *dir, int *files)
{
    char *path = ct_strf("%s/attachments", dir);
    DIR *d = opendir(path);
    struct dirent *e;
    uint64_t total = 0;
    *files = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        struct stat st;
        char *f = ct_strf("%s/%s", path, e->d_name);
        if (stat(f, &st) == 0) total += (uint64_t)st.st_size, (*files)++;
        free(f);
    }
    if (d) closedir(d);
    free(path);
    return total;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ut_tmpdir();
    f->s = open_store(f->dir, false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cc_store_close(f->s);
    ut_rmdir(f->dir);
    free(f);
    return 0;
}

/* Erasing overwrites: the bytes are nowhere under the store's directory
 * (data.mdb included) right after the commit, while the bytes kept are. */
static void test_erase_overwrites(void **state)
{
    fixture *f = *state;
    att a, b, pad;
    att_new(&a, ATT_BYTES);
    att_new(&b, ATT_BYTES);
    put(f->s, (att *[]){&a, &b}, 2);
    assert_true(on_disk(f->dir, &a)); /* the scan finds what is there */
    assert_int_equal(get(f->s, &a), CC_OK);
    for (int i = 0; i < 5; i++) { /* other blocks' writes around them */
        att_new(&pad, 500);
        put(f->s, (att *[]){&pad}, 1);
    }
    erase(f->s, &a);
    assert_int_equal(get(f->s, &a), CC_ERR_NOT_FOUND);
    assert_false(on_disk(f->dir, &a));
    assert_int_equal(get(f->s, &b), CC_OK);
    assert_true(on_disk(f->dir, &b));
    assert_int_equal(check(f->s), 6);
    erase(f->s, &a); /* erasing what is not held changes nothing */
    assert_int_equal(check(f->s), 6);

    /* the same bytes stored again after their erasure are held again */
    put(f->s, (att *[]){&a}, 1);
    assert_int_equal(get(f->s, &a), CC_OK);
    /* and the same bytes twice in one store take their room once */
    int files;
    uint64_t before = segment_bytes(f->dir, &files);
    put(f->s, (att *[]){&a, &b}, 2);
    assert_int_equal(segment_bytes(f->dir, &files), before);
}

/* A changed byte in a segment: check names the attachment, get finds
 * nothing rather than the wrong bytes. */
static void test_tampered_bytes(void **state)
{
    fixture *f = *state;
    att a, b;
    att_new(&a, ATT_BYTES);
    att_new(&b, ATT_BYTES);
    put(f->s, (att *[]){&a, &b}, 2);
    char *seg = ct_strf("%s/attachments/00000000", f->dir);
    size_t len = 0;
    uint8_t *bytes = ct_read_file(seg, &len);
    assert_int_equal(len, 2 * ATT_BYTES);
    bytes[ATT_BYTES + 17] ^= 0x01; /* inside b */
    assert_int_equal(ct_write_file(seg, bytes, len), 0);
    free(bytes);
    free(seg);
    MDB_txn *txn;
    uint64_t n = 0;
    uint8_t bad[CC_HASH_BYTES];
    assert_int_equal(cc_store_begin(f->s, false, &txn, NULL), CC_OK);
    assert_int_equal(cc_store_attach_check(f->s, txn, &n, bad), CC_ERR_CORRUPT);
    cc_store_abort(f->s, txn);
    assert_memory_equal(bad, b.hash, CC_HASH_BYTES);
    assert_int_equal(get(f->s, &b), CC_ERR_NOT_FOUND);
    assert_int_equal(get(f->s, &a), CC_OK);
}

/* Bytes put in one txn and erased in the same txn never stay. */
static void test_put_and_erase_in_one_txn(void **state)
{
    fixture *f = *state;
    att a;
    att_new(&a, ATT_BYTES);
    MDB_txn *txn;
    cc_errbuf eb = {""};
    assert_int_equal(cc_store_begin(f->s, true, &txn, &eb), CC_OK);
    assert_int_equal(cc_store_attach_put(f->s, txn, a.hash, a.bytes, a.len, &eb), CC_OK);
    assert_int_equal(cc_store_attach_erase(f->s, txn, a.hash, &eb), CC_OK);
    assert_int_equal(cc_store_commit(f->s, txn, &eb), CC_OK);
    assert_int_equal(get(f->s, &a), CC_ERR_NOT_FOUND);
    assert_false(on_disk(f->dir, &a));
}

/* A txn that aborts (or fails to commit) leaves none of its bytes, and the
 * next append goes where they were. */
static void test_abort_leaves_nothing(void **state)
{
    fixture *f = *state;
    att kept, dropped, next;
    att_new(&kept, ATT_BYTES);
    att_new(&dropped, ATT_BYTES);
    att_new(&next, 100);
    put(f->s, (att *[]){&kept}, 1);
    MDB_txn *txn;
    cc_errbuf eb = {""};
    assert_int_equal(cc_store_begin(f->s, true, &txn, &eb), CC_OK);
    assert_int_equal(cc_store_attach_put(f->s, txn, dropped.hash, dropped.bytes, dropped.len, &eb), CC_OK);
    assert_true(on_disk(f->dir, &dropped)); /* written before the commit, as a block's are */
    cc_store_abort(f->s, txn);
    assert_false(on_disk(f->dir, &dropped));
    assert_int_equal(get(f->s, &dropped), CC_ERR_NOT_FOUND);
    int files;
    assert_int_equal(segment_bytes(f->dir, &files), ATT_BYTES);

    /* a write that fails inside the txn: the store's commit path aborts it */
    cc_store_fault_after(f->s, 3); /* the put's own check, the entry, then the end: this one */
    assert_int_equal(cc_store_begin(f->s, true, &txn, &eb), CC_OK);
    assert_int_equal(cc_store_attach_put(f->s, txn, dropped.hash, dropped.bytes, dropped.len, &eb),
                     CC_ERR_IO);
    cc_store_abort(f->s, txn);
    assert_false(on_disk(f->dir, &dropped));

    put(f->s, (att *[]){&next}, 1);
    assert_int_equal(segment_bytes(f->dir, &files), ATT_BYTES + 100);
    assert_int_equal(get(f->s, &kept), CC_OK);
    assert_int_equal(get(f->s, &next), CC_OK);
}

/* A process that dies in the middle of a txn, or between an erasure's
 * commit and the overwrite: the next writable open finishes the job. */
static void test_crash_windows(void **state)
{
    fixture *f = *state;
    att kept, uncommitted, erased;
    att_new(&kept, ATT_BYTES);
    att_new(&uncommitted, ATT_BYTES);
    att_new(&erased, ATT_BYTES);
    put(f->s, (att *[]){&kept, &erased}, 2);
    cc_store_close(f->s);
    f->s = NULL;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* appends, then dies before its commit */
        cc_store *s = open_store(f->dir, false);
        MDB_txn *txn;
        if (cc_store_begin(s, true, &txn, NULL) != CC_OK ||
            cc_store_attach_put(s, txn, uncommitted.hash, uncommitted.bytes, uncommitted.len, NULL) != CC_OK)
            _exit(1);
        _exit(0);
    }
    wait_ok(pid);
    assert_true(on_disk(f->dir, &uncommitted)); /* the window is real */

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* commits an erasure (LMDB's commit alone), then dies before the overwrite */
        cc_store *s = open_store(f->dir, false);
        MDB_txn *txn;
        if (cc_store_begin(s, true, &txn, NULL) != CC_OK ||
            cc_store_attach_erase(s, txn, erased.hash, NULL) || mdb_txn_commit(txn) != 0)
            _exit(1);
        _exit(0);
    }
    wait_ok(pid);
    assert_false(on_disk(f->dir, &uncommitted)); /* that open already cut the tail */
    assert_true(on_disk(f->dir, &erased));

    cc_store *ro = open_store(f->dir, true); /* a read-only open repairs nothing, and reads */
    assert_int_equal(get(ro, &erased), CC_ERR_NOT_FOUND);
    assert_int_equal(get(ro, &kept), CC_OK);
    cc_store_close(ro);
    assert_true(on_disk(f->dir, &erased));

    f->s = open_store(f->dir, false);
    assert_false(on_disk(f->dir, &erased));
    assert_int_equal(get(f->s, &kept), CC_OK);
    assert_int_equal(shred_entries(f->s), 0); /* nothing left to overwrite */
    assert_int_equal(check(f->s), 1);
}

/* Another process appended while this one kept the store open (between
 * two of its txns): this one appends after those bytes, not over them. */
static void test_another_writer(void **state)
{
    fixture *f = *state;
    att first, theirs, ours;
    att_new(&first, ATT_BYTES);
    att_new(&theirs, ATT_BYTES);
    att_new(&ours, ATT_BYTES);
    put(f->s, (att *[]){&first}, 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cc_store *s = open_store(f->dir, false);
        MDB_txn *txn;
        if (cc_store_begin(s, true, &txn, NULL) != CC_OK ||
            cc_store_attach_put(s, txn, theirs.hash, theirs.bytes, theirs.len, NULL) != CC_OK ||
            cc_store_commit(s, txn, NULL) != CC_OK)
            _exit(1);
        cc_store_close(s);
        _exit(0);
    }
    wait_ok(pid);
    put(f->s, (att *[]){&ours}, 1);
    assert_int_equal(get(f->s, &first), CC_OK);
    assert_int_equal(get(f->s, &theirs), CC_OK);
    assert_int_equal(get(f->s, &ours), CC_OK);
    assert_int_equal(check(f->s), 3);
}

/* Segments: a full one is left for a new one; an aborted txn's new segment
 * goes away; erasing in an older segment works as in the newest. */
static void test_segments(void **state)
{
    fixture *f = *state;
    enum { N = 10 };
    att a[N], extra;
    cc_store_attach_segment_limit(f->s, 4096);
    for (int i = 0; i < N; i++) {
        att_new(&a[i], 1500);
        put(f->s, (att *[]){&a[i]}, 1);
    }
    int files;
    assert_int_equal(segment_bytes(f->dir, &files), N * 1500);
    assert_int_equal(files, 5); /* two of 1500 bytes fit in 4096 */
    att_new(&extra, 1500);
    MDB_txn *txn;
    cc_errbuf eb = {""};
    assert_int_equal(cc_store_begin(f->s, true, &txn, &eb), CC_OK);
    for (int i = 0; i < 3; i++) { /* fills segment 5, starts a 6th... */
        att x;
        att_new(&x, 1500);
        assert_int_equal(cc_store_attach_put(f->s, txn, x.hash, x.bytes, x.len, &eb), CC_OK);
    }
    assert_int_equal(segment_bytes(f->dir, &files), N * 1500 + 3 * 1500);
    assert_int_equal(files, 7);
    cc_store_abort(f->s, txn); /* ... and takes them back */
    assert_int_equal(segment_bytes(f->dir, &files), N * 1500);
    assert_int_equal(files, 5);
    erase(f->s, &a[1]);
    erase(f->s, &a[8]);
    assert_false(on_disk(f->dir, &a[1]));
    assert_false(on_disk(f->dir, &a[8]));
    for (int i = 0; i < N; i++)
        assert_int_equal(get(f->s, &a[i]), i == 1 || i == 8 ? CC_ERR_NOT_FOUND : CC_OK);
    put(f->s, (att *[]){&extra}, 1);
    assert_int_equal(get(f->s, &extra), CC_OK);
    assert_int_equal(check(f->s), N - 1);
}

/* Bytes past the committed end that an abort could not cut off (a
 * failed write, say) are cut off by the next txn's first append, even
 * when that txn goes on to a new segment and the next open would look
 * only at that one. */
static void test_a_left_tail_is_cut_by_the_next_append(void **state)
{
    fixture *f = *state;
    att a, left, c;
    att_new(&a, 1500);
    att_new(&left, 2000);
    att_new(&c, 3000);
    cc_store_attach_segment_limit(f->s, 4096);
    put(f->s, (att *[]){&a}, 1);
    char *seg = ct_strf("%s/attachments/00000000", f->dir);
    FILE *fp = fopen(seg, "ab");
    assert_non_null(fp);
    assert_int_equal(fwrite(left.bytes, 1, left.len, fp), left.len);
    assert_int_equal(fclose(fp), 0);
    assert_true(on_disk(f->dir, &left));
    put(f->s, (att *[]){&c}, 1); /* 1500 + 3000 > 4096: into segment 1 */
    assert_false(on_disk(f->dir, &left));
    int files;
    assert_int_equal(segment_bytes(f->dir, &files), 1500 + 3000);
    assert_int_equal(files, 2);
    assert_int_equal(get(f->s, &a), CC_OK);
    assert_int_equal(get(f->s, &c), CC_OK);
    free(seg);
}

/* verify-chain reads one long snapshot of a running node: an attachment
 * erased and overwritten after it began is not reported as damaged. */
static void test_check_while_erasing(void **state)
{
    fixture *f = *state;
    att a, b;
    att_new(&a, ATT_BYTES);
    att_new(&b, ATT_BYTES);
    put(f->s, (att *[]){&a, &b}, 2);
    MDB_txn *snap;
    assert_int_equal(cc_store_begin(f->s, false, &snap, NULL), CC_OK);
    erase(f->s, &a);
    assert_false(on_disk(f->dir, &a));
    uint64_t n = 0;
    uint8_t bad[CC_HASH_BYTES];
    assert_int_equal(cc_store_attach_check(f->s, snap, &n, bad), CC_OK);
    assert_int_equal(n, 1);
    cc_store_abort(f->s, snap);
}

/* A range overwritten and punched already is left alone when an open
 * after a crash comes to overwrite it again: writing zeros into its holes
 * would take disk blocks, and a full disk would keep the node from
 * starting. (The segment's mtime shows whether anything was written.) */
static void test_overwritten_ranges_take_no_room_again(void **state)
{
    fixture *f = *state;
    enum { N = 8, BIG = 64 * 1024 };
    uint8_t *bytes = malloc(BIG);
    uint8_t hashes[N][CC_HASH_BYTES];
    MDB_txn *txn;
    cc_errbuf eb = {""};
    assert_int_equal(cc_store_begin(f->s, true, &txn, &eb), CC_OK);
    for (int i = 0; i < N; i++) {
        randombytes_buf(bytes, BIG);
        cc_sha256(bytes, BIG, hashes[i]);
        assert_int_equal(cc_store_attach_put(f->s, txn, hashes[i], bytes, BIG, &eb), CC_OK);
    }
    assert_int_equal(cc_store_commit(f->s, txn, &eb), CC_OK);
    free(bytes);
    cc_store_close(f->s);
    f->s = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* erases all, overwrites, and dies before the shred entries are deleted */
        cc_store *s = open_store(f->dir, false);
        MDB_txn *t;
        if (cc_store_begin(s, true, &t, NULL) != CC_OK) _exit(1);
        for (int i = 0; i < N; i++)
            if (cc_store_attach_erase(s, t, hashes[i], NULL) != CC_OK) _exit(1);
        _exit(cc_store_commit(s, t, NULL) == CC_OK ? 0 : 1);
    }
    wait_ok(pid);
    char *seg = ct_strf("%s/attachments/00000000", f->dir);
    struct stat before, after;
    assert_int_equal(stat(seg, &before), 0);
    assert_true(before.st_blocks * 512 < (off_t)N * BIG / 2); /* punched */
    usleep(50 * 1000);                                        /* past the clock's tick */
    f->s = open_store(f->dir, false);
    assert_int_equal(stat(seg, &after), 0);
    assert_int_equal(after.st_blocks, before.st_blocks);
    assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    assert_int_equal(shred_entries(f->s), 0);
    free(seg);
}

/* A backup copies the bytes the snapshot's entries name, compacted, and
 * nothing erased. */
static void test_copy(void **state)
{
    fixture *f = *state;
    att kept, erased;
    att_new(&kept, ATT_BYTES);
    att_new(&erased, ATT_BYTES);
    put(f->s, (att *[]){&erased, &kept}, 2);
    erase(f->s, &erased);
    char *to = ct_strf("%s/copy", f->dir);
    cc_errbuf eb = {""};
    if (cc_store_copy(f->s, to, &eb) != CC_OK) fail_msg("copy: %s", eb.msg);
    assert_true(on_disk(to, &kept));
    assert_false(on_disk(to, &erased));
    int files;
    assert_int_equal(segment_bytes(to, &files), ATT_BYTES); /* no hole where the erased bytes were */
    cc_store *c = open_store(to, true);
    assert_int_equal(get(c, &kept), CC_OK);
    assert_int_equal(get(c, &erased), CC_ERR_NOT_FOUND);
    assert_int_equal(check(c), 1);
    cc_store_close(c);
    c = open_store(to, false); /* a node started on it appends after the copy's end */
    att more;
    att_new(&more, 10);
    put(c, (att *[]){&more}, 1);
    assert_int_equal(get(c, &more), CC_OK);
    assert_int_equal(get(c, &kept), CC_OK);
    cc_store_close(c);
    free(to);
}

/* The store in dir opened with LMDB alone, as another program would, and
 * a write txn on it (a map with room for the tests' 4 MB). */
static void raw_write_txn(const char *dir, MDB_env **env, MDB_txn **txn)
{
    assert_int_equal(mdb_env_create(env), 0);
    assert_int_equal(mdb_env_set_maxdbs(*env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(*env, (size_t)128 << 20), 0);
    assert_int_equal(mdb_env_open(*env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, 0, txn), 0);
}

/* What a build before the segment files does first, opening its
 * "attachments" database: 0 when that build would run on the store. */
static int open_as_an_earlier_build(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_write_txn(dir, &env, &txn);
    int rc = mdb_dbi_open(txn, "attachments", MDB_CREATE, &dbi);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc;
}

/* Turn the (closed) store in dir into one an earlier build made: the
 * marker record gone, and the n attachments bytes[i] (lens[i] bytes) in
 * its "attachments" database. */
static void make_earlier_build_store(const char *dir, size_t n, const uint8_t *const *bytes,
                                     const size_t *lens)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_db, dbi;
    MDB_val k = {strlen("attachments"), "attachments"};
    raw_write_txn(dir, &env, &txn);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_db), 0);
    assert_int_equal(mdb_del(txn, main_db, &k, NULL), 0);
    assert_int_equal(mdb_dbi_open(txn, "attachments", MDB_CREATE, &dbi), 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t h[CC_HASH_BYTES];
        cc_sha256(bytes[i], lens[i], h);
        MDB_val hk = {CC_HASH_BYTES, h}, v = {lens[i], (void *)bytes[i]};
        assert_int_equal(mdb_put(txn, dbi, &hk, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A store made before the segment files kept the bytes in LMDB's
 * "attachments": a read-only open reads them there, a writable open moves
 * them out, drops that database and leaves the marker in its place. */
static void test_store_of_an_earlier_build(void **state)
{
    fixture *f = *state;
    att old, fresh;
    att_new(&old, ATT_BYTES);
    att_new(&fresh, ATT_BYTES);
    cc_store_close(f->s);
    f->s = NULL;
    make_earlier_build_store(f->dir, 1, (const uint8_t *[]){old.bytes}, (size_t[]){old.len});

    cc_store *ro = open_store(f->dir, true);
    assert_true(ro->has_old_attachments);
    assert_int_equal(get(ro, &old), CC_OK);
    assert_int_equal(check(ro), 1);
    cc_store_close(ro);

    f->s = open_store(f->dir, false);
    assert_false(f->s->has_old_attachments);
    assert_int_equal(get(f->s, &old), CC_OK);
    int files;
    assert_int_equal(segment_bytes(f->dir, &files), ATT_BYTES); /* in a segment now */
    cc_store_close(f->s);
    f->s = NULL;
    assert_int_equal(open_as_an_earlier_build(f->dir), MDB_INCOMPATIBLE);
    f->s = open_store(f->dir, false);
    put(f->s, (att *[]){&fresh}, 1);
    erase(f->s, &old);
    assert_int_equal(get(f->s, &old), CC_ERR_NOT_FOUND);
    assert_int_equal(check(f->s), 1);
}

/* A build before the segment files would erase in its own "attachments"
 * database and leave the bytes in the segments: it cannot open a store
 * this one wrote, nor a backup of it. */
static void test_earlier_builds_refuse_the_store(void **state)
{
    fixture *f = *state;
    att a;
    att_new(&a, ATT_BYTES);
    put(f->s, (att *[]){&a}, 1);
    char *to = ct_strf("%s/copy", f->dir);
    cc_errbuf eb = {""};
    assert_int_equal(cc_store_copy(f->s, to, &eb), CC_OK);
    cc_store_close(f->s);
    f->s = NULL;
    assert_int_equal(open_as_an_earlier_build(f->dir), MDB_INCOMPATIBLE);
    assert_int_equal(open_as_an_earlier_build(to), MDB_INCOMPATIBLE);
    f->s = open_store(f->dir, false);
    assert_int_equal(get(f->s, &a), CC_OK);
    free(to);
}

/* A store opens with a map just the size of its data: moving an earlier
 * build's attachments out of LMDB (or copying them) grows it as needed. */
static void test_open_grows_the_map(void **state)
{
    fixture *f = *state;
    enum { N = 40, BIG = 100000 }; /* 4 MB of bytes in LMDB, as an earlier build kept them */
    uint8_t *bytes[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        bytes[i] = malloc(BIG);
        randombytes_buf(bytes[i], BIG);
        lens[i] = BIG;
    }
    cc_store_close(f->s);
    f->s = NULL;
    make_earlier_build_store(f->dir, N, (const uint8_t *const *)bytes, lens);
    cc_errbuf eb = {""};
    if (cc_store_open(f->dir, 1 << 20, 0, false, &f->s, &eb) != CC_OK) /* a map the data's size */
        fail_msg("opening: %s", eb.msg);
    assert_false(f->s->has_old_attachments);
    assert_int_equal(check(f->s), N);
    for (int i = 0; i < N; i++) free(bytes[i]);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_erase_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_and_erase_in_one_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_left_tail_is_cut_by_the_next_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_while_erasing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwritten_ranges_take_no_room_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_of_an_earlier_build, setup, teardown),
        cmocka_unit_test_setup_teardown(test_earlier_builds_refuse_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_grows_the_map, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
