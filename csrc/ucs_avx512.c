/* Counting words in a str's own storage with AVX-512 (F, BW): 64 code points a block, whatever
 * their width (one register of latin-1, two of UCS-2, four of UCS-4), whitespace as one 64-bit
 * mask. ASCII whitespace by two range compares; the others (U+0085, U+00A0, U+1680,
 * U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000) by one compare each (a range compare
 * for U+2000-200A, U+2028-2029). The last, partial
 * block is a masked load: nothing past the storage is read (masked loads of every block read
 * memory several times slower than plain loads here). */
#include "count.h"

#ifdef WC_X86
#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,popcnt")))
typedef __m512i V;

/* Hides a constant's value from the compiler, which would otherwise build it anew (two
 * instructions) inside the loop rather than keep it in a register. */
#define KEEP(x) __asm__("" : "+v"(x))

/* The constants of the compares, one register each, for 16- or 32-bit units. */
typedef struct {
    V m09, m1c, four, m85, span85, m1680, span1680, x85, xa0, x1680, m2000, ten, m2028, one,
        x202f, x205f, x3000;
} ws_consts;

#define WS_CONSTS(bits, c)                                                                     \
    do {                                                                                       \
        c.m09 = _mm512_set1_epi##bits(-0x09), c.m1c = _mm512_set1_epi##bits(-0x1C);            \
        c.four = _mm512_set1_epi##bits(4), c.m85 = _mm512_set1_epi##bits(-0x85);               \
        c.span85 = _mm512_set1_epi##bits(0xA0 - 0x85), c.m1680 = _mm512_set1_epi##bits(-0x1680); \
        c.span1680 = _mm512_set1_epi##bits(0x3000 - 0x1680);                                   \
        c.x85 = _mm512_set1_epi##bits(0x85), c.xa0 = _mm512_set1_epi##bits(0xA0);              \
        c.x1680 = _mm512_set1_epi##bits(0x1680), c.m2000 = _mm512_set1_epi##bits(-0x2000);     \
        c.ten = _mm512_set1_epi##bits(0xA), c.m2028 = _mm512_set1_epi##bits(-0x2028);          \
        c.one = _mm512_set1_epi##bits(1), c.x202f = _mm512_set1_epi##bits(0x202F);             \
        c.x205f = _mm512_set1_epi##bits(0x205F), c.x3000 = _mm512_set1_epi##bits(0x3000);      \
        KEEP(c.m09); KEEP(c.m1c); KEEP(c.four); KEEP(c.m85); KEEP(c.span85); KEEP(c.m1680);     \
        KEEP(c.span1680); KEEP(c.x85); KEEP(c.xa0); KEEP(c.x1680); KEEP(c.m2000);              \
        KEEP(c.ten); KEEP(c.m2028); KEEP(c.one); KEEP(c.x202f); KEEP(c.x205f); KEEP(c.x3000);  \
    } while (0)

/* x + m <= span (unsigned): x in [-m, -m + span]. */
#define IN(bits, x, m, span) \
    _mm512_cmple_epu##bits##_mask(_mm512_add_epi##bits(x, m), span)
#define EQ(bits, x, c) _mm512_cmpeq_epi##bits##_mask(x, c)

/* Whitespace among the units of v as a mask, every compare done: a branch on whether a register
 * holds a unit near the non-ASCII whitespace mispredicts block after block in mixed text. */
#define WS(bits, v, c)                                                                         \
    (IN(bits, v, c.m09, c.four) | IN(bits, v, c.m1c, c.four) | EQ(bits, v, c.x85) |           \
     EQ(bits, v, c.xa0) | EQ(bits, v, c.x1680) | IN(bits, v, c.m2000, c.ten) |                 \
     IN(bits, v, c.m2028, c.one) | EQ(bits, v, c.x202f) | EQ(bits, v, c.x205f) |               \
     EQ(bits, v, c.x3000))

AVX512_FN static int64_t ucs1(const uint8_t *p, size_t n)
{
    V m09 = _mm512_set1_epi8(-0x09), m1c = _mm512_set1_epi8(-0x1C), four = _mm512_set1_epi8(4);
    V x85 = _mm512_set1_epi8((char)0x85), xa0 = _mm512_set1_epi8((char)0xA0);
    KEEP(m09); KEEP(m1c); KEEP(four); KEEP(x85); KEEP(xa0);
    int64_t words = 0;
    uint64_t prev_ns = 0;
    for (size_t i = 0; i < n; i += 64) {
        wc_prefetch(p, i, n);
        uint64_t valid = n - i >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << (n - i)) - 1;
        V v = n - i >= 64 ? _mm512_loadu_si512((const void *)(p + i))
                          : _mm512_maskz_loadu_epi8(valid, p + i);
        uint64_t ws = IN(8, v, m09, four) | IN(8, v, m1c, four);
        if (_mm512_movepi8_mask(v))
            ws |= EQ(8, v, x85) | EQ(8, v, xa0);
        words += wc_starts64(~ws & valid, &prev_ns);
    }
    return words;
}

AVX512_FN static int64_t ucs2(const uint16_t *p, size_t n)
{
    ws_consts c;
    WS_CONSTS(16, c);
    int64_t words = 0;
    uint64_t prev_ns = 0;
    for (size_t i = 0; i < n; i += 64) {
        wc_prefetch_units(p, i, n, 2, 2);
        size_t left = n - i;
        uint64_t valid = left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1;
        V a, b;
        if (left >= 64) {
            a = _mm512_loadu_si512((const void *)(p + i));
            b = _mm512_loadu_si512((const void *)(p + i + 32));
        } else {
            a = _mm512_maskz_loadu_epi16((__mmask32)valid, p + i);
            b = _mm512_maskz_loadu_epi16((__mmask32)(valid >> 32), p + i + 32);
        }
        uint64_t ws = (uint64_t)(uint32_t)WS(16, a, c) | (uint64_t)(uint32_t)WS(16, b, c) << 32;
        words += wc_starts64(~ws & valid, &prev_ns);
    }
    return words;
}

AVX512_FN static int64_t ucs4(const uint32_t *p, size_t n)
{
    ws_consts c;
    WS_CONSTS(32, c);
    int64_t words = 0;
    uint64_t prev_ns = 0;
    for (size_t i = 0; i < n; i += 64) {
        wc_prefetch_units(p, i, n, 4, 4);
        size_t left = n - i;
        uint64_t valid = left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1;
        uint64_t ws = 0;
        for (int k = 0; k < 4; k++) {
            V v = left >= 64 ? _mm512_loadu_si512((const void *)(p + i + 16 * k))
                             : _mm512_maskz_loadu_epi32((__mmask16)(valid >> (16 * k)),
                                                        p + i + 16 * k);
            ws |= (uint64_t)(uint16_t)WS(32, v, c) << (16 * k);
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
