/*
 * node/strbuf.h — a growable string used to build HTTP answers (JSON and
 * Prometheus text) without a JSON tree per item on the hot paths.
 *
 * An allocation failure latches `oom`; later appends do nothing and
 * cc_strbuf_take returns NULL, so callers check once at the end.
 */
#ifndef CC_NODE_STRBUF_H
#define CC_NODE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cc_strbuf {
    char *buf; /* owned; NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    bool oom;
} cc_strbuf;

/* Reserve room for at least more bytes beyond len. */
void cc_strbuf_reserve(cc_strbuf *sb, size_t more);
void cc_strbuf_put(cc_strbuf *sb, const char *s, size_t n);
void cc_strbuf_puts(cc_strbuf *sb, const char *s);
void cc_strbuf_printf(cc_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cc_strbuf_u64(cc_strbuf *sb, uint64_t v);
/* A JSON string literal (with quotes): escapes quotes, backslashes and
 * control characters; bytes that are not valid UTF-8 become '?'. */
void cc_strbuf_json_str(cc_strbuf *sb, const char *s);
/* Whether s is valid UTF-8 without control characters: text a client may
 * put in a path segment. */
bool cc_utf8_text(const char *s);
/* A quoted lowercase hex string of n bytes. */
void cc_strbuf_json_hex(cc_strbuf *sb, const uint8_t *bin, size_t n);
/* Hand over the buffer (caller frees with free()); NULL after an allocation
 * failure. The strbuf is empty afterwards. */
char *cc_strbuf_take(cc_strbuf *sb, size_t *len);
/* Free the buffer. */
void cc_strbuf_free(cc_strbuf *sb);

#endif
