// CRC-32C: the SSE4.2 `crc32` instruction when the CPU has it, with a slicing-by-8 fallback.
#include "crc32c.h"
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

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t length) {
    uint64_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); length--; }
    // One 8-byte `crc32` per cycle-ish (3-cycle latency): about 8 GB/s at 3 GHz, well above the
    // 4 GB/s goal; interleaving streams would roughly triple it if ever needed.
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
