/*
 * compute: deterministic integer-only workload, ~72 million instructions
 * as counted by QEMU -icount (where every iteration of a REP-prefixed
 * string instruction counts as one instruction).
 * Phases: sieve of Eratosthenes, bitwise CRC32, xorshift64* PRNG with
 * 32/64-bit signed/unsigned multiply/divide/modulo, heapsort, bit twiddling
 * (shifts, rotates, bswap, bsf/bsr, 64x64->128 multiply, add-with-carry),
 * and x86 string instructions (rep movs/stos/cmps/scas).
 * Prints one checksum per phase and a final "checksum: 0x...." line.
 */
#include "lib.h"

/* Scale factor for the whole workload (instruction count is ~linear in it). */
#define ROUNDS        3

#define SIEVE_N       100000
#define CRC_BYTES     32768
#define ARITH_ITERS   40000
#define SORT_N        8192
#define BITS_ITERS    40000
#define STR_BYTES     4096
#define STR_ITERS     200

static uint64_t rng_state;

static uint64_t xorshift64s(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h;
}

/* ---------------------------------------------------------------- sieve */
static uint8_t sieve_buf[SIEVE_N + 1];

static uint64_t phase_sieve(void)
{
    uint64_t count = 0, sum = 0;
    for (uint32_t i = 0; i <= SIEVE_N; i++)
        sieve_buf[i] = 1;
    sieve_buf[0] = sieve_buf[1] = 0;
    for (uint32_t i = 2; (uint64_t)i * i <= SIEVE_N; i++) {
        if (!sieve_buf[i])
            continue;
        for (uint32_t j = i * i; j <= SIEVE_N; j += i)
            sieve_buf[j] = 0;
    }
    for (uint32_t i = 0; i <= SIEVE_N; i++) {
        if (sieve_buf[i]) {
            count++;
            sum += i;
        }
    }
    return (count << 40) ^ sum;
}

/* ---------------------------------------------------------------- crc32 */
static uint8_t crc_buf[CRC_BYTES];

static uint32_t crc32_bitwise(const uint8_t *p, uint32_t n, uint32_t crc)
{
    crc = ~crc;
    for (uint32_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint64_t phase_crc(void)
{
    for (uint32_t i = 0; i < CRC_BYTES; i++)
        crc_buf[i] = (uint8_t)(xorshift64s() >> 56);
    uint32_t c = crc32_bitwise((const uint8_t *)"123456789", 9, 0);
    if (c != 0xCBF43926u)
        printk("crc32 self-test FAILED: 0x%08x\n", c);
    return ((uint64_t)c << 32) | crc32_bitwise(crc_buf, CRC_BYTES, 0);
}

/* ---------------------------------------------------------------- arith */
static uint64_t phase_arith(void)
{
    uint64_t h = 0;
    for (uint32_t i = 0; i < ARITH_ITERS; i++) {
        uint64_t a = xorshift64s(), b = xorshift64s();
        uint32_t a32 = (uint32_t)a, b32 = (uint32_t)(b >> 32) | 1u;
        int32_t s32 = (int32_t)(a >> 17), d32 = (int32_t)(b >> 40) - 0x7FFFFF;
        int64_t s64 = (int64_t)a, d64 = (int64_t)(b >> (b & 31)) - (int64_t)(1ull << 40);
        if (d32 == 0)
            d32 = 3;
        if (d64 == 0)
            d64 = -7;
        uint64_t ud = (b >> (a & 63)) | 1u;

        h = mix(h, a / ud);
        h = mix(h, a % ud);
        h = mix(h, a32 / b32);
        h = mix(h, a32 % b32);
        h = mix(h, (uint64_t)(int64_t)(s32 / d32));
        h = mix(h, (uint64_t)(int64_t)(s32 % d32));
        h = mix(h, (uint64_t)(s64 / d64));
        h = mix(h, (uint64_t)(s64 % d64));
        h = mix(h, (uint64_t)a32 * b32);
        h = mix(h, (uint64_t)((int64_t)s32 * d32));
        h = mix(h, (uint64_t)(uint32_t)(a32 * b32));
        h = mix(h, a * b);
        h = mix(h, (uint64_t)(int64_t)(int16_t)a * (uint64_t)(int8_t)(b >> 8));
        h = mix(h, (uint64_t)(s64 >> (b & 63)));
    }
    return h;
}

/* ---------------------------------------------------------------- sort */
static uint32_t sort_buf[SORT_N];

static void sift_down(uint32_t *v, uint32_t start, uint32_t end)
{
    uint32_t root = start;
    while (2 * root + 1 <= end) {
        uint32_t child = 2 * root + 1, sw = root;
        if (v[sw] < v[child])
            sw = child;
        if (child + 1 <= end && v[sw] < v[child + 1])
            sw = child + 1;
        if (sw == root)
            return;
        uint32_t t = v[root];
        v[root] = v[sw];
        v[sw] = t;
        root = sw;
    }
}

static void heapsort(uint32_t *v, uint32_t n)
{
    for (int64_t start = (int64_t)(n - 2) / 2; start >= 0; start--)
        sift_down(v, (uint32_t)start, n - 1);
    for (uint32_t end = n - 1; end > 0; end--) {
        uint32_t t = v[end];
        v[end] = v[0];
        v[0] = t;
        sift_down(v, 0, end - 1);
    }
}

static uint64_t phase_sort(void)
{
    for (uint32_t i = 0; i < SORT_N; i++)
        sort_buf[i] = (uint32_t)(xorshift64s() >> 32);
    heapsort(sort_buf, SORT_N);
    uint64_t h = 0;
    int sorted = 1;
    for (uint32_t i = 0; i < SORT_N; i++) {
        if (i && sort_buf[i - 1] > sort_buf[i])
            sorted = 0;
        h = mix(h, sort_buf[i]);
    }
    if (!sorted)
        puts("sort: array NOT sorted\n");
    return h ^ (uint64_t)sorted;
}

/* ---------------------------------------------------------------- bits */
static inline uint64_t rotl64(uint64_t x, unsigned r) { r &= 63; return (x << r) | (x >> ((64 - r) & 63)); }
static inline uint32_t rotr32(uint32_t x, unsigned r) { r &= 31; return (x >> r) | (x << ((32 - r) & 31)); }

static uint64_t phase_bits(void)
{
    uint64_t h = 0, carry_acc = 0, lo = 0, hi = 0;
    for (uint32_t i = 0; i < BITS_ITERS; i++) {
        uint64_t a = xorshift64s(), b = xorshift64s();
        unsigned r = (unsigned)(b & 255);
        h = mix(h, rotl64(a, r));
        h = mix(h, rotr32((uint32_t)a, r));
        h = mix(h, __builtin_bswap64(a) ^ __builtin_bswap32((uint32_t)b));
        h = mix(h, (uint64_t)__builtin_ctzll(a | (1ull << 63)) * 64 + (uint64_t)__builtin_clzll(b | 1));
        h = mix(h, (uint64_t)((int64_t)a >> (r & 63)) ^ (a >> (r & 63)) ^ (b << (r & 63)));
        h = mix(h, (uint64_t)(int64_t)(int8_t)a ^ (uint64_t)(uint16_t)b ^ (uint64_t)(int32_t)(a >> 3));
        unsigned __int128 p = (unsigned __int128)a * b;
        __int128 sp = (__int128)(int64_t)a * (int64_t)b;
        h = mix(h, (uint64_t)(p >> 64) ^ (uint64_t)p);
        h = mix(h, (uint64_t)((unsigned __int128)sp >> 64));
        /* 128-bit accumulate: add with carry */
        uint64_t nlo;
        unsigned c = __builtin_add_overflow(lo, a, &nlo);
        lo = nlo;
        hi += b + c;
        carry_acc += c;
        /* conditional moves / setcc */
        h = mix(h, (a < b) ? a - b : b ^ a);
        h = mix(h, (uint64_t)((int64_t)a < (int64_t)b) + ((uint32_t)a > (uint32_t)b) * 2 + (a == b) * 4);
    }
    return mix(mix(h, lo), hi ^ (carry_acc << 48));
}

/* ---------------------------------------------------------------- strings */
static uint8_t str_src[STR_BYTES] __attribute__((aligned(16)));
static uint8_t str_dst[STR_BYTES + 64] __attribute__((aligned(16)));

static inline void rep_movsb(void *d, const void *s, uint64_t n)
{
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static inline void rep_movsq(void *d, const void *s, uint64_t n)
{
    __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static inline void rep_stosq(void *d, uint64_t v, uint64_t n)
{
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

/* Returns the number of bytes left in rcx after repe cmpsb. */
static inline uint64_t repe_cmpsb(const void *a, const void *b, uint64_t n)
{
    __asm__ volatile("repe cmpsb" : "+D"(a), "+S"(b), "+c"(n) : : "memory", "cc");
    return n;
}

static inline uint64_t repne_scasb(const void *p, uint8_t v, uint64_t n)
{
    __asm__ volatile("repne scasb" : "+D"(p), "+c"(n) : "a"(v) : "memory", "cc");
    return n;
}

static uint64_t phase_strings(void)
{
    uint64_t h = 0;
    for (uint32_t i = 0; i < STR_BYTES; i++)
        str_src[i] = (uint8_t)(xorshift64s() >> 33);
    for (uint32_t it = 0; it < STR_ITERS; it++) {
        uint32_t off = (uint32_t)(xorshift64s() % 61);
        uint32_t len = (uint32_t)(xorshift64s() % (STR_BYTES - 64));
        rep_stosq(str_dst, 0x0101010101010101ull * (it & 0xFF), (STR_BYTES + 64) / 8);
        rep_movsb(str_dst + off, str_src + 3, len);
        h = mix(h, repe_cmpsb(str_dst + off, str_src + 3, len));
        str_dst[off + len / 2] ^= 0x80;
        h = mix(h, repe_cmpsb(str_dst + off, str_src + 3, len));
        rep_movsq(str_dst, str_src + 8 * (it & 7), len / 8);
        h = mix(h, repne_scasb(str_dst, (uint8_t)it, STR_BYTES));
        h = mix(h, crc32_bitwise(str_dst, 64, (uint32_t)h));
    }
    return h;
}

/* ---------------------------------------------------------------- main */
/*
 * Build with -DMEASURE to print the TSC delta; under
 * "qemu-system-x86_64 -icount shift=0" that is the instruction count:
 *   EXTRA_CFLAGS=-DMEASURE OUT=/tmp/measure bash guests/build.sh compute
 * (not part of the default build: the expected output has no timing).
 */
#ifdef MEASURE
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
#endif

void kmain(uint32_t magic, uint32_t mbinfo)
{
#ifdef MEASURE
    uint64_t t0 = rdtsc();
#endif
    uint64_t total = 0;
    rng_state = 0x853C49E6748FEA9Bull;
    puts("compute: start\n");
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t s = phase_sieve();
        uint64_t c = phase_crc();
        uint64_t a = phase_arith();
        uint64_t o = phase_sort();
        uint64_t b = phase_bits();
        uint64_t t = phase_strings();
        printk("round %d: sieve=0x%016lx crc=0x%016lx arith=0x%016lx\n", round, s, c, a);
        printk("round %d: sort=0x%016lx bits=0x%016lx str=0x%016lx\n", round, o, b, t);
        total = mix(total, s);
        total = mix(total, c);
        total = mix(total, a);
        total = mix(total, o);
        total = mix(total, b);
        total = mix(total, t);
    }
#ifdef MEASURE
    printk("measure: %lu ticks\n", rdtsc() - t0);
#endif
    printk("checksum: 0x%016lx\n", total);
    exit_qemu(0);
}
