/*
 * node/http_events.c — GET /v1/events: a server-sent-event stream, one
 * `event: block` per committed block (frames come from events.c).
 *
 * The response body is produced by a callback that libmicrohttpd calls on
 * the connection's own thread, so it may block: it waits for the next frame
 * and sends a comment line as a keep-alive when none comes for a while
 * (that also keeps the connection from timing out).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "node/http.h"

#define SSE_KEEPALIVE_MS 15000
#define SSE_BLOCK_SIZE   (16 * 1024)

typedef struct sse_stream {
    cc_node *node;
    uint64_t seq;  /* next frame to send */
    char *pending; /* frame being sent (owned) */
    size_t pending_len, pending_off;
} sse_stream;

static const char sse_hello[] = ": carechain events\n\n";
static const char sse_keepalive[] = ": keep-alive\n\n";

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse_stream *s = cls;
    (void)pos;
    if (!s->pending) {
        char *frame = NULL;
        size_t len = 0;
        switch (cc_events_next(&s->node->events, &s->seq, SSE_KEEPALIVE_MS, &frame, &len)) {
        case CC_EVENTS_FRAME:
            break;
        case CC_EVENTS_IDLE:
            frame = strdup(sse_keepalive);
            len = sizeof sse_keepalive - 1;
            if (!frame) return MHD_CONTENT_READER_END_WITH_ERROR;
            break;
        case CC_EVENTS_CLOSED:
            return MHD_CONTENT_READER_END_OF_STREAM;
        default:
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        s->pending = frame;
        s->pending_len = len;
        s->pending_off = 0;
    }
    size_t n = s->pending_len - s->pending_off;
    if (n > max) n = max;
    memcpy(buf, s->pending + s->pending_off, n);
    s->pending_off += n;
    if (s->pending_off == s->pending_len) {
        free(s->pending);
        s->pending = NULL;
    }
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_stream *s = cls;
    free(s->pending);
    free(s);
}

enum MHD_Result cc_http_get_events(cc_http_req *req)
{
    sse_stream *s = calloc(1, sizeof *s);
    if (!s) return cc_http_send_error(req, CC_ERR_NOMEM, NULL, "no memory for the event stream");
    s->node = req->node;
    s->seq = cc_events_tail(&req->node->events);
    /* Say hello at once so the client sees the headers and a first line. */
    s->pending = strdup(sse_hello);
    s->pending_len = sizeof sse_hello - 1;
    if (!s->pending) {
        free(s);
        return cc_http_send_error(req, CC_ERR_NOMEM, NULL, "no memory for the event stream");
    }

    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_SIZE, sse_read, s, sse_free);
    if (!resp) {
        sse_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result rc = MHD_queue_response(req->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    cc_metrics_http_status(&req->node->metrics, MHD_HTTP_OK);
    return rc;
}
