// CRC-32C: the SSE4.2 `crc32` instruction when the CPU has it (three interleaved streams), with a
// slicing-by-8 fallback.
#include "crc32c.h"
#include <pthread.h>
#include <string.h>

static uint32_t table[8][256];
static int table_ready = 0;

static void build_table(void) {
    const uint32_t poly = 0x82F63B78u; // reflected Castagnoli polynomial
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = table[0][i];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[t][i] = c;
        }
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t runnel_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table(); // idempotent, race-free result
    const uint8_t *p = (const uint8_t *)data;
    uint32_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) { c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8); length--; }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        uint32_t lo = (uint32_t)word ^ c, hi = (uint32_t)(word >> 32);
        c = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24] ^
            table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^ table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8; length -= 8;
    }
    while (length--) c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <cpuid.h>

static int detect_sse42(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}

// Three interleaved streams: the `crc32` instruction has a 3-cycle latency and a throughput of one
// per cycle, so one dependent chain uses a third of it. A block is cut into three equal parts, each
// part's CRC computed from 0 in its own chain, and the parts joined with the "append n zero bytes"
// operator: crc(A || B) = zeros(|B|)(crc(A)) ^ crc0(B). The operator is linear on the 32-bit
// register; it is tabulated per byte of the register (4 x 256 entries) for the two part sizes used.
#define CRC_LONG 8192
#define CRC_SHORT 256

static uint32_t zeros_long[4][256];
static uint32_t zeros_short[4][256];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static void build_zeros(uint32_t table[4][256], size_t bytes) {
    uint32_t basis[32];  // the register after `bytes` zero bytes, starting from each single bit
    for (int k = 0; k < 32; k++) {
        uint64_t c = 1u << k;
        for (size_t i = 0; i < bytes; i += 8) c = __builtin_ia32_crc32di(c, 0);
        basis[k] = (uint32_t)c;
    }
    for (int j = 0; j < 4; j++) {
        for (int b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int bit = 0; bit < 8; bit++) if (b & (1 << bit)) v ^= basis[8 * j + bit];
            table[j][b] = v;
        }
    }
}

static void build_all_zeros(void) {
    build_zeros(zeros_long, CRC_LONG);
    build_zeros(zeros_short, CRC_SHORT);
}

static inline uint64_t append_zeros(const uint32_t table[4][256], uint64_t c) {
    return table[0][c & 0xFF] ^ table[1][(c >> 8) & 0xFF] ^ table[2][(c >> 16) & 0xFF] ^ table[3][(c >> 24) & 0xFF];
}

__attribute__((target("sse4.2")))
static inline uint64_t crc32c_three_parts(uint64_t c, const uint8_t **pp, size_t part, const uint32_t table[4][256]) {
    const uint8_t *p = *pp;
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < part; i += 8) {
        uint64_t w0, w1, w2;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + part + i, 8);
        memcpy(&w2, p + 2 * part + i, 8);
        c = __builtin_ia32_crc32di(c, w0);
        c1 = __builtin_ia32_crc32di(c1, w1);
        c2 = __builtin_ia32_crc32di(c2, w2);
    }
    c = append_zeros(table, c) ^ c1;
    c = append_zeros(table, c) ^ c2;
    *pp = p + 3 * part;
    return c;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t length) {
    uint64_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); length--; }
    if (length >= 3 * CRC_SHORT) pthread_once(&zeros_once, build_all_zeros);
    while (length >= 3 * CRC_LONG) {
        c = crc32c_three_parts(c, &p, CRC_LONG, zeros_long);
        length -= 3 * CRC_LONG;
    }
    while (length >= 3 * CRC_SHORT) {
        c = crc32c_three_parts(c, &p, CRC_SHORT, zeros_short);
        length -= 3 * CRC_SHORT;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8; length -= 8;
    }
    while (length--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static int hw_state = -1;

int runnel_crc32c_has_hardware(void) {
    int s = __atomic_load_n(&hw_state, __ATOMIC_ACQUIRE);
    if (s < 0) { s = detect_sse42(); __atomic_store_n(&hw_state, s, __ATOMIC_RELEASE); }
    return s;
}

uint32_t runnel_crc32c_hardware(uint32_t crc, const void *data, size_t length) {
    if (!runnel_crc32c_has_hardware()) return runnel_crc32c_portable(crc, data, length);
    return crc32c_sse42(crc, (const uint8_t *)data, length);
}
#else
int runnel_crc32c_has_hardware(void) { return 0; }
uint32_t runnel_crc32c_hardware(uint32_t crc, const void *data, size_t length) {
    return runnel_crc32c_portable(crc, data, length);
}
#endif

uint32_t runnel_crc32c(uint32_t crc, const void *data, size_t length) {
    return runnel_crc32c_hardware(crc, data, length);
}
