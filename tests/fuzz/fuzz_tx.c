/*
 * fuzz_tx.c — libFuzzer target for the tx decoder. On arbitrary bytes
 * cc_tx_decode must not crash; when it accepts them, the tx's raw encoding
 * is exactly the input (one valid encoding per tx), its txid is SHA-256 of
 * it, the payload is a NUL-terminated JSON object of payload_len bytes, and
 * a deep copy is identical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carechain.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cc_tx tx;
    cc_errbuf eb;
    memset(&tx, 0, sizeof tx);
    memset(&eb, 0, sizeof eb);
    if (cc_tx_decode(data, size, &tx, &eb) != CC_OK) {
        CHECK(memchr(eb.msg, 0, sizeof eb.msg) != NULL);
        cc_tx_free(&tx);
        return 0;
    }
    CHECK(tx.version == CC_TX_VERSION);
    CHECK(tx.raw != NULL && tx.raw_len == size && memcmp(tx.raw, data, size) == 0);
    uint8_t h[CC_HASH_BYTES];
    cc_sha256(data, size, h);
    CHECK(memcmp(h, tx.txid, CC_HASH_BYTES) == 0);
    CHECK(cc_tx_type_valid(tx.type));
    CHECK(tx.payload != NULL && strlen(tx.payload) == tx.payload_len && tx.payload_len <= CC_PAYLOAD_MAX);
    CHECK(tx.payload[0] == '{');
    CHECK(tx.has_attachment || tx.attachment_len == 0);
    CHECK(tx.attachment_len <= CC_ATTACHMENT_MAX);

    /* the signature check must not crash either way */
    volatile bool sig_ok = cc_tx_verify_sig(&tx);
    (void)sig_ok;

    cc_tx copy;
    memset(&copy, 0, sizeof copy);
    CHECK(cc_tx_copy(&copy, &tx) == CC_OK);
    CHECK(copy.raw_len == tx.raw_len && memcmp(copy.raw, tx.raw, tx.raw_len) == 0);
    CHECK(memcmp(copy.txid, tx.txid, CC_HASH_BYTES) == 0);
    CHECK(strcmp(copy.payload, tx.payload) == 0);

    /* decoding the raw bytes again gives the same tx */
    cc_tx again;
    memset(&again, 0, sizeof again);
    CHECK(cc_tx_decode(copy.raw, copy.raw_len, &again, NULL) == CC_OK);
    CHECK(memcmp(again.txid, tx.txid, CC_HASH_BYTES) == 0);
    CHECK(again.nonce == tx.nonce && again.created_ms == tx.created_ms && again.expiry_ms == tx.expiry_ms);
    CHECK(strcmp(again.type, tx.type) == 0);
    cc_tx_free(&again);
    cc_tx_free(&copy);
    cc_tx_free(&tx);
    return 0;
}
