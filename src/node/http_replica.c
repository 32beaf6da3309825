/*
 * node/http_replica.c — what nodes fetch from each other to catch up
 * (docs/CONSENSUS.md "Snapshots and catch-up"): GET /v1/attachments/{sha256},
 * the bytes of an attachment, to nodes only.
 *
 * Attachment bytes are record ciphertext: reading them as a person goes
 * through GET /v1/records/{id}, which is authenticated and audited. Here
 * only a signed request by an active node identity (role node) is served,
 * the way raft entries carry the same bytes between nodes; it leaves no
 * audit event (no person reads anything).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/http.h"
#include "node/reqauth.h"

enum MHD_Result cc_http_get_attachment(cc_http_req *req)
{
    cc_chain *chain = req->node->chain;
    uint8_t hash[CC_HASH_BYTES], *bytes = NULL;
    size_t len = 0;
    cc_chain_view *view = NULL;
    cc_reqauth who;
    cc_errbuf eb = {{0}};

    if (strlen(req->arg) != 2 * CC_HASH_BYTES || cc_unhex(req->arg, hash, sizeof hash) != CC_OK)
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "want /v1/attachments/<64 hex: SHA-256>");
    cc_err rc = cc_chain_view_open(chain, &view);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read the state");
    rc = cc_reqauth_check(req, view, &who, &eb);
    cc_chain_view_close(view);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "%s", eb.msg);
    if (!(who.role & CC_ROLE_NODE))
        return cc_http_send_error(req, CC_ERR_FORBIDDEN, NULL,
                                  "only nodes fetch attachment bytes; people read records through "
                                  "GET /v1/records/{id}");
    rc = cc_chain_attachment(chain, hash, &bytes, &len);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_http_send_error(req, rc, NULL,
                                  "this node holds no such attachment (never stored, or erased)");
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read the attachment");
    return cc_http_send(req, MHD_HTTP_OK, "application/octet-stream", (char *)bytes, len);
}
