/* The physical limit of a count: reading the same buffer once, in as many threads as the count.
 *
 * Each thread reads its slice (the buffer cut in equal parts at 64-byte boundaries) with the
 * widest vector loads the instruction set has, four accumulators OR-ed together and stored to the
 * thread's slot at the end so the compiler cannot drop the loads; nothing else is written. It asks
 * for its bytes ahead as the counts do (wc_prefetch), so a count's prefetching cannot beat it. Every
 * round starts the threads together at a barrier (threads are made once, not per round), each
 * times its own slice, and the round lasts from the first start to the last end. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "count.h"

#ifdef WC_X86
#include <immintrin.h>
#endif
#ifndef _WIN32
#include <pthread.h>
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t read_scalar(const uint8_t *p, size_t n)
{
    uint64_t a = 0, b = 0, c = 0, d = 0, w[4];
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        memcpy(w, p + i, 32);
        a |= w[0];
        b |= w[1];
        c |= w[2];
        d |= w[3];
    }
    for (; i < n; i++)
        a |= p[i];
    return a | b | c | d;
}

#ifdef WC_X86
__attribute__((target("sse2"))) static uint64_t read_sse2(const uint8_t *p, size_t n)
{
    __m128i a = _mm_setzero_si128(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        wc_prefetch(p, i, n);
        a = _mm_or_si128(a, _mm_load_si128((const __m128i *)(p + i)));
        b = _mm_or_si128(b, _mm_load_si128((const __m128i *)(p + i + 16)));
        c = _mm_or_si128(c, _mm_load_si128((const __m128i *)(p + i + 32)));
        d = _mm_or_si128(d, _mm_load_si128((const __m128i *)(p + i + 48)));
    }
    a = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
    return (uint64_t)_mm_cvtsi128_si64(a) | (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(a, 8)) |
           read_scalar(p + i, n - i);
}

__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        wc_prefetch_units(p, i, n, 1, 2);
        a = _mm256_or_si256(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_or_si256(b, _mm256_load_si256((const __m256i *)(p + i + 32)));
        c = _mm256_or_si256(c, _mm256_load_si256((const __m256i *)(p + i + 64)));
        d = _mm256_or_si256(d, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    a = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
    __m128i h = _mm_or_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    return (uint64_t)_mm_cvtsi128_si64(h) | (uint64_t)_mm_extract_epi64(h, 1) |
           read_scalar(p + i, n - i);
}

__attribute__((target("avx512f,avx512bw"))) static uint64_t read_avx512(const uint8_t *p, size_t n)
{
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        wc_prefetch_units(p, i, n, 1, 4);
        a = _mm512_or_si512(a, _mm512_load_si512((const void *)(p + i)));
        b = _mm512_or_si512(b, _mm512_load_si512((const void *)(p + i + 64)));
        c = _mm512_or_si512(c, _mm512_load_si512((const void *)(p + i + 128)));
        d = _mm512_or_si512(d, _mm512_load_si512((const void *)(p + i + 192)));
    }
    a = _mm512_or_si512(_mm512_or_si512(a, b), _mm512_or_si512(c, d));
    return (uint64_t)_mm512_reduce_or_epi64(a) | read_scalar(p + i, n - i);
}
#endif

/* OR of every byte of p[0:n]: vector loads on the 64-byte-aligned middle. */
static uint64_t read_range(const uint8_t *p, size_t n, wc_isa isa)
{
    size_t head = (size_t)(-(uintptr_t)p & 63);
    if (head > n)
        head = n;
    uint64_t acc = read_scalar(p, head);
    p += head;
    n -= head;
#ifdef WC_X86
    if (isa == WC_AVX512)
        return acc | read_avx512(p, n);
    if (isa == WC_AVX2)
        return acc | read_avx2(p, n);
    if (isa == WC_SSE2)
        return acc | read_sse2(p, n);
#endif
    (void)isa;
    return acc | read_scalar(p, n);
}

#ifndef _WIN32
/* Threads wait here until all of them exist (go) or one could not be made (abort). */
typedef struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int state; /* 0: wait, 1: go, -1: abort */
} gate;

/* A barrier of mutex and condition (pthread_barrier_t is optional in POSIX: macOS lacks it). */
typedef struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int parties, waiting;
    unsigned long generation;
} barrier_t;

static void barrier_wait(barrier_t *b)
{
    pthread_mutex_lock(&b->mutex);
    unsigned long generation = b->generation;
    if (++b->waiting == b->parties) {
        b->waiting = 0;
        b->generation++;
        pthread_cond_broadcast(&b->cond);
    } else {
        while (generation == b->generation)
            pthread_cond_wait(&b->cond, &b->mutex);
    }
    pthread_mutex_unlock(&b->mutex);
}
#endif

typedef struct {
    const uint8_t *p;
    size_t n;
    wc_isa isa;
    int rounds;
    double *start, *end; /* one per round */
    uint64_t sink;
#ifndef _WIN32
    gate *gate;
    barrier_t *barrier;
#endif
} reader;

static void *run_reader(void *arg)
{
    reader *r = (reader *)arg;
    uint64_t acc = 0;
#ifndef _WIN32
    if (r->gate) {
        pthread_mutex_lock(&r->gate->mutex);
        while (r->gate->state == 0)
            pthread_cond_wait(&r->gate->cond, &r->gate->mutex);
        int state = r->gate->state;
        pthread_mutex_unlock(&r->gate->mutex);
        if (state < 0)
            return NULL;
    }
#endif
    for (int k = 0; k < r->rounds; k++) {
#ifndef _WIN32
        if (r->barrier)
            barrier_wait(r->barrier);
#endif
        r->start[k] = now_s();
        acc |= read_range(r->p, r->n, r->isa);
        r->end[k] = now_s();
    }
    r->sink = acc;
    return NULL;
}

int wc_read_rounds(const uint8_t *p, size_t n, int threads, int rounds, wc_isa isa,
                   double *seconds, uint64_t *sink)
{
    if (threads < 1 || threads > WC_MAX_READ_THREADS || rounds < 1)
        return -1;
#ifdef _WIN32
    if (threads > 1)
        return -1;
#endif
    reader *rs = (reader *)calloc((size_t)threads, sizeof(reader));
    double *times = (double *)calloc((size_t)threads * (size_t)rounds * 2, sizeof(double));
    if (rs == NULL || times == NULL) {
        free(rs);
        free(times);
        return -1;
    }
    size_t blocks = n / 64, at = 0;
    for (int t = 0; t < threads; t++) {
        size_t len = t == threads - 1 ? n - at : blocks / (size_t)threads * 64;
        rs[t].p = p + at;
        rs[t].n = len;
        rs[t].isa = isa;
        rs[t].rounds = rounds;
        rs[t].start = times + 2 * (size_t)t * (size_t)rounds;
        rs[t].end = rs[t].start + rounds;
        at += len;
    }
    int status = 0;
#ifndef _WIN32
    if (threads > 1) {
        gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        barrier_t barrier = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, threads, 0, 0};
        pthread_t *ids = (pthread_t *)calloc((size_t)threads, sizeof(pthread_t));
        int made = 1;
        if (ids == NULL) {
            free(ids);
            free(rs);
            free(times);
            return -1;
        }
        for (int t = 0; t < threads; t++) {
            rs[t].gate = t ? &g : NULL;
            rs[t].barrier = &barrier;
        }
        for (; made < threads; made++) {
            if (pthread_create(&ids[made], NULL, run_reader, &rs[made]) != 0)
                break;
        }
        pthread_mutex_lock(&g.mutex);
        g.state = made == threads ? 1 : -1;
        pthread_cond_broadcast(&g.cond);
        pthread_mutex_unlock(&g.mutex);
        if (made == threads)
            run_reader(&rs[0]);
        else
            status = -1;
        for (int t = 1; t < made; t++)
            pthread_join(ids[t], NULL);
        free(ids);
    } else
#endif
    {
        run_reader(&rs[0]);
    }
    uint64_t acc = 0;
    for (int k = 0; status == 0 && k < rounds; k++) {
        double first = rs[0].start[k], last = rs[0].end[k];
        for (int t = 1; t < threads; t++) {
            first = rs[t].start[k] < first ? rs[t].start[k] : first;
            last = rs[t].end[k] > last ? rs[t].end[k] : last;
        }
        seconds[k] = last - first;
    }
    for (int t = 0; t < threads; t++)
        acc |= rs[t].sink;
    *sink = acc;
    free(rs);
    free(times);
    return status;
}
