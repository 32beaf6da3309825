/*
 * ct_cli.c — see ct_cli.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ct_cli.h"

bool ct_cli_commit(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *k, const char *type,
                   json_t *payload, char txid[CC_HASH_HEX])
{
    cc_errbuf eb = {{0}};
    if (cc_cli_commit_json(h, chain_id, k, type, payload, txid, &eb) == CC_OK) return true;
    fprintf(stderr, "%s: %s\n", type, eb.msg);
    return false;
}

char *ct_key_file(const char *dir, const char *name, const cc_key *k)
{
    char *path = ct_strf("%s/%s.key", dir, name);
    if (ct_key_save(path, k) == 0) return path;
    free(path);
    return NULL;
}
