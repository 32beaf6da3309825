/*
 * node/http_ui.c — GET /ui/ and /ui/{file}: the explorer (web/), served
 * from the table scripts/embed-web.sh compiles into the binary, and
 * GET /v1/genesis, the genesis file the explorer checks proofs against.
 *
 * Every file goes out with its content type, an ETag (revalidated: a new
 * binary may carry new files under the same names) and a strict
 * Content-Security-Policy: scripts, styles and fetches from this origin
 * only, no inline script or style, no frames, no form posts elsewhere.
 * 'wasm-unsafe-eval' lets libsodium.js (embedded when the build had it,
 * scripts/web-libs.sh) compile its WebAssembly; it allows no JS eval.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "node/http.h"
#include "node/web_assets.h"

#define UI_INDEX "index.html"

static const char ui_csp[] =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

static const cc_web_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < cc_web_asset_count; i++)
        if (strcmp(cc_web_assets[i].name, name) == 0) return &cc_web_assets[i];
    return NULL;
}

static void add_ui_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy", ui_csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

/* Queue resp with status, count it, and drop our reference. */
static enum MHD_Result queue(cc_http_req *req, unsigned status, struct MHD_Response *resp)
{
    enum MHD_Result rc = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    cc_metrics_http_status(&req->node->metrics, status);
    return rc;
}

enum MHD_Result cc_http_get_ui_redirect(cc_http_req *req)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/ui/");
    return queue(req, MHD_HTTP_MOVED_PERMANENTLY, resp);
}

enum MHD_Result cc_http_get_ui(cc_http_req *req)
{
    const char *name = req->route && strcmp(req->route->pattern, "/ui/") == 0 ? UI_INDEX : req->arg;
    const cc_web_asset *a = find_asset(name);
    if (!a) return cc_http_send_error(req, CC_ERR_NOT_FOUND, NULL, "no file %s in the explorer", name);

    const char *inm = cc_http_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool fresh = inm && strcmp(inm, a->etag) == 0;
    struct MHD_Response *resp =
        fresh ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
              : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    add_ui_headers(resp);
    return queue(req, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
}

enum MHD_Result cc_http_get_genesis(cc_http_req *req)
{
    char path[PATH_MAX + 16];
    uint8_t *buf = NULL, id[CC_HASH_BYTES];
    size_t len = 0;
    cc_errbuf eb = {{0}};

    snprintf(path, sizeof path, "%s/genesis.json", req->node->dir);
    cc_err e = cc_file_read(path, CC_GENESIS_MAX_BYTES, &buf, &len, &eb);
    if (e != CC_OK) return cc_http_send_error(req, CC_ERR_IO, NULL, "cannot read the genesis file");
    cc_sha256(buf, len, id);
    if (memcmp(id, cc_chain_genesis(req->node->chain)->chain_id, CC_HASH_BYTES) != 0) {
        free(buf);
        return cc_http_send_error(req, CC_ERR_CORRUPT, NULL,
                                  "the genesis file on disk is not the one this node started with");
    }
    return cc_http_send(req, MHD_HTTP_OK, "application/json", (char *)buf, len);
}
