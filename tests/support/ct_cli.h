/*
 * ct_cli.h — helpers for integration tests that reach a node through the
 * CLI's client library (src/cli/cli.h), as the carechain command does:
 * setup txs committed with cc_cli_commit_json, and key files for the
 * commands to read. Like support.h's helpers they never call cmocka.
 */
#ifndef CARECHAIN_TEST_CLI_H
#define CARECHAIN_TEST_CLI_H

#include <stdbool.h>

#include "cli/cli.h"
#include "support.h"

/* Commit a tx of type with payload (taken) signed by k, with ?wait=commit.
 * True when it committed with result ok; otherwise it says why on stderr.
 * txid (may be NULL) gets the tx's id. */
bool ct_cli_commit(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *k, const char *type,
                   json_t *payload, char txid[CC_HASH_HEX]);

/* Save k as dir/<name>.key (mode 0600, no passphrase); the path (caller
 * frees), or NULL after saying why on stderr. */
char *ct_key_file(const char *dir, const char *name, const cc_key *k);

#endif
