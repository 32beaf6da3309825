/*
 * ct_drugs.h — a drug supply chain network for the integration tests of
 * docs/SUPPLY.md: the demo network (`carechain init`: manufacturer,
 * wholesaler, two pharmacies, a regulator) on one node with its keyring
 * registered and company prefixes assigned, signed requests to the node,
 * and EPCIS error bodies read in either shape. Helpers never call cmocka.
 */
#ifndef CARECHAIN_TEST_DRUGS_H
#define CARECHAIN_TEST_DRUGS_H

#include "carechain/gs1.h"
#include "cli/cli.h"
#include "support.h"

/* The prefixes assigned at start: pharma, distributor, pharmacy, drugstore. */
#define CT_PREFIX_PHARMA    "0312345"
#define CT_PREFIX_WHOLESALE "0398765"
#define CT_PREFIX_PHARMACY  "0355501"
#define CT_PREFIX_DRUGSTORE "0355502"
#define CT_GTIN             "00312345678906" /* pharma's product, item reference 67890 */

typedef struct ct_drugnet {
    char *dir; /* the network (temporary) */
    ct_node node;
    cc_cli_http *h;
    uint8_t chain_id[CC_HASH_BYTES];
    char exp[8]; /* an expiry two years ahead, YYMMDD */
} ct_drugnet;

/* Make the network, start its node, register the keyring, assign the four
 * prefixes and register CT_GTIN. 0 on success (else it said why). */
int ct_drugnet_start(ct_drugnet *n, const char *tag);
void ct_drugnet_stop(ct_drugnet *n);
/* dir/keys/<name>.key; caller frees. */
char *ct_drugnet_key(const ct_drugnet *n, const char *name);
/* Load that key. 0 on success. */
int ct_drugnet_load(const ct_drugnet *n, const char *name, cc_key *k);

/* A signed request (POST when body is not NULL) by key name; the answer in
 * r (caller cc_cli_resp_free()s). 0 when an HTTP answer came back. */
int ct_drugnet_signed(const ct_drugnet *n, const char *key_name, const char *path, const char *ctype,
                      const void *body, size_t len, cc_cli_resp *r);
/* The message of an error body: {"error":"..","message":".."} or
 * {"error":{"code","message"}}; "" when none. */
const char *ct_error_message(const cc_cli_resp *r);

#endif
