/*
 * exec.c — executing a block's txs against the state, deterministically.
 *
 * For every tx, in block order:
 *
 *   never committed -> signature (unless this process already verified it)
 *   -> chain id -> lifetime and block time window -> known type ->
 *   signer registered, not revoked, role allowed -> payload rules ->
 *   handler apply on a per-tx overlay -> merge overlay into the block
 *
 * Every tx of a block runs under the block's ruleset (cc_ruleset_at). A
 * block whose ruleset this build does not know is not executed at all:
 * the node stops there rather than compute a state the network does not.
 *
 * The first failing step becomes the tx's result (code + message) and the
 * overlay is dropped, so a failed tx changes no state. The txid is indexed
 * whatever the outcome: a txid is in at most one block, ever.
 *
 * Attachment erasures (cc_exec_erase_attachment) follow the overlay's
 * rule: a failed tx's are dropped; a successful tx's are carried out after
 * the last tx, so that they also reach bytes a later tx of the block
 * stored. They touch only the attachments (store/attach.c), never the
 * state, so the state root does not depend on which bytes a node holds.
 *
 * State-root hashing runs beside execution. For a block of at least
 * HASHER_MIN_TXS txs, the successful txs' writes (key, old bytes, new
 * bytes) go in batches to a helper thread, which sums their LtHash terms
 * into a delta of its own; the block adds the delta to the accumulator once
 * the helper has drained every batch. The LtHash is a sum mod 2^16, so the
 * root does not depend on the order or the thread that hashed a term.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "exec/exec.h"

#define HEIGHT_PREFIX 8 /* stored state values start with the height of their last write */

typedef struct state_write {
    char *key;
    uint8_t *val; /* NULL: delete */
    size_t len;
} state_write;

/* ---- the state-root hasher thread ----------------------------------------------- */

#define HASHER_MIN_TXS     16           /* smaller blocks hash inline: a thread is not worth it */
#define HASHER_ABSENT      UINT32_MAX   /* an entry's old or new value that does not exist */
#define HASHER_BATCH_BYTES (16u * 1024) /* hand entries over in batches of about this size */

/* A batch is a list of entries: u32 klen, u32 olen, u32 nlen (host order;
 * HASHER_ABSENT: none), then the key, old and new bytes. */
typedef struct hash_batch {
    struct hash_batch *next;
    size_t len, cap;
    uint8_t *data;
} hash_batch;

typedef struct hasher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t more;
    hash_batch *head, **tail; /* submitted, not yet taken */
    bool done;                /* no more batches will come */
    cc_lthash delta;          /* the helper's sum: written by it alone until joined */
} hasher;

static void batch_free(hash_batch *b)
{
    if (b) free(b->data);
    free(b);
}

static void batch_hash(const hash_batch *b, cc_lthash *delta)
{
    const uint8_t *p = b->data, *end = b->data + b->len;
    while (p < end) {
        uint32_t len[3];
        memcpy(len, p, sizeof len);
        p += sizeof len;
        const uint8_t *key = p, *old = key + len[0];
        const uint8_t *val = old + (len[1] == HASHER_ABSENT ? 0 : len[1]);
        if (len[1] != HASHER_ABSENT) cc_lthash_sub(delta, key, len[0], old, len[1]);
        if (len[2] != HASHER_ABSENT) cc_lthash_add(delta, key, len[0], val, len[2]);
        p = val + (len[2] == HASHER_ABSENT ? 0 : len[2]);
    }
}

static void *hasher_main(void *arg)
{
    hasher *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->head && !h->done) pthread_cond_wait(&h->more, &h->lock);
        hash_batch *list = h->head;
        if (!list) break; /* done and drained */
        h->head = NULL;
        h->tail = &h->head;
        pthread_mutex_unlock(&h->lock);
        while (list) {
            hash_batch *next = list->next;
            batch_hash(list, &h->delta);
            batch_free(list);
            list = next;
        }
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* A running hasher, or NULL (hash inline) when one cannot be started. */
static hasher *hasher_start(void)
{
    hasher *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->tail = &h->head;
    if (pthread_mutex_init(&h->lock, NULL) != 0) goto err_after_alloc;
    if (pthread_cond_init(&h->more, NULL) != 0) goto err_after_lock;
    if (pthread_create(&h->thread, NULL, hasher_main, h) != 0) goto err_after_cond;
    return h;
err_after_cond:
    pthread_cond_destroy(&h->more);
err_after_lock:
    pthread_mutex_destroy(&h->lock);
err_after_alloc:
    free(h);
    return NULL;
}

/* Hand batch b to the helper (it frees it). */
static void hasher_submit(hasher *h, hash_batch *b)
{
    b->next = NULL;
    pthread_mutex_lock(&h->lock);
    *h->tail = b;
    h->tail = &b->next;
    pthread_cond_signal(&h->more);
    pthread_mutex_unlock(&h->lock);
}

/* Wait for the helper to hash every batch, add its sum to acc when acc is
 * not NULL, and free it. */
static void hasher_finish(hasher *h, cc_lthash *acc)
{
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    h->done = true;
    pthread_cond_signal(&h->more);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    if (acc)
        for (size_t i = 0; i < CC_LTHASH_BYTES / 2; i++)
            acc->lane[i] = (uint16_t)(acc->lane[i] + h->delta.lane[i]);
    pthread_cond_destroy(&h->more);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

struct cc_state {
    cc_store *s;
    MDB_txn *txn;
    cc_lthash *acc;
    hasher *hasher;      /* NULL: hash into acc inline */
    hash_batch *pending; /* entries not yet handed to hasher */
    uint64_t height;
    state_write *w;
    size_t count, cap;
    /* Signers' identities: from `shared` (the state before the block, kept
     * by the chain across blocks) until a tx of the block writes an
     * identity; from then on from `local`, emptied at every such write,
     * so neither ever disagrees with the state exec reads. */
    cc_identity_cache *shared;
    cc_identity_cache local;
    bool ids_written;
    /* attachments to erase at the end of the block: [0, erase_kept) from
     * txs that succeeded, [erase_kept, erase_count) from the running tx */
    uint8_t (*erase)[CC_HASH_BYTES];
    size_t erase_count, erase_kept, erase_cap;
};

/* ---- the state view --------------------------------------------------------- */

static state_write *overlay_find(cc_state *st, const char *key)
{
    for (size_t i = st->count; i-- > 0;)
        if (strcmp(st->w[i].key, key) == 0) return &st->w[i];
    return NULL;
}

cc_err cc_state_get(cc_exec_ctx *ctx, const char *key, const uint8_t **val, size_t *len)
{
    cc_state *st = ctx->st;
    state_write *w = overlay_find(st, key);
    if (w) {
        if (!w->val) return CC_ERR_NOT_FOUND;
        *val = w->val;
        *len = w->len;
        return CC_OK;
    }
    MDB_val v;
    cc_err rc = cc_store_get(st->txn, st->s->state, key, strlen(key), &v);
    if (rc != CC_OK) return rc;
    if (v.mv_size < HEIGHT_PREFIX) return CC_ERR_CORRUPT;
    *val = (const uint8_t *)v.mv_data + HEIGHT_PREFIX;
    *len = v.mv_size - HEIGHT_PREFIX;
    return CC_OK;
}

cc_err cc_state_get_json(cc_exec_ctx *ctx, const char *key, json_t **out)
{
    const uint8_t *val;
    size_t len;
    cc_err rc = cc_state_get(ctx, key, &val, &len);
    if (rc != CC_OK) return rc;
    *out = cc_json_parse(val, len, NULL);
    return *out ? CC_OK : CC_ERR_CORRUPT;
}

static cc_err overlay_add(cc_state *st, const char *key, const void *val, size_t len, bool del)
{
    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        state_write *w = realloc(st->w, cap * sizeof *w);
        if (!w) return CC_ERR_NOMEM;
        st->w = w;
        st->cap = cap;
    }
    state_write *w = &st->w[st->count];
    w->key = strdup(key);
    w->val = del ? NULL : malloc(len ? len : 1);
    w->len = len;
    if (!w->key || (!del && !w->val)) {
        free(w->key);
        free(w->val);
        return CC_ERR_NOMEM;
    }
    if (!del) memcpy(w->val, val, len);
    st->count++;
    return CC_OK;
}

cc_err cc_state_put(cc_exec_ctx *ctx, const char *key, const void *val, size_t len)
{
    return overlay_add(ctx->st, key, val, len, false);
}

cc_err cc_state_put_json(cc_exec_ctx *ctx, const char *key, const json_t *v)
{
    char *s = cc_json_dump(v);
    if (!s) return CC_ERR_NOMEM;
    cc_err rc = cc_state_put(ctx, key, s, strlen(s));
    free(s);
    return rc;
}

cc_err cc_state_del(cc_exec_ctx *ctx, const char *key)
{
    return overlay_add(ctx->st, key, NULL, 0, true);
}

cc_err cc_exec_erase_attachment(cc_exec_ctx *ctx, const uint8_t hash[CC_HASH_BYTES])
{
    cc_state *st = ctx->st;
    if (st->erase_count == st->erase_cap) {
        size_t cap = st->erase_cap ? st->erase_cap * 2 : 8;
        uint8_t(*e)[CC_HASH_BYTES] = realloc(st->erase, cap * sizeof *e);
        if (!e) return CC_ERR_NOMEM;
        st->erase = e;
        st->erase_cap = cap;
    }
    memcpy(st->erase[st->erase_count++], hash, CC_HASH_BYTES);
    return CC_OK;
}

/* Carry out the erasures of the block's successful txs. */
static cc_err erase_flush(cc_state *st, cc_errbuf *eb)
{
    for (size_t i = 0; i < st->erase_kept; i++) {
        cc_err rc = cc_store_attach_erase(st->s, st->txn, st->erase[i], eb);
        if (rc != CC_OK) return rc;
    }
    return CC_OK;
}

static void overlay_clear(cc_state *st)
{
    for (size_t i = 0; i < st->count; i++) {
        free(st->w[i].key);
        free(st->w[i].val);
    }
    st->count = 0;
}

/* Append an entry to b: key, the old stored bytes (NULL: none) and room for
 * new_len new bytes when has_new, which *new_at points to (valid until the
 * next append). */
static cc_err batch_entry(hash_batch *b, const char *key, size_t klen, const MDB_val *old, size_t new_len,
                          bool has_new, uint8_t **new_at)
{
    size_t olen = old ? old->mv_size : 0, need = 3 * sizeof(uint32_t) + klen + olen + new_len;
    if (b->cap - b->len < need) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < need) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) return CC_ERR_NOMEM;
        b->data = d;
        b->cap = cap;
    }
    uint32_t len[3] = {(uint32_t)klen, old ? (uint32_t)olen : HASHER_ABSENT,
                       has_new ? (uint32_t)new_len : HASHER_ABSENT};
    uint8_t *p = b->data + b->len;
    memcpy(p, len, sizeof len);
    p += sizeof len;
    memcpy(p, key, klen);
    p += klen;
    if (olen) memcpy(p, old->mv_data, olen);
    p += olen;
    *new_at = has_new ? p : NULL;
    b->len += need;
    return CC_OK;
}

/* Write one value (or delete it) in the store, keeping the accumulator in
 * step: subtract the old stored bytes, add the new (inline, or through the
 * pending batch for the hasher).
 *
 * Most writes create a key (a claim, a note, a duplicate-check entry): the
 * first mdb_put, with MDB_NOOVERWRITE, inserts it in one descent of the
 * B-tree, or finds the key there and hands back its value (MDB_KEYEXIST),
 * and only then does a second put replace it. */
static cc_err state_store(cc_state *st, const char *key, const uint8_t *val, size_t len, cc_errbuf *eb)
{
    size_t klen = strlen(key);
    MDB_val k = {klen, (void *)key}, old = {0, NULL}, v = {HEIGHT_PREFIX + len, NULL};
    uint8_t *entry = NULL; /* this write's batch entry, when a hasher runs */
    bool existed;
    int mrc;
    cc_err rc = cc_store_write_check(st->s, eb);
    if (rc != CC_OK) return rc;
    if (val) {
        mrc = mdb_put(st->txn, st->s->state, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
        if (mrc != 0 && mrc != MDB_KEYEXIST) return cc_store_err(mrc, "writing state", eb);
        existed = mrc == MDB_KEYEXIST;
        if (existed) old = v; /* the stored value, which the put below replaces */
    } else {
        mrc = mdb_get(st->txn, st->s->state, &k, &old);
        if (mrc == MDB_NOTFOUND) return CC_OK;
        if (mrc != 0) return cc_store_err(mrc, "reading state", eb);
        existed = true;
    }
    if (st->pending) {
        rc = batch_entry(st->pending, key, klen, existed ? &old : NULL, val ? HEIGHT_PREFIX + len : 0,
                         val != NULL, &entry);
        if (rc != CC_OK) return cc_errf(eb, rc, "no memory to hash the state");
    } else if (existed) {
        cc_lthash_sub(st->acc, (const uint8_t *)key, klen, old.mv_data, old.mv_size);
    }
    if (!val) {
        mrc = mdb_del(st->txn, st->s->state, &k, NULL);
        return cc_store_err(mrc, "deleting state", eb);
    }
    if (existed) {
        v = (MDB_val){HEIGHT_PREFIX + len, NULL};
        mrc = mdb_put(st->txn, st->s->state, &k, &v, MDB_RESERVE);
        if (mrc != 0) return cc_store_err(mrc, "writing state", eb);
    }
    cc_put_u64(v.mv_data, st->height);
    memcpy((uint8_t *)v.mv_data + HEIGHT_PREFIX, val, len);
    if (entry)
        memcpy(entry, v.mv_data, v.mv_size);
    else
        cc_lthash_add(st->acc, (const uint8_t *)key, klen, v.mv_data, v.mv_size);
    return CC_OK;
}

static cc_err overlay_flush(cc_state *st, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    for (size_t i = 0; i < st->count; i++)
        if (strncmp(st->w[i].key, "id/", 3) == 0) {
            st->ids_written = true;
            cc_identity_cache_clear(&st->local);
        }
    if (st->hasher && st->count > 0 && !st->pending && !(st->pending = calloc(1, sizeof *st->pending)))
        rc = cc_errf(eb, CC_ERR_NOMEM, "no memory to hash the state");
    for (size_t i = 0; i < st->count && rc == CC_OK; i++)
        rc = state_store(st, st->w[i].key, st->w[i].val, st->w[i].len, eb);
    if (st->pending && st->pending->len >= HASHER_BATCH_BYTES) {
        hasher_submit(st->hasher, st->pending);
        st->pending = NULL;
    }
    overlay_clear(st);
    return rc; /* a failed flush fails the block: its sum is never used */
}

/* ---- identities ------------------------------------------------------------- */

bool cc_identity_cache_get(const cc_identity_cache *c, const uint8_t pk[CC_PUBKEY_BYTES], cc_identity *out)
{
    size_t slot = pk[0] % CC_IDENTITY_CACHE_SLOTS;
    if (!c->used[slot] || memcmp(c->slot[slot].pk, pk, CC_PUBKEY_BYTES) != 0) return false;
    *out = c->slot[slot];
    return true;
}

void cc_identity_cache_put(cc_identity_cache *c, const cc_identity *id)
{
    size_t slot = id->pk[0] % CC_IDENTITY_CACHE_SLOTS;
    c->slot[slot] = *id;
    c->used[slot] = true;
}

void cc_identity_cache_clear(cc_identity_cache *c)
{
    memset(c->used, 0, sizeof c->used);
}

static cc_err identity_parse(const uint8_t *val, size_t len, const uint8_t pk[CC_PUBKEY_BYTES],
                             cc_identity *out)
{
    json_t *o = cc_json_parse(val, len, NULL);
    if (!o) return CC_ERR_CORRUPT;
    const char *org = json_string_value(json_object_get(o, "org"));
    const char *status = json_string_value(json_object_get(o, "status"));
    memcpy(out->pk, pk, CC_PUBKEY_BYTES);
    out->role = cc_role_parse(json_string_value(json_object_get(o, "role")));
    snprintf(out->org, sizeof out->org, "%s", org ? org : "");
    out->revoked = status && strcmp(status, "revoked") == 0;
    json_decref(o);
    return out->role ? CC_OK : CC_ERR_CORRUPT;
}

static void identity_key(const uint8_t pk[CC_PUBKEY_BYTES], char key[3 + 2 * CC_PUBKEY_BYTES + 1])
{
    memcpy(key, "id/", 3);
    cc_hex(pk, CC_PUBKEY_BYTES, key + 3);
}

cc_err cc_identity_read(MDB_txn *txn, const cc_store *s, const uint8_t pk[CC_PUBKEY_BYTES], cc_identity *out)
{
    char key[3 + 2 * CC_PUBKEY_BYTES + 1];
    MDB_val v;
    identity_key(pk, key);
    cc_err rc = cc_store_get(txn, s->state, key, strlen(key), &v);
    if (rc != CC_OK) return rc;
    if (v.mv_size < HEIGHT_PREFIX) return CC_ERR_CORRUPT;
    return identity_parse((const uint8_t *)v.mv_data + HEIGHT_PREFIX, v.mv_size - HEIGHT_PREFIX, pk, out);
}

/* ---- genesis ---------------------------------------------------------------- */

cc_err cc_exec_genesis(cc_store *s, MDB_txn *txn, const cc_genesis *g, cc_lthash *acc, cc_errbuf *eb)
{
    cc_state st = {.s = s, .txn = txn, .acc = acc, .height = 0};
    cc_exec_ctx ctx = {.st = &st, .genesis = g, .eb = eb};
    cc_err rc = CC_OK;
    char key[160];
    for (size_t i = 0; i < g->org_count && rc == CC_OK; i++) {
        json_t *o = json_pack("{s:s, s:s}", "name", g->orgs[i].name, "kind", g->orgs[i].kind);
        snprintf(key, sizeof key, "org/%s", g->orgs[i].id);
        rc = o ? cc_state_put_json(&ctx, key, o) : CC_ERR_NOMEM;
        json_decref(o);
    }
    for (size_t i = 0; i < g->node_count && rc == CC_OK; i++) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "role", "node", "org", g->nodes[i].org, "name",
                              g->nodes[i].name, "status", "active", "since", (json_int_t)0);
        identity_key(g->nodes[i].pk, key);
        rc = o ? cc_state_put_json(&ctx, key, o) : CC_ERR_NOMEM;
        json_decref(o);
    }
    for (size_t i = 0; i < g->identity_count && rc == CC_OK; i++) {
        const cc_genesis_identity *id = &g->identities[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "role", id->role, "org", id->org, "status", "active",
                              "since", (json_int_t)0);
        if (o && id->name[0]) json_object_set_new(o, "name", json_string(id->name));
        identity_key(id->pk, key);
        rc = o ? cc_state_put_json(&ctx, key, o) : CC_ERR_NOMEM;
        json_decref(o);
    }
    if (rc == CC_OK) rc = cc_apps_genesis(&ctx);
    if (rc == CC_OK) rc = overlay_flush(&st, eb);
    overlay_clear(&st);
    free(st.w);
    return rc;
}

/* ---- blocks ----------------------------------------------------------------- */

static void result_set(cc_result *r, cc_err code, const char *msg)
{
    memset(r, 0, sizeof *r);
    r->code = (uint16_t)code;
    snprintf(r->message, sizeof r->message, "%s", msg && *msg ? msg : code ? cc_strerror(code) : "");
}

/* The signer's identity, from an identity cache (see cc_state) or the store. */
static cc_err signer_read(cc_state *st, const uint8_t pk[CC_PUBKEY_BYTES], cc_identity *out)
{
    cc_identity_cache *c = st->shared && !st->ids_written ? st->shared : &st->local;
    if (cc_identity_cache_get(c, pk, out)) return CC_OK;
    cc_err rc = cc_identity_read(st->txn, st->s, pk, out);
    if (rc == CC_OK) cc_identity_cache_put(c, out);
    return rc;
}

void cc_seen_key(const cc_tx *tx, uint8_t key[CC_SEEN_KEY_BYTES])
{
    cc_put_u64(key, tx->expiry_ms);
    memcpy(key + 8, tx->txid, CC_HASH_BYTES);
}

void cc_tx_loc_encode(uint64_t height, uint32_t index, uint8_t out[CC_TX_LOC_BYTES])
{
    cc_put_u64(out, height);
    cc_put_u32(out + 8, index);
}

/* The checks every tx passes before its handler runs, in a fixed order.
 * Returns CC_OK or the failing code with a message in eb. */
static cc_err check_tx(cc_state *st, const cc_genesis *g, const cc_tx *tx, uint64_t time_ms,
                       const cc_tx_type **type, cc_identity *signer, cc_errbuf *eb)
{
    MDB_txn *txn = st->txn;
    cc_store *s = st->s;
    /* first: a txid commits at most once, whatever else is wrong with it */
    MDB_val v;
    uint8_t seen[CC_SEEN_KEY_BYTES];
    cc_seen_key(tx, seen);
    cc_err rc = cc_store_get(txn, s->seen, seen, sizeof seen, &v);
    if (rc == CC_OK) {
        return cc_errf(eb, CC_ERR_DUPLICATE, "this txid was already committed at height %llu",
                       (unsigned long long)cc_get_u64(v.mv_data));
    }
    if (rc != CC_ERR_NOT_FOUND) return cc_errf(eb, rc, "reading the index of committed txs");
    if (!tx->sig_checked && !cc_tx_verify_sig(tx))
        return cc_errf(eb, CC_ERR_SIGNATURE, "the signature does not verify");
    if (memcmp(tx->chain_id, g->chain_id, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_CHAIN_ID, "the tx is for another chain");
    if (tx->expiry_ms < tx->created_ms || tx->expiry_ms - tx->created_ms > CC_TX_MAX_LIFETIME_MS)
        return cc_errf(eb, CC_ERR_LIFETIME, "expiry must be after created and at most 24 h later");
    if (time_ms + CC_TX_PAST_WINDOW_MS < tx->created_ms)
        return cc_errf(eb, CC_ERR_FUTURE, "created %llu ms after the block time; at most 5 min is allowed",
                       (unsigned long long)(tx->created_ms - time_ms));
    if (time_ms > tx->expiry_ms)
        return cc_errf(eb, CC_ERR_EXPIRED, "expired %llu ms before the block time",
                       (unsigned long long)(time_ms - tx->expiry_ms));
    if (!(*type = cc_tx_type_find(tx->type)))
        return cc_errf(eb, CC_ERR_UNKNOWN_TYPE, "no tx type \"%s\"", tx->type);
    rc = signer_read(st, tx->signer, signer);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_errf(eb, CC_ERR_UNKNOWN_SIGNER, "the signer is not a registered identity");
    if (rc != CC_OK) return cc_errf(eb, rc, "reading the signer's identity");
    if (signer->revoked) return cc_errf(eb, CC_ERR_REVOKED, "the signer's identity was revoked");
    if (!(signer->role & (*type)->roles))
        return cc_errf(eb, CC_ERR_FORBIDDEN, "role %s may not send %s", cc_role_name(signer->role), tx->type);
    return CC_OK;
}

uint32_t cc_ruleset_at(const json_t *rec, const cc_genesis *g, uint64_t height)
{
    const json_t *from = json_object_get(rec, "from");
    if (!json_is_integer(from)) return g->ruleset;
    const char *which = height >= (uint64_t)json_integer_value(from) ? "ruleset" : "before";
    return (uint32_t)json_integer_value(json_object_get(rec, which));
}

cc_err cc_ruleset_known(uint32_t ruleset, uint64_t height, cc_errbuf *eb)
{
    if (ruleset <= CC_RULESET_CURRENT) return CC_OK;
    return cc_errf(eb, CC_ERR_VERSION,
                   "from block %llu on, the network executes ruleset %u; this build of carechain knows "
                   "rulesets 1 to %d: install a newer build (docs/OPERATIONS.md \"Upgrading carechain\")",
                   (unsigned long long)height, ruleset, CC_RULESET_CURRENT);
}

/* The ruleset of block `height`, from the state before it; CC_ERR_VERSION
 * when this build does not know it. */
static cc_err block_ruleset(cc_state *st, const cc_genesis *g, uint64_t height, uint32_t *ruleset,
                            cc_errbuf *eb)
{
    cc_exec_ctx ctx = {.st = st};
    json_t *rec = NULL;
    cc_err rc = cc_state_get_json(&ctx, "network/ruleset", &rec);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return cc_errf(eb, rc, "reading network/ruleset");
    *ruleset = cc_ruleset_at(rec, g, height);
    json_decref(rec);
    return cc_ruleset_known(*ruleset, height, eb);
}

/* A tx's stateless payload rules under the block's ruleset. They need not
 * run again for a tx that passed them at admission in this process, which
 * checks the newest ruleset, unless the block runs an older one. */
static cc_err payload_rules(const cc_tx_type *type, const cc_tx *tx, const json_t *payload, uint32_t ruleset,
                            cc_errbuf *eb)
{
    if (type->validate_as)
        return tx->payload_checked && ruleset == CC_RULESET_CURRENT ? CC_OK
                                                                    : type->validate_as(payload, ruleset, eb);
    return tx->payload_checked ? CC_OK : type->validate(payload, eb);
}

cc_err cc_exec_block(cc_store *s, MDB_txn *txn, const cc_genesis *g, cc_tx *txs, size_t n, uint64_t height,
                     uint64_t time_ms, cc_lthash *acc, cc_identity_cache *ids, bool *ids_written,
                     cc_result *results, cc_errbuf *eb)
{
    cc_state st = {.s = s, .txn = txn, .acc = acc, .height = height, .shared = ids};
    uint32_t ruleset = 0;
    cc_err rc = block_ruleset(&st, g, height, &ruleset, eb);
    if (rc != CC_OK) return rc;
    if (n >= HASHER_MIN_TXS) st.hasher = hasher_start();
    for (size_t i = 0; i < n && rc == CC_OK; i++) {
        const cc_tx *tx = &txs[i];
        const cc_tx_type *type = NULL;
        cc_identity signer;
        cc_errbuf why = {""};
        json_t *payload = NULL;
        bool fresh = true; /* index this txid (not when it is a duplicate) */

        cc_err code = check_tx(&st, g, tx, time_ms, &type, &signer, &why);
        if (code == CC_ERR_DUPLICATE) fresh = false;
        if (code == CC_OK) {
            payload = tx->json ? json_incref(tx->json)
                               : cc_json_parse((const uint8_t *)tx->payload, tx->payload_len, &why);
            code = !payload ? CC_ERR_MALFORMED : payload_rules(type, tx, payload, ruleset, &why);
        }
        if (code == CC_OK) {
            cc_exec_ctx ctx = {.st = &st,
                               .tx = tx,
                               .payload = payload,
                               .signer = &signer,
                               .genesis = g,
                               .height = height,
                               .time_ms = time_ms,
                               .index = (uint32_t)i,
                               .ruleset = ruleset,
                               .eb = &why};
            code = type->apply(&ctx);
        }
        json_decref(payload);
        if (code == CC_OK) {
            rc = overlay_flush(&st, eb);
            st.erase_kept = st.erase_count;
        } else {
            overlay_clear(&st);
            st.erase_count = st.erase_kept;
            if (code == CC_ERR_NOMEM || code == CC_ERR_IO || code == CC_ERR_STORE_FULL ||
                code == CC_ERR_CORRUPT) {
                rc = cc_errf(eb, code, "executing tx %zu: %s", i, why.msg); /* the node, not the tx, failed */
                break;
            }
        }
        result_set(&results[i], code, why.msg);
        if (rc == CC_OK && code == CC_OK && tx->attachment) { /* a failed tx stores nothing */
            rc = cc_store_attach_put(s, txn, tx->attachment_hash, tx->attachment, tx->attachment_len, eb);
        }
        if (rc == CC_OK && fresh) {
            uint8_t loc[CC_TX_LOC_BYTES], seen[CC_SEEN_KEY_BYTES];
            cc_tx_loc_encode(height, (uint32_t)i, loc);
            cc_seen_key(tx, seen);
            rc = cc_store_put(s, txn, s->seen, seen, sizeof seen, loc, sizeof loc, eb);
        }
    }
    if (rc == CC_OK) rc = erase_flush(&st, eb); /* after the block's attachments are stored */
    if (st.pending && rc == CC_OK) {
        hasher_submit(st.hasher, st.pending);
        st.pending = NULL;
    }
    batch_free(st.pending);
    hasher_finish(st.hasher, rc == CC_OK ? acc : NULL);
    *ids_written = st.ids_written;
    overlay_clear(&st);
    free(st.w);
    free(st.erase);
    return rc;
}

cc_err cc_results_encode(const cc_result *results, size_t n, uint8_t **out, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += 4 + strlen(results[i].message);
    uint8_t *buf = malloc(total ? total : 1), *p = buf;
    if (!buf) return CC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(results[i].message);
        cc_put_u16(p, results[i].code);
        cc_put_u16(p + 2, (uint16_t)m);
        memcpy(p + 4, results[i].message, m);
        p += 4 + m;
    }
    *out = buf;
    *len = total;
    return CC_OK;
}

cc_err cc_results_get(const uint8_t *buf, size_t len, uint32_t index, cc_result *out)
{
    cc_reader r = {buf, len};
    for (uint32_t i = 0;; i++) {
        const uint8_t *h = cc_take(&r, 4), *m;
        if (!h) return CC_ERR_CORRUPT;
        uint16_t mlen = cc_get_u16(h + 2);
        if (mlen > CC_RESULT_MSG_MAX || !(m = cc_take(&r, mlen))) return CC_ERR_CORRUPT;
        if (i == index) {
            memset(out, 0, sizeof *out);
            out->code = cc_get_u16(h);
            memcpy(out->message, m, mlen);
            out->message[mlen] = '\0';
            return CC_OK;
        }
    }
}
