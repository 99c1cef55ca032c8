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

/* 32 whitespace flags of 16-bit lanes as a 32-bit mask. */
AVX2_FN static inline uint32_t mask16(V256 a, V256 b)
{
    return (uint32_t)_mm256_movemask_epi8(_mm256_permute4x64_epi64(_mm256_packs_epi16(a, b), 0xD8));
}

AVX2_FN static int64_t ucs2_avx2(const uint16_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        V256 v[4], w[4];
        for (int k = 0; k < 4; k++)
            v[k] = LOAD(p + i + 16 * k);
        V256 all = OR(OR(v[0], v[1]), OR(v[2], v[3]));
        int wide = !_mm256_testz_si256(all, SET16(0xFF80));
        for (int k = 0; k < 4; k++) {
            w[k] = ASCII_WS(16, v[k]);
            if (wide)
                w[k] = OR(w[k], WIDE_WS(16, v[k]));
        }
        uint64_t ws = mask16(w[0], w[1]) | (uint64_t)mask16(w[2], w[3]) << 32;
        words += wc_starts64(~ws, &prev_ns);
    }
    return words + tail_uint16_t(p, i, n, prev_ns);
}

AVX2_FN static int64_t ucs4_avx2(const uint32_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        V256 v[8];
        V256 all = _mm256_setzero_si256();
        for (int k = 0; k < 8; k++) {
            v[k] = LOAD(p + i + 8 * k);
            all = OR(all, v[k]);
        }
        int wide = !_mm256_testz_si256(all, SET32(0xFFFFFF80));
        uint64_t ws = 0;
        for (int k = 0; k < 8; k++) {
            V256 w = ASCII_WS(32, v[k]);
            if (wide)
                w = OR(w, WIDE_WS(32, v[k]));
            ws |= (uint64_t)(uint8_t)_mm256_movemask_ps(_mm256_castsi256_ps(w)) << (8 * k);
        }
        words += wc_starts64(~ws, &prev_ns);
    }
    return words + tail_uint32_t(p, i, n, prev_ns);
}
#endif /* WC_X86 */

int64_t wc_count_ucs(const void *p, int kind, size_t n, wc_isa isa)
{
#ifdef WC_X86
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
