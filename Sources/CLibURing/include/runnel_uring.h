// Thin, non-inline wrappers over liburing's static inline API so Swift can call them.
#ifndef RUNNEL_URING_H
#define RUNNEL_URING_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct runnel_uring runnel_uring;

/// Creates a ring with `entries` submission slots; NULL (and errno set) when io_uring is unavailable.
runnel_uring *runnel_uring_create(unsigned entries, int *error_out);
void runnel_uring_destroy(runnel_uring *ring);
/// Queues a pwrite; returns 0, or -EBUSY when the submission queue is full.
int runnel_uring_prep_write(runnel_uring *ring, int fd, const void *buf, unsigned len, uint64_t offset, uint64_t user_data);
struct iovec;
/// Queues a pwritev of `nr` iovecs (which must stay valid until completion); 0 or -EBUSY.
/// A write with per-request flags (RWF_DSYNC: durable when it completes).
int runnel_uring_prep_write_flags(runnel_uring *ring, int fd, const void *buf, unsigned len, uint64_t offset, int rw_flags,
                                  uint64_t user_data);
int runnel_uring_prep_writev(runnel_uring *ring, int fd, const struct iovec *iovecs, unsigned nr, uint64_t offset, uint64_t user_data);
/// Number of submission queue entries the ring was created with.
unsigned runnel_uring_sq_entries(runnel_uring *ring);
/// Queues an fdatasync of fd, ordered after everything queued before it (IOSQE_IO_DRAIN).
int runnel_uring_prep_fdatasync(runnel_uring *ring, int fd, uint64_t user_data, int drain);
/// Submits queued entries; returns the count submitted or -errno.
int runnel_uring_submit(runnel_uring *ring);
/// Submits and waits for at least `wait_nr` completions; returns count submitted or -errno.
int runnel_uring_submit_and_wait(runnel_uring *ring, unsigned wait_nr);
/// Reaps up to `max` completions into the arrays; returns how many were reaped.
unsigned runnel_uring_reap(runnel_uring *ring, uint64_t *user_data, int32_t *results, unsigned max);
/// The file system magic (statfs f_type) of the file system holding `path`; 0 when statfs fails.
long runnel_fs_type(const char *path);
/// cachestat(2) (Linux 6.5+): the pages of [offset, offset + length) of `fd` in the page cache, into
/// `cached`; 0, or -errno (-ENOSYS on older kernels).
int runnel_cachestat(int fd, uint64_t offset, uint64_t length, uint64_t *cached);
#endif
