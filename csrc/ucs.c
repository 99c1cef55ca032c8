/* Counting words in a str's own storage: 1, 2 or 4 bytes per code point (PEP 393), no copy.
 *
 * AVX2: 64 code points a block; whitespace is found by range and equality compares of the code
 * units, turned into one 64-bit mask (bit k: unit k is not whitespace), then the same shift,
 * and-not and popcount as for bytes. Blocks whose units are all below 0x80 skip the compares
 * for the non-ASCII whitespace. Other instruction sets, and the tail of each range: one unit at
 * a time. */
#include "count.h"

#ifdef WC_X86
#include <immintrin.h>
#endif

#define SCALAR_TAIL(T)                                                                         \
    static int64_t tail_##T(const T *p, size_t i, size_t n, uint64_t prev_ns)                  \
    {                                                                                          \
        int64_t w = 0;                                                                         \
        for (; i < n; i++) {                                                                   \
            uint64_t ns = !wc_is_space(p[i]);                                                  \
            w += ns & !prev_ns;                                                                \
            prev_ns = ns;                                                                      \
        }                                                                                      \
        return w;                                                                              \
    }
SCALAR_TAIL(uint8_t)
SCALAR_TAIL(uint16_t)
SCALAR_TAIL(uint32_t)

#ifdef WC_X86
#define AVX2_FN __attribute__((target("avx2,popcnt")))
#define V256 __m256i
#define AND _mm256_and_si256
#define OR _mm256_or_si256
#define LOAD(q) _mm256_loadu_si256((const __m256i *)(q))

/* x in [lo, lo + span] for unsigned lanes: (x - lo) == min(x - lo, span). */
#define IN_RANGE(bits, x, lo, span)                                                            \
    _mm256_cmpeq_epi##bits(_mm256_min_epu##bits(_mm256_sub_epi##bits(x, SET##bits(lo)),         \
                                                SET##bits(span)),                              \
                           _mm256_sub_epi##bits(x, SET##bits(lo)))
#define SET8(c) _mm256_set1_epi8((char)(c))
#define SET16(c) _mm256_set1_epi16((short)(c))
#define SET32(c) _mm256_set1_epi32((int)(c))
#define EQ(bits, x, c) _mm256_cmpeq_epi##bits(x, SET##bits(c))

/* Whitespace among the ASCII code points: 09-0D and 1C-20. */
#define ASCII_WS(bits, v) OR(IN_RANGE(bits, v, 0x09, 4), IN_RANGE(bits, v, 0x1C, 4))
/* The rest: U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
#define WIDE_WS(bits, v)                                                                       \
    OR(OR(OR(EQ(bits, v, 0x85), EQ(bits, v, 0xA0)), OR(EQ(bits, v, 0x1680),                   \
          IN_RANGE(bits, v, 0x2000, 0xA))),                                                    \
       OR(OR(IN_RANGE(bits, v, 0x2028, 1), EQ(bits, v, 0x202F)),                               \
          OR(EQ(bits, v, 0x205F), EQ(bits, v, 0x3000))))

AVX2_FN static int64_t ucs1_avx2(const uint8_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        wc_prefetch(p, i, n);
        V256 v0 = LOAD(p + i), v1 = LOAD(p + i + 32);
        V256 w0 = ASCII_WS(8, v0), w1 = ASCII_WS(8, v1);
        if (!_mm256_testz_si256(OR(v0, v1), SET8(0x80))) {
            w0 = OR(w0, OR(EQ(8, v0, 0x85), EQ(8, v0, 0xA0)));
            w1 = OR(w1, OR(EQ(8, v1, 0x85), EQ(8, v1, 0xA0)));
        }
        uint64_t ws = (uint32_t)_mm256_movemask_epi8(w0) |
                      (uint64_t)(uint32_t)_mm256_movemask_epi8(w1) << 32;
        words += wc_starts64(~ws, &prev_ns);
    }
    return words + tail_uint8_t(p, i, n, prev_ns);
}

/* Whitespace among the 32 UCS-2 units at q as a 32-bit mask; `wide`: some unit is >= 0x80. */
AVX2_FN static inline uint32_t ws_ucs2_32(const uint16_t *q, int wide)
{
    V256 a = LOAD(q), b = LOAD(q + 16);
    V256 wa = ASCII_WS(16, a), wb = ASCII_WS(16, b);
    if (wide) {
        wa = OR(wa, WIDE_WS(16, a));
        wb = OR(wb, WIDE_WS(16, b));
    }
    /* 16-bit flags packed to bytes (lanes interleaved by the pack, put back in order) */
    return (uint32_t)_mm256_movemask_epi8(
        _mm256_permute4x64_epi64(_mm256_packs_epi16(wa, wb), 0xD8));
}

AVX2_FN static int64_t ucs2_avx2(const uint16_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const uint16_t *q = p + i;
        wc_prefetch_units(p, i, n, 2, 2);
        V256 all = OR(OR(LOAD(q), LOAD(q + 16)), OR(LOAD(q + 32), LOAD(q + 48)));
        int wide = !_mm256_testz_si256(all, SET16(0xFF80));
        uint64_t ws = ws_ucs2_32(q, wide) | (uint64_t)ws_ucs2_32(q + 32, wide) << 32;
        words += wc_starts64(~ws, &prev_ns);
    }
    return words + tail_uint16_t(p, i, n, prev_ns);
}

/* Whitespace among the 8 UCS-4 units at q as an 8-bit mask. */
AVX2_FN static inline uint64_t ws_ucs4_8(const uint32_t *q, int wide)
{
    V256 v = LOAD(q);
    V256 w = ASCII_WS(32, v);
    if (wide)
        w = OR(w, WIDE_WS(32, v));
    return (uint8_t)_mm256_movemask_ps(_mm256_castsi256_ps(w));
}

AVX2_FN static int64_t ucs4_avx2(const uint32_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const uint32_t *q = p + i;
        wc_prefetch_units(p, i, n, 4, 4);
        V256 all = OR(OR(OR(LOAD(q), LOAD(q + 8)), OR(LOAD(q + 16), LOAD(q + 24))),
                      OR(OR(LOAD(q + 32), LOAD(q + 40)), OR(LOAD(q + 48), LOAD(q + 56))));
        int wide = !_mm256_testz_si256(all, SET32(0xFFFFFF80));
        uint64_t ws = ws_ucs4_8(q, wide) | ws_ucs4_8(q + 8, wide) << 8 |
                      ws_ucs4_8(q + 16, wide) << 16 | ws_ucs4_8(q + 24, wide) << 24 |
                      ws_ucs4_8(q + 32, wide) << 32 | ws_ucs4_8(q + 40, wide) << 40 |
                      ws_ucs4_8(q + 48, wide) << 48 | ws_ucs4_8(q + 56, wide) << 56;
        words += wc_starts64(~ws, &prev_ns);
    }
    return words + tail_uint32_t(p, i, n, prev_ns);
}
#endif /* WC_X86 */

int64_t wc_count_ucs(const void *p, int kind, size_t n, wc_isa isa)
{
#ifdef WC_X86
    if (isa == WC_AVX512)
        return wc_ucs_avx512(p, kind, n);
    if (isa == WC_AVX2) {
        if (kind == 1)
            return ucs1_avx2((const uint8_t *)p, n);
        if (kind == 2)
            return ucs2_avx2((const uint16_t *)p, n);
        return ucs4_avx2((const uint32_t *)p, n);
    }
#endif
    (void)isa;
    if (kind == 1)
        return tail_uint8_t((const uint8_t *)p, 0, n, 0);
    if (kind == 2)
        return tail_uint16_t((const uint16_t *)p, 0, n, 0);
    return tail_uint32_t((const uint32_t *)p, 0, n, 0);
}
