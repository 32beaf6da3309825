/*
 * node/web_assets.h — the explorer's files (web/), compiled into the binary.
 * scripts/embed-web.sh writes the table (build/gen/web_assets.c) from web/
 * at build time, so a node serves /ui/ with no files beside it.
 */
#ifndef CC_NODE_WEB_ASSETS_H
#define CC_NODE_WEB_ASSETS_H

#include <stddef.h>

typedef struct cc_web_asset {
    const char *name;         /* file name under web/, e.g. "app.js" */
    const char *content_type; /* from the extension */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted: the first 16 hex digits of the file's SHA-256 */
} cc_web_asset;

/* Static, sorted by name; valid for the life of the process. */
extern const cc_web_asset cc_web_assets[];
extern const size_t cc_web_asset_count;

#endif
