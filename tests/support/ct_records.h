/*
 * ct_records.h — helpers for tests of the signed, audited record endpoints
 * (docs/RECORDS.md): signed GETs (cc_reqsig_sign), GETs with hand-made
 * headers, the X-Audit-Txid of an answer, and txs sent with an attachment.
 * Like support.h's helpers they never call cmocka.
 */
#ifndef CARECHAIN_TEST_RECORDS_H
#define CARECHAIN_TEST_RECORDS_H

#include "carechain/records.h"
#include "support.h"

/* An answer and the X-Audit-Txid header it carried ("" when none). */
typedef struct ct_signed_resp {
    ct_resp r;
    char audit[CC_HASH_HEX];
} ct_signed_resp;

void ct_signed_resp_free(ct_signed_resp *s);

/* GET base + path + ("?" query when query is not empty), signed by k at
 * created_s (0: now) with the headers cc_reqsig_sign makes. headers_out
 * (may be NULL) receives them, to replay or alter. 0 when an HTTP answer
 * came back. */
int ct_signed_get(const char *base, const cc_key *k, const char *path, const char *query, int64_t created_s,
                  cc_reqsig_headers *headers_out, ct_signed_resp *out);
/* GET url with these extra header lines ("Name: value", NULL-terminated
 * list; NULL for none). */
int ct_get_with_headers(const char *url, const char *const *headers, ct_signed_resp *out);
/* GET base + path + query with the three given header values (any may be
 * NULL: the header is left out). */
int ct_get_signed_as(const char *base, const char *path, const char *query, const cc_reqsig_headers *h,
                     ct_signed_resp *out);

/* POST body (typed ctype) to base + path, signed by k now. 0 when an HTTP
 * answer came back. */
int ct_signed_post(const char *base, const cc_key *k, const char *path, const char *ctype, const void *body,
                   size_t len, ct_signed_resp *out);

/* POST tx || attachment to base/v1/tx?wait=commit; 0 when it committed
 * with result ok (else the answer is printed on stderr). */
int ct_commit_attached(const char *base, const cc_tx *tx, const uint8_t *att, size_t att_len);
/* Make, sign and commit (with ?wait=commit) a tx of net's chain signed by
 * signer with payload and an optional attachment; 0 when it committed with
 * result ok. txid (may be NULL) gets its id. */
int ct_commit_tx(const ct_net *net, const char *base, const cc_key *signer, const char *type,
                 const char *payload, const uint8_t *att, size_t att_len, char txid[CC_HASH_HEX]);

#endif
