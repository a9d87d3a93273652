// ZSTD_STATIC_LINKING_ONLY exposes ZSTD_decompressBound (exported by the shared libzstd since 1.4), which
// lets KafkaRecords size a one-shot decompression for frames that do not declare their content size.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>
