/*
 * node/strbuf.c — growable strings for HTTP answers (see strbuf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/strbuf.h"

#define STRBUF_MIN_CAP 256

void cc_strbuf_reserve(cc_strbuf *sb, size_t more)
{
    if (sb->oom) return;
    if (sb->len + more + 1 <= sb->cap) return;
    size_t cap = sb->cap ? sb->cap : STRBUF_MIN_CAP;
    while (cap < sb->len + more + 1) cap *= 2;
    char *p = realloc(sb->buf, cap);
    if (!p) {
        sb->oom = true;
        return;
    }
    sb->buf = p;
    sb->cap = cap;
}

void cc_strbuf_put(cc_strbuf *sb, const char *s, size_t n)
{
    cc_strbuf_reserve(sb, n);
    if (sb->oom) return;
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void cc_strbuf_puts(cc_strbuf *sb, const char *s)
{
    cc_strbuf_put(sb, s, strlen(s));
}

void cc_strbuf_printf(cc_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        cc_strbuf_put(sb, small, (size_t)n);
        return;
    }
    cc_strbuf_reserve(sb, (size_t)n);
    if (sb->oom) return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void cc_strbuf_u64(cc_strbuf *sb, uint64_t v)
{
    char digits[24];
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    cc_strbuf_put(sb, digits + i, sizeof digits - i);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && c == 0xe0 && s[1] < 0xa0) return 0;  /* overlong */
    if (n == 3 && c == 0xed && s[1] >= 0xa0) return 0; /* surrogate */
    if (n == 4 && c == 0xf0 && s[1] < 0x90) return 0;  /* overlong */
    if (n == 4 && c == 0xf4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
    return n;
}

bool cc_utf8_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x20 || *p == 0x7f ? 0 : utf8_seq_len(p);
        if (n == 0) return false;
        p += n;
    }
    return true;
}

void cc_strbuf_json_str(cc_strbuf *sb, const char *s)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    cc_strbuf_put(sb, "\"", 1);
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            cc_strbuf_put(sb, esc, 2);
            p++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
            cc_strbuf_put(sb, esc, 6);
            p++;
        } else {
            size_t n = utf8_seq_len(p);
            if (n == 0) {
                cc_strbuf_put(sb, "?", 1);
                p++;
            } else {
                cc_strbuf_put(sb, (const char *)p, n);
                p += n;
            }
        }
    }
    cc_strbuf_put(sb, "\"", 1);
}

void cc_strbuf_json_hex(cc_strbuf *sb, const uint8_t *bin, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    cc_strbuf_reserve(sb, 2 * n + 2);
    if (sb->oom) return;
    char *o = sb->buf + sb->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        *o++ = hexd[bin[i] >> 4];
        *o++ = hexd[bin[i] & 15];
    }
    *o++ = '"';
    sb->len += 2 * n + 2;
    sb->buf[sb->len] = '\0';
}

char *cc_strbuf_take(cc_strbuf *sb, size_t *len)
{
    char *out = NULL;
    if (!sb->oom) {
        cc_strbuf_reserve(sb, 0); /* an empty builder still yields "" */
        out = sb->oom ? NULL : sb->buf;
        if (len) *len = sb->len;
    }
    if (!out) free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
    return out;
}

void cc_strbuf_free(cc_strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
}
