/*
 * store.c — opening, growing and transacting on the node's LMDB environment.
 * See store.h for the databases and their invariants.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carechain/os.h"
#include "core/codec.h"
#include "store/store.h"

#define DEFAULT_MAP_SIZE ((size_t)64 << 20)
#define DEFAULT_MAP_MAX  ((size_t)64 << 30)
#define MAX_READERS      1024

cc_err cc_store_err(int mdb_rc, const char *what, cc_errbuf *eb)
{
    switch (mdb_rc) {
    case MDB_SUCCESS:
        return CC_OK;
    case MDB_NOTFOUND:
        return cc_errf(eb, CC_ERR_NOT_FOUND, "%s: not found", what);
    case MDB_MAP_FULL:
        return cc_errf(eb, CC_ERR_STORE_FULL, "%s: the store's map is full", what);
    case ENOMEM:
        return cc_errf(eb, CC_ERR_NOMEM, "%s: out of memory", what);
    default:
        return cc_errf(eb, CC_ERR_IO, "%s: %s", what, mdb_strerror(mdb_rc));
    }
}

typedef struct named_db {
    const char *name;
    MDB_dbi *dbi;
} named_db;

/* A new cc_store for dir, its environment not yet open. */
static cc_store *store_new(size_t map_size, size_t map_max, bool readonly)
{
    cc_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->map_max = map_max ? map_max : DEFAULT_MAP_MAX;
    s->map_size = map_size ? map_size : DEFAULT_MAP_SIZE;
    if (s->map_size > s->map_max) s->map_size = s->map_max;
    s->readonly = readonly;
    pthread_rwlock_init(&s->resize_lock, NULL);
    pthread_mutex_init(&s->write_lock, NULL);
    return s;
}

/* Open s's environment in dir and the databases dbs (created when missing
 * unless readonly; a readonly open of a store without them fails with
 * missing_msg). On failure s is freed. */
static cc_err open_env(cc_store *s, const char *dir, const named_db *dbs, size_t ndbs,
                       const char *missing_msg, cc_errbuf *eb)
{
    cc_err rc;
    int mrc;
    MDB_txn *txn = NULL;
    bool readonly = s->readonly;
    if (!readonly && (rc = cc_mkdirs(dir, eb)) != CC_OK) goto err_free;
    if ((mrc = mdb_env_create(&s->env)) != 0) {
        rc = cc_store_err(mrc, "mdb_env_create", eb);
        goto err_free;
    }
    mdb_env_set_maxdbs(s->env, 16);
    mdb_env_set_maxreaders(s->env, MAX_READERS);
    if (!readonly) mdb_env_set_mapsize(s->env, s->map_size);
    mrc = mdb_env_open(s->env, dir, MDB_NOTLS | (readonly ? MDB_RDONLY : 0), 0600);
    if (mrc != 0) {
        rc = cc_store_err(mrc, dir, eb);
        goto err_env;
    }
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_size = info.me_mapsize; /* an existing store keeps its larger map */

    if ((mrc = mdb_txn_begin(s->env, NULL, readonly ? MDB_RDONLY : 0, &txn)) != 0) {
        rc = cc_store_err(mrc, "opening the store", eb);
        goto err_env;
    }
    for (size_t i = 0; i < ndbs; i++) {
        if ((mrc = mdb_dbi_open(txn, dbs[i].name, readonly ? 0 : MDB_CREATE, dbs[i].dbi)) != 0) {
            rc = readonly && mrc == MDB_NOTFOUND ? cc_errf(eb, CC_ERR_NOT_FOUND, "%s", missing_msg)
                                                 : cc_store_err(mrc, dbs[i].name, eb);
            mdb_txn_abort(txn);
            goto err_env;
        }
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        rc = cc_store_err(mrc, "opening the store", eb);
        goto err_env;
    }
    return CC_OK;
err_env:
    mdb_env_close(s->env);
err_free:
    pthread_rwlock_destroy(&s->resize_lock);
    pthread_mutex_destroy(&s->write_lock);
    free(s);
    return rc;
}

/* cc_store_open, and the open of a fresh copy of copy_of (cc_store_copy). */
static cc_err open_main(const char *dir, size_t map_size, size_t map_max, bool readonly, cc_store *copy_of,
                        cc_store **out, cc_errbuf *eb)
{
    cc_store *s = store_new(map_size, map_max, readonly);
    if (!s) return CC_ERR_NOMEM;
    const named_db dbs[] = {
        {"blocks", &s->blocks},     {"results", &s->results}, {"seen", &s->seen},
        {"state", &s->state},       {"history", &s->history}, {"checkpoints", &s->checkpoints},
        {"evidence", &s->evidence}, {"members", &s->members}, {"meta", &s->meta}};
    cc_err rc = open_env(s, dir, dbs, sizeof dbs / sizeof dbs[0],
                         "this directory holds no carechain store of this version (a store made by an "
                         "earlier carechain is upgraded when its node starts)",
                         eb);
    if (rc != CC_OK) return rc;
    MDB_txn *txn; /* the txid index of stores made before "seen" (store.h) */
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
        s->has_old_txindex = mdb_dbi_open(txn, "txindex", 0, &s->old_txindex) == 0;
        mdb_txn_commit(txn); /* a committed txn keeps the handle it opened */
    }
    if ((rc = cc_attach_open(s, dir, copy_of, eb)) != CC_OK) {
        cc_store_close(s);
        return rc;
    }
    *out = s;
    return CC_OK;
}

cc_err cc_store_open(const char *dir, size_t map_size, size_t map_max, bool readonly, cc_store **out,
                     cc_errbuf *eb)
{
    return open_main(dir, map_size, map_max, readonly, NULL, out, eb);
}

cc_err cc_store_open_index(const char *dir, size_t map_max, bool readonly, cc_store **out, cc_errbuf *eb)
{
    cc_store *s = store_new(0, map_max, readonly);
    if (!s) return CC_ERR_NOMEM;
    const named_db dbs[] = {{"txids", &s->txids}, {"meta", &s->meta}};
    cc_err rc = open_env(s, dir, dbs, 2, "this directory holds no txid index", eb);
    if (rc != CC_OK) return rc;
    *out = s;
    return CC_OK;
}

void cc_store_close(cc_store *s)
{
    if (!s) return;
    if (!s->readonly) mdb_env_sync(s->env, 1);
    cc_attach_close(s);
    mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->resize_lock);
    pthread_mutex_destroy(&s->write_lock);
    free(s);
}

cc_err cc_store_copy(cc_store *s, const char *dir, cc_errbuf *eb)
{
    char file[4096];
    if (snprintf(file, sizeof file, "%s/data.mdb", dir) >= (int)sizeof file)
        return cc_errf(eb, CC_ERR_USAGE, "the path %s is too long", dir);
    cc_err rc = cc_mkdirs(dir, eb);
    if (rc != CC_OK) return rc;
    if (chmod(dir, 0700) != 0) return cc_errf(eb, CC_ERR_IO, "chmod %s: %s", dir, strerror(errno));
    pthread_rwlock_rdlock(&s->resize_lock);
    int mrc = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
    if (mrc == MDB_MAP_RESIZED) { /* the writing process grew the map: adopt its size */
        mdb_env_set_mapsize(s->env, 0);
        mrc = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
    }
    pthread_rwlock_unlock(&s->resize_lock);
    if (mrc != 0) return cc_store_err(mrc, "copying the store", eb);
    if (chmod(file, 0600) != 0) return cc_errf(eb, CC_ERR_IO, "chmod %s: %s", file, strerror(errno));
    cc_store *copy; /* opening the copy copies the attachments its entries name */
    rc = open_main(dir, 0, s->map_max, false, s, &copy, eb);
    if (rc != CC_OK) return rc;
    cc_store_close(copy);
    return CC_OK;
}

cc_err cc_store_begin(cc_store *s, bool write, MDB_txn **txn, cc_errbuf *eb)
{
    pthread_rwlock_rdlock(&s->resize_lock); /* first: a thread may hold a read txn when it begins to write */
    if (write) pthread_mutex_lock(&s->write_lock);
    int mrc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
    if (mrc == MDB_MAP_RESIZED) { /* another process grew the map */
        mdb_env_set_mapsize(s->env, 0);
        mrc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
    }
    if (mrc != 0) {
        if (write) pthread_mutex_unlock(&s->write_lock);
        pthread_rwlock_unlock(&s->resize_lock);
        return cc_store_err(mrc, "beginning a store transaction", eb);
    }
    if (write) atomic_store(&s->write_txn, *txn);
    return CC_OK;
}

/* The end of txn when it is the write txn: the attachments' part, then
 * write_lock released. */
static void write_ended(cc_store *s, bool committed)
{
    atomic_store(&s->write_txn, NULL);
    if (committed)
        cc_attach_committed(s);
    else
        cc_attach_aborted(s);
    pthread_mutex_unlock(&s->write_lock);
}

cc_err cc_store_commit(cc_store *s, MDB_txn *txn, cc_errbuf *eb)
{
    bool writing = atomic_load(&s->write_txn) == txn;
    if (writing) {
        cc_err rc = cc_attach_precommit(s, txn, eb);
        if (rc != CC_OK) {
            mdb_txn_abort(txn);
            pthread_rwlock_unlock(&s->resize_lock);
            write_ended(s, false);
            return rc;
        }
    }
    int mrc = mdb_txn_commit(txn);
    pthread_rwlock_unlock(&s->resize_lock);
    if (writing) write_ended(s, mrc == 0);
    /* A full disk fails a commit with ENOSPC, or with EIO when LMDB's
     * write came up short: how much room the disk has tells the reader of
     * the log which it was. */
    const char *path = NULL;
    char room[64];
    if ((mrc == EIO || mrc == ENOSPC || mrc == EDQUOT) && mdb_env_get_path(s->env, &path) == 0)
        return cc_errf(eb, CC_ERR_IO, "committing to the store: %s%s", mdb_strerror(mrc),
                       cc_disk_room(path, room, sizeof room));
    return cc_store_err(mrc, "committing to the store", eb);
}

void cc_store_abort(cc_store *s, MDB_txn *txn)
{
    bool writing = atomic_load(&s->write_txn) == txn;
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->resize_lock);
    if (writing) write_ended(s, false);
}

cc_err cc_store_grow(cc_store *s, cc_errbuf *eb)
{
    if (s->map_size >= s->map_max)
        return cc_errf(eb, CC_ERR_STORE_FULL, "the store is full: its map is at the limit of %zu bytes",
                       s->map_max);
    size_t next = s->map_size * 2 > s->map_max ? s->map_max : s->map_size * 2;
    pthread_rwlock_wrlock(&s->resize_lock);
    int mrc = mdb_env_set_mapsize(s->env, next);
    if (mrc == 0) s->map_size = next;
    pthread_rwlock_unlock(&s->resize_lock);
    return cc_store_err(mrc, "growing the store's map", eb);
}

cc_err cc_store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val)
{
    MDB_val k = {klen, (void *)key};
    int mrc = mdb_get(txn, dbi, &k, val);
    return mrc == 0 ? CC_OK : mrc == MDB_NOTFOUND ? CC_ERR_NOT_FOUND : CC_ERR_IO;
}

cc_err cc_store_write_check(cc_store *s, cc_errbuf *eb)
{
    if (s->fault_countdown == 0 || --s->fault_countdown != 0) return CC_OK;
    return cc_errf(eb, CC_ERR_IO, "injected write fault");
}

void cc_store_fault_after(cc_store *s, unsigned n)
{
    s->fault_countdown = n;
}

cc_err cc_store_put(cc_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                    size_t vlen, cc_errbuf *eb)
{
    cc_err rc = cc_store_write_check(s, eb);
    if (rc != CC_OK) return rc;
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int mrc = mdb_put(txn, dbi, &k, &v, 0);
    return mrc == 0 ? CC_OK : cc_store_err(mrc, "writing to the store", eb);
}

static void history_key(unsigned level, uint64_t index, uint8_t key[9])
{
    key[0] = (uint8_t)level;
    cc_put_u64(key + 1, index);
}

cc_err cc_store_history_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CC_HASH_BYTES])
{
    cc_store_ctx *c = ctx;
    uint8_t key[9];
    MDB_val v;
    history_key(level, index, key);
    cc_err rc = cc_store_get(c->txn, c->s->history, key, sizeof key, &v);
    if (rc != CC_OK) return rc == CC_ERR_NOT_FOUND ? CC_ERR_CORRUPT : rc;
    if (v.mv_size != CC_HASH_BYTES) return CC_ERR_CORRUPT;
    memcpy(out, v.mv_data, CC_HASH_BYTES);
    return CC_OK;
}

cc_err cc_store_history_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[CC_HASH_BYTES])
{
    cc_store_ctx *c = ctx;
    uint8_t key[9];
    history_key(level, index, key);
    return cc_store_put(c->s, c->txn, c->s->history, key, sizeof key, h, CC_HASH_BYTES, NULL);
}
