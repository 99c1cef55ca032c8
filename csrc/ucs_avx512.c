/* Counting words in a str's own storage with AVX-512 (F, BW): 64 code points a block, whatever
 * their width (one register of latin-1, two of UCS-2, four of UCS-4), whitespace as one 64-bit
 * mask, then the same shift, and-not and popcount as for bytes.
 *
 * Latin-1: ASCII whitespace by two range compares, U+0085 and U+00A0 by one each. UCS-2 and
 * UCS-4: every one of the 29 whitespace code points (all below U+10000) has a slot of its own
 * under slot(x) = (x * 1045 mod 2^16) >> 10 (a perfect hash into 64 slots, found by search), so a
 * unit is whitespace exactly when a 64-entry table (vpermi2w) holds it at its slot: a multiply,
 * a shift, a lookup and a compare for 32 units, where a compare for each whitespace range took
 * ten (and ran at 6 GB/s here, not at memory speed). UCS-4 units are first narrowed to 16 bits
 * with unsigned saturation (vpackusdw; above U+FFFF becomes FFFF, which is not whitespace), then
 * put back in order. The last, partial block is a masked load: nothing past the storage is read
 * (masked loads of every block read memory several times slower than plain loads here). */
#include "count.h"

#ifdef WC_X86
#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,popcnt")))
typedef __m512i V;

/* Hides a constant's value from the compiler, which would otherwise build it anew (two
 * instructions) inside the loop rather than keep it in a register. */
#define KEEP(x) __asm__("" : "+v"(x))

/* x + m <= span (unsigned): x in [-m, -m + span]. */
#define IN(bits, x, m, span) \
    _mm512_cmple_epu##bits##_mask(_mm512_add_epi##bits(x, m), span)
#define EQ(bits, x, c) _mm512_cmpeq_epi##bits##_mask(x, c)

enum { HASH_K = 1045, HASH_SHIFT = 10 };

static inline unsigned slot_of(uint32_t x)
{
    return ((x * HASH_K) & 0xFFFF) >> HASH_SHIFT;
}

/* The hash's table: each whitespace code point at its slot; an empty slot holds a value whose
 * own slot is another, so no unit can match it. */
typedef struct {
    V lo, hi, k, filler;
} hash_table;

AVX512_FN static inline void make_table(hash_table *t)
{
    uint16_t entries[64];
    for (unsigned s = 0; s < 64; s++) {
        uint32_t v = 0xFFFF;
        while (slot_of(v) == s)
            v--;
        entries[s] = (uint16_t)v;
    }
    /* every whitespace code point lies in one of these (wc_is_space says which) */
    static const uint32_t spans[][2] = {{0, 0x21}, {0x80, 0xA1}, {0x1680, 0x1681},
                                        {0x2000, 0x2060}, {0x3000, 0x3001}};
    for (size_t k = 0; k < sizeof spans / sizeof spans[0]; k++)
        for (uint32_t x = spans[k][0]; x < spans[k][1]; x++)
            if (wc_is_space(x))
                entries[slot_of(x)] = (uint16_t)x;
    t->lo = _mm512_loadu_si512(entries);
    t->hi = _mm512_loadu_si512(entries + 32);
    t->k = _mm512_set1_epi16(HASH_K);
}

/* Whitespace among 32 UCS-2 units. */
#define WS16(t, v)                                                                             \
    _mm512_cmpeq_epi16_mask(                                                                   \
        _mm512_permutex2var_epi16((t).lo, _mm512_srli_epi16(_mm512_mullo_epi16(v, (t).k),      \
                                                            HASH_SHIFT), (t).hi), v)

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
    hash_table t;
    make_table(&t);
    KEEP(t.lo); KEEP(t.hi); KEEP(t.k);
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
        uint64_t ws = (uint64_t)(uint32_t)WS16(t, a) | (uint64_t)(uint32_t)WS16(t, b) << 32;
        words += wc_starts64(~ws & valid, &prev_ns);
    }
    return words;
}

/* 32 UCS-4 units at q (the first `valid` of them in the text) as UCS-2, in order. */
AVX512_FN static inline V narrow32(const uint32_t *q, uint32_t valid, V order)
{
    V a, b;
    if (valid == 0xFFFFFFFFu) {
        a = _mm512_loadu_si512((const void *)q);
        b = _mm512_loadu_si512((const void *)(q + 16));
    } else {
        a = _mm512_maskz_loadu_epi32((__mmask16)valid, q);
        b = _mm512_maskz_loadu_epi32((__mmask16)(valid >> 16), q + 16);
    }
    /* each 128-bit lane k of the pack holds a's units 4k-4k+3, then b's */
    return _mm512_permutexvar_epi64(order, _mm512_packus_epi32(a, b));
}

AVX512_FN static int64_t ucs4(const uint32_t *p, size_t n)
{
    hash_table t;
    make_table(&t);
    V order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    KEEP(t.lo); KEEP(t.hi); KEEP(t.k); KEEP(order);
    int64_t words = 0;
    uint64_t prev_ns = 0;
    for (size_t i = 0; i < n; i += 64) {
        wc_prefetch_units(p, i, n, 4, 4);
        size_t left = n - i;
        uint64_t valid = left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1;
        V a = narrow32(p + i, (uint32_t)valid, order);
        V b = narrow32(p + i + 32, (uint32_t)(valid >> 32), order);
        uint64_t ws = (uint64_t)(uint32_t)WS16(t, a) | (uint64_t)(uint32_t)WS16(t, b) << 32;
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
