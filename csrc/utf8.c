/* Counting words in UTF-8 bytes, validating them on the way.
 *
 * AVX2: 64-byte blocks. An ASCII block (no high bit set, one test) is classified by two range
 * compares. Any other block is validated with the lookup-table algorithm of Keiser and Lemire
 * ("Validating UTF-8 in less than one instruction per byte", 2021; simdjson, simdutf), and its
 * multi-byte whitespace is found by comparing each byte with the next two: U+0085 and U+00A0
 * start with C2, all the others with E1, E2 or E3, none takes four bytes. A whitespace
 * character's bytes all count as whitespace, so a word starts where a non-whitespace byte follows
 * a whitespace one (one shift, and-not and popcount per block); a character straddling two blocks
 * carries its whitespace bits and its pending validation into the next.
 * SSE2 and plain C: ASCII blocks the same way, other blocks one character at a time. AVX-512:
 * utf8_avx512.c.
 * When a block is found invalid, the characters from that block on are decoded one by one to
 * name the first bad byte and the reason exactly as bytes.decode does. */
#include <string.h>

#include "count.h"

#ifdef WC_X86
#include <immintrin.h>
#endif

static const char R_START[] = "invalid start byte";
static const char R_CONT[] = "invalid continuation byte";
static const char R_END[] = "unexpected end of data";

/* The character at p[i] (i < n): its length, or 0 with *reason set, as CPython's decoder judges
 * it (it checks the bytes in order, so a bad second byte beats a missing third). */
static inline size_t decode(const uint8_t *p, size_t n, size_t i, uint32_t *cp, const char **why)
{
    uint8_t b = p[i], lo = 0x80, hi = 0xBF;
    size_t len;
    uint32_t c;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b < 0xC2) {
        *why = R_START;
        return 0;
    } else if (b < 0xE0) {
        len = 2;
        c = b & 0x1F;
    } else if (b < 0xF0) {
        len = 3;
        c = b & 0x0F;
        lo = b == 0xE0 ? 0xA0 : 0x80;  /* overlong */
        hi = b == 0xED ? 0x9F : 0xBF;  /* surrogates */
    } else if (b < 0xF5) {
        len = 4;
        c = b & 0x07;
        lo = b == 0xF0 ? 0x90 : 0x80;  /* overlong */
        hi = b == 0xF4 ? 0x8F : 0xBF;  /* past U+10FFFF */
    } else {
        *why = R_START;
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if (i + k >= n) {
            *why = R_END;
            return 0;
        }
        uint8_t t = p[i + k];
        if (t < lo || t > hi) {
            *why = R_CONT;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
        c = (c << 6) | (t & 0x3F);
    }
    *cp = c;
    return len;
}

/* Characters from p[*pi] until *pi >= stop (a character may end past stop, never past n).
 * Returns 0, or -1 with the error in r. */
static int scalar_run(const uint8_t *p, size_t n, size_t *pi, size_t stop, uint64_t *prev_ns,
                      int64_t *words, wc_result *r)
{
    size_t i = *pi;
    uint64_t ns_before = *prev_ns;
    int64_t w = 0;
    while (i < stop) {
        uint32_t cp;
        const char *why = NULL;
        size_t len = decode(p, n, i, &cp, &why);
        if (!len) {
            r->err_offset = (int64_t)i;
            r->reason = why;
            return -1;
        }
        uint64_t ns = !wc_is_space(cp);
        w += ns & !ns_before;
        ns_before = ns;
        i += len;
    }
    *pi = i;
    *prev_ns = ns_before;
    *words += w;
    return 0;
}

/* Count p[0:n] one character at a time, with ASCII blocks of 64 bytes taken whole by `block`
 * (which returns 0 for a block holding a non-ASCII byte, else 1 and its non-space mask). */
static inline void hybrid(const uint8_t *p, size_t n, int (*block)(const uint8_t *, uint64_t *),
                          wc_result *r)
{
    size_t i = 0;
    int64_t words = 0;
    uint64_t prev_ns = 0, ns;
    while (i < n) {
        wc_prefetch(p, i, n);
        if (n - i >= 64 && block(p + i, &ns)) {
            words += wc_starts64(ns, &prev_ns);
            i += 64;
            continue;
        }
        if (scalar_run(p, n, &i, n - i > 64 ? i + 64 : n, &prev_ns, &words, r))
            return;
    }
    r->words = words;
    r->err_offset = -1;
    r->reason = NULL;
}

static const uint8_t ASCII_NOT_SPACE[128] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int ascii_block_scalar(const uint8_t *p, uint64_t *ns)
{
    uint64_t acc = 0, w, m = 0;
    for (int k = 0; k < 8; k++) {
        memcpy(&w, p + 8 * k, 8);
        acc |= w;
    }
    if (acc & 0x8080808080808080ULL)
        return 0;
    for (int k = 0; k < 64; k++)
        m |= (uint64_t)ASCII_NOT_SPACE[p[k]] << k;
    *ns = m;
    return 1;
}

/* Exactly bytes.decode's verdict for a text that a block check found invalid at or before
 * byte `pos`: the first error at or after the start of the character holding `pos`. */
void wc_utf8_locate_error(const uint8_t *p, size_t n, size_t pos, wc_result *r)
{
    size_t from = pos;
    for (size_t k = 1; k <= 3 && k <= pos; k++) {
        uint8_t b = p[pos - k];
        if (b < 0x80)
            break;
        if (b >= 0xC0) {
            size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            if (len > k)
                from = pos - k;
            break;
        }
    }
    uint64_t prev_ns = 0;
    int64_t words = 0;
    if (scalar_run(p, n, &from, n, &prev_ns, &words, r) == 0)
        hybrid(p, n, ascii_block_scalar, r); /* the block check erred: trust the exact path */
}

#ifdef WC_X86
#define SSE2_FN __attribute__((target("sse2")))

/* Bytes 09-0D and 1C-20: x + (0x80 - lo) lands in [-128, -128 + 4] exactly for x in [lo, lo+4]. */
SSE2_FN static inline __m128i ascii_ws_sse2(__m128i v)
{
    __m128i lim = _mm_set1_epi8(-123);
    return _mm_or_si128(_mm_cmpgt_epi8(lim, _mm_add_epi8(v, _mm_set1_epi8(0x77))),
                        _mm_cmpgt_epi8(lim, _mm_add_epi8(v, _mm_set1_epi8(0x64))));
}

SSE2_FN static int ascii_block_sse2(const uint8_t *p, uint64_t *ns)
{
    __m128i v0 = _mm_loadu_si128((const __m128i *)p);
    __m128i v1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i v2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i v3 = _mm_loadu_si128((const __m128i *)(p + 48));
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3))))
        return 0;
    uint64_t ws = (uint64_t)(uint16_t)_mm_movemask_epi8(ascii_ws_sse2(v0)) |
                  (uint64_t)(uint16_t)_mm_movemask_epi8(ascii_ws_sse2(v1)) << 16 |
                  (uint64_t)(uint16_t)_mm_movemask_epi8(ascii_ws_sse2(v2)) << 32 |
                  (uint64_t)(uint16_t)_mm_movemask_epi8(ascii_ws_sse2(v3)) << 48;
    *ns = ~ws;
    return 1;
}

SSE2_FN static void utf8_sse2(const uint8_t *p, size_t n, wc_result *r)
{
    hybrid(p, n, ascii_block_sse2, r);
}

#define AVX2_FN __attribute__((target("avx2,popcnt")))
#define V256 __m256i
/* Every byte value repeated 32 times: GCC builds an _mm256_set1_epi8 constant anew in each block
 * (three instructions each, 75 a block here), while this is one load, often folded into the
 * instruction using it. Filled in when the library is loaded, before any count (a const table
 * would be folded back into the same constants). */
static uint8_t bcast8[256][32] __attribute__((aligned(32)));

__attribute__((constructor)) static void fill_bcast8(void)
{
    for (int c = 0; c < 256; c++)
        memset(bcast8[c], c, sizeof bcast8[c]);
}
#define SET8(c) _mm256_load_si256((const __m256i *)bcast8[(uint8_t)(c)])
#define EQ8(x, c) _mm256_cmpeq_epi8((x), SET8(c))
#define AND _mm256_and_si256
#define OR _mm256_or_si256
#define LOAD(q) _mm256_loadu_si256((const __m256i *)(q))

AVX2_FN static inline uint32_t ascii_ws32(V256 v)
{
    V256 lim = SET8(-123);
    V256 a = _mm256_cmpgt_epi8(lim, _mm256_add_epi8(v, SET8(0x77)));
    V256 b = _mm256_cmpgt_epi8(lim, _mm256_add_epi8(v, SET8(0x64)));
    return (uint32_t)_mm256_movemask_epi8(OR(a, b));
}

/* Keiser-Lemire: error bits for the 32 bytes `in`, given the same bytes shifted by 1, 2, 3. */
enum {
    TOO_SHORT = 1 << 0, TOO_LONG = 1 << 1, OVERLONG_3 = 1 << 2, TOO_LARGE = 1 << 3,
    SURROGATE = 1 << 4, OVERLONG_2 = 1 << 5, TOO_LARGE_1000 = 1 << 6, OVERLONG_4 = 1 << 6,
    TWO_CONTS = 1 << 7, CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
};
#define TABLE16(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)
#define HIGH_NIBBLE(x) AND(_mm256_srli_epi16((x), 4), SET8(0x0F))

AVX2_FN static inline V256 utf8_errors(V256 in, V256 prev1, V256 prev2, V256 prev3)
{
    const V256 byte_1_high = TABLE16(
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS, TOO_SHORT | OVERLONG_2, TOO_SHORT,
        TOO_SHORT | OVERLONG_3 | SURROGATE, TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);
    const V256 byte_1_low = TABLE16(
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
        CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000);
    const V256 byte_2_high = TABLE16(
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT);
    V256 special = AND(AND(_mm256_shuffle_epi8(byte_1_high, HIGH_NIBBLE(prev1)),
                           _mm256_shuffle_epi8(byte_1_low, AND(prev1, SET8(0x0F)))),
                       _mm256_shuffle_epi8(byte_2_high, HIGH_NIBBLE(in)));
    /* a third or fourth byte of a character must be a continuation (and is not checked above) */
    V256 must23 = OR(_mm256_subs_epu8(prev2, SET8(0xE0 - 0x80)),
                     _mm256_subs_epu8(prev3, SET8(0xF0 - 0x80)));
    return _mm256_xor_si256(AND(must23, SET8(0x80)), special);
}

/* Leads of multi-byte whitespace among the 32 bytes at q (reads q[0:34]): 2-byte in *l2,
 * 3-byte in *l3. */
AVX2_FN static inline void space_leads32(const uint8_t *q, uint32_t *l2, uint32_t *l3)
{
    V256 v = LOAD(q), n1 = LOAD(q + 1), n2 = LOAD(q + 2);
    V256 two = AND(EQ8(v, 0xC2), OR(EQ8(n1, 0x85), EQ8(n1, 0xA0)));
    /* E2 80 80-8A (n2 <= 0x8A as a signed byte), A8, A9, AF; E2 81 9F; E1 9A 80; E3 80 80 */
    V256 third = OR(_mm256_cmpgt_epi8(SET8(-117), n2),
                    OR(OR(EQ8(n2, 0xA8), EQ8(n2, 0xA9)), EQ8(n2, 0xAF)));
    V256 e2 = AND(EQ8(v, 0xE2), OR(AND(EQ8(n1, 0x80), third), AND(EQ8(n1, 0x81), EQ8(n2, 0x9F))));
    V256 e1 = AND(AND(EQ8(v, 0xE1), EQ8(n1, 0x9A)), EQ8(n2, 0x80));
    V256 e3 = AND(AND(EQ8(v, 0xE3), EQ8(n1, 0x80)), EQ8(n2, 0x80));
    *l2 = (uint32_t)_mm256_movemask_epi8(two);
    *l3 = (uint32_t)_mm256_movemask_epi8(OR(e2, OR(e1, e3)));
}

/* Bytes C2 or E1-E3: could start multi-byte whitespace. */
AVX2_FN static inline int may_lead_space(V256 v0, V256 v1)
{
    V256 lim = SET8(-125); /* E1-E3 + 0x9F land in [-128, -126] */
    V256 c0 = OR(EQ8(v0, 0xC2), _mm256_cmpgt_epi8(lim, _mm256_add_epi8(v0, SET8(0x9F))));
    V256 c1 = OR(EQ8(v1, 0xC2), _mm256_cmpgt_epi8(lim, _mm256_add_epi8(v1, SET8(0x9F))));
    return !_mm256_testz_si256(OR(c0, c1), OR(c0, c1));
}

/* State carried from one 64-byte block to the next. */
typedef struct {
    int64_t words;
    uint64_t prev_ns;  /* the byte before the block was not whitespace */
    uint64_t carry_ws; /* whitespace bytes of a character begun in the previous block */
    int incomplete;    /* the previous block may end inside a character */
} avx2_state;

/* One block: q[-3:66] readable, `valid` (1-64) bytes of it in the text. 1 if it was ASCII, 0 if
 * not, -1 if invalid. */
AVX2_FN static inline __attribute__((always_inline)) int avx2_block(const uint8_t *q, size_t valid, avx2_state *s)
{
    V256 v0 = LOAD(q), v1 = LOAD(q + 32);
    uint64_t ws = ascii_ws32(v0) | (uint64_t)ascii_ws32(v1) << 32;
    int ascii = 0;
    if (_mm256_testz_si256(OR(v0, v1), SET8(0x80))) {
        if (s->incomplete)
            return -1;
        ascii = 1;
        ws |= s->carry_ws;
        s->carry_ws = 0;
    } else {
        V256 err = OR(utf8_errors(v0, LOAD(q - 1), LOAD(q - 2), LOAD(q - 3)),
                      utf8_errors(v1, LOAD(q + 31), LOAD(q + 30), LOAD(q + 29)));
        if (!_mm256_testz_si256(err, err))
            return -1;
        s->incomplete = (q[63] >= 0xC0) | (q[62] >= 0xE0) | (q[61] >= 0xF0); /* no branch */
        uint64_t m2 = 0, m3 = 0;
        if (may_lead_space(v0, v1)) {
            uint32_t a2, a3, b2, b3;
            space_leads32(q, &a2, &a3);
            space_leads32(q + 32, &b2, &b3);
            m2 = a2 | (uint64_t)b2 << 32;
            m3 = a3 | (uint64_t)b3 << 32;
        }
        ws |= m2 | m2 << 1 | m3 | m3 << 1 | m3 << 2 | s->carry_ws;
        s->carry_ws = m2 >> 63 | m3 >> 63 | m3 >> 62;
    }
    uint64_t ns = ~ws;
    if (valid < 64)
        ns &= (UINT64_C(1) << valid) - 1;
    s->words += wc_starts64(ns, &s->prev_ns);
    return ascii;
}

/* Whole ASCII blocks from p[i] on, as long as they come: the index of the first block that is
 * not (or the end). Only blocks that follow a complete character may start here. */
AVX2_FN static inline size_t ascii_run(const uint8_t *p, size_t n, size_t i, avx2_state *s)
{
    const V256 high = SET8(0x80), lim = SET8(-123), to09 = SET8(0x77), to1c = SET8(0x64);
    int64_t words = 0;
    uint64_t prev_ns = s->prev_ns;
    for (; n - i >= 64; i += 64) {
        wc_prefetch(p, i, n);
        V256 v0 = LOAD(p + i), v1 = LOAD(p + i + 32);
        if (!_mm256_testz_si256(OR(v0, v1), high))
            break;
        V256 w0 = OR(_mm256_cmpgt_epi8(lim, _mm256_add_epi8(v0, to09)),
                     _mm256_cmpgt_epi8(lim, _mm256_add_epi8(v0, to1c)));
        V256 w1 = OR(_mm256_cmpgt_epi8(lim, _mm256_add_epi8(v1, to09)),
                     _mm256_cmpgt_epi8(lim, _mm256_add_epi8(v1, to1c)));
        uint64_t ns = ~((uint32_t)_mm256_movemask_epi8(w0) |
                        (uint64_t)(uint32_t)_mm256_movemask_epi8(w1) << 32);
        words += wc_starts64(ns, &prev_ns);
    }
    s->words += words;
    s->prev_ns = prev_ns;
    return i;
}

AVX2_FN static void utf8_avx2(const uint8_t *p, size_t n, wc_result *r)
{
    avx2_state s = {0, 0, 0, 0};
    uint8_t pad[3 + 64 + 8];
    size_t i = 0;
    int ascii = 0;
    for (; i < n; i += 64) {
        if (ascii)
            i = ascii_run(p, n, i, &s); /* the hot loop of mostly-ASCII text */
        if (i >= n)
            break;
        const uint8_t *q = p + i;
        size_t valid = 64;
        wc_prefetch(p, i, n);
        if (__builtin_expect(i < 3 || n - i < 66, 0)) {
            /* first and last blocks: a zeroed copy, so no byte outside p[0:n] is read */
            size_t lo = i < 3 ? 0 : i - 3, hi = n - i < 66 ? n : i + 66;
            memset(pad, 0, sizeof pad);
            memcpy(pad + 3 - (i - lo), p + lo, hi - lo);
            q = pad + 3;
            valid = n - i < 64 ? n - i : 64;
        }
        ascii = avx2_block(q, valid, &s);
        if (ascii < 0)
            break;
    }
    if (i < n || s.incomplete) {
        wc_utf8_locate_error(p, n, i < n ? i : n, r);
        return;
    }
    r->words = s.words;
    r->err_offset = -1;
    r->reason = NULL;
}
#endif /* WC_X86 */

void wc_count_utf8(const uint8_t *p, size_t n, wc_isa isa, wc_result *r)
{
#ifdef WC_X86
    if (isa == WC_AVX512) {
        wc_utf8_avx512(p, n, r);
        return;
    }
    if (isa == WC_AVX2) {
        utf8_avx2(p, n, r);
        return;
    }
    if (isa == WC_SSE2) {
        utf8_sse2(p, n, r);
        return;
    }
#endif
    (void)isa;
    hybrid(p, n, ascii_block_scalar, r);
}

int wc_isa_supported(wc_isa isa)
{
    if (isa == WC_SCALAR)
        return 1;
#ifdef WC_X86
    if (isa == WC_SSE2)
        return 1; /* part of x86-64 */
    if (isa == WC_AVX2) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    }
    if (isa == WC_AVX512) {
        __builtin_cpu_init();
        return wc_isa_supported(WC_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi") &&
               __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    }
#endif
    return 0;
}

wc_isa wc_best_isa(void)
{
    int isa = WC_ISA_COUNT - 1;
    while (isa > WC_SCALAR && !wc_isa_supported((wc_isa)isa))
        isa--;
    return (wc_isa)isa;
}

const char *wc_isa_name(wc_isa isa)
{
    static const char *names[WC_ISA_COUNT] = {"scalar", "sse2", "avx2", "avx512"};
    return names[isa];
}
