/*
 * ct_join.c — nodes that governance adds to a test network: their
 * directories (the genesis, a key, free ports, a join config.json) and the
 * txid a `carechain network propose-*` run prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "support.h"

int ct_key_save(const char *path, const cc_key *k)
{
    cc_errbuf eb = {{0}};
    if (cc_key_save(path, k, NULL, &eb) == CC_OK) return 0;
    fprintf(stderr, "cc_key_save %s: %s\n", path, eb.msg);
    return -1;
}

int ct_joiner_prepare(const ct_net *net, const char *name, ct_joiner *j)
{
    memset(j, 0, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", name);
    ct_key(name, &j->key);
    ct_pk_hex(&j->key, j->hex);
    j->dir = ct_strf("%s/%s", net->dir, name);
    j->key_path = ct_strf("%s/node.key", j->dir);
    j->api = ct_free_port();
    j->raft = ct_free_port();
    char *genesis = ct_strf("%s/genesis.json", j->dir);
    cc_errbuf eb = {{0}};
    int rc = cc_mkdirs(j->dir, &eb) == CC_OK && ct_write_file(genesis, net->genesis, net->genesis_len) == 0
                 ? ct_key_save(j->key_path, &j->key)
                 : -1;
    free(genesis);
    return rc;
}

int ct_joiner_config(const ct_joiner *j, const char *peers_json)
{
    char *path = ct_strf("%s/config.json", j->dir);
    char *config =
        ct_strf("{\"name\":\"%s\",\"api\":\"127.0.0.1:%d\",\"raft\":\"127.0.0.1:%d\",\"peers\":%s}\n",
                j->name, j->api, j->raft, peers_json);
    int rc = ct_write_file(path, config, strlen(config));
    free(config);
    free(path);
    return rc;
}

void ct_joiner_free(ct_joiner *j)
{
    free(j->dir);
    free(j->key_path);
    memset(j, 0, sizeof *j);
}

bool ct_proposal_of(const char *out, char txid[CC_HASH_HEX])
{
    const char *p = out ? strstr(out, "\nproposal ") : NULL;
    if (!p || strlen(p + 10) < 2 * CC_HASH_BYTES) return false;
    memcpy(txid, p + 10, 2 * CC_HASH_BYTES);
    txid[2 * CC_HASH_BYTES] = '\0';
    return true;
}
