/*
 * codec.h — big-endian integer packing and a bounds-checked reader, shared by
 * the encoders and decoders of the core. Internal to the library.
 */
#ifndef CC_CORE_CODEC_H
#define CC_CORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void cc_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void cc_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static inline void cc_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static inline uint16_t cc_get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t cc_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t cc_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

/* A cursor over an input buffer; every take fails once the input is short. */
typedef struct cc_reader {
    const uint8_t *p;
    size_t left;
} cc_reader;

static inline const uint8_t *cc_take(cc_reader *r, size_t n)
{
    if (r->left < n) return NULL;
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static inline bool cc_take_u8(cc_reader *r, uint8_t *v)
{
    const uint8_t *p = cc_take(r, 1);
    if (p) *v = p[0];
    return p != NULL;
}

static inline bool cc_take_u32(cc_reader *r, uint32_t *v)
{
    const uint8_t *p = cc_take(r, 4);
    if (p) *v = cc_get_u32(p);
    return p != NULL;
}

static inline bool cc_take_u64(cc_reader *r, uint64_t *v)
{
    const uint8_t *p = cc_take(r, 8);
    if (p) *v = cc_get_u64(p);
    return p != NULL;
}

static inline bool cc_take_copy(cc_reader *r, void *dst, size_t n)
{
    const uint8_t *p = cc_take(r, n);
    if (p) memcpy(dst, p, n);
    return p != NULL;
}

#endif
