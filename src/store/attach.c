/*
 * attach.c — attachment bytes kept outside LMDB, in append-only segment
 * files, so that erasing an attachment overwrites its bytes on disk.
 *
 * Why not in LMDB: LMDB never writes over a page in use. Every change near
 * a stored ciphertext copies its page and frees the old one, and a freed
 * page keeps its bytes until LMDB happens to reuse it, so an erased
 * ciphertext lingered in data.mdb for blocks after its erasure. Here the
 * bytes are written once, at one place, and erasing them writes zeros
 * over that place.
 *
 * Layout (docs/PROTOCOL.md "Store"): data/attachments/NNNNNNNN, segment
 * files of up to CC_ATTACH_SEGMENT_BYTES, each attachment appended after
 * the last. LMDB holds, written in the transaction of the block that
 * stores or erases the bytes:
 *   attachment_at       sha256 -> u32 segment || u64 offset || u32 length
 *   shred               u32 segment || u64 offset -> u32 length: erased
 *                       bytes not yet overwritten
 *   meta "attachments_end"  u32 segment || u64 end: how much of the
 *                       segment being appended to is committed
 *
 * The order of writes, and what a crash leaves:
 *   put    pwrite past the committed end; the entry and the new end go in
 *          the txn; the segment is fdatasync'd before the txn commits, so
 *          a committed entry always names durable bytes. A txn that aborts
 *          (or a crash before its commit) leaves bytes past the committed
 *          end: they are overwritten with zeros and cut off, at once on
 *          abort (should that fail, by the txn's next first append), at
 *          the next writable open after a crash. They may be the
 *          ciphertext of a tx that commits later in another block and is
 *          erased after that; a forgotten copy would survive the erasure.
 *   erase  the entry goes and a shred entry comes, in the block's txn.
 *          Once the txn committed, zeros are written over the range and
 *          fdatasync'd, then its blocks are handed back to the file system
 *          (a punched hole); the shred entry is deleted in the next write
 *          txn, or when the store closes. After a disk error the range is
 *          tried again after every later commit; after a crash, the next
 *          writable open overwrites every range still in shred (zeros
 *          twice do no harm: a range is never reused; what is a hole
 *          already is left alone).
 *
 * Readers pread the range and check its SHA-256: a reader whose snapshot
 * still had an entry that the writer has zeroed since finds nothing.
 *
 * Everything mutable in cc_attach_files belongs to the process's one write
 * txn: s->write_lock, taken by cc_store_begin for writing and released
 * after its commit or abort (and after the overwriting that follows a
 * commit), covers it.
 *
 * A store made before attachment_at keeps the bytes in the LMDB database
 * "attachments" (sha256 -> bytes). A writable open moves them into
 * segments, drops that database and marks the store so that those builds
 * refuse it (mark); a read-only open reads them there. An existing store
 * opens with a map the size of its data, so a writable open grows the map
 * when its work needs room (cc_attach_open).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carechain/os.h"
#include "core/codec.h"
#include "store/store.h"

#define LOC_BYTES  16 /* u32 segment, u64 offset, u32 length */
#define SHRED_KEY  12 /* u32 segment, u64 offset */
#define END_KEY    "attachments_end"
#define OLD_DB     "attachments" /* where a build before attach.c kept the bytes */
#define PATH_BYTES 4096
#define ZERO_CHUNK 65536

typedef struct range {
    uint32_t seg;
    uint64_t off, len;
} range;

typedef struct range_list {
    range *r;
    size_t n, cap;
} range_list;

struct cc_attach_files {
    char dir[PATH_BYTES - 32]; /* data/attachments; room for a segment's name after it */
    bool readonly;
    uint64_t segment_bytes; /* CC_ATTACH_SEGMENT_BYTES; tests make it smaller */
    uint32_t seg;           /* committed: the segment appended to and its end */
    uint64_t end;
    uint32_t wseg; /* the write txn's: where the next append goes */
    uint64_t wend;
    int fd;              /* wseg's file, opened for writing; -1 none */
    bool appended;       /* the write txn appended to fd since its last fdatasync */
    range_list erased;   /* the write txn's erasures, to overwrite once it committed */
    range_list pending;  /* committed erasures not overwritten yet (tried after every commit) */
    range_list shredded; /* overwritten; their shred entries are deleted by the next write txn */
    size_t deleting;     /* how many of shredded (the first ones) the txn now committing deletes */
};

/* ---- small helpers ----------------------------------------------------------- */

static void loc_encode(uint32_t seg, uint64_t off, uint32_t len, uint8_t out[LOC_BYTES])
{
    cc_put_u32(out, seg);
    cc_put_u64(out + 4, off);
    cc_put_u32(out + 12, len);
}

static bool loc_decode(const MDB_val *v, range *r)
{
    if (v->mv_size != LOC_BYTES) return false;
    const uint8_t *p = v->mv_data;
    r->seg = cc_get_u32(p);
    r->off = cc_get_u64(p + 4);
    r->len = cc_get_u32(p + 12);
    return true;
}

static void seg_path(const cc_attach_files *a, uint32_t seg, char out[PATH_BYTES])
{
    snprintf(out, PATH_BYTES, "%s/%08u", a->dir, (unsigned)seg);
}

static cc_err list_add(range_list *l, range r)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        range *n = realloc(l->r, cap * sizeof *n);
        if (!n) return CC_ERR_NOMEM;
        l->r = n;
        l->cap = cap;
    }
    l->r[l->n++] = r;
    return CC_OK;
}

static cc_err io_err(cc_errbuf *eb, const char *what, const char *path, int e)
{
    char room[64] = "";
    if (e == ENOSPC || e == EDQUOT) cc_disk_room(path, room, sizeof room);
    return cc_errf(eb, CC_ERR_IO, "%s %s: %s%s", what, path, strerror(e), room);
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Read exactly len bytes at off; ENODATA when the file is shorter. */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return ENODATA;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int write_zeros(int fd, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[ZERO_CHUNK];
    while (len) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        int e = pwrite_all(fd, zeros, n, off);
        if (e) return e;
        off += n;
        len -= n;
    }
    return 0;
}

/* Write zeros over the parts of [from, to) that hold data, skipping holes
 * (*wrote: whether there were any). A range punched already (overwritten
 * before a crash, and again by the open after it) is left alone: writing
 * into its holes would take disk blocks, and on a full disk keep the node
 * from starting. */
static int zero_data(int fd, uint64_t from, uint64_t to, bool *wrote)
{
    *wrote = false;
    while (from < to) {
        off_t data = lseek(fd, (off_t)from, SEEK_DATA);
        if (data < 0 && errno == ENXIO) return 0; /* holes up to the end of the file */
        if (data < 0) data = (off_t)from;         /* no SEEK_DATA here: all of it */
        if ((uint64_t)data >= to) return 0;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        uint64_t stop = hole < 0 || (uint64_t)hole > to ? to : (uint64_t)hole;
        int e = write_zeros(fd, (uint64_t)data, stop - (uint64_t)data);
        if (e) return e;
        *wrote = true;
        from = stop;
    }
    return 0;
}

/* Make a new directory entry (a segment created) durable. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int e = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return e;
}

/* ---- overwriting ----------------------------------------------------------- */

/* Overwrite ranges (all in segment seg) with zeros, make that durable, then
 * hand their blocks back to the file system. A segment that is not there
 * holds nothing to overwrite. */
static cc_err shred_segment(cc_attach_files *a, uint32_t seg, const range *r, size_t n, cc_errbuf *eb)
{
    char path[PATH_BYTES];
    seg_path(a, seg, path);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? CC_OK : io_err(eb, "cannot open", path, errno);
    struct stat st;
    bool *wrote = calloc(n, sizeof *wrote), any = false;
    int e = !wrote ? ENOMEM : fstat(fd, &st) == 0 ? 0 : errno;
    for (size_t i = 0; i < n && !e; i++) {
        if (r[i].seg != seg || r[i].off >= (uint64_t)st.st_size) continue;
        uint64_t to = r[i].off + r[i].len > (uint64_t)st.st_size ? (uint64_t)st.st_size : r[i].off + r[i].len;
        e = zero_data(fd, r[i].off, to, &wrote[i]);
        any |= wrote[i];
    }
    /* the zeros reach the disk before the punch: punching drops the range's
     * cached pages, written or not */
    if (!e && any && fdatasync(fd) != 0) e = errno;
    for (size_t i = 0; i < n && !e; i++)
        if (wrote[i] &&
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r[i].off, (off_t)r[i].len) !=
                0 &&
            errno != EOPNOTSUPP)
            e = errno;
    if (!e && any && fdatasync(fd) != 0) e = errno;
    close(fd);
    free(wrote);
    return e ? io_err(eb, "cannot overwrite erased bytes in", path, e) : CC_OK;
}

/* Overwrite every range of l, segment by segment. */
static cc_err shred_ranges(cc_attach_files *a, const range_list *l, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    for (size_t i = 0; i < l->n && rc == CC_OK; i++) {
        bool first = true; /* the first range of its segment in l */
        for (size_t j = 0; j < i && first; j++) first = l->r[j].seg != l->r[i].seg;
        if (first) rc = shred_segment(a, l->r[i].seg, l->r, l->n, eb);
    }
    return rc;
}

/* Zero and cut off segment seg from byte end on (bytes no committed entry
 * names); remove the file when end is 0. */
static cc_err cut_tail(cc_attach_files *a, uint32_t seg, uint64_t end, cc_errbuf *eb)
{
    char path[PATH_BYTES];
    seg_path(a, seg, path);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? CC_OK : io_err(eb, "cannot open", path, errno);
    struct stat st;
    int e = fstat(fd, &st) == 0 ? 0 : errno;
    if (!e && (uint64_t)st.st_size > end) {
        e = write_zeros(fd, end, (uint64_t)st.st_size - end);
        if (!e && fdatasync(fd) != 0) e = errno;
        if (!e && ftruncate(fd, (off_t)end) != 0) e = errno;
        if (!e && fdatasync(fd) != 0) e = errno;
    }
    close(fd);
    if (!e && end == 0 && unlink(path) != 0 && errno != ENOENT) e = errno;
    return e ? io_err(eb, "cannot cut off uncommitted bytes of", path, e) : CC_OK;
}

/* ---- the write txn's life ------------------------------------------------------ */

static void close_fd(cc_attach_files *a)
{
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
}

/* Undo the write txn's appends: what it wrote past the committed end is
 * overwritten and cut off. */
static void roll_back(cc_attach_files *a)
{
    cc_errbuf eb;
    if (a->wseg != a->seg || a->wend != a->end) {
        close_fd(a);
        for (uint32_t seg = a->wseg; seg > a->seg; seg--) (void)cut_tail(a, seg, 0, &eb);
        (void)cut_tail(a, a->seg, a->end, &eb); /* on failure: again at the next append, or open */
    }
    a->wseg = a->seg;
    a->wend = a->end;
    a->appended = false;
    a->erased.n = 0;
    a->deleting = 0;
}

cc_err cc_attach_precommit(cc_store *s, MDB_txn *txn, cc_errbuf *eb)
{
    cc_attach_files *a = s->att;
    if (!a || a->readonly) return CC_OK;
    if (a->appended && fdatasync(a->fd) != 0) {
        char path[PATH_BYTES];
        seg_path(a, a->wseg, path);
        return io_err(eb, "cannot sync", path, errno);
    }
    a->appended = false;
    /* the shred entries of ranges overwritten after an earlier commit */
    for (size_t i = 0; i < a->shredded.n; i++) {
        uint8_t key[SHRED_KEY];
        cc_put_u32(key, a->shredded.r[i].seg);
        cc_put_u64(key + 4, a->shredded.r[i].off);
        MDB_val k = {sizeof key, key};
        int mrc = mdb_del(txn, s->shred, &k, NULL);
        if (mrc != 0 && mrc != MDB_NOTFOUND) return cc_store_err(mrc, "forgetting overwritten bytes", eb);
    }
    a->deleting = a->shredded.n;
    return CC_OK;
}

void cc_attach_committed(cc_store *s)
{
    cc_attach_files *a = s->att;
    if (!a || a->readonly) return;
    a->seg = a->wseg;
    a->end = a->wend;
    size_t gone = a->deleting; /* their entries went with this commit */
    if (gone) {
        memmove(a->shredded.r, a->shredded.r + gone, (a->shredded.n - gone) * sizeof *a->shredded.r);
        a->shredded.n -= gone;
    }
    a->deleting = 0;
    for (size_t i = 0; i < a->erased.n; i++)
        if (list_add(&a->pending, a->erased.r[i]) != CC_OK)
            break; /* its shred entry stays for the next open */
    a->erased.n = 0;
    cc_errbuf eb;
    /* a failure (a disk error) leaves them pending: tried again after the
     * next commit, and at the next writable open from their shred entries */
    if (a->pending.n == 0 || shred_ranges(a, &a->pending, &eb) != CC_OK) return;
    for (size_t i = 0; i < a->pending.n; i++)
        if (list_add(&a->shredded, a->pending.r[i]) != CC_OK) break; /* deleted at the next open */
    a->pending.n = 0;
}

void cc_attach_aborted(cc_store *s)
{
    if (s->att && !s->att->readonly) roll_back(s->att);
}

/* ---- put, get, erase ------------------------------------------------------ */

/* Open (creating) segment wseg for appending. */
static cc_err open_segment(cc_attach_files *a, cc_errbuf *eb)
{
    char path[PATH_BYTES];
    bool made = access(a->dir, F_OK) != 0;
    cc_err rc = cc_mkdirs(a->dir, eb);
    if (rc != CC_OK) return rc;
    if (made) { /* its entry in data/, durable before a segment in it is */
        snprintf(path, sizeof path, "%s", a->dir);
        *strrchr(path, '/') = '\0';
        int e = sync_dir(path);
        if (e) return io_err(eb, "cannot sync", path, e);
    }
    seg_path(a, a->wseg, path);
    bool fresh = access(path, F_OK) != 0;
    a->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) return io_err(eb, "cannot open", path, errno);
    int e = fresh ? sync_dir(a->dir) : 0;
    return e ? io_err(eb, "cannot sync", a->dir, e) : CC_OK;
}

/* Take the committed end from the store when another process has
 * appended since this one last did (a tool that wrote while the node was
 * stopped, say): never append over what it committed. */
static void adopt_end(cc_store *s, MDB_txn *txn)
{
    cc_attach_files *a = s->att;
    MDB_val v;
    if (cc_store_get(txn, s->meta, END_KEY, strlen(END_KEY), &v) != CC_OK || v.mv_size != 12) return;
    uint32_t seg = cc_get_u32(v.mv_data);
    uint64_t end = cc_get_u64((uint8_t *)v.mv_data + 4);
    if (seg == a->seg && end == a->end) return;
    close_fd(a);
    a->wseg = a->seg = seg;
    a->wend = a->end = end;
}

static cc_err lookup(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES], range *r)
{
    if (!s->has_attachment_at) return CC_ERR_NOT_FOUND;
    MDB_val v;
    cc_err rc = cc_store_get(txn, s->attachment_at, hash, CC_HASH_BYTES, &v);
    if (rc != CC_OK) return rc;
    return loc_decode(&v, r) ? CC_OK : CC_ERR_CORRUPT;
}

bool cc_store_attach_has(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES])
{
    range r;
    MDB_val v;
    return lookup(s, txn, hash, &r) == CC_OK ||
           (s->has_old_attachments &&
            cc_store_get(txn, s->old_attachments, hash, CC_HASH_BYTES, &v) == CC_OK);
}

cc_err cc_store_attach_put(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES], const uint8_t *bytes,
                           size_t len, cc_errbuf *eb)
{
    cc_attach_files *a = s->att;
    if (len > UINT32_MAX) return cc_errf(eb, CC_ERR_TOO_LARGE, "an attachment of %zu bytes", len);
    if (cc_store_attach_has(s, txn, hash)) return CC_OK; /* the same bytes: stored once */
    cc_err rc = cc_store_write_check(s, eb);
    if (rc != CC_OK) return rc;
    if (a->wseg == a->seg && a->wend == a->end) { /* the txn's first append */
        adopt_end(s, txn);
        /* bytes past the committed end that an abort could not cut off */
        if ((rc = cut_tail(a, a->wseg, a->wend, eb)) != CC_OK) return rc;
    }
    if (a->wend > 0 && a->wend + len > a->segment_bytes) { /* the next segment */
        if (a->appended && fdatasync(a->fd) != 0) return io_err(eb, "cannot sync", a->dir, errno);
        close_fd(a);
        a->appended = false;
        a->wseg++;
        a->wend = 0;
    }
    if (a->fd < 0 && (rc = open_segment(a, eb)) != CC_OK) return rc;
    int e = pwrite_all(a->fd, bytes, len, a->wend);
    if (e) {
        char path[PATH_BYTES];
        seg_path(a, a->wseg, path);
        return io_err(eb, "cannot write", path, e);
    }
    a->appended = true;
    uint8_t loc[LOC_BYTES], end[12];
    loc_encode(a->wseg, a->wend, (uint32_t)len, loc);
    a->wend += len;
    cc_put_u32(end, a->wseg);
    cc_put_u64(end + 4, a->wend);
    if ((rc = cc_store_put(s, txn, s->attachment_at, hash, CC_HASH_BYTES, loc, sizeof loc, eb)) != CC_OK)
        return rc;
    return cc_store_put(s, txn, s->meta, END_KEY, strlen(END_KEY), end, sizeof end, eb);
}

/* Read r from its segment into a new buffer and check it hashes to hash. */
static cc_err read_range(const cc_attach_files *a, const range *r, const uint8_t hash[CC_HASH_BYTES],
                         uint8_t **out)
{
    char path[PATH_BYTES];
    seg_path(a, r->seg, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? CC_ERR_NOT_FOUND : CC_ERR_IO;
    uint8_t *buf = malloc(r->len ? r->len : 1);
    int e = buf ? pread_all(fd, buf, r->len, r->off) : ENOMEM;
    close(fd);
    uint8_t sum[CC_HASH_BYTES] = {0};
    if (!e) cc_sha256(buf, r->len, sum);
    if (e || memcmp(sum, hash, CC_HASH_BYTES) != 0) {
        free(buf);
        /* overwritten after the reader's snapshot (or lost): not there */
        return e == ENOMEM ? CC_ERR_NOMEM : e && e != ENODATA ? CC_ERR_IO : CC_ERR_NOT_FOUND;
    }
    *out = buf;
    return CC_OK;
}

cc_err cc_store_attach_get(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES], uint8_t **out,
                           size_t *len)
{
    range r;
    cc_err rc = lookup(s, txn, hash, &r);
    if (rc == CC_OK) {
        if ((rc = read_range(s->att, &r, hash, out)) == CC_OK) *len = r.len;
        return rc;
    }
    MDB_val v;
    if (rc != CC_ERR_NOT_FOUND || !s->has_old_attachments ||
        cc_store_get(txn, s->old_attachments, hash, CC_HASH_BYTES, &v) != CC_OK)
        return rc;
    if (!(*out = malloc(v.mv_size ? v.mv_size : 1))) return CC_ERR_NOMEM;
    memcpy(*out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return CC_OK;
}

cc_err cc_store_attach_erase(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES], cc_errbuf *eb)
{
    cc_attach_files *a = s->att;
    range r;
    cc_err rc = cc_store_write_check(s, eb);
    if (rc != CC_OK) return rc;
    if ((rc = lookup(s, txn, hash, &r)) == CC_ERR_NOT_FOUND) return CC_OK;
    if (rc != CC_OK) return cc_errf(eb, rc, "reading where an attachment is");
    MDB_val k = {CC_HASH_BYTES, (void *)hash};
    int mrc = mdb_del(txn, s->attachment_at, &k, NULL);
    if (mrc != 0) return cc_store_err(mrc, "erasing an attachment", eb);
    uint8_t key[SHRED_KEY], len[4];
    cc_put_u32(key, r.seg);
    cc_put_u64(key + 4, r.off);
    cc_put_u32(len, (uint32_t)r.len);
    if ((rc = cc_store_put(s, txn, s->shred, key, sizeof key, len, sizeof len, eb)) != CC_OK) return rc;
    if (list_add(&a->erased, r) != CC_OK) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    return CC_OK;
}

/* Whether the entry hash -> r that a snapshot holds is gone from the
 * store now (erased, and its bytes overwritten, after the snapshot began:
 * verify-chain on a running node reads one long snapshot). */
static bool erased_since(cc_store *s, const uint8_t hash[CC_HASH_BYTES], const range *r)
{
    MDB_txn *txn;
    range now;
    if (cc_store_begin(s, false, &txn, NULL) != CC_OK) return false;
    cc_err rc = lookup(s, txn, hash, &now);
    cc_store_abort(s, txn);
    return rc == CC_ERR_NOT_FOUND || (rc == CC_OK && (now.seg != r->seg || now.off != r->off));
}

cc_err cc_store_attach_check(cc_store *s, MDB_txn *txn, uint64_t *count, uint8_t bad[CC_HASH_BYTES])
{
    MDB_cursor *cur;
    MDB_val k, v;
    cc_err rc = CC_OK;
    *count = 0;
    MDB_dbi dbis[2];
    bool located[2];
    size_t n = 0;
    if (s->has_attachment_at) dbis[n] = s->attachment_at, located[n++] = true;
    if (s->has_old_attachments) dbis[n] = s->old_attachments, located[n++] = false;
    for (size_t d = 0; d < n && rc == CC_OK; d++) {
        if (mdb_cursor_open(txn, dbis[d], &cur) != 0) return CC_ERR_IO;
        for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == CC_OK;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint8_t h[CC_HASH_BYTES], *bytes = NULL;
            range r;
            if (k.mv_size != CC_HASH_BYTES) {
                memset(bad, 0, CC_HASH_BYTES);
                rc = CC_ERR_CORRUPT;
                break;
            }
            memcpy(h, k.mv_data, CC_HASH_BYTES);
            if (located[d]) {
                rc = loc_decode(&v, &r) ? read_range(s->att, &r, h, &bytes) : CC_ERR_CORRUPT;
                free(bytes);
                if (rc == CC_ERR_NOT_FOUND) /* named, but its bytes are not there */
                    rc = erased_since(s, h, &r) ? CC_OK : CC_ERR_CORRUPT;
                else if (rc == CC_OK)
                    (*count)++;
            } else {
                uint8_t sum[CC_HASH_BYTES];
                cc_sha256(v.mv_data, v.mv_size, sum);
                if (memcmp(sum, h, CC_HASH_BYTES) != 0) rc = CC_ERR_CORRUPT;
                if (rc == CC_OK) (*count)++;
            }
            if (rc == CC_ERR_CORRUPT) memcpy(bad, h, CC_HASH_BYTES);
        }
        mdb_cursor_close(cur);
    }
    return rc;
}

/* A copy of the store (cc_store_copy) starts its own segments: its LMDB
 * is a snapshot of from's, whose entries name from's files. Each entry's
 * bytes are read from there and appended to the copy's segments, in hash
 * order, so the copy holds no erased range and no uncommitted tail; bytes
 * erased since the snapshot read as not found and are left out. */
typedef struct entry {
    uint8_t hash[CC_HASH_BYTES];
    range r;
} entry;

static cc_err copy_from(cc_store *to, MDB_txn *txn, cc_store *from, cc_errbuf *eb)
{
    MDB_cursor *cur;
    MDB_val k, v;
    entry *e = NULL;
    size_t n = 0, cap = 0;
    cc_err rc = CC_OK;
    uint8_t end[12] = {0};
    to->att->wseg = to->att->seg = 0;
    to->att->wend = to->att->end = 0;
    if ((rc = cc_store_put(to, txn, to->meta, END_KEY, strlen(END_KEY), end, sizeof end, eb)) != CC_OK)
        return rc;
    if (mdb_cursor_open(txn, to->attachment_at, &cur) != 0)
        return cc_errf(eb, CC_ERR_IO, "reading the copy's attachments");
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == CC_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            entry *m = realloc(e, cap * sizeof *e);
            if (!m) {
                rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
                break;
            }
            e = m;
        }
        if (k.mv_size != CC_HASH_BYTES || !loc_decode(&v, &e[n].r)) continue;
        memcpy(e[n++].hash, k.mv_data, CC_HASH_BYTES);
    }
    mdb_cursor_close(cur);
    if (rc == CC_OK) rc = cc_store_err(mdb_drop(txn, to->attachment_at, 0), "copying the attachments", eb);
    if (rc == CC_OK) rc = cc_store_err(mdb_drop(txn, to->shred, 0), "copying the attachments", eb);
    for (size_t i = 0; i < n && rc == CC_OK; i++) {
        uint8_t *bytes = NULL;
        cc_err got = read_range(from->att, &e[i].r, e[i].hash, &bytes);
        if (got == CC_OK)
            rc = cc_store_attach_put(to, txn, e[i].hash, bytes, e[i].r.len, eb);
        else if (got != CC_ERR_NOT_FOUND)
            rc = cc_errf(eb, got, "reading an attachment to copy it");
        free(bytes);
    }
    free(e);
    return rc;
}

/* ---- opening, and the work a writable open does ------------------------------ */

/* Bring the files back in line with the committed txn after a crash:
 * bytes past the committed end cut off, segments past it removed, erased
 * ranges not yet overwritten overwritten. */
static cc_err recover(cc_store *s, MDB_txn *txn, cc_errbuf *eb)
{
    cc_attach_files *a = s->att;
    DIR *d = opendir(a->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            char *stop;
            unsigned long seg = strtoul(e->d_name, &stop, 10);
            if (strlen(e->d_name) == 8 && *stop == '\0' && seg > a->seg && seg <= UINT32_MAX &&
                cut_tail(a, (uint32_t)seg, 0, eb) != CC_OK) {
                closedir(d);
                return CC_ERR_IO;
            }
        }
        closedir(d);
    }
    cc_err rc = cut_tail(a, a->seg, a->end, eb);
    if (rc != CC_OK) return rc;

    range_list left = {0};
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, s->shred, &cur) != 0) return cc_errf(eb, CC_ERR_IO, "reading shred");
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == CC_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != SHRED_KEY || v.mv_size != 4) continue;
        range r = {cc_get_u32(k.mv_data), cc_get_u64((uint8_t *)k.mv_data + 4), cc_get_u32(v.mv_data)};
        rc = list_add(&left, r);
    }
    mdb_cursor_close(cur);
    if (rc == CC_OK) rc = shred_ranges(a, &left, eb);
    if (rc == CC_OK && left.n)
        rc = cc_store_err(mdb_drop(txn, s->shred, 0), "forgetting overwritten bytes", eb);
    free(left.r);
    return rc;
}

/* Move the bytes of a store made before attachment_at into segments. */
static cc_err migrate(cc_store *s, MDB_txn *txn, cc_errbuf *eb)
{
    MDB_cursor *cur;
    MDB_val k, v;
    cc_err rc = CC_OK;
    if (mdb_cursor_open(txn, s->old_attachments, &cur) != 0)
        return cc_errf(eb, CC_ERR_IO, "reading attachments");
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == CC_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (k.mv_size == CC_HASH_BYTES) { /* a later put does not touch this database: the cursor stays */
            uint8_t h[CC_HASH_BYTES];
            memcpy(h, k.mv_data, CC_HASH_BYTES);
            s->has_old_attachments = false; /* so that put does not find the bytes there */
            rc = cc_store_attach_put(s, txn, h, v.mv_data, v.mv_size, eb);
            s->has_old_attachments = true;
        }
    mdb_cursor_close(cur);
    if (rc == CC_OK)
        rc = cc_store_err(mdb_drop(txn, s->old_attachments, 1), "dropping the old attachments", eb);
    if (rc == CC_OK) s->has_old_attachments = false;
    return rc;
}

void cc_store_attach_segment_limit(cc_store *s, uint64_t bytes)
{
    s->att->segment_bytes = bytes;
}

void cc_attach_close(cc_store *s)
{
    cc_attach_files *a = s->att;
    if (!a) return;
    MDB_txn *txn; /* the shred entries of ranges overwritten: not to be done again at the next open */
    if (!a->readonly && a->shredded.n && mdb_txn_begin(s->env, NULL, 0, &txn) == 0) {
        cc_errbuf eb;
        if (cc_attach_precommit(s, txn, &eb) == CC_OK)
            mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    close_fd(a);
    free(a->erased.r);
    free(a->pending.r);
    free(a->shredded.r);
    free(a);
    s->att = NULL;
}

/* Mark the store as one whose attachments are in segment files: a plain
 * record "attachments" in LMDB's main database, where a build before them
 * keeps its named database of that name. Such a build then refuses to open
 * the store (MDB_INCOMPATIBLE) instead of running on it blind to
 * attachment_at: its erasures would leave the bytes in the segments. */
static cc_err mark(MDB_txn *txn, cc_errbuf *eb)
{
    static const char what[] = "attachments are in data/attachments/ (attach.c)";
    MDB_dbi main_db;
    MDB_val k = {strlen(OLD_DB), (void *)OLD_DB}, v;
    int mrc = mdb_dbi_open(txn, NULL, 0, &main_db);
    if (mrc == 0 && (mrc = mdb_get(txn, main_db, &k, &v)) == MDB_NOTFOUND) {
        v = (MDB_val){sizeof what - 1, (void *)what};
        mrc = mdb_put(txn, main_db, &k, &v, 0);
    }
    return cc_store_err(mrc, "marking the store", eb);
}

/* Open the databases in txn; a read-only open of a store made before
 * attachment_at finds none. */
static cc_err open_dbs(cc_store *s, MDB_txn *txn, cc_errbuf *eb)
{
    unsigned create = s->readonly ? 0 : MDB_CREATE;
    int mrc = mdb_dbi_open(txn, "attachment_at", create, &s->attachment_at);
    s->has_attachment_at = mrc == 0;
    if (mrc == 0 || (s->readonly && mrc == MDB_NOTFOUND)) mrc = mdb_dbi_open(txn, "shred", create, &s->shred);
    if (s->readonly && mrc == MDB_NOTFOUND) mrc = 0;
    /* the marker (mark) is a record, not a database: MDB_INCOMPATIBLE */
    s->has_old_attachments = mdb_dbi_open(txn, OLD_DB, 0, &s->old_attachments) == 0;
    if (mrc != 0) return cc_store_err(mrc, "opening the attachments' databases", eb);
    MDB_val v;
    cc_attach_files *a = s->att;
    a->seg = 0;
    a->end = 0;
    if (cc_store_get(txn, s->meta, END_KEY, strlen(END_KEY), &v) == CC_OK && v.mv_size == 12) {
        a->seg = cc_get_u32(v.mv_data);
        a->end = cc_get_u64((uint8_t *)v.mv_data + 4);
    }
    a->wseg = a->seg;
    a->wend = a->end;
    return CC_OK;
}

/* One try at a writable open's work, in one write txn. */
static cc_err prepare(cc_store *s, cc_store *copy_of, cc_errbuf *eb)
{
    cc_attach_files *a = s->att;
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (mrc != 0) return cc_store_err(mrc, "opening the attachments", eb);
    cc_err rc = open_dbs(s, txn, eb);
    if (rc == CC_OK) rc = copy_of ? copy_from(s, txn, copy_of, eb) : recover(s, txn, eb);
    if (rc == CC_OK && s->has_old_attachments) rc = migrate(s, txn, eb);
    if (rc == CC_OK) rc = mark(txn, eb);
    if (rc == CC_OK) rc = cc_attach_precommit(s, txn, eb);
    if (rc != CC_OK) {
        mdb_txn_abort(txn);
        roll_back(a);
        return rc;
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        roll_back(a);
        return cc_store_err(mrc, "opening the attachments", eb);
    }
    cc_attach_committed(s);
    return CC_OK;
}

cc_err cc_attach_open(cc_store *s, const char *dir, cc_store *copy_of, cc_errbuf *eb)
{
    cc_attach_files *a = calloc(1, sizeof *a);
    if (!a) return CC_ERR_NOMEM;
    if (snprintf(a->dir, sizeof a->dir, "%s/attachments", dir) >= (int)sizeof a->dir) {
        free(a);
        return cc_errf(eb, CC_ERR_USAGE, "the path %s is too long", dir);
    }
    a->readonly = s->readonly;
    a->segment_bytes = CC_ATTACH_SEGMENT_BYTES;
    a->fd = -1;
    s->att = a;
    if (s->readonly) {
        MDB_txn *txn;
        int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (mrc != 0) return cc_store_err(mrc, "opening the attachments", eb);
        cc_err rc = open_dbs(s, txn, eb);
        mdb_txn_commit(txn); /* a committed txn keeps the handles it opened */
        return rc;
    }
    /* An existing store opens with a map just the size of its data:
     * moving or copying attachments may need it grown, as a block does. */
    for (;;) {
        cc_err rc = prepare(s, copy_of, eb);
        if (rc != CC_ERR_STORE_FULL) return rc;
        if ((rc = cc_store_grow(s, eb)) != CC_OK) return rc;
    }
}
