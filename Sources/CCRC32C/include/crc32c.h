// CRC-32C (Castagnoli), the checksum of Kafka record batches (magic v2).
#ifndef RUNNEL_CRC32C_H
#define RUNNEL_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// Extends `crc` (start with 0) over `length` bytes, using SSE4.2 when the CPU has it.
uint32_t runnel_crc32c(uint32_t crc, const void *data, size_t length);
/// The portable table-driven implementation (always available; used to test the fast one).
uint32_t runnel_crc32c_portable(uint32_t crc, const void *data, size_t length);
/// The hardware implementation; returns the portable result when the CPU lacks SSE4.2.
uint32_t runnel_crc32c_hardware(uint32_t crc, const void *data, size_t length);
/// 1 when the hardware path is in use.
int runnel_crc32c_has_hardware(void);
#endif
