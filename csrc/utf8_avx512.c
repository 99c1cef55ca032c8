/* Counting words in UTF-8 with AVX-512 (F, BW, VBMI): one 64-byte block per register, every
 * per-byte flag a 64-bit mask.
 *
 * Each block is validated with the lookup-table algorithm of Keiser and Lemire ("Validating UTF-8
 * in less than one instruction per byte", 2021; simdjson, simdutf) on the block and the same bytes
 * loaded 1, 2 and 3 bytes earlier. Whitespace is found where each character starts, looking
 * ahead (the block loaded 1 and 2 bytes later): ASCII and every multi-byte whitespace character
 * by three 64-entry lookups (vpermb) of a byte as the first, second and third byte of a pattern
 * (U+0085 and U+00A0 are C2 85 and C2 A0; U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F and
 * U+3000 three bytes from E1, E2 or E3), AND-ed. A whitespace character's bytes all count as
 * whitespace, those past the block's end carried into the next, and a word starts at a
 * non-whitespace byte that follows a whitespace one (shift, and-not, popcount). A run of ASCII
 * blocks takes a shorter loop, two blocks at a time.
 *
 * The loop was built by measuring it (a 2-core VM, 4 GHz, non-ASCII text): a prefetch 4 KiB
 * ahead (2 -> 12 GB/s from memory: hardware prefetch alone left too few loads in flight), 64-entry
 * vpermb rather than 128-entry vpermi2b lookups and looking ahead rather than back (nothing to
 * take back from the previous block: 14 GB/s), no branch on whether a block is ASCII (mixed text:
 * 9 -> 13), and past the first 4 KiB a loop with no copies or bounds checks, two blocks a turn,
 * every block's own bytes loaded from a 64-byte boundary (16 GB/s). Nothing outside p[0:n] is
 * read (the first block, up to p's first 64-byte boundary, and the last ones are copied to a
 * zeroed buffer); an error seen in a block sends the text to the exact one-character path from
 * that block on (utf8.c), which names the first bad byte and bytes.decode's reason. */
#include <string.h>

#include "count.h"

#ifdef WC_X86
#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512bw,avx512vbmi,popcnt,bmi,bmi2")))
typedef __m512i V;

#define SET8(c) _mm512_set1_epi8((char)(c))

enum {
    TOO_SHORT = 1 << 0, TOO_LONG = 1 << 1, OVERLONG_3 = 1 << 2, TOO_LARGE = 1 << 3,
    SURROGATE = 1 << 4, OVERLONG_2 = 1 << 5, TOO_LARGE_1000 = 1 << 6, OVERLONG_4 = 1 << 6,
    TWO_CONTS = 1 << 7, CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
};

typedef struct {
    /* Keiser-Lemire's three 16-entry tables spread over 64 (vpermb): by a byte's top six bits
     * (bits 2-7, from a 16-bit shift by 2 whose top two bits vpermb ignores) or its low six */
    V byte_1_high, byte_1_low, byte_2_high, sub2, sub3, hi;
    /* the bits of a byte as the first, second and third byte of each whitespace pattern, and
     * (by its top six bits) which of them a byte may carry as the first: ASCII whitespace only
     * below 40, a pattern's first byte only from C0 up */
    V first, second, third, guard;
} consts;

/* Whitespace is found where each character starts, looking ahead: three lookups of 64 entries
 * (vpermb, by a byte's low six bits) give the bits of a byte as the first, second and third
 * byte of each pattern: C2 85|A0; E2 80 80-8A|A8|A9|AF; E2 81 9F; E1 9A 80; E3 80 80. A
 * two-byte pattern has every third byte, and ASCII whitespace (09-0D, 1C-20, in the first
 * byte's table) every second and third. */
enum {
    P_C2 = 1, P_E280 = 2, P_E281 = 4, P_E1 = 8, P_E3 = 16, P_THREE = 30, P_LEADS = 31,
    P_ASCII = 32,
};

AVX512_FN static inline void make_consts(consts *c)
{
    static const uint8_t b1h[16] = {
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS, TOO_SHORT | OVERLONG_2, TOO_SHORT,
        TOO_SHORT | OVERLONG_3 | SURROGATE, TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4};
    static const uint8_t b1l[16] = {
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
        CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000};
    static const uint8_t b2h[16] = {
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT};
    uint8_t t1h[64], t1l[64], t2h[64], guard[64];
    for (int k = 0; k < 64; k++) {
        t1h[k] = b1h[k >> 2];
        t1l[k] = b1l[k & 15];
        t2h[k] = b2h[k >> 2];
        guard[k] = k < 0x40 >> 2 ? P_ASCII : k >= 0xC0 >> 2 ? P_LEADS : 0;
    }
    c->byte_1_high = _mm512_loadu_si512(t1h);
    c->byte_1_low = _mm512_loadu_si512(t1l);
    c->byte_2_high = _mm512_loadu_si512(t2h);
    c->guard = _mm512_loadu_si512(guard);
    c->sub2 = SET8(0xE0 - 0x80);
    c->sub3 = SET8(0xF0 - 0x80);
    c->hi = SET8(0x80);
    uint8_t first[64] = {0}, second[64], third[64];
    memset(second, P_ASCII, sizeof second);
    first[0xC2 & 63] = P_C2;
    first[0xE1 & 63] = P_E1;
    first[0xE2 & 63] = P_E280 | P_E281;
    first[0xE3 & 63] = P_E3;
    for (int b = 0x09; b <= 0x0D; b++)
        first[b] |= P_ASCII;
    for (int b = 0x1C; b <= 0x20; b++)
        first[b] |= P_ASCII;
    second[0x85 & 63] |= P_C2;
    second[0xA0 & 63] |= P_C2;
    second[0x80 & 63] |= P_E280 | P_E3;
    second[0x81 & 63] |= P_E281;
    second[0x9A & 63] |= P_E1;
    memset(third, P_C2 | P_ASCII, sizeof third);
    for (int b = 0x80; b <= 0x8A; b++)
        third[b & 63] |= P_E280;
    third[0xA8 & 63] |= P_E280;
    third[0xA9 & 63] |= P_E280;
    third[0xAF & 63] |= P_E280;
    third[0x9F & 63] |= P_E281;
    third[0x80 & 63] |= P_E1 | P_E3;
    c->first = _mm512_loadu_si512(first);
    c->second = _mm512_loadu_si512(second);
    c->third = _mm512_loadu_si512(third);
}

/* Keiser-Lemire: nonzero bytes where `in` (with the bytes before it: p1, p2, p3) is invalid. */
AVX512_FN static inline V utf8_errors(const consts *c, V in, V p1, V p2, V p3)
{
    V special = _mm512_ternarylogic_epi32(
        _mm512_permutexvar_epi8(_mm512_srli_epi16(p1, 2), c->byte_1_high),
        _mm512_permutexvar_epi8(p1, c->byte_1_low),
        _mm512_permutexvar_epi8(_mm512_srli_epi16(in, 2), c->byte_2_high), 0x80);
    V must23 = _mm512_or_si512(_mm512_subs_epu8(p2, c->sub2), _mm512_subs_epu8(p3, c->sub3));
    return _mm512_ternarylogic_epi32(must23, c->hi, special, 0x6A); /* (a & b) ^ c */
}

/* Hides a constant's value from the compiler, which would otherwise build it anew (two
 * instructions) inside the loop rather than keep it in one of the 32 registers. */
#define KEEP(x) __asm__("" : "+v"(x))

/* ASCII whitespace: 09-0D and 1C-20, i.e. x - 9 <= 4 or x - 0x1C <= 4 (unsigned). */
#define ASCII_WS(v) (_mm512_cmple_epu8_mask(_mm512_add_epi8(v, k_m09), k_4) | \
                     _mm512_cmple_epu8_mask(_mm512_add_epi8(v, k_m1c), k_4))

AVX512_FN void wc_utf8_avx512(const uint8_t *p, size_t n, wc_result *r)
{
    consts c;
    make_consts(&c);
    V k_m09 = SET8(-0x09), k_m1c = SET8(-0x1C), k_4 = SET8(4), k_1 = SET8(1);
    V k_three = SET8(P_THREE);
    KEEP(k_m09); KEEP(k_m1c); KEEP(k_4); KEEP(k_1); KEEP(k_three);
    KEEP(c.byte_1_high); KEEP(c.byte_1_low); KEEP(c.byte_2_high); KEEP(c.sub2); KEEP(c.sub3);
    KEEP(c.hi); KEEP(c.first); KEEP(c.second); KEEP(c.third); KEEP(c.guard);
    int64_t words = 0;
    uint64_t prev_ns = 0; /* bit 0: the byte before the block is not whitespace */
    uint64_t carry = 0;   /* bytes 0 and 1 belong to a whitespace character begun before */
    unsigned ascii_streak = 0;
    uint8_t pad[3 + 64 + 2] __attribute__((aligned(64)));
    size_t i = 0;
    /* One block at q (q[-3:66] readable, `valid` its bytes in the text); on to `invalid` if it
     * is not valid UTF-8. A pattern's first byte is a lead (C0 up), so a C2, E1, E2 or E3, and
     * the bytes after it continuation bytes (this block is valid; a character reaching into the
     * next block is checked there, and an error found there makes these counts moot). ASCII
     * whitespace is below 40. `start`: a whitespace character starts here. */
#define BLOCK(q, valid)                                                                        \
    do {                                                                                       \
        V v = _mm512_loadu_si512((const void *)(q));                                           \
        V err = utf8_errors(&c, v, _mm512_loadu_si512((const void *)((q) - 1)),                \
                            _mm512_loadu_si512((const void *)((q) - 2)),                       \
                            _mm512_loadu_si512((const void *)((q) - 3)));                      \
        if (_mm512_test_epi8_mask(err, err))                                                   \
            goto invalid;                                                                      \
        V pat = _mm512_ternarylogic_epi32(                                                     \
            _mm512_permutexvar_epi8(v, c.first),                                               \
            _mm512_permutexvar_epi8(_mm512_loadu_si512((const void *)((q) + 1)), c.second),    \
            _mm512_permutexvar_epi8(_mm512_loadu_si512((const void *)((q) + 2)), c.third),     \
            0x80);                                                                             \
        __mmask64 start = _mm512_test_epi8_mask(                                               \
            pat, _mm512_permutexvar_epi8(_mm512_srli_epi16(v, 2), c.guard));                   \
        uint64_t f2 = _mm512_mask_test_epi8_mask(start, pat, k_1);                             \
        uint64_t f3 = _mm512_mask_test_epi8_mask(start, pat, k_three);                         \
        uint64_t ns = ~(start | f2 << 1 | f3 << 1 | f3 << 2 | carry) & (valid);                \
        carry = (f2 | f3) >> 63 | f3 >> 62;                                                    \
        words += wc_popcount64(ns & ~(ns << 1 | prev_ns));                                     \
        prev_ns = ns >> 63;                                                                    \
        /* no branch on whether the block is ASCII: mixed text would mispredict it */         \
        ascii_streak = (ascii_streak + 1) & -(unsigned)(_mm512_movepi8_mask(v) == 0);          \
    } while (0)
    if (n > 0) {
        /* The first block ends at the first 64-byte boundary of p (then every load of a block's
         * own bytes is aligned): p[0:64 - mis] at byte mis of a zeroed copy, the bytes before
         * it out of `valid` (so not whitespace, and not the start of a word). */
        size_t mis = (uintptr_t)p & 63, len = n < 64 - mis ? n : 64 - mis;
        memset(pad, 0, sizeof pad);
        memcpy(pad + 3 + mis, p, n < len + 2 ? n : len + 2);
        uint64_t valid = (len == 64 ? ~UINT64_C(0) : (UINT64_C(1) << len) - 1) << mis;
        BLOCK(pad + 3, valid);
        i = len;
    }
    while (i < n) {
        if (i >= 3 && n - i >= WC_AHEAD + 130) {
            /* The middle of the text: nothing to copy, a prefetch always in range, two blocks
             * a turn (an error in the second is then found from the first on). */
            do {
                __builtin_prefetch(p + i + WC_AHEAD, 0, 3);
                __builtin_prefetch(p + i + WC_AHEAD + 64, 0, 3);
                BLOCK(p + i, ~UINT64_C(0));
                BLOCK(p + i + 64, ~UINT64_C(0));
                i += 128;
            } while (ascii_streak < 4 && n - i >= WC_AHEAD + 130);
        } else {
            /* The first block and the last ones are copied to a zeroed buffer with the three
             * bytes before them and the two after, so nothing outside p[0:n] is read. */
            const uint8_t *q = p + i;
            uint64_t valid = ~UINT64_C(0);
            wc_prefetch(p, i, n);
            if (i < 3 || n - i < 66) {
                size_t from = i < 3 ? 0 : i - 3, to = n - i < 66 ? n : i + 66;
                memset(pad, 0, sizeof pad);
                memcpy(pad + 3 - (i - from), p + from, to - from);
                q = pad + 3;
                if (n - i < 64)
                    valid = (UINT64_C(1) << (n - i)) - 1;
            }
            BLOCK(q, valid);
            i += 64;
        }
        if (ascii_streak < 4)
            continue;
        /* Four ASCII blocks in a row: the hot loop of mostly-ASCII text, two blocks at a time
         * while both are ASCII (the block before is complete: no check left to carry). */
        for (; i < n && n - i >= 128; i += 128) {
            wc_prefetch(p, i, n);
            wc_prefetch(p, i + 64, n);
            V a = _mm512_loadu_si512((const void *)(p + i));
            V b = _mm512_loadu_si512((const void *)(p + i + 64));
            if (_mm512_movepi8_mask(_mm512_or_si512(a, b)))
                break;
            uint64_t na = ~ASCII_WS(a), nb = ~ASCII_WS(b);
            words += wc_popcount64(na & ~(na << 1 | prev_ns)) +
                     wc_popcount64(nb & ~(nb << 1 | na >> 63));
            prev_ns = nb >> 63;
        }
        ascii_streak = 0;
    }
#undef BLOCK
    if (i >= n) {
        /* a character cut by the end of the text: the bytes after it are zeros */
        memset(pad, 0, sizeof pad);
        size_t tail = n < 3 ? n : 3;
        memcpy(pad + 3 - tail, p + n - tail, tail);
        V z = _mm512_setzero_si512();
        V err = utf8_errors(&c, z, _mm512_loadu_si512((const void *)(pad + 2)),
                            _mm512_loadu_si512((const void *)(pad + 1)),
                            _mm512_loadu_si512((const void *)pad));
        if (!_mm512_test_epi8_mask(err, err)) {
            r->words = words;
            r->err_offset = -1;
            r->reason = NULL;
            return;
        }
        i = n;
    }
invalid:
    wc_utf8_locate_error(p, n, i, r);
}
#else
void wc_utf8_avx512(const uint8_t *p, size_t n, wc_result *r)
{
    wc_utf8_locate_error(p, n, 0, r);
}
#endif
