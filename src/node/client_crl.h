/*
 * node/client_crl.h — the certificate revocation list of the consortium's
 * client CA (config.json "tls_client_crl"): client certificates the CA
 * revoked (a stolen laptop, a leaver) are refused although they still
 * verify (docs/OPERATIONS.md "Client certificates").
 *
 * The file is PEM, one or more CRLs, each signed by the client CA. It is
 * read at start (a bad file stops the start) and again whenever it changes
 * on disk (checked at most every CC_CRL_RECHECK_MS, on the next client
 * connection), so the CA's new list takes effect without a restart; a new
 * file that does not load is logged and the list before it stays in force.
 *
 * Thread-safe: connections are checked on libmicrohttpd's threads.
 */
#ifndef CARECHAIN_NODE_CLIENT_CRL_H
#define CARECHAIN_NODE_CLIENT_CRL_H

#include <stdbool.h>
#include <stddef.h>

#include "carechain.h"

#define CC_CRL_RECHECK_MS 2000 /* how often the file's change time is looked at */

typedef struct cc_client_crl cc_client_crl;

/* Load path and check every CRL in it against ca_pem (the client CA, PEM).
 * Errors: CC_ERR_IO (unreadable), CC_ERR_MALFORMED (not a CRL), CC_ERR_VERIFY
 * (not signed by that CA), CC_ERR_NOMEM; eb says which. */
cc_err cc_client_crl_open(const char *path, const char *ca_pem, cc_client_crl **out, cc_errbuf *eb) CC_WUR;

/* Is the certificate der (a client's leaf, DER) on the list? Reloads the
 * file first when it changed. */
bool cc_client_crl_revoked(cc_client_crl *c, const unsigned char *der, size_t der_len);

/* How many times the list was loaded (1 after open); reloads the file
 * first when it changed. A verdict taken under an older generation is
 * taken again: a connection opened before a revocation is refused at its
 * next request. */
unsigned cc_client_crl_generation(cc_client_crl *c);

void cc_client_crl_close(cc_client_crl *c);

#endif
