/*
 * raft_entry.h — the raft command entry of a network of several nodes: one
 * block and the attachment bytes of its txs (docs/CONSENSUS.md "Entries
 * are blocks"):
 *
 *   u8  version = 1 || u32 n || block (cc_block_encode, n bytes)
 *   u32 count || (u32 tx index || u32 n || attachment bytes)*
 *   zero bytes up to a multiple of CC_RAFT_ENTRY_ALIGN
 *
 * The block does not carry attachments (it commits to their hashes), so
 * the entry does; a reader checks each against the hash its tx signs. The
 * padding is there because libraft 0.15 writes entries padded to 8 bytes
 * but reloads unpadded ones wrongly after a restart.
 *
 * An entry is read in two steps, so that its block can be decoded (and its
 * signatures verified) once, before the attachments join it. Pure code, no
 * I/O; entries arrive from peers, so every malformed form is refused.
 */
#ifndef CC_NODE_RAFT_ENTRY_H
#define CC_NODE_RAFT_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "carechain.h"
#include "core/codec.h"

#define CC_RAFT_ENTRY_VERSION 1
#define CC_RAFT_ENTRY_ALIGN   8

/* Encode the block of header h and txs[0..n), with the bytes of every
 * attachment the txs hold (a tx whose bytes the proposer lacks goes
 * without them; the nodes fetch them later), into an entry allocated with
 * raft_malloc, for raft_apply. */
cc_err cc_raft_entry_encode(const cc_header *h, cc_tx *txs, size_t n, uint8_t **out, size_t *len);

/* Split entry e[0..len): *blk gets the block's bytes (at least a header's
 * worth, not decoded yet) and *atts a reader at what follows them. */
cc_err cc_raft_entry_split(const uint8_t *e, size_t len, const uint8_t **blk, size_t *blk_len,
                           cc_reader *atts, cc_errbuf *eb);

/* Give the txs of b (decoded from the entry's block) the attachment bytes
 * that atts reads, each checked against the hash its tx signs and copied
 * into tx->attachment (malloc'd; cc_block_free frees it). Only the padding
 * may follow. On failure some txs may hold their bytes already. */
cc_err cc_raft_entry_attach(cc_reader *atts, cc_block *b, cc_errbuf *eb);

#endif
