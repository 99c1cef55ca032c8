/* Counting words in a str's own storage with AVX-512 (F, BW): 64 code points a block, whatever
 * their width (one register of latin-1, two of UCS-2, four of UCS-4), whitespace as one 64-bit
 * mask. ASCII whitespace by two range compares; the others (U+0085, U+00A0, U+1680,
 * U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000) only in registers holding a unit in
 * U+0085-00A0 or U+1680-3000 (two range compares say), by one compare each. The last, partial
 * block is a masked load: nothing past the storage is read. */
#include "count.h"

#ifdef WC_X86
#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,popcnt")))
typedef __m512i V;

/* x in [lo, lo + span], unsigned, as a mask: (x - lo) <= span. */
#define IN(bits, x, lo, span)                                                                 \
    _mm512_cmple_epu##bits##_mask(_mm512_sub_epi##bits(x, _mm512_set1_epi##bits(lo)),         \
                                  _mm512_set1_epi##bits(span))
#define EQ(bits, x, c) _mm512_cmpeq_epi##bits##_mask(x, _mm512_set1_epi##bits(c))

#define WIDE(bits, v)                                                                          \
    (EQ(bits, v, 0x85) | EQ(bits, v, 0xA0) | EQ(bits, v, 0x1680) | IN(bits, v, 0x2000, 0xA) |   \
     IN(bits, v, 0x2028, 1) | EQ(bits, v, 0x202F) | EQ(bits, v, 0x205F) | EQ(bits, v, 0x3000))
#define MAYBE_WIDE(bits, v) (IN(bits, v, 0x85, 0xA0 - 0x85) | IN(bits, v, 0x1680, 0x3000 - 0x1680))
#define WS(bits, v)                                                                            \
    (IN(bits, v, 0x09, 4) | IN(bits, v, 0x1C, 4) | (MAYBE_WIDE(bits, v) ? WIDE(bits, v) : 0))

AVX512_FN static int64_t ucs1(const uint8_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    for (size_t i = 0; i < n; i += 64) {
        uint64_t valid = n - i >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << (n - i)) - 1;
        V v = _mm512_maskz_loadu_epi8(valid, p + i);
        uint64_t ws = IN(8, v, 0x09, 4) | IN(8, v, 0x1C, 4);
        if (_mm512_movepi8_mask(v))
            ws |= EQ(8, v, 0x85) | EQ(8, v, 0xA0);
        words += wc_starts64(~ws & valid, &prev_ns);
    }
    return words;
}

AVX512_FN static int64_t ucs2(const uint16_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    for (size_t i = 0; i < n; i += 64) {
        size_t left = n - i;
        uint64_t valid = left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1;
        V a = _mm512_maskz_loadu_epi16((__mmask32)valid, p + i);
        V b = _mm512_maskz_loadu_epi16((__mmask32)(valid >> 32), p + i + 32);
        uint64_t ws = (uint64_t)(uint32_t)WS(16, a) | (uint64_t)(uint32_t)WS(16, b) << 32;
        words += wc_starts64(~ws & valid, &prev_ns);
    }
    return words;
}

AVX512_FN static int64_t ucs4(const uint32_t *p, size_t n)
{
    int64_t words = 0;
    uint64_t prev_ns = 0;
    for (size_t i = 0; i < n; i += 64) {
        size_t left = n - i;
        uint64_t valid = left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1;
        uint64_t ws = 0;
        for (int k = 0; k < 4; k++) {
            V v = _mm512_maskz_loadu_epi32((__mmask16)(valid >> (16 * k)), p + i + 16 * k);
            ws |= (uint64_t)(uint16_t)WS(32, v) << (16 * k);
        }
        words += wc_starts64(~ws & valid, &prev_ns);
    }
    return words;
}

int64_t wc_ucs_avx512(const void *p, int kind, size_t n)
{
    if (kind == 1)
        return ucs1((const uint8_t *)p, n);
    if (kind == 2)
        return ucs2((const uint16_t *)p, n);
    return ucs4((const uint32_t *)p, n);
}
#else
int64_t wc_ucs_avx512(const void *p, int kind, size_t n)
{
    return wc_count_ucs(p, kind, n, WC_SCALAR);
}
#endif
