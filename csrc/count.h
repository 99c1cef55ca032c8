/* The native kernel's counting core: pure C, no Python objects (module.c is the binding).
 *
 * A word starts at every character that is not whitespace and follows one that is (or starts
 * the range), exactly as str.split() sees words. Each function counts one range from scratch, so
 * ranges cut just before a whitespace character (wordcount/text.py) add up exactly. */
#ifndef WORDCOUNT_NATIVE_COUNT_H
#define WORDCOUNT_NATIVE_COUNT_H

#include <stddef.h>
#include <stdint.h>

/* Instruction sets a count can use, slowest first; wc_best_isa() picks at run time. */
typedef enum { WC_SCALAR = 0, WC_SSE2 = 1, WC_AVX2 = 2, WC_AVX512 = 3 } wc_isa;
#define WC_ISA_COUNT 4

typedef struct {
    int64_t words;
    int64_t err_offset;  /* first bad byte, from the range's start; -1 when the text is valid */
    const char *reason;  /* bytes.decode's reason for that byte */
} wc_result;

int wc_isa_supported(wc_isa isa);
wc_isa wc_best_isa(void);
const char *wc_isa_name(wc_isa isa);

/* 1 for the 29 code points str.isspace() accepts. */
static inline int wc_is_space(uint32_t c)
{
    if (c < 0x80)
        return (c - 9u <= 4u) | (c - 0x1Cu <= 4u);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c - 0x2000u <= 0xAu) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* UTF-8 bytes p[0:n], validated like bytes.decode("utf-8"). */
void wc_count_utf8(const uint8_t *p, size_t n, wc_isa isa, wc_result *r);

/* The same, one implementation each (utf8.c, utf8_avx512.c); the exact, one-character-at-a-time
 * verdict for a text a block check found invalid at or before byte pos. */
void wc_utf8_avx512(const uint8_t *p, size_t n, wc_result *r);
void wc_utf8_locate_error(const uint8_t *p, size_t n, size_t pos, wc_result *r);

/* A str's own storage: n code units of kind 1 (latin-1), 2 (UCS-2) or 4 (UCS-4). */
int64_t wc_count_ucs(const void *p, int kind, size_t n, wc_isa isa);

int64_t wc_ucs_avx512(const void *p, int kind, size_t n);

/* The limit of a count (memread.c): p[0:n] read `rounds` times, each time by `threads` threads
 * reading a slice each at once; seconds[k] is round k's time from the first thread's start to the
 * last one's end, *sink the OR of every byte (so the reads cannot be dropped). 0, or -1 when the
 * threads cannot be made or the arguments are out of range. */
#define WC_MAX_READ_THREADS 256
int wc_read_rounds(const uint8_t *p, size_t n, int threads, int rounds, wc_isa isa,
                   double *seconds, uint64_t *sink);

static inline int wc_popcount64(uint64_t x)
{
#if defined(__GNUC__)
    return __builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
#endif
}

/* Word starts in a block of 64 units given its non-space mask (bit k: unit k is not whitespace)
 * and whether the unit before the block was not whitespace (*prev_ns, updated). */
static inline int wc_starts64(uint64_t ns, uint64_t *prev_ns)
{
    int words = wc_popcount64(ns & ~((ns << 1) | *prev_ns));
    *prev_ns = ns >> 63;
    return words;
}

#if defined(__GNUC__) && defined(__x86_64__)
#define WC_X86 1
#endif

/* How far ahead of its loads a loop asks for the bytes it reads next. Hardware prefetch alone
 * let the AVX-512 UTF-8 loop run at 2-5 GB/s on non-ASCII text in memory on a 2-core VM (its
 * ~70 instructions a block leave too few loads in flight to cover memory's latency), 12 GB/s
 * with this; 2-8 KiB ahead did as well, 256-512 bytes did not. A prefetch is a hint that never
 * faults, and none is asked for past the range's end. */
#ifndef WC_AHEAD
#define WC_AHEAD 4096
#endif

/* Inlined before GCC's analysis of side effects sees them: GCC 12 counts a prefetch as none,
 * so it found a helper made only of prefetches "const" and dropped every call to it. */
#if defined(__GNUC__)
#define WC_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define WC_ALWAYS_INLINE static inline
#endif

WC_ALWAYS_INLINE void wc_prefetch(const uint8_t *p, size_t i, size_t n)
{
#if defined(__GNUC__)
    if (n - i > WC_AHEAD)
        __builtin_prefetch(p + i + WC_AHEAD, 0, 3);
#else
    (void)p, (void)i, (void)n;
#endif
}

/* The same for `lines` 64-byte lines from unit i of n units of `size` bytes each. */
WC_ALWAYS_INLINE void wc_prefetch_units(const void *p, size_t i, size_t n, size_t size, int lines)
{
    for (int k = 0; k < lines; k++)
        wc_prefetch((const uint8_t *)p, i * size + 64 * (size_t)k, n * size);
}

#endif
