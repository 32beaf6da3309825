/*
 * ct_store.h — open a stopped node's LMDB store from a test, to damage it
 * on purpose (a flipped byte, a deleted attachment) and see the node cope.
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <lmdb.h>

typedef struct ct_store {
    MDB_env *env;
    MDB_txn *txn; /* a write txn */
    MDB_dbi dbi;
} ct_store;

/* A write txn on database db of <node_dir>/data. 0, or -1 after saying
 * why on stderr (nothing is left open). */
int ct_store_open(ct_store *s, const char *node_dir, const char *db);
/* Commit the txn and close the store: 0, or -1 (said on stderr). */
int ct_store_commit(ct_store *s);

#endif
