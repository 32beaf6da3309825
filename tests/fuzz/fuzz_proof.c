/*
 * fuzz_proof.c — libFuzzer target for the offline proof verifier. A proof
 * file comes from anywhere (a node, an email, an attacker), so on arbitrary
 * bytes cc_json_parse + cc_proof_verify must not crash, must say why when
 * they refuse, and may accept only a proof whose report is consistent.
 * The seed corpus holds real proofs of txs on the test genesis chain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carechain.h"
#include "test_genesis.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *genesis;
    if (!genesis && !(genesis = tg_genesis())) abort();
    cc_errbuf eb;
    memset(&eb, 0, sizeof eb);
    json_t *proof = cc_json_parse(data, size, &eb);
    if (!proof) {
        CHECK(eb.msg[0] != '\0');
        return 0;
    }
    cc_proof_report rep;
    cc_err rc = cc_proof_verify(proof, (const uint8_t *)genesis, strlen(genesis), &rep, &eb);
    if (rc == CC_OK) {
        CHECK(rep.height >= 1 && rep.checkpoint_height >= rep.height);
        CHECK(rep.signatures >= 1);
        CHECK(cc_tx_type_valid(rep.type));
    } else {
        CHECK(eb.msg[0] != '\0');
    }
    json_decref(proof);
    return 0;
}
